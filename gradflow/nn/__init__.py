"""Neural-network modules, losses, initializers and gradient utilities (PyTorch's names).

    from gradflow import nn
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
"""

from gradflow.nn import functional, init, utils
from gradflow.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from gradflow.nn.attention import MultiheadAttention
from gradflow.nn.container import (
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
)
from gradflow.nn.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from gradflow.nn.distance import CosineSimilarity, PairwiseDistance
from gradflow.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from gradflow.nn.flatten import Flatten, Unflatten
from gradflow.nn.fold import Fold, Unfold
from gradflow.nn.linear import Identity, LazyLinear, Linear
from gradflow.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from gradflow.nn.module import IncompatibleKeys, Module
from gradflow.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
)
from gradflow.nn.parameter import Parameter, UninitializedParameter
from gradflow.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from gradflow.nn.rms_norm import RMSNorm
from gradflow.nn.sparse import Embedding
from gradflow.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from gradflow.nn.upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "Module", "Parameter", "IncompatibleKeys", "Sequential", "ModuleList", "Linear", "Identity",
    "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Dropout",
    "Dropout1d", "Dropout2d", "Dropout3d",
    "BatchNorm1d", "LayerNorm", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
    "ModuleDict", "ParameterList", "ParameterDict", "LazyLinear", "UninitializedParameter",
    "BCEWithLogitsLoss", "SmoothL1Loss", "HuberLoss", "init", "utils", "functional",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "Unfold", "Fold", "Unflatten", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "SiLU", "Mish", "ELU", "SELU", "CELU", "Hardtanh", "ReLU6", "Hardswish",
    "Hardsigmoid", "Softsign", "Softplus", "LogSigmoid", "PReLU", "GLU", "Softmin",
    "Threshold", "Tanhshrink", "Softshrink", "Hardshrink", "RReLU",
    "KLDivLoss", "MarginRankingLoss", "MultiMarginLoss", "SoftMarginLoss", "CosineEmbeddingLoss",
    "GaussianNLLLoss", "PoissonNLLLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
    "HingeEmbeddingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "CosineSimilarity",
    "PairwiseDistance",
    "Embedding", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "RMSNorm",
]
