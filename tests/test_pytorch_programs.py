"""PyTorch programs run unchanged on gradflow: the same function, given ``torch`` or
``gradflow`` as its library, trains the same network from the same weights on the same batches
and records the same losses (manual SGD with ``-=`` under ``no_grad`` and through ``p.data``,
a ``DataLoader`` over a map-style dataset with a sampler and worker processes)."""

import numpy as np
import pytest

import gradflow

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 40)
ORDER = [int(i) for i in RNG.permutation(40)]
WEIGHTS = [RNG.standard_normal(s).astype(np.float32) * 0.5 for s in [(8, 4), (8,), (3, 8), (3,)]]


def train(lib, num_workers: int, epochs: int = 3) -> list[float]:
    """A PyTorch-style program: ``lib`` is ``torch`` or ``gradflow``."""
    F = lib.nn.functional

    class Points(lib.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return lib.tensor(X[i]), int(Y[i])

    model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3))
    with lib.no_grad():
        for p, w in zip(model.parameters(), WEIGHTS):
            p.copy_(lib.tensor(w))
    loader = lib.utils.data.DataLoader(Points(), batch_size=8, sampler=ORDER,
                                       num_workers=num_workers)
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            model.zero_grad()
            loss.backward()
            with lib.no_grad():
                for i, p in enumerate(model.parameters()):
                    if i % 2 == 0:
                        p -= 0.5 * p.grad  # the parameter itself, in place
                    else:
                        p.data.add_(p.grad, alpha=-0.5)  # through .data
            losses.append(loss.item())
    return losses


@pytest.mark.parametrize("num_workers", [0, 2])
def test_the_same_program_gives_torchs_losses(num_workers):
    ours = train(gradflow, num_workers)
    theirs = train(torch, 0)
    assert len(ours) == len(theirs) == 15
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6)
    assert ours[-1] < ours[0]  # and it learns
