"""nn.MultiheadAttention, nn.TransformerEncoderLayer and nn.TransformerEncoder against
PyTorch: a torch module's state_dict loads by name into gradflow's, and outputs, attention
weights and input/parameter gradients agree (eval, and train with dropout 0) for every option
and mask; torch's init, parameter names, and one test per bad input."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn
from gradflow.nn.attention import MultiheadAttention
from gradflow.nn.transformer import TransformerEncoder, TransformerEncoderLayer

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-9, "atol": 1e-11}
_KPM = np.zeros((2, 5), bool)
_KPM[0, 3:] = True
_CAUSAL = np.triu(np.ones((5, 5), bool), 1)  # torch's bool attn_mask: True = not attended
_TRI = np.triu(np.ones((4, 5), bool), 1)


def _load(ours, theirs):
    ours.load_state_dict({k: gf.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})


def _conv(kw, lib):
    return {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}


def _compare(ours, theirs, inputs, fkw, train):
    ours.train(train)
    theirs.train(train)
    ti = [torch.tensor(a, requires_grad=True) for a in inputs]
    gi = [gf.tensor(a, dtype="float64", requires_grad=True) for a in inputs]
    to, go = theirs(*ti, **_conv(fkw, torch)), ours(*gi, **_conv(fkw, gf))
    tw = gw = None
    if isinstance(to, tuple):
        (to, tw), (go, gw) = to, go
    np.testing.assert_allclose(go.numpy(), to.detach().numpy(), **TOL)
    if tw is None:
        assert gw is None
    else:
        np.testing.assert_allclose(gw.numpy(), tw.detach().numpy(), **TOL)
    w = np.random.default_rng(5).standard_normal(tuple(to.shape))
    (to * torch.tensor(w)).sum().backward()
    (go * gf.tensor(w, dtype="float64")).sum().backward()
    for a, b in zip(gi, ti):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    ours_p = dict(ours.named_parameters())
    assert sorted(ours_p) == sorted(n for n, _ in theirs.named_parameters())
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(ours_p[n].grad.numpy(), p.grad.numpy(), **TOL, err_msg=n)


MHA_CASES = [
    ({}, {}, False), ({"batch_first": True}, {}, True),
    ({"add_bias_kv": True, "add_zero_attn": True}, {}, False),
    ({"kdim": 3, "vdim": 5}, {}, True), ({"bias": False}, {}, False),
    ({}, {"key_padding_mask": _KPM}, False), ({}, {"attn_mask": _TRI}, True),
    ({}, {"attn_mask": _TRI, "key_padding_mask": _KPM, "average_attn_weights": False}, False),
    ({}, {"attn_mask": _TRI, "need_weights": False}, False),
    ({}, {"attn_mask": _TRI, "need_weights": False, "is_causal": True}, True),
    ({"add_bias_kv": True}, {"attn_mask": np.where(_TRI, -1e9, 0.5), "key_padding_mask": _KPM,
                             "need_weights": False}, False),
    ({"add_zero_attn": True, "kdim": 3}, {"attn_mask": np.random.default_rng(1)
                                          .standard_normal((4, 4, 5))}, True),
]


@pytest.mark.parametrize("kw,fkw,train", MHA_CASES,
                         ids=[f"{i}-{'-'.join(k)}-{'-'.join(f)}-{t}"
                              for i, (k, f, t) in enumerate(MHA_CASES)])
def test_multihead_attention_matches_torch(kw, fkw, train):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, **kw).double()
    ours = MultiheadAttention(8, 2, **kw, dtype="float64")
    _load(ours, theirs)
    rng = np.random.default_rng(0)
    bf = kw.get("batch_first", False)
    shapes = [(4, 8), (5, kw.get("kdim") or 8), (5, kw.get("vdim") or 8)]
    inputs = [rng.standard_normal((2,) + s if bf else (s[0], 2, s[1])) for s in shapes]
    _compare(ours, theirs, inputs, fkw, train)


def test_multihead_attention_unbatched_matches_torch():
    torch.manual_seed(1)
    theirs = torch.nn.MultiheadAttention(6, 3).double()
    ours = MultiheadAttention(6, 3, dtype="float64")
    _load(ours, theirs)
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((4, 6)), rng.standard_normal((5, 6)),
              rng.standard_normal((5, 6))]
    _compare(ours, theirs, inputs, {"key_padding_mask": _KPM[0]}, False)


LAYER_CASES = [({}, {}, False), ({"norm_first": True, "activation": "gelu", "batch_first": True},
                                 {}, True),
               ({"bias": False}, {"src_mask": _CAUSAL, "is_causal": True}, True),
               ({"layer_norm_eps": 1e-3}, {"src_key_padding_mask": _KPM, "src_mask": _CAUSAL},
                False)]


@pytest.mark.parametrize("kw,fkw,train", LAYER_CASES, ids=[str(i) for i in range(4)])
def test_encoder_layer_matches_torch(kw, fkw, train):
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    ours = TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw, dtype="float64")
    _load(ours, theirs)
    shape = (2, 5, 8) if kw.get("batch_first") else (5, 2, 8)
    x = np.random.default_rng(3).standard_normal(shape)
    _compare(ours, theirs, [x], fkw, train)


@pytest.mark.parametrize("fkw", [{}, {"mask": _CAUSAL, "src_key_padding_mask": _KPM},
                                 {"mask": _CAUSAL, "is_causal": True}])
def test_encoder_matches_torch(fkw):
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8),
                                         enable_nested_tensor=False).double()
    ours = TransformerEncoder(TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,
                              norm=nn.LayerNorm(8)).to(dtype="float64")
    _load(ours, theirs)
    x = np.random.default_rng(4).standard_normal((5, 2, 8))
    _compare(ours, theirs, [x], fkw, False)


def test_encoder_layers_are_independent_copies():
    layer = TransformerEncoderLayer(4, 2, 8)
    enc = TransformerEncoder(layer, 3)
    ws = [m.linear1.weight for m in enc.layers]
    assert len({id(w) for w in ws}) == 3 and all(w is not layer.linear1.weight for w in ws)
    np.testing.assert_array_equal(ws[0].numpy(), layer.linear1.weight.numpy())


def test_multihead_attention_init_as_torch():
    m = MultiheadAttention(64, 4, add_bias_kv=True)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ of the (3E, E) in_proj_weight
    w = m.in_proj_weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0)
    assert m.bias_k.shape == (1, 1, 64) and m.bias_k.numpy().std() > 0
    sep = MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (8, 3)
    ours = repr(MultiheadAttention(8, 2)).split("\nTotal parameters")[0]  # gradflow's footer
    assert ours == repr(torch.nn.MultiheadAttention(8, 2))


@pytest.mark.parametrize("call,exc,words", [
    (lambda: MultiheadAttention(10, 3), AssertionError, "divisible by num_heads"),
    (lambda: MultiheadAttention(0, 1), ValueError, "greater than 0"),
    (lambda: TransformerEncoderLayer(8, 2, activation="tanh"), RuntimeError, "relu/gelu"),
])
def test_constructor_errors(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def _x(*s):
    return gf.randn(*s)


@pytest.mark.parametrize("kwargs,exc,words", [
    ({"attn_mask": gf.ones(3, 5, dtype="bool")}, RuntimeError, r"2D attn_mask is \(3, 5\)"),
    ({"attn_mask": gf.ones(2, 4, 5, dtype="bool")}, RuntimeError, "3D attn_mask"),
    ({"attn_mask": gf.ones(1, 1, 4, 5, dtype="bool")}, RuntimeError, "dimension 4"),
    ({"attn_mask": gf.ones(4, 5, dtype="int64")}, AssertionError, "bool and floating"),
    ({"key_padding_mask": gf.ones(2, 4, dtype="bool")}, AssertionError, "key_padding_mask"),
    ({"is_causal": True}, RuntimeError, "need attn_mask"),
])
def test_multihead_attention_mask_errors(kwargs, exc, words):
    m = MultiheadAttention(8, 2)
    with pytest.raises(exc, match=words):
        m(_x(4, 2, 8), _x(5, 2, 8), _x(5, 2, 8), **kwargs)


def test_multihead_attention_input_errors():
    m = MultiheadAttention(8, 2)
    with pytest.raises(AssertionError, match="feature size 7"):
        m(_x(4, 2, 7), _x(5, 2, 8), _x(5, 2, 8))
    with pytest.raises(AssertionError, match="3-D"):
        m(_x(4, 2, 8), _x(5, 8), _x(5, 8))
    with pytest.raises(AssertionError, match="does not match value"):
        m(_x(4, 2, 8), _x(5, 2, 8), _x(6, 2, 8))
