"""Hot paths of a training loop, timed with pytest-benchmark (not part of the test run).

    python -m pytest benchmarks -p no:cacheprovider --benchmark-only

Groups: per-op overhead (forward, and forward + backward; 8×8 where Python overhead dominates,
1024×1024 where the kernels do), one MLP training step (784-512-512-10, gradflow beside
hand-written NumPy and PyTorch) at batch 1/32/256, and one optimizer step (SGD, SGD with
momentum, Adam) on a ~1M-parameter model, gradflow beside PyTorch. The frameworks share one
process here (their thread pools can compete on a small machine): track gradflow over time with
``--benchmark-autosave``/``--benchmark-compare``; for cross-framework ratios use
``python -m gradflow.bench.throughput``, which isolates each framework in its own process.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradflow as gf
import gradflow.functional as F
from gradflow import nn, optim
from gradflow.bench.throughput import DEFAULT_SIZES, STEPS, init_mlp, make_data

OPS = {
    "add": (2, lambda a, b: a + b),
    "mul": (2, lambda a, b: a * b),
    "matmul": (2, lambda a, b: a @ b),
    "relu": (1, F.relu),
    "exp": (1, gf.exp),
    "sum": (1, lambda a: a.sum()),
    "log_softmax": (1, lambda a: F.log_softmax(a, axis=-1)),
    "cross_entropy": (1, None),  # against fixed labels, below
}
SIZES = {"small": 8, "large": 1024}


def _inputs(op: str, n: int):
    rng = np.random.default_rng(0)
    arity, fn = OPS[op]
    xs = [gf.tensor(rng.standard_normal((n, n), dtype=np.float32), requires_grad=True)
          for _ in range(arity)]
    if op == "cross_entropy":
        labels = gf.tensor(rng.integers(0, n, n))
        fn = lambda a: F.cross_entropy(a, labels)  # noqa: E731
    return xs, fn


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("op", list(OPS))
def test_op_forward(benchmark, op, size):
    benchmark.group = f"op forward {size}"
    xs, fn = _inputs(op, SIZES[size])
    benchmark(fn, *xs)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("op", list(OPS))
def test_op_forward_backward(benchmark, op, size):
    benchmark.group = f"op forward+backward {size}"
    xs, fn = _inputs(op, SIZES[size])
    out = fn(*xs)
    grad = None if out.ndim == 0 else gf.ones_like(out)

    def step():
        for x in xs:
            x.grad = None
        fn(*xs).backward(grad)

    benchmark(step)


@pytest.mark.parametrize("framework", ["gradflow", "numpy", "torch"])
@pytest.mark.parametrize("batch", [1, 32, 256])
def test_mlp_training_step(benchmark, batch, framework):
    """forward, softmax-CE, backward, SGD update of the 784-512-512-10 MLP (same weights)."""
    if framework == "torch":
        pytest.importorskip("torch")
    benchmark.group = f"mlp step 784-512-512-10 batch {batch}"
    impl = STEPS[framework](init_mlp(DEFAULT_SIZES, seed=0), lr=1e-3)
    x, y = make_data(batch, DEFAULT_SIZES[0], DEFAULT_SIZES[-1], seed=0)
    data = impl.batch(x, y)
    benchmark(impl.step, data)


def _million_parameter_model() -> nn.Module:
    """784-1024-192-10 ReLU MLP: 1,002,570 parameters."""
    return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 192), nn.ReLU(),
                         nn.Linear(192, 10))


OPTIMIZERS = {
    "sgd": (lambda ps: optim.SGD(ps, lr=1e-3), "SGD", {"lr": 1e-3}),
    "sgd_momentum": (lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9), "SGD",
                     {"lr": 1e-3, "momentum": 0.9}),
    "adam": (lambda ps: optim.Adam(ps, lr=1e-3), "Adam", {"lr": 1e-3}),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step_gradflow(benchmark, name):
    benchmark.group = f"optimizer step 1M params {name}"
    model = _million_parameter_model()
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == 1_002_570
    rng = np.random.default_rng(0)
    for p in params:
        p.grad = gf.tensor(rng.standard_normal(p.shape, dtype=np.float32) * 1e-3)
    opt = OPTIMIZERS[name][0](params)
    opt.step()  # allocate the state buffers before timing
    benchmark(opt.step)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step_torch(benchmark, name):
    torch = pytest.importorskip("torch")
    benchmark.group = f"optimizer step 1M params {name}"
    model = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(),
                                torch.nn.Linear(1024, 192), torch.nn.ReLU(),
                                torch.nn.Linear(192, 10))
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    _, cls, kw = OPTIMIZERS[name]
    opt = getattr(torch.optim, cls)(model.parameters(), **kw)
    opt.step()
    benchmark(opt.step)
