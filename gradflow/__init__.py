"""gradflow: define-by-run autograd and neural-network training on NumPy (CPU) and CuPy (CUDA).

    import gradflow as gf
    x = gf.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])
"""

from gradflow.tensor import Size, Tensor  # noqa: I001  (import order matters: Tensor first)
from gradflow import accelerator, cuda
from gradflow.autograd import (
    Context,
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from gradflow.backends import get_backend
from gradflow.device import device
from gradflow.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from gradflow.creation import (
    arange,
    as_tensor,
    empty,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    meshgrid,
    ones,
    ones_like,
    empty_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from gradflow.dtypes import (  # noqa: A004 - PyTorch's names shadow builtins inside gf only
    bfloat16,
    bool,
    bool_,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from gradflow.ops.activation import relu, sigmoid, softmax, tanh
from gradflow.ops.arithmetic import add, div, divide, mul, sub
from gradflow.ops.math import (  # noqa: A004 - PyTorch's names (abs, round...) inside gf only
    abs,
    acos,
    asin,
    atan,
    atan2,
    clip,
    cos,
    cosh,
    erf,
    erfinv,
    exp,
    exp2,
    expm1,
    lerp,
    log,
    log10,
    log1p,
    log2,
    maximum,
    minimum,
    reciprocal,
    rsqrt,
    sin,
    sinh,
    sqrt,
    square,
    tan,
    where,
)
from gradflow.ops.rounding import (  # noqa: A004
    ceil,
    fix,
    floor,
    floor_divide,
    fmod,
    frac,
    remainder,
    round,
    sgn,
    sign,
    trunc,
)
from gradflow.ops.predicates import (  # noqa: A004
    all,
    allclose,
    any,
    equal,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    nan_to_num,
)
from gradflow.ops.logical import (
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
)
from gradflow.ops.matmul import matmul
from gradflow.functions import (  # noqa: A004 - PyTorch's names (sum, max...) inside gf only
    amax,
    amin,
    argmax,
    argmin,
    bmm,
    clamp,
    flatten,
    is_tensor,
    log_softmax,
    logsumexp,
    masked_fill,
    max,
    mean,
    min,
    mm,
    neg,
    numel,
    permute,
    pow,
    prod,
    reshape,
    squeeze,
    std,
    sum,
    t,
    transpose,
    unsqueeze,
    var,
)
from gradflow.ops.shape import cat, concat, concatenate, stack
from gradflow.ops.counting import (
    bincount,
    bucketize,
    histc,
    histogram,
    searchsorted,
    unique,
    unique_consecutive,
)
from gradflow.ops.gather import (
    argwhere,
    gather,
    index_add,
    index_copy,
    index_fill,
    index_select,
    masked_scatter,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    scatter_reduce,
    take,
    take_along_dim,
)
from gradflow.ops.distance import cdist
from gradflow.ops.linalg import (
    addbmm,
    addmm,
    addmv,
    baddbmm,
    dot,
    einsum,
    ger,
    inner,
    kron,
    mv,
    outer,
    tensordot,
    vdot,
)
from gradflow.ops.norms import norm
from gradflow.ops.rms_norm import rms_norm
from gradflow.ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from gradflow.ops.rearrange import (
    chunk,
    flip,
    fliplr,
    flipud,
    moveaxis,
    movedim,
    narrow,
    repeat_interleave,
    roll,
    split,
    swapaxes,
    swapdims,
    tile,
    unbind,
)
from gradflow.ops.triangular import diag, diag_embed, diagonal, trace, tril, triu
from gradflow.ops.sort import argsort, kthvalue, median, mode, msort, nanmedian, sort, topk
from gradflow.sampling import bernoulli, multinomial, normal

from gradflow.io import CheckpointError, CorruptCheckpointError, load, save
# torch's top-level tail (namespace_*: compositions of the ops above; torch_config)
from gradflow.ops.namespace_math import (  # noqa: A004
    absolute, addcdiv, addcmul, can_cast, clamp_max, clamp_min, copysign, deg2rad, digamma, erfc,
    float_power, fmax, fmin, gcd, heaviside, hypot, is_complex, is_floating_point, is_nonzero,
    isin, isreal, lcm, lgamma, logaddexp, logaddexp2, logit, multiply, negative, polygamma,
    positive, promote_types, rad2deg, result_type, signbit, sinc, subtract, true_divide, xlogy,
)
from gradflow.ops.namespace_shape import (
    atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_shapes, broadcast_tensors,
    broadcast_to, cartesian_prod, chain_matmul, clone, column_stack, combinations, cross, diagflat,
    diff, dsplit, dstack, hsplit, hstack, pixel_shuffle, pixel_unshuffle, ravel, rot90, select,
    tensor_split, tril_indices, triu_indices, unflatten, vander, vsplit, vstack,
)
from gradflow.ops.namespace_stats import (
    aminmax, corrcoef, count_nonzero, cov, cumulative_trapezoid, dist, nanmean, nanquantile,
    nansum, poisson, quantile, renorm, std_mean, trapezoid, var_mean,
)
from gradflow.ops.namespace_linalg import cholesky, logdet, pinverse, qr, slogdet, svd
from gradflow.ops.namespace_nn import (
    adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d, batch_norm, celu, conv1d, conv2d,
    conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, cosine_similarity, dropout,
    embedding, group_norm, hardshrink, instance_norm, layer_norm, max_pool1d,
    max_pool2d, pairwise_distance, pdist, prelu, rrelu, selu, threshold,
)
from gradflow.torch_config import (
    are_deterministic_algorithms_enabled, get_num_threads,
    is_deterministic_algorithms_warn_only_enabled, set_default_dtype, set_num_threads,
    use_deterministic_algorithms,
)
from gradflow import linalg  # noqa: E402, I001

arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2  # PyTorch's NumPy-style aliases
det, inverse = linalg.det, linalg.inv

# Subpackages most programs use, reachable as gf.nn, gf.optim, ... (imported after the core).
from gradflow import functional, nn, optim, data, utils  # noqa: E402, I001

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "Context", "cuda", "tensor", "as_tensor", "zeros", "ones", "empty",
    "full", "full_like", "arange", "linspace", "eye", "rand", "randn", "randint", "zeros_like",
    "ones_like", "from_numpy", "from_dlpack", "manual_seed", "get_backend", "grad", "no_grad",
    "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "matmul", "exp",
    "log", "sqrt", "abs", "tanh", "sin", "cos", "erf", "maximum", "minimum", "where", "clip",
    "concatenate", "cat", "concat", "stack", "relu", "sigmoid", "softmax", "add", "sub", "mul",
    "div",
    "float16", "float32", "float64", "int32", "int64", "uint8", "bool_", "save", "load",
    "empty_like", "rand_like", "randn_like", "randint_like", "randperm", "Size", "device",
    "Generator", "inference_mode", "is_inference_mode_enabled", "amax", "amin", "argmax",
    "argmin", "bmm", "clamp", "flatten", "is_tensor", "log_softmax", "logsumexp", "masked_fill",
    "max", "mean", "min", "mm", "neg", "numel", "permute", "pow", "reshape", "squeeze", "std",
    "sum", "t", "transpose", "unsqueeze", "var", "accelerator", "backends",
    "default_generator", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "bfloat16", "bool", "cdouble", "cfloat", "complex64", "complex128",
    "double", "float", "half", "int", "int8", "int16", "long", "short", "get_default_dtype",
    "functional", "nn", "optim", "data", "prod", "bernoulli", "multinomial", "normal",
    "utils", "CheckpointError", "CorruptCheckpointError",
    "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
    "index_copy", "index_fill", "masked_select", "masked_scatter", "nonzero", "argwhere", "take",
    "take_along_dim", "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian",
    "mode", "searchsorted", "bucketize", "unique", "unique_consecutive", "histc", "histogram",
    "bincount", "rms_norm", "cdist",
    "log2", "log10", "log1p", "expm1", "exp2", "sinh", "cosh", "tan", "asin", "acos", "atan",
    "rsqrt", "reciprocal", "square", "erfinv", "atan2", "lerp", "round", "floor", "ceil", "trunc",
    "fix", "frac", "sign", "sgn", "remainder", "fmod", "floor_divide", "isclose", "allclose",
    "isnan", "isinf", "isposinf", "isneginf", "isfinite", "nan_to_num", "equal", "all", "any",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "divide",
    "dot", "vdot", "outer", "ger", "inner", "mv", "addmm", "addmv", "addbmm", "baddbmm", "kron",
    "tensordot", "einsum", "norm", "linalg", "det", "inverse", "arcsin", "arccos", "arctan",
    "arctan2",
    "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "flip", "fliplr", "flipud", "roll",
    "tile", "repeat_interleave", "chunk", "split", "unbind", "narrow", "movedim", "moveaxis",
    "swapaxes", "swapdims", "tril", "triu", "diag", "diagonal", "diag_embed", "trace", "logspace",
    "meshgrid",
    "absolute", "addcdiv", "addcmul", "can_cast", "clamp_max", "clamp_min", "copysign", "deg2rad",
    "digamma", "erfc", "float_power", "fmax", "fmin", "gcd", "heaviside", "hypot", "is_complex",
    "is_floating_point", "is_nonzero", "isin", "isreal", "lcm", "lgamma", "logaddexp",
    "logaddexp2", "logit", "multiply", "negative", "polygamma", "positive", "promote_types",
    "rad2deg", "result_type", "signbit", "sinc", "subtract", "true_divide", "xlogy", "atleast_1d",
    "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes", "broadcast_tensors",
    "broadcast_to", "cartesian_prod", "chain_matmul", "clone", "column_stack", "combinations",
    "cross", "diagflat", "diff", "dsplit", "dstack", "hsplit", "hstack", "pixel_shuffle",
    "pixel_unshuffle", "ravel", "rot90", "select", "tensor_split", "tril_indices", "triu_indices",
    "unflatten", "vander", "vsplit", "vstack", "aminmax", "corrcoef", "count_nonzero", "cov",
    "cumulative_trapezoid", "dist", "nanmean", "nanquantile", "nansum", "poisson", "quantile",
    "renorm", "std_mean", "trapezoid", "var_mean", "cholesky", "logdet", "pinverse", "qr",
    "slogdet", "svd", "adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "batch_norm",
    "celu", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "cosine_similarity", "dropout", "embedding", "group_norm", "hardshrink",
    "instance_norm", "layer_norm", "max_pool1d", "max_pool2d", "pairwise_distance", "pdist",
    "prelu", "rrelu", "selu", "threshold", "are_deterministic_algorithms_enabled",
    "get_num_threads", "is_deterministic_algorithms_warn_only_enabled", "set_default_dtype",
    "set_num_threads", "use_deterministic_algorithms",
]
