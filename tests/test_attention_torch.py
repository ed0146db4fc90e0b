"""F.scaled_dot_product_attention against PyTorch (float32 and float64): bool and float masks,
causal, scale, broadcast heads, grouped-query attention, rows that see no key (zeros, as
torch 2.13 on the CPU), dropout from the default generator, and one test per bad input."""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
from gradflow.ops.attention import scaled_dot_product_attention as sdpa

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)
_BOOL = rng.random((4, 5)) > 0.3
_BOOL[1] = False  # a query that sees no key
_FLOAT = np.where(_BOOL, rng.standard_normal((4, 5)), -np.inf)

SHAPES = {"4d": ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),
          "3d": ((3, 4, 8), (3, 5, 8), (3, 5, 6)),
          "2d": ((4, 8), (5, 8), (5, 6)),
          "bcast_heads": ((2, 3, 4, 8), (2, 1, 5, 8), (2, 1, 5, 6)),
          "square": ((2, 2, 5, 8), (2, 2, 5, 8), (2, 2, 5, 3)),
          "gqa": ((2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6))}

CASES = [("4d", {}), ("3d", {"scale": 0.3}), ("2d", {}), ("bcast_heads", {}),
         ("4d", {"attn_mask": _BOOL}), ("4d", {"attn_mask": _FLOAT}),
         ("3d", {"attn_mask": _BOOL[None].repeat(3, 0)}),
         ("square", {"is_causal": True}), ("4d", {"is_causal": True, "scale": 2.0}),
         ("gqa", {"enable_gqa": True}), ("gqa", {"enable_gqa": True, "attn_mask": _BOOL})]


def _run(shapes, kw, dtype, lib):
    arrays = [np.random.default_rng(i).standard_normal(s).astype(dtype)
              for i, s in enumerate(shapes)]
    kw = dict(kw)
    if lib == "torch":
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        if "attn_mask" in kw:
            m = kw["attn_mask"]
            kw["attn_mask"] = torch.tensor(m if m.dtype == bool else m.astype(dtype))
        out = TF.scaled_dot_product_attention(*xs, **kw)
        g = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(dtype)
        out.backward(torch.tensor(g))
        return out.detach().numpy(), [x.grad.numpy() for x in xs]
    xs = [gf.tensor(a, requires_grad=True) for a in arrays]
    if "attn_mask" in kw:
        m = kw["attn_mask"]
        kw["attn_mask"] = gf.tensor(m if m.dtype == bool else m.astype(dtype))
    out = sdpa(*xs, **kw)
    assert out.dtype == np.dtype(dtype)
    g = np.random.default_rng(9).standard_normal(out.shape).astype(dtype)
    out.backward(gf.tensor(g))
    return out.numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kw", CASES, ids=[f"{s}-{'-'.join(k)}" for s, k in CASES])
def test_sdpa_values_and_grads_match_torch(shape, kw, dtype):
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    (yo, go), (yt, gt) = _run(SHAPES[shape], kw, dtype, "gf"), _run(SHAPES[shape], kw, dtype,
                                                                   "torch")
    np.testing.assert_allclose(yo, yt, **tol)
    for a, b in zip(go, gt):
        np.testing.assert_allclose(a, b, **tol)


def test_fully_masked_rows_give_zeros_and_zero_grads():
    out, grads = _run(SHAPES["4d"], {"attn_mask": _BOOL}, "float64", "gf")
    np.testing.assert_array_equal(out[:, :, 1], 0)
    np.testing.assert_array_equal(grads[0][:, :, 1], 0)
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)


def test_dropout_uses_the_default_generator():
    q, k, v = (gf.tensor(np.random.default_rng(i).standard_normal((2, 4, 6, 8)).astype("float32"))
               for i in range(3))
    gf.manual_seed(3)
    a = sdpa(q, k, v, dropout_p=0.5)
    gf.manual_seed(3)
    b = sdpa(q, k, v, dropout_p=0.5)
    c = sdpa(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert not np.allclose(a.numpy(), sdpa(q, k, v).numpy())


def test_second_order():
    xs = [gf.tensor(np.random.default_rng(i).standard_normal((2, 3, 4)), dtype="float64",
                    requires_grad=True) for i in range(3)]
    ts = [torch.tensor(x.numpy(), requires_grad=True) for x in xs]
    m = _BOOL[:3, :3].copy()
    m[0, 0] = True
    gq = gf.grad(sdpa(*xs, gf.tensor(m)).pow(2).sum(), xs, create_graph=True)
    tq = torch.autograd.grad(TF.scaled_dot_product_attention(*ts, attn_mask=torch.tensor(m))
                             .pow(2).sum(), ts, create_graph=True)
    hg = gf.grad(sum(g.sum() for g in gq), xs)
    ht = torch.autograd.grad(sum(g.sum() for g in tq), ts)
    for a, b in zip(hg, ht):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-11)


