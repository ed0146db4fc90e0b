"""The activations against PyTorch: values and gradients (float32 and float64, at ±30, ±1e4 and
at the kinks), integer inputs, in-place behaviour, errors, and the modules' signatures, reprs
and parameters."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import gradflow as gf
from gradflow.nn import activation as M
from gradflow.ops import activation as A

torch = pytest.importorskip("torch")
TF = torch.nn.functional

_X = np.concatenate([np.array([-1e4, -30, -6, -3, -1, -0.5, 0, 0.5, 1, 3, 6, 10, 20, 30, 1e4]),
                     np.random.default_rng(0).standard_normal(20) * 4])

# name, args after the input (the same for both)
FUNCS = [
    ("relu", ()), ("leaky_relu", (0.2,)), ("sigmoid", ()), ("tanh", ()), ("gelu", ()),
    ("silu", ()), ("mish", ()), ("elu", ()), ("elu", (0.3,)), ("selu", ()), ("celu", (1.7,)),
    ("hardtanh", ()), ("hardtanh", (-0.5, 3.0)), ("relu6", ()), ("hardswish", ()),
    ("hardsigmoid", ()), ("softsign", ()), ("softplus", ()), ("softplus", (2.0, 10.0)),
    ("softplus", (0.5, 5.0)), ("logsigmoid", ()), ("threshold", (0.5, -2.0)),
    ("tanhshrink", ()), ("softshrink", ()), ("softshrink", (1.0,)), ("hardshrink", ()),
    ("hardshrink", (3.0,)), ("rrelu", ()),
]
INPLACE = ["relu", "leaky_relu", "silu", "mish", "elu", "selu", "celu", "hardtanh", "relu6",
           "hardswish", "hardsigmoid", "threshold", "rrelu"]


def _pair(x, dtype, requires_grad=True):
    t = torch.tensor(x, dtype={"float32": torch.float32, "float64": torch.float64}[dtype],
                     requires_grad=requires_grad)
    return gf.tensor(x, dtype=dtype, requires_grad=requires_grad), t


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args", FUNCS + [("gelu", ("tanh",))],
                         ids=[f"{n}{a}" for n, a in FUNCS + [("gelu", ("tanh",))]])
def test_values_and_grads_match_torch(name, args, dtype):
    a, t = _pair(_X, dtype)
    y = getattr(A, name)(a, *args)
    yt = TF.gelu(t, approximate="tanh") if args == ("tanh",) else getattr(TF, name)(t, *args)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-14}
    if dtype == "float64" and (name == "hardsigmoid" or name == "celu" and args):
        tol = {"rtol": 2e-7, "atol": 1e-14}  # torch's grad rounds 1/6 and 1/α to float32
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **tol, err_msg=name)
    v = np.random.default_rng(1).standard_normal(_X.shape)
    (g,) = gf.grad(y, [a], gf.tensor(v, dtype=dtype))
    (gt,) = torch.autograd.grad(yt, [t], torch.tensor(v, dtype=t.dtype))
    np.testing.assert_allclose(g.numpy(), gt.numpy(), **tol, err_msg=f"{name} grad")


# torch has no second derivative of hardsigmoid (gradflow's is 0: the JAX oracle checks it)
@pytest.mark.parametrize("name,args", [f for f in FUNCS if f[0] not in ("relu", "hardsigmoid")])
def test_second_order_matches_torch(name, args):
    a, t = _pair(_X[np.abs(_X) < 100], "float64")
    (g,) = gf.grad(getattr(A, name)(a, *args).sum(), [a], create_graph=True)
    (gt,) = torch.autograd.grad(getattr(TF, name)(t, *args).sum(), [t], create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), [t], allow_unused=True)
    if not g.requires_grad:  # piecewise linear: gradflow's slope is a constant (as relu's)
        np.testing.assert_array_equal(ggt.numpy(), 0)
        return
    (gg,) = gf.grad(g.sum(), [a])
    rtol = 2e-7 if name == "celu" else 1e-10  # torch rounds 1/α to float32
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=rtol, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_returns_the_input_modified_through_the_graph(name):
    w, wt = _pair(_X[np.abs(_X) < 100], "float64")
    h, ht = w * 2, wt * 2
    kw = {"training": False} if name == "rrelu" else {}
    args = (0.5, -2.0) if name == "threshold" else ()
    out = getattr(A, name)(h, *args, inplace=True, **kw)
    out_t = getattr(TF, name)(ht, *args, inplace=True, **kw)
    assert out is h and out_t is ht
    np.testing.assert_allclose(h.numpy(), ht.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (out_t * out_t).sum().backward()
    rtol = 1e-7 if name == "hardsigmoid" else 1e-12  # torch's grad rounds 1/6 to float32
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=rtol, atol=1e-14)


def test_inplace_on_a_leaf_that_requires_grad_raises_as_torch():
    with pytest.raises(RuntimeError):
        TF.relu(torch.ones(2, requires_grad=True), inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        A.relu(gf.ones(2, requires_grad=True), inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        A.elu(gf.ones(2, requires_grad=True), inplace=True)
    p = gf.tensor([-1.0, 2.0], requires_grad=True)
    with gf.no_grad():
        A.relu6(p, inplace=True)
    np.testing.assert_array_equal(p.numpy(), [0, 2])


def test_inplace_bumps_the_version_of_a_saved_tensor():
    x = gf.tensor([-1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h * h  # saves h
    A.silu(h, inplace=True)
    with pytest.raises(RuntimeError, match="modified|in place|version"):
        y.sum().backward()


def test_integer_inputs_as_torch():
    xi = np.array([-2, 0, 3, 7])
    for name, args in [("relu", ()), ("relu6", ()), ("hardtanh", ()), ("threshold", (1, 5))]:
        y, yt = getattr(A, name)(gf.tensor(xi), *args), getattr(TF, name)(torch.tensor(xi), *args)
        assert y.dtype == gf.int64 and str(yt.dtype) == "torch.int64", name
        np.testing.assert_array_equal(y.numpy(), yt.numpy(), err_msg=name)
    for name in ("softsign", "tanhshrink", "sigmoid", "tanh"):
        y, yt = getattr(A, name)(gf.tensor(xi)), getattr(TF, name)(torch.tensor(xi))
        assert y.dtype == gf.float32 and yt.dtype == torch.float32, name
        np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-6, err_msg=name)
    for name in ("silu", "elu", "softplus", "logsigmoid", "hardswish", "gelu", "leaky_relu"):
        with pytest.raises(NotImplementedError):
            getattr(TF, name)(torch.tensor(xi))
        with pytest.raises(NotImplementedError, match=f"{name}.*int64.*float"):
            getattr(A, name)(gf.tensor(xi))


@pytest.mark.parametrize("shape,n", [((2, 3, 4), 3), ((4, 3), 3), ((2, 3, 4), 1), ((5,), 1),
                                     ((), 1)])
def test_prelu_matches_torch(shape, n):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(shape), rng.uniform(-0.5, 0.5, n)
    a, t = _pair(x, "float64")
    b, u = _pair(w, "float64")
    y, yt = A.prelu(a, b), TF.prelu(t, u)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), u.grad.numpy(), rtol=1e-12)


def test_glu_softmin_softmax_dtype_match_torch():
    x = np.random.default_rng(3).standard_normal((4, 6, 2))
    a, t = _pair(x, "float32")
    for dim in (0, 1, -1):
        np.testing.assert_allclose(A.glu(a, dim).detach().numpy(), TF.glu(t, dim).detach().numpy(),
                                   rtol=1e-6)
        np.testing.assert_allclose(A.softmin(a, dim).detach().numpy(),
                                   TF.softmin(t, dim).detach().numpy(), rtol=1e-6)
    for fn in ("softmax", "log_softmax", "softmin"):
        y = getattr(A, fn)(a, 1, dtype=gf.float64)
        yt = getattr(TF, fn)(t, 1, dtype=torch.float64)
        assert y.dtype == gf.float64 and yt.dtype == torch.float64
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    y = A.softmax(gf.tensor([1, 2, 3]), 0, dtype="float64")  # dtype= lets integer input in
    np.testing.assert_allclose(y.numpy(), TF.softmax(torch.tensor([1, 2, 3]), 0,
                                                     dtype=torch.float64).numpy())


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_softmax_without_dim_takes_torchs_implicit_dim_and_warns(ndim):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5)[:ndim])
    a, t = _pair(x, "float64", requires_grad=False)
    for fn in ("softmax", "log_softmax", "softmin"):
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {fn}"):
            y = getattr(A, fn)(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yt = getattr(TF, fn)(t)
            yt_module = getattr(torch.nn, {"softmax": "Softmax", "log_softmax": "LogSoftmax",
                                           "softmin": "Softmin"}[fn])()(t)
        np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-12)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            ym = getattr(M, {"softmax": "Softmax", "log_softmax": "LogSoftmax",
                             "softmin": "Softmin"}[fn])()(a)
        np.testing.assert_allclose(ym.numpy(), yt_module.numpy(), rtol=1e-12)


def test_tensor_softmax_methods_need_dim_as_torch():
    t = gf.randn(2, 3)
    with pytest.raises(TypeError):
        torch.randn(2, 3).softmax()
    with pytest.raises(TypeError, match="dim"):
        t.softmax()
    with pytest.raises(TypeError, match="dim"):
        t.log_softmax()
    np.testing.assert_allclose(t.softmax(0).numpy(), A.softmax(t, 0).numpy())
    np.testing.assert_allclose(t.log_softmax(axis=0).numpy(), A.log_softmax(t, 0).numpy())
    assert t.softmax(1, gf.float64).dtype == gf.float64


def test_rrelu_training_draws_slopes_from_the_generator():
    x = gf.tensor(-np.ones((200, 50)))
    g1, g2 = gf.Generator().manual_seed(3), gf.Generator().manual_seed(3)
    y1 = A.rrelu(x, 0.1, 0.3, True, generator=g1)
    y2 = A.rrelu(x, 0.1, 0.3, True, generator=g2)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    slopes = -y1.numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.005
    assert len(np.unique(slopes)) > 1000
    gf.manual_seed(0)
    m = M.RReLU(0.1, 0.3)
    assert not np.allclose(m(x).numpy(), -0.2)
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -0.2)
    xp = gf.tensor([1.0, 2.0])
    np.testing.assert_array_equal(A.rrelu(xp, training=True).numpy(), [1, 2])


def test_errors_as_torch():
    x, t = gf.randn(3, 3), torch.randn(3, 3)
    cases = [
        (lambda: A.glu(x, 1), lambda: TF.glu(t, 1), RuntimeError, "glu.*even.*size 3"),
        (lambda: A.glu(gf.tensor(1.0)), lambda: TF.glu(torch.tensor(1.0)), RuntimeError, "glu"),
        (lambda: A.glu(x, 2), lambda: TF.glu(t, 2), IndexError, "glu.*dim 2"),
        (lambda: A.hardtanh(x, 2.0, 1.0), lambda: TF.hardtanh(t, 2.0, 1.0), ValueError,
         "hardtanh.*min_val"),
        (lambda: A.softshrink(x, -1.0), lambda: TF.softshrink(t, -1.0), RuntimeError,
         "softshrink.*lambd.*-1"),
        (lambda: A.rrelu(x, 0.5, 0.2, True), lambda: TF.rrelu(t, 0.5, 0.2, True), RuntimeError,
         "rrelu.*lower"),
        (lambda: A.gelu(x, "fast"), lambda: TF.gelu(t, approximate="fast"), RuntimeError,
         "gelu.*approximate.*fast"),
        (lambda: A.prelu(x, gf.ones(2)), lambda: TF.prelu(t, torch.ones(2)), RuntimeError,
         "prelu.*2 elements.*3 channels"),
        (lambda: A.softmax(x, 2), lambda: TF.softmax(t, 2), IndexError, "softmax.*dim 2"),
        (lambda: M.Hardtanh(1, 1), lambda: torch.nn.Hardtanh(1, 1), AssertionError, "max_val"),
    ]
    for ours, theirs, exc, match in cases:
        with pytest.raises(exc):
            theirs()
        with pytest.raises(exc, match=match):
            ours()
    with pytest.raises(TypeError, match="relu.*input.*Tensor"):
        A.relu([1.0, 2.0])
    with pytest.raises(ValueError, match="approximate"):  # also a ValueError (as before)
        M.GELU("fast")


# --- modules -------------------------------------------------------------------------------------
MODULES = [
    ("ReLU", ()), ("ReLU", (True,)), ("LeakyReLU", (0.2, True)), ("LeakyReLU", (1,)),
    ("Sigmoid", ()), ("Tanh", ()), ("GELU", ("tanh",)), ("SiLU", (True,)), ("Mish", ()),
    ("ELU", (0.5, True)), ("ELU", ()), ("SELU", (True,)), ("CELU", (2.0,)),
    ("Hardtanh", (-2, 3, True)), ("Hardtanh", ()), ("ReLU6", (True,)), ("Hardswish", (True,)),
    ("Hardsigmoid", ()), ("Softsign", ()), ("Softplus", (2, 10)), ("Softplus", ()),
    ("LogSigmoid", ()), ("PReLU", ()), ("PReLU", (3, 0.1)), ("GLU", ()), ("GLU", (1,)),
    ("Softmin", (1,)), ("Softmin", ()), ("Softmax", (2,)), ("LogSoftmax", (-1,)),
    ("Threshold", (0.1, 20, True)), ("Tanhshrink", ()), ("Softshrink", (0.3,)),
    ("Hardshrink", ()), ("RReLU", (0.1, 0.3, True)), ("RReLU", ()),
]


@pytest.mark.parametrize("name,args", MODULES, ids=[f"{n}{a}" for n, a in MODULES])
def test_module_repr_parameters_and_output_match_torch(name, args):
    ours, theirs = getattr(M, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    ours.eval()
    theirs.eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-7)
    x = np.random.default_rng(5).standard_normal((2, 4, 3, 2)) * 3
    if name == "PReLU" and args:
        x = x.transpose(0, 2, 1, 3)  # 3 channels in dim 1
    a, t = _pair(x, "float32", requires_grad=False)
    a, t = a * 1, t * 1  # in-place modules change their input
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, yt = ours(a), theirs(t)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_prelu_module_learns_its_weight_and_takes_device_dtype():
    m = M.PReLU(3, 0.25, "cpu", gf.float64)
    assert m.weight.dtype == gf.float64 and m.weight.requires_grad
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    x = gf.tensor(-np.ones((2, 3, 4)), dtype="float64")
    m(x).sum().backward()
    np.testing.assert_array_equal(m.weight.grad.numpy(), [-8, -8, -8])
    with pytest.raises(ValueError, match="num_parameters"):
        M.PReLU(0)


_FUNC_NAMES = sorted({n for n, _ in FUNCS} | {"prelu", "glu", "softmin", "softmax",
                                              "log_softmax"})
_MODULE_NAMES = sorted({n for n, _ in MODULES})


def _positional(fn) -> list[str]:
    ps = inspect.signature(fn).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in ps if p.kind in kinds and p.name != "self"]


_TORCH_DOC_SIGNATURES = {  # torch's builtins without a Python signature (from their docstrings)
    "softplus": ["input", "beta", "threshold"], "logsigmoid": ["input"],
    "prelu": ["input", "weight"], "softshrink": ["input", "lambd"],
    "hardshrink": ["input", "lambd"], "gelu": ["input", "approximate"],
}


@pytest.mark.parametrize("name", _FUNC_NAMES)
def test_functional_signatures_are_torchs(name):
    try:
        theirs = _positional(getattr(TF, name))
    except (TypeError, ValueError):
        theirs = _TORCH_DOC_SIGNATURES[name]
    assert _positional(getattr(A, name)) == theirs


@pytest.mark.parametrize("name", _MODULE_NAMES)
def test_module_signatures_are_torchs(name):
    theirs = _positional(getattr(torch.nn, name).__init__)
    assert _positional(getattr(M, name).__init__) == theirs
