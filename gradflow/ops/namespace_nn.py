"""PyTorch's top-level functional aliases (``torch.dropout``, ``torch.conv2d``,
``torch.batch_norm``, ...) with their torch-level signatures, which differ from
``torch.nn.functional``'s: ``dropout(input, p, train)`` takes all three, ``embedding(weight,
indices, padding_idx=-1, ...)`` takes the weight first and −1 for "no padding index",
``batch_norm``/``instance_norm`` take every argument positionally (the ``cudnn_enabled`` flag is
accepted and has no effect), ``max_pool2d``'s ``stride=()`` means the kernel size,
``adaptive_max_pool1d`` returns (values, indices). Each delegates to the F function, so
values, gradients and errors are F's."""

from __future__ import annotations

from gradflow.ops import activation as A
from gradflow.ops import conv as C
from gradflow.ops import distance as D
from gradflow.ops import dropout as DR
from gradflow.ops import embedding as E
from gradflow.ops import normalization as N
from gradflow.ops import pooling as P
from gradflow.ops._util import tensor_arg
from gradflow.tensor import Tensor


def _train(train, op: str) -> bool:
    if not isinstance(train, bool):
        raise TypeError(f"{op}(): argument 'train' must be a bool, got {type(train).__name__}")
    return train


def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002 - torch's names
    """``F.dropout(input, p, training=train)``."""
    return DR.dropout(input, p, _train(train, "dropout"))


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``F.embedding(indices, weight, ...)``; a negative ``padding_idx`` means none."""
    tensor_arg(weight, "embedding", "weight")
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    return E.embedding(indices, weight, pad, None, 2.0, scale_grad_by_freq, sparse)


def batch_norm(input: Tensor, weight, bias, running_mean, running_var, training: bool,  # noqa: A002
               momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """``F.batch_norm`` with torch's top-level argument order."""
    return N.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight, bias, running_mean, running_var,  # noqa: A002
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """``F.instance_norm`` with torch's top-level argument order."""
    return N.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-05,  # noqa: A002
               cudnn_enable: bool = True) -> Tensor:
    """``F.layer_norm``."""
    return N.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-05,  # noqa: A002
               cudnn_enabled: bool = True) -> Tensor:
    """``F.group_norm``."""
    return N.group_norm(input, num_groups, weight, bias, eps)


def _stride(stride):
    return None if stride is None or (isinstance(stride, list | tuple) and not stride) \
        else stride


def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool1d`` (an empty ``stride`` is the kernel size)."""
    return P.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool2d`` (an empty ``stride`` is the kernel size)."""
    return P.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def avg_pool1d(input: Tensor, kernel_size, stride=(), padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """``F.avg_pool1d`` (an empty ``stride`` is the kernel size)."""
    return P.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                        count_include_pad)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """``F.adaptive_avg_pool1d``."""
    return P.adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``F.adaptive_max_pool1d(..., return_indices=True)``: (values, indices), as torch's."""
    return P.adaptive_max_pool1d(input, output_size, True)


def conv1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """``F.conv1d``."""
    return C.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """``F.conv2d``."""
    return C.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """``F.conv3d``."""
    return C.conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """``F.conv_transpose1d``."""
    return C.conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """``F.conv_transpose2d``."""
    return C.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """``F.conv_transpose3d``."""
    return C.conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """``F.celu``."""
    return A.celu(input, alpha)


def selu(input: Tensor) -> Tensor:  # noqa: A002
    """``F.selu``."""
    return A.selu(input)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """``F.threshold``: ``value`` where input ≤ threshold, else input."""
    return A.threshold(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """``F.hardshrink``."""
    return A.hardshrink(input, lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """``F.prelu``."""
    return A.prelu(input, weight)


def rrelu(input: Tensor, lower: float = 0.125, upper: float = 1.0 / 3.0,  # noqa: A002
          training: bool = False, generator=None) -> Tensor:
    """``F.rrelu`` (``generator`` for the training-mode slopes)."""
    return A.rrelu(input, lower, upper, training, generator=generator)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:  # noqa: A002
    """``F.softmax`` (``dim`` required, as torch's top-level one)."""
    return A.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:  # noqa: A002
    """``F.log_softmax`` (``dim`` required, as torch's top-level one)."""
    return A.log_softmax(input, dim, dtype=dtype)


def pdist(input: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """``F.pdist``."""
    return D.pdist(input, p)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``F.cosine_similarity``."""
    return D.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``F.pairwise_distance``."""
    return D.pairwise_distance(x1, x2, p, eps, keepdim)