def _qkv(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), dtype="float32"):
    return [gf.randn(*s, dtype=dtype) for s in (q, k, v)]


@pytest.mark.parametrize("call,exc,words", [
    (lambda: sdpa(*_qkv(), attn_mask=gf.ones(3, 5, dtype="bool")), RuntimeError,
     r"attn_mask of shape \(3, 5\) cannot be broadcast"),
    (lambda: sdpa(*_qkv(), attn_mask=gf.ones(2, 2, 3, 4, 5, dtype="bool")), RuntimeError,
     "cannot be broadcast"),
    (lambda: sdpa(*_qkv(), attn_mask=gf.ones(4, 5, dtype="int64")), RuntimeError,
     "attn_mask dtype to be bool or float"),
    (lambda: sdpa(*_qkv(), attn_mask=gf.ones(4, 5, dtype="float64")), RuntimeError,
     "attn_mask.dtype: float64"),
    (lambda: sdpa(*_qkv(), attn_mask=gf.ones(4, 5, dtype="bool"), is_causal=True), RuntimeError,
     "is_causal"),
    (lambda: sdpa(*_qkv(v=(2, 3, 5, 6))[:2], gf.randn(2, 3, 5, 6, dtype="float64")),
     RuntimeError, "same dtype"),
    (lambda: sdpa(gf.randn(8), gf.randn(5, 8), gf.randn(5, 8)), RuntimeError,
     "at least 2 dimensional"),
    (lambda: sdpa(*_qkv(k=(2, 3, 5, 7))), RuntimeError, "same embedding size"),
    (lambda: sdpa(*_qkv(v=(2, 3, 4, 6))), RuntimeError, "same sequence length"),
    (lambda: sdpa(*_qkv(k=(2, 2, 5, 8), v=(2, 2, 5, 6)), enable_gqa=True), RuntimeError,
     "divide the number of heads"),
    (lambda: sdpa(*_qkv(), dropout_p=1.0), ValueError, "dropout_p"),
    (lambda: sdpa(*_qkv()[:2], None), TypeError, "value"),
])
def test_sdpa_errors(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_torch_raises_on_the_same_bad_inputs():
    q, k, v = (torch.randn(2, 3, 4, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 6))
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(RuntimeError):
        TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 5, dtype=torch.long))
    with pytest.raises(RuntimeError):  # torch's reference (math) path; float64 takes it
        TF.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                        attn_mask=torch.ones(4, 5, dtype=torch.bool),
                                        is_causal=True)


