"""A character-level language model, in PyTorch's idiom: embedding + MLP, or a small Transformer.

The text is the Zen of Python, which every Python ships (the ``this`` module keeps it rot13'd), so
nothing is downloaded. Each training example is a window of ``--context`` characters:

- ``--model mlp`` (Bengio et al., 2003): ``Embedding -> Flatten -> Linear -> Tanh -> Linear``
  predicts the character after the window;
- ``--model transformer``: token + position embeddings, ``nn.TransformerEncoder`` (pre-norm,
  causal mask), a linear head; it predicts the next character at every position of the window.

Then it samples a continuation with ``gf.multinomial`` (``--temperature``) from a prompt.

Run it:  python examples/char_lm.py [--model mlp|transformer] [--epochs 40] [--context 16]
"""

from __future__ import annotations

import argparse
import ast
import codecs
import importlib.util
import math

import gradflow as gf
from gradflow import nn
from gradflow.data import DataLoader, TensorDataset


def zen_of_python() -> str:
    """The text of ``import this``, read from its source (importing it would print it)."""
    with open(importlib.util.find_spec("this").origin) as f:
        tree = ast.parse(f.read())
    rot13 = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and node.targets[0].id == "s")
    return codecs.decode(rot13, "rot13")


class MLPModel(nn.Module):
    def __init__(self, vocab: int, context: int, dim: int = 24, hidden: int = 256):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(context * dim, hidden), nn.Tanh(),
                                 nn.Linear(hidden, vocab))

    def forward(self, idx):  # (N, T) -> logits of the next character (N, V)
        return self.net(self.embed(idx))


class TransformerModel(nn.Module):
    def __init__(self, vocab: int, context: int, dim: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(context, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):  # (N, T) -> logits at every position (N, T, V)
        t = idx.shape[1]
        x = self.embed(idx) + self.pos(gf.arange(t))
        mask = gf.triu(gf.full((t, t), float("-inf")), diagonal=1)  # position i sees j <= i
        return self.head(self.encoder(x, mask=mask, is_causal=True))


def windows(ids: list[int], context: int, per_position: bool):
    """All ``(window, target)`` pairs: the next character, or (per position) the shifted window."""
    x = [ids[i:i + context] for i in range(len(ids) - context)]
    y = [ids[i + 1:i + context + 1] if per_position else ids[i + context]
         for i in range(len(ids) - context)]
    return gf.tensor(x), gf.tensor(y)


def sample(model, prompt: list[int], context: int, n: int, temperature: float,
           per_position: bool, generator) -> list[int]:
    out = list(prompt)
    model.eval()
    with gf.no_grad():
        for _ in range(n):
            idx = gf.tensor([out[-context:]])
            logits = model(idx)
            logits = logits[0, -1] if per_position else logits[0]
            probs = gf.softmax(logits / temperature, dim=-1)
            out.append(int(gf.multinomial(probs, 1, generator=generator).item()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("mlp", "transformer"), default="mlp")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--context", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--sample", type=int, default=120, help="characters to generate")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    gf.manual_seed(args.seed)
    text = zen_of_python()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in text]
    per_position = args.model == "transformer"
    x, y = windows(ids, args.context, per_position)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed)
    cls = TransformerModel if per_position else MLPModel
    model = cls(len(chars), args.context)
    opt = gf.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    n_params = sum(q.numel() for q in model.parameters())
    print(f"{len(text)} characters, vocabulary {len(chars)}, {len(x)} windows of {args.context}; "
          f"{args.model}: {n_params} parameters")
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            logits = model(xb)
            loss = loss_fn(logits.reshape(-1, len(chars)), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            count += len(xb)
        if epoch == 1 or epoch == args.epochs or epoch % 10 == 0:
            mean = total / count
            print(f"epoch {epoch:3d}  loss {mean:.3f} nats  ({mean / math.log(2):.2f} bits/char)")
    prompt = "Beautiful is better"[:args.context]
    gen = gf.Generator().manual_seed(args.seed)
    out = sample(model, [stoi[c] for c in prompt], args.context, args.sample, args.temperature,
                 per_position, gen)
    print("sample:", repr("".join(chars[i] for i in out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
