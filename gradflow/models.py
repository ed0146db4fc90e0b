"""Ready-made models: a configurable multilayer perceptron.

    from gradflow.models import mlp
    model = mlp(64, [128], 10, activation="relu", norm="batch", dropout=0.2, init="he")
    # Sequential(Linear(64, 128), BatchNorm1d(128), ReLU(), Dropout(0.2), Linear(128, 10))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradflow import nn

__all__ = ["ACTIVATIONS", "NORMS", "INITS", "mlp", "parse_hidden"]

#: Activation name -> module factory.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
#: Normalization name -> module factory (``None``: no normalization layer).
NORMS: dict[str, type[nn.Module] | None] = {
    "none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm,
}
#: ``"default"`` keeps PyTorch's Linear init; ``"xavier"`` is Glorot uniform; ``"he"`` is
#: Kaiming (He) normal. Both zero the biases (lecture 004).
INITS = ("default", "xavier", "he")

# the gain ``nn.init`` uses for each activation (GELU behaves like ReLU for He init)
_GAIN_NAME = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "gelu": "relu",
              "leaky_relu": "leaky_relu", "linear": "linear"}


def _choice(kind: str, value: str, options: Sequence[str]) -> str:
    if value not in options:
        raise ValueError(f"mlp: unknown {kind} {value!r}; choose one of {', '.join(options)}")
    return value


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"128,64"`` -> ``(128, 64)``; ``""`` or ``"none"`` -> ``()`` (a linear model)."""
    text = text.strip()
    if text.lower() in ("", "none", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"hidden sizes must be comma-separated positive ints like '128,64', "
                         f"got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden sizes must be positive, got {text!r}")
    return sizes


def _init_linear(layer: nn.Linear, init: str, activation: str) -> None:
    gain_name = _GAIN_NAME[activation]
    if init == "xavier":
        nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(gain_name))
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity=gain_name)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def mlp(in_features: int, hidden: Sequence[int], out_features: int, *,
        activation: str = "relu", norm: str = "none", dropout: float = 0.0,
        init: str = "default", dtype: Any = None, device: Any = None) -> nn.Sequential:
    """A multilayer perceptron ``in -> hidden[0] -> ... -> out``.

    Each hidden block is ``Linear -> [BatchNorm1d | LayerNorm] -> activation -> [Dropout]``; the
    last layer is a plain ``Linear`` (logits). ``hidden=()`` gives one linear layer.

    Args:
        in_features, out_features: input and output widths.
        hidden: widths of the hidden layers.
        activation: one of :data:`ACTIVATIONS`.
        norm: ``"none"``, ``"batch"`` or ``"layer"``.
        dropout: drop probability after each hidden activation (0 = no Dropout layer).
        init: one of :data:`INITS`; the output layer of a ``xavier``/``he`` model uses the
            linear gain.
        dtype: parameter dtype (default float32).
        device: where the model lives; it is built on the CPU (so a seed gives the same weights
            on every device) and then moved.

    Raises:
        ValueError: an unknown activation, norm or init, or a bad width or dropout.
    """
    _choice("activation", activation, tuple(ACTIVATIONS))
    _choice("norm", norm, tuple(NORMS))
    _choice("init", init, INITS)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"mlp: dropout must be in [0, 1), got {dropout!r}")
    widths = [in_features, *hidden, out_features]
    if any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in widths):
        raise ValueError(f"mlp: widths must be positive ints, got {widths}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-2], widths[1:-1]):
        layers.append(_linear(fan_in, fan_out, init, activation, dtype))
        norm_cls = NORMS[norm]
        if norm_cls is not None:
            layers.append(norm_cls(fan_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(_linear(widths[-2], widths[-1], init, "linear", dtype))
    model = nn.Sequential(*layers)
    return model if device is None else model.to(device=device)


def _linear(fan_in: int, fan_out: int, init: str, activation: str, dtype: Any) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out, dtype=dtype)
    if init != "default":
        _init_linear(layer, init, activation)
    return layer
