"""The seed lecture's PyTorch-style training loop, written with gradflow (lecture 003).

What it shows:

1. The lecture's 3-3-2 sigmoid network (no biases) with its hand-set weights: inference on the
   input (0.5, 0.9, -0.3) gives the hidden values (.13, .96, .40) and the outputs (.35, .85).
2. Backpropagation gives, for the weight from H1 to O1 with E = ½ Σ (O − T)², the lecture's
   dE/dw = I · (O − T) · O · (1 − O) = .13 · (.35 − .9) · .35 · (1 − .35).
3. The training loop exactly as the lecture writes it
   (``optimizer.zero_grad(); outputs = model(inputs); loss = criterion(outputs, labels);
   loss.backward(); optimizer.step()``) run two ways on a small 3-input, 2-class set:
   stochastic updates (a batch of one example: one iteration per example, many per epoch) and
   full-gradient updates (one batch of all examples: one iteration per epoch).

Run it (seconds on a CPU)::

    python examples/01_pytorch_style_loop.py            # 50 epochs (the lecture runs 250)
    python examples/01_pytorch_style_loop.py --epochs 3 # smoke test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

import gradflow as gf
from gradflow import nn, optim
from gradflow.data import DataLoader, TensorDataset

HIDDEN_WEIGHTS = [[1.0, -2.0, 2.0], [2.0, 1.0, -4.0], [1.0, -1.0, 0.0]]  # H1, H2, H3
OUTPUT_WEIGHTS = [[-3.0, 1.0, -3.0], [0.0, 1.0, 2.0]]  # O1, O2
LECTURE_INPUT = [0.5, 0.9, -0.3]
LECTURE_TARGET = [0.9, 0.1]  # the lecture uses T = .9 for O1


def lecture_network() -> nn.Sequential:
    """The 3-3-2 sigmoid network of lecture 003 with the lecture's weights."""
    model = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Sigmoid(),
                          nn.Linear(3, 2, bias=False), nn.Sigmoid())
    model[0].weight.data[...] = np.array(HIDDEN_WEIGHTS, dtype=np.float32)
    model[2].weight.data[...] = np.array(OUTPUT_WEIGHTS, dtype=np.float32)
    return model


def inference_by_hand() -> None:
    """Forward pass in matrix form and one backward pass, compared with the lecture."""
    model = lecture_network()
    x = gf.tensor([LECTURE_INPUT])
    hidden = model[1](model[0](x))
    out = model[3](model[2](hidden))
    print("inference: H =", np.round(hidden.numpy()[0], 2), " O =", np.round(out.numpy()[0], 2),
          "  (lecture: H = [.13 .96 .40], O = [.35 .85])")
    t = gf.tensor([LECTURE_TARGET])
    loss = 0.5 * ((out - t) ** 2).sum()  # E = ½ Σ (O − T)²
    loss.backward()
    h1, o1 = hidden.numpy()[0, 0], out.numpy()[0, 0]
    by_formula = h1 * (o1 - LECTURE_TARGET[0]) * o1 * (1 - o1)
    by_autograd = model[2].weight.grad.numpy()[0, 0]
    print(f"dE/dw(H1->O1): autograd {by_autograd:.5f}, I(O-T)O(1-O) = {by_formula:.5f}")


def toy_dataset(n: int = 200, seed: int = 0) -> TensorDataset:
    """3 inputs, 2 sigmoid outputs with targets .9/.1 (class = sign of x0 + x1 − x2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    label = (x[:, 0] + x[:, 1] - x[:, 2] > 0).astype(np.int64)
    targets = np.where(np.eye(2)[label] > 0, 0.9, 0.1).astype(np.float32)
    return TensorDataset(x, targets)


def train(dataloader: dict[str, DataLoader], lr: float, epochs: int, label: str) -> None:
    """The lecture's loop, verbatim apart from the names of the library."""
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Sigmoid())
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    steps_per_epoch = len(dataloader["train"])
    iterations = 0
    start = time.perf_counter()
    for epoch in range(epochs):  # several passes over the data set
        running_loss = 0.0
        model.train()
        for _i, batch in enumerate(dataloader["train"], 0):
            inputs, labels = batch  # one (mini)batch: [inputs, labels]
            optimizer.zero_grad()  # clear the gradients of the previous iteration
            outputs = model(inputs)  # forward + backward + update
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            iterations += 1
        if epoch == epochs - 1 or epoch % max(1, epochs // 5) == 0:
            print(f"  [{label}] epoch {epoch + 1:4d}/{epochs}  train loss "
                  f"{running_loss / steps_per_epoch:.4f}  test accuracy "
                  f"{accuracy(model, dataloader['test']):.3f}")
    print(f"  [{label}] iterations per epoch: {steps_per_epoch}; {iterations} iterations in "
          f"{epochs} epochs, {time.perf_counter() - start:.2f} s")


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    """Share of examples whose largest output is the one with target .9."""
    model.eval()
    correct = total = 0
    with gf.no_grad():
        for inputs, targets in loader:
            pred = model(inputs).argmax(axis=1).numpy()
            correct += int((pred == targets.argmax(axis=1).numpy()).sum())
            total += pred.shape[0]
    return correct / total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=50,
                        help="passes over the data set (the lecture runs 250)")
    parser.add_argument("--lr", type=float, default=0.05,
                        help="per-example learning rate of the stochastic loop; the full-gradient "
                        "loop uses 100x it (the lecture: 0.2 per example ~ 20 for the batch)")
    args = parser.parse_args(argv)

    inference_by_hand()
    train_set, test_set = toy_dataset(200, seed=0), toy_dataset(100, seed=1)
    test = DataLoader(test_set, batch_size=len(test_set))
    print("stochastic updates: parameters change after every example")
    train({"train": DataLoader(train_set, batch_size=1, shuffle=True, seed=0), "test": test},
          lr=args.lr, epochs=args.epochs, label="stochastic")
    print("full gradient: gradients of all examples are accumulated, then one update")
    train({"train": DataLoader(train_set, batch_size=len(train_set)), "test": test},
          lr=args.lr * 100, epochs=args.epochs, label="full gradient")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
