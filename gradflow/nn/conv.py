"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (PyTorch's arguments,
initialisation, ``padding_mode`` and repr)."""

from __future__ import annotations

import math
from typing import Any

from gradflow.creation import empty
from gradflow.nn import init
from gradflow.nn.module import Module
from gradflow.nn.parameter import Parameter
from gradflow.ops import conv as C
from gradflow.ops._util import int_tuple
from gradflow.ops.padding import pad as _pad
from gradflow.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 0
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None, output_padding=0) -> None:
        super().__init__()
        cls, nd = type(self).__name__, self._nd
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{cls}: {name} must be a positive int, got {v!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{cls}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{cls}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups})")
        if out_channels % groups:
            raise ValueError(f"{cls}: out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{cls}: only "zeros" padding mode is supported, got '
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = int_tuple(kernel_size, nd, cls, "kernel_size")
        self.stride = int_tuple(stride, nd, cls, "stride")
        self.dilation = int_tuple(dilation, nd, cls, "dilation")
        self.output_padding = int_tuple(output_padding, nd, cls, "output_padding")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(f"{cls}: invalid padding string {padding!r}, should be one of "
                                 f"{{'valid', 'same'}}" + (" (and only ints for transposed "
                                                          "convolutions)" if self._transposed
                                                          else ""))
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{cls}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = int_tuple(padding, nd, cls, "padding")
        self.groups, self.padding_mode = groups, padding_mode
        # F.pad widths (last dim first) for the non-zero padding modes, as PyTorch keeps them.
        widths: list[int] = []
        for i in reversed(range(nd)):
            if self.padding == "valid":
                lo = hi = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                lo, hi = total // 2, total - total // 2
            else:
                lo = hi = self.padding[i]
            widths += [lo, hi]
        self._reversed_padding_repeated_twice = widths
        wshape = ((in_channels, out_channels // groups) if self._transposed
                  else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(*wshape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's: W ~ kaiming_uniform_(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), nonlinearity="leaky_relu")
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        nd = self._nd
        if not isinstance(x, Tensor):
            raise TypeError(f"{self!r}: input must be a Tensor, got {type(x).__name__}")
        if x.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"{self!r}: expected {nd + 1}-D (unbatched) or {nd + 2}-D "
                               f"(batched) input, got input of shape {tuple(x.shape)}")
        c = x.shape[0 if x.ndim == nd + 1 else 1]
        if c != self.in_channels:
            raise RuntimeError(f"{self!r}: expected input with {self.in_channels} channels "
                               f"(in_channels), got {c} channels (input shape "
                               f"{tuple(x.shape)})")

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _fn = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            x = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                  self.groups)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)``: weight ``(C_out, C_in/groups, K)``."""

    _nd, _fn = 1, staticmethod(C.conv1d)


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)``: weight ``(C_out, C_in/groups, kH, kW)``.

    Output size per spatial dim: ⌊(n + 2·pad − dil·(k − 1) − 1)/stride⌋ + 1.
    """

    _nd, _fn = 2, staticmethod(C.conv2d)


class Conv3d(_Conv):
    """3-D convolution over ``(N, C_in, D, H, W)``."""

    _nd, _fn = 3, staticmethod(C.conv3d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _fn = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        """The output_padding that makes the output ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(output_size)[-nd:]
        if len(size) != nd:
            raise ValueError(f"{self!r}: output_size must have {nd} or {nd + 2} elements, got "
                             f"{tuple(output_size)}")
        out = []
        for i in range(nd):
            n = x.shape[x.ndim - nd + i]
            lo = ((n - 1) * self.stride[i] - 2 * self.padding[i]
                  + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            hi = lo + self.stride[i] - 1
            if not lo <= size[i] <= hi:
                raise ValueError(f"{self!r}: requested output size {tuple(size)} is not "
                                 f"reachable: dim {i} must be in [{lo}, {hi}] for input "
                                 f"shape {tuple(x.shape)}")
            out.append(size[i] - lo)
        return tuple(out)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding,
                              self._output_padding(input, output_size), self.groups,
                              self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (the adjoint of ``conv1d``); weight ``(C_in, C_out/g, K)``."""

    _nd, _fn = 1, staticmethod(C.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution; weight ``(C_in, C_out/groups, kH, kW)``; output size
    (n − 1)·stride − 2·pad + dil·(k − 1) + output_padding + 1."""

    _nd, _fn = 2, staticmethod(C.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution; weight ``(C_in, C_out/groups, kD, kH, kW)``."""

    _nd, _fn = 3, staticmethod(C.conv_transpose3d)
