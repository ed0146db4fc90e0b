"""``None`` (or another non-Tensor) where an op expects a tensor is a TypeError that names the
op and the argument, raised before any work, as PyTorch does; never an AttributeError from
inside. Comparisons with ``None`` follow Python's and PyTorch's rule."""

import pytest

import gradflow as gf
import gradflow.nn.functional as F

x = gf.ones(2, 3)
CASES = {
    "relu": (lambda: F.relu(None), "relu(): argument 'input'"),
    "leaky_relu": (lambda: F.leaky_relu(None), "leaky_relu(): argument 'input'"),
    "gelu": (lambda: F.gelu(None), "gelu(): argument 'input'"),
    "softplus": (lambda: F.softplus(None), "softplus(): argument 'input'"),
    "sigmoid": (lambda: gf.sigmoid(None), "sigmoid(): argument 'input'"),
    "tanh": (lambda: F.tanh(None), "tanh(): argument 'input'"),
    "exp": (lambda: gf.exp(None), "exp(): argument 'input'"),
    "abs": (lambda: gf.abs(None), "abs(): argument 'input'"),
    "softmax": (lambda: F.softmax(None, dim=1), "softmax(): argument 'input'"),
    "log_softmax": (lambda: F.log_softmax(None, 1), "log_softmax(): argument 'input'"),
    "logsumexp": (lambda: gf.logsumexp(None, 0), "logsumexp(): argument 'input'"),
    "linear input": (lambda: F.linear(None, x), "linear(): argument 'input'"),
    "linear weight": (lambda: F.linear(x, None), "linear(): argument 'weight'"),
    "linear bias": (lambda: F.linear(x, gf.ones(2, 3), [0.0, 0.0]), "linear(): argument 'bias'"),
    "Linear module": (lambda: gf.nn.Linear(3, 2)(None), "linear(): argument 'input'"),
    "layer_norm": (lambda: F.layer_norm(None, (3,)), "layer_norm(): argument 'input'"),
    "batch_norm": (lambda: F.batch_norm(None, None, None), "batch_norm(): argument 'input'"),
    "dropout": (lambda: F.dropout(None), "dropout(): argument 'input'"),
    "matmul": (lambda: gf.matmul(None, x), "matmul(): argument 'input'"),
    "@": (lambda: x @ None, "matmul(): argument 'other'"),
    "+": (lambda: x + None, "add(): argument 'other'"),
    "radd": (lambda: None + x, "add(): argument 'input'"),
    "+=": (lambda: x.__iadd__(None), "add(): argument 'other'"),
    "mul": (lambda: gf.mul(x, None), "mul(): argument 'other'"),
    "pow": (lambda: gf.pow(None, 2), "pow(): argument 'input'"),
    "maximum": (lambda: gf.maximum(x, None), "maximum(): argument 'other'"),
    "where": (lambda: gf.where(None, x, x), "where(): argument 'condition'"),
    "clamp": (lambda: gf.clamp(None, 0), "clamp(): argument 'input'"),
    "reshape": (lambda: gf.reshape(None, (2,)), "reshape(): argument 'input'"),
    "sum": (lambda: gf.sum(None), "sum(): argument 'input'"),
    "mm": (lambda: gf.mm(x, None), "mm: argument 'mat2'"),
    "cat element": (lambda: gf.cat([x, None]), "element 1 of 'tensors'"),
    "cat of a tensor": (lambda: gf.cat(x), "tuple or list of Tensors"),
    "stack element": (lambda: gf.stack([None, x]), "element 0 of 'tensors'"),
    "copy_": (lambda: x.clone().copy_(None), "copy_(): argument 'src'"),
    "less than": (lambda: x < None, "between a Tensor and None"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_none_is_a_type_error_naming_the_argument(name):
    call, message = CASES[name]
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_equality_with_none_is_a_python_bool_as_in_torch():
    torch = pytest.importorskip("torch")
    assert (x == None) is (torch.ones(2) == None) is False  # noqa: E711
    assert (x != None) is (torch.ones(2) != None) is True  # noqa: E711


def test_flatten_dims_are_checked_not_wrapped():
    with pytest.raises(IndexError, match="flatten: dimension 5"):
        x.flatten(5)
    with pytest.raises(RuntimeError, match="start_dim"):
        gf.ones(2, 3, 4).flatten(2, 1)
    assert gf.ones(2, 3, 4).flatten(-2).shape == (2, 12)


def test_products_do_not_promote_dtypes_as_torch():
    torch = pytest.importorskip("torch")
    a32, b64 = gf.ones(2, 3), gf.ones(3, 2, dtype=gf.float64)
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="matmul: expected input and other to have the same "
                                           "dtype, got float32 and float64"):
        a32 @ b64
    with pytest.raises(RuntimeError, match="linear: expected input and weight"):
        F.linear(gf.ones(2, 2, dtype=gf.float64), gf.ones(3, 2))
    with pytest.raises(RuntimeError, match="linear: expected input and bias"):
        F.linear(gf.ones(2, 2), gf.ones(3, 2), gf.zeros(3, dtype=gf.float64))
    assert (a32 * b64.T).dtype == gf.float64  # elementwise ops promote, as torch
