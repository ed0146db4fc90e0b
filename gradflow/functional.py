"""``gradflow.functional``: the stateless neural-network operations (``import gradflow.functional
as F``)."""

from __future__ import annotations

from gradflow.ops.activation import (
    celu,
    elu,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    logsumexp,
    mish,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from gradflow.ops.attention import scaled_dot_product_attention
from gradflow.ops.conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    fold,
    unfold,
)
from gradflow.ops.distance import cosine_similarity, normalize, pairwise_distance, pdist
from gradflow.ops.dropout import dropout, dropout1d, dropout2d, dropout3d
from gradflow.ops.embedding import embedding, one_hot
from gradflow.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from gradflow.ops.loss_extra import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    kl_div,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from gradflow.ops.matmul import linear
from gradflow.ops.namespace_shape import pixel_shuffle, pixel_unshuffle
from gradflow.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from gradflow.ops.padding import pad
from gradflow.ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from gradflow.ops.resize import interpolate
from gradflow.ops.rms_norm import rms_norm

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "softmax", "log_softmax",
    "logsumexp", "linear", "dropout", "batch_norm", "layer_norm", "mse_loss", "l1_loss",
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "pad", "dropout1d", "dropout2d", "dropout3d",
    "smooth_l1_loss", "huber_loss",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "interpolate", "group_norm", "instance_norm",
    "silu", "mish", "elu", "selu", "celu", "hardtanh", "relu6", "hardswish", "hardsigmoid",
    "softsign", "logsigmoid", "prelu", "glu", "softmin", "threshold", "tanhshrink", "softshrink",
    "hardshrink", "rrelu",
    "kl_div", "margin_ranking_loss", "multi_margin_loss", "soft_margin_loss",
    "cosine_embedding_loss", "gaussian_nll_loss", "poisson_nll_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "hinge_embedding_loss", "multilabel_margin_loss",
    "multilabel_soft_margin_loss", "normalize", "cosine_similarity", "pairwise_distance", "pdist",
    "embedding", "one_hot", "scaled_dot_product_attention", "rms_norm", "pixel_shuffle",
    "pixel_unshuffle",
]
