"""Ready-made models: a configurable multilayer perceptron and a small LeNet-style CNN.

    from gradflow.models import cnn, mlp
    model = mlp(64, [128], 10, activation="relu", norm="batch", dropout=0.2, init="he")
    # Sequential(Linear(64, 128), BatchNorm1d(128), ReLU(), Dropout(0.2), Linear(128, 10))
    model = cnn((1, 8, 8), 10, channels=(16, 32))  # takes (N, 1, 8, 8) images
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradflow import nn

__all__ = ["ACTIVATIONS", "NORMS", "CNN_NORMS", "CNN_POOLS", "INITS", "mlp", "cnn", "parse_hidden"]

#: Activation name -> module factory.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
}
#: Normalization name -> module factory (``None``: no normalization layer).
NORMS: dict[str, type[nn.Module] | None] = {
    "none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm,
}
#: ``cnn`` normalization name -> the name of its ``gradflow.nn`` module (looked up when a model
#: is built, so ``"batch"`` works once ``nn.BatchNorm2d`` is exported).
CNN_NORMS: dict[str, str | None] = {"none": None, "batch": "BatchNorm2d"}
#: How a ``cnn`` stage halves H and W: a 2x2 max pool after its convolution, or a second,
#: stride-2 convolution.
CNN_POOLS = ("max", "stride")
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


def cnn(in_shape: Sequence[int], n_classes: int, *, channels: Sequence[int] = (16, 32),
        norm: str = "none", pool: str = "max", dropout: float = 0.0, hidden: int = 128,
        dtype: Any = None, device: Any = None) -> nn.Sequential:
    """A small LeNet-style convolutional classifier of ``(N, C, H, W)`` images.

    One stage per entry ``c`` of ``channels``: ``Conv2d(c_prev, c, 3, padding=1) -> [norm] ->
    ReLU -> MaxPool2d(2, ceil_mode=True)``, which halves H and W (``⌈n/2⌉``); with
    ``pool="stride"`` the pool is instead a second ``Conv2d(c, c, 3, stride=2, padding=1) ->
    [norm] -> ReLU``. Then ``Flatten -> [Dropout] -> Linear(c·H'·W', hidden) -> ReLU ->
    [Dropout] -> Linear(hidden, n_classes)`` (logits). For ``(1, 8, 8)`` digits and
    ``channels=(16, 32)``: 8x8 -> 4x4 -> 2x2, 128 features.

    Args:
        in_shape: ``(C, H, W)`` of one input image.
        n_classes: number of outputs (logits).
        channels: output channels of each stage (at least one stage).
        norm: ``"none"`` or ``"batch"`` (``nn.BatchNorm2d`` after each convolution, which then
            has no bias; looked up when the model is built).
        pool: ``"max"`` (2x2 max pooling) or ``"stride"`` (a stride-2 convolution).
        dropout: drop probability before each Linear (0 = no Dropout layer).
        hidden: width of the hidden Linear layer (0: the flattened features feed the output).
        dtype: parameter dtype (default float32).
        device: where the model lives; built on the CPU, then moved.

    Raises:
        ValueError: a bad shape, channel list, norm or dropout, or an image too small for
            the number of stages.
        RuntimeError: ``norm="batch"`` while this gradflow has no ``nn.BatchNorm2d``.
    """
    shape = tuple(in_shape)
    if len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0
                              for s in shape):
        raise ValueError(f"cnn: in_shape must be (C, H, W) of positive ints, got {in_shape!r}")
    chans = tuple(channels)
    if not chans or any(isinstance(c, bool) or not isinstance(c, int) or c <= 0 for c in chans):
        raise ValueError(f"cnn: channels must be a non-empty sequence of positive ints, got "
                         f"{channels!r}")
    for name, value, low in (("n_classes", n_classes, 1), ("hidden", hidden, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"cnn: {name} must be an int >= {low}, got {value!r}")
    if norm not in CNN_NORMS:
        raise ValueError(f"cnn: unknown norm {norm!r}; choose one of {', '.join(CNN_NORMS)}")
    if pool not in CNN_POOLS:
        raise ValueError(f"cnn: unknown pool {pool!r}; choose one of {', '.join(CNN_POOLS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"cnn: dropout must be in [0, 1), got {dropout!r}")
    norm_cls = None
    if CNN_NORMS[norm] is not None:
        norm_cls = getattr(nn, CNN_NORMS[norm], None)
        if norm_cls is None:
            raise RuntimeError(f"cnn: norm={norm!r} needs gradflow.nn.{CNN_NORMS[norm]}, which "
                               f"this gradflow does not have; use norm='none'")
    c_prev, (height, width) = shape[0], shape[1:]
    if min(height, width) < 2 ** (len(chans) - 1):
        raise ValueError(f"cnn: a {height}x{width} image is too small for {len(chans)} "
                         f"stride-2 stages; pass fewer channels")
    layers: list[nn.Module] = []
    for c in chans:
        convs = ((1, c_prev),) if pool == "max" else ((1, c_prev), (2, c))
        for stride, fan_in in convs:
            layers.append(nn.Conv2d(fan_in, c, 3, stride=stride, padding=1,
                                    bias=norm_cls is None, dtype=dtype))
            if norm_cls is not None:
                layers.append(norm_cls(c, dtype=dtype))
            layers.append(nn.ReLU())
        if pool == "max":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        height, width, c_prev = (height + 1) // 2, (width + 1) // 2, c
    layers.append(nn.Flatten())
    features = c_prev * height * width
    for fan_in, fan_out, last in ((features, hidden, False), (hidden or features, n_classes, True)):
        if fan_out == 0:
            continue
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
        if not last:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return model if device is None else model.to(device=device)