# The fused path (kernels/attention.py): causal query blocks, cache-sized chunks of the leading
# axes, broadcast masks, the mask's own gradient, and the routes that keep the composition.
FUSED = [((2, 3, 13, 8), (2, 3, 13, 8), (2, 3, 13, 5), {"is_causal": True}),
         ((2, 3, 10, 8), (2, 3, 13, 8), (2, 3, 13, 5), {"is_causal": True}),
         ((2, 3, 13, 8), (2, 3, 7, 8), (2, 3, 7, 5), {"is_causal": True, "scale": 0.4}),
         ((3, 4, 6, 8), (3, 4, 7, 8), (3, 4, 7, 5), {}),
         ((3, 4, 6, 8), (3, 4, 7, 8), (3, 4, 7, 5), {"mask": (3, 1, 6, 7)}),
         ((3, 4, 6, 8), (3, 1, 7, 8), (1, 4, 7, 5), {"mask": (6, 7)})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("q,k,v,kw", FUSED, ids=[str(i) for i in range(len(FUSED))])
def test_fused_blocks_and_chunks_match_torch(q, k, v, kw, dtype, monkeypatch):
    import gradflow.kernels.attention as kernels
    import gradflow.ops.attention as ops

    monkeypatch.setattr(ops, "CAUSAL_BLOCK", 3)  # 13 rows: 4 blocks of 3, 3, 3 and 4 rows
    monkeypatch.setattr(kernels, "CHUNK_BYTES", 200 * np.dtype(dtype).itemsize)
    kw = dict(kw)
    if "mask" in kw:
        m = np.random.default_rng(5).standard_normal(kw.pop("mask"))
        kw["attn_mask"] = np.where(m > 1.2, -np.inf, m)  # some hidden pairs
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    (yo, go), (yt, gt) = _run((q, k, v), kw, dtype, "gf"), _run((q, k, v), kw, dtype, "torch")
    np.testing.assert_allclose(yo, yt, **tol)
    for a, b in zip(go, gt):
        np.testing.assert_allclose(a, b, **tol)


def test_float_mask_gradient_and_second_order_match_torch(monkeypatch):
    import gradflow.ops.attention as ops

    monkeypatch.setattr(ops, "CAUSAL_BLOCK", 2)
    rs = np.random.default_rng(4)
    arrays = [rs.standard_normal(s) for s in ((2, 5, 4), (2, 6, 4), (2, 6, 3), (5, 6))]
    for causal in (False, True):
        xs = [gf.tensor(a, requires_grad=True) for a in arrays]
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        if causal:  # causal: no mask; the blocks' backward composed for the second order
            ours = sdpa(*xs[:3], is_causal=True)
            theirs = TF.scaled_dot_product_attention(*ts[:3], is_causal=True)
            xs, ts = xs[:3], ts[:3]
        else:
            ours = sdpa(*xs[:3], xs[3])
            theirs = TF.scaled_dot_product_attention(*ts[:3], attn_mask=ts[3])
        gq = gf.grad(ours.pow(2).sum(), xs, create_graph=True)
        tq = torch.autograd.grad(theirs.pow(2).sum(), ts, create_graph=True)
        for a, b in zip(gq, tq):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-11)
        hg = gf.grad(sum((g * g).sum() for g in gq), xs)
        ht = torch.autograd.grad(sum((g * g).sum() for g in tq), ts)
        for a, b in zip(hg, ht):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def test_half_precision_and_dropout_keep_the_composition():
    def qkv(dtype):
        return [gf.tensor(np.random.default_rng(i).standard_normal((2, 3, 4, 8)), dtype=dtype,
                          requires_grad=True) for i in range(3)]

    half = sdpa(*qkv("float16"))
    assert half.dtype == np.float16 and half.grad_fn.name != "ScaledDotProductAttention"
    ref = sdpa(*qkv("float32"))
    assert ref.grad_fn.name == "ScaledDotProductAttention"
    np.testing.assert_allclose(half.detach().numpy().astype("float32"), ref.detach().numpy(),
                               rtol=1e-2, atol=1e-2)
    assert sdpa(*qkv("float32"), dropout_p=0.3).grad_fn.name != "ScaledDotProductAttention"
    with gf.amp.autocast("cpu"):
        assert sdpa(*qkv("float32")).grad_fn.name != "ScaledDotProductAttention"


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "kpm", "attn_kpm", "causal"])
def test_self_attention_fast_path_matches_torch(batch_first, masks):
    from gradflow.nn import MultiheadAttention

    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
    ours = MultiheadAttention(8, 2, batch_first=batch_first, dtype="float64")
    ours.load_state_dict({n: gf.tensor(p.detach().numpy()) for n, p in
                          theirs.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    causal = np.triu(np.ones((5, 5), bool), 1)
    kw = {"none": {}, "kpm": {"key_padding_mask": kpm},
          "attn_kpm": {"key_padding_mask": kpm, "attn_mask": np.where(causal, -np.inf, 0.3)},
          "causal": {"attn_mask": causal, "is_causal": True}}[masks]
    tx, gx = torch.tensor(x, requires_grad=True), gf.tensor(x, requires_grad=True)
    to = theirs(tx, tx, tx, need_weights=False,
                **{n: torch.tensor(m) if isinstance(m, np.ndarray) else m
                   for n, m in kw.items()})[0]
    go, w = ours(gx, gx, gx, need_weights=False,
                 **{n: gf.tensor(m) if isinstance(m, np.ndarray) else m for n, m in kw.items()})
    assert w is None
    np.testing.assert_allclose(go.numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(x.shape)
    to.backward(torch.tensor(g))
    go.backward(gf.tensor(g))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    ours_p = dict(ours.named_parameters())
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(ours_p[n].grad.numpy(), p.grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=n)
