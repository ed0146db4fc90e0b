"""Small built-in data sets: scikit-learn's digits, the seed lecture's two Gaussians, MNIST
from local IDX files, and redundant copies of a set for the stochastic-vs-batch experiment."""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Literal

import numpy as np

from gradflow.data.dataset import Dataset, Subset, TensorDataset
from gradflow.data.idx import read_idx

__all__ = ["load_digits", "two_gaussians", "load_mnist_idx", "repeat",
           "TWO_GAUSSIANS_MEANS", "TWO_GAUSSIANS_STD"]

#: Class centres of :func:`two_gaussians` (class 0 / target -1 first, class 1 / target +1).
TWO_GAUSSIANS_MEANS = np.array([[-0.4, -0.8], [0.4, 0.8]])
#: Per-coordinate standard deviation of both classes (isotropic covariance 0.04 * I).
TWO_GAUSSIANS_STD = 0.2


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels 0..16 as float64 (1797, 64), labels) from scikit-learn's bundled CSV.

    The CSV is read directly (fast; importing ``sklearn.datasets`` takes seconds); if the file
    is not where scikit-learn keeps it, its public ``load_digits`` is used instead.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("load_digits needs scikit-learn (it ships the data): "
                          "pip install scikit-learn")
    for root in spec.submodule_search_locations or []:
        csv = os.path.join(root, "datasets", "data", "digits.csv.gz")
        if os.path.exists(csv):
            table = np.loadtxt(csv, delimiter=",", dtype=np.float64)
            if table.shape == (1797, 65):
                return table[:, :64], table[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return bunch.data, bunch.target.astype(np.int64)


def _stratified_split(labels: np.ndarray, test_size: float | int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) index arrays, each class split in proportion; both in shuffled order."""
    n = labels.shape[0]
    if isinstance(test_size, float) and 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    elif isinstance(test_size, int | np.integer) and not isinstance(test_size, bool) \
            and 0 < test_size < n:
        n_test = int(test_size)
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], "
                         f"got {test_size!r}")
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * n_test / n
    per_class = np.floor(share).astype(np.int64)
    # hand the remaining test slots to the classes with the largest fractional shares
    extra = np.argsort(-(share - per_class), kind="stable")[: n_test - per_class.sum()]
    per_class[extra] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k]
                           for c, k in zip(classes, per_class)])
    train = np.setdiff1d(np.arange(n), test)
    return rng.permutation(train), rng.permutation(test)


def load_digits(test_size: float | int | None = None, seed: int = 0, flatten: bool = True
                ) -> TensorDataset | tuple[TensorDataset, TensorDataset]:
    """The 1,797 8×8 handwritten digits that scikit-learn ships (no download).

    Features are float32 in [0, 1] (pixel / 16), shape ``(N, 64)`` or ``(N, 8, 8)`` with
    ``flatten=False``; labels are int64 in 0..9.

    Args:
        test_size: ``None`` returns the whole set as one TensorDataset; a fraction in (0, 1)
            (the test set gets ``ceil(test_size * N)`` examples) or a count returns
            ``(train, test)``, split stratified by label (each digit in proportion).
        seed: the split's random seed (the same seed gives the same split).
        flatten: rows of 64 pixels (True) or 8×8 images (False).
    """
    pixels, y = _digits_arrays()
    x = (pixels / 16.0).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 8, 8)
    if test_size is None:
        return TensorDataset(x, y)
    try:
        train, test = _stratified_split(y, test_size, seed)
    except ValueError as exc:
        raise ValueError(f"load_digits: {exc}") from exc
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


def two_gaussians(n: int = 100, seed: int = 0,
                  targets: Literal["signed", "binary", "index"] = "signed",
                  exact: bool = True) -> TensorDataset:
    """The seed lecture's "set-1": two Gaussian classes in 2-D, for one linear neuron.

    Class 0 is centred at ``(-0.4, -0.8)``, class 1 at ``(0.4, 0.8)``, both with covariance
    ``0.04 * I`` (std 0.2); the classes have ``n // 2`` and ``n - n // 2`` examples, in shuffled
    order. With ``exact=True`` each class's sample mean and (biased) sample covariance are set
    to exactly those values, so the Hessian of ``E = 1/(2n) Σ (w·x + b − t)²`` with respect to
    the two weights, ``mean(x xᵀ) = μμᵀ + 0.04 I``, has eigenvalues 0.84 and 0.04: the lecture's
    λ_max = 0.84 and η_max = 2/λ_max = 2.38 (the bias direction has curvature 1).

    Args:
        n: number of examples (at least 6 with ``exact=True``, 2 otherwise).
        seed: random seed.
        targets: ``"signed"``: float32 ``(n, 1)`` of -1/+1, the lecture's regression targets
            for a linear neuron with squared error; ``"binary"``: float32 ``(n, 1)`` of 0/1
            (for BCE); ``"index"``: int64 ``(n,)`` class indices (for cross-entropy).
        exact: standardize each class to the exact moments above (else plain samples).

    Returns:
        ``TensorDataset(x, t)`` with ``x`` float32 ``(n, 2)``.
    """
    if targets not in ("signed", "binary", "index"):
        raise ValueError(f"two_gaussians: targets must be 'signed', 'binary' or 'index', "
                         f"got {targets!r}")
    least = 6 if exact else 2
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < least:
        raise ValueError(f"two_gaussians: n must be an int >= {least} (exact={exact}), "
                         f"got {n!r}")
    rng = np.random.default_rng(seed)
    sizes = (n // 2, n - n // 2)
    xs, labels = [], []
    for c, size in enumerate(sizes):
        z = rng.standard_normal((size, 2))
        if exact:  # centre, then whiten so the sample covariance is exactly I
            z -= z.mean(axis=0)
            chol = np.linalg.cholesky(z.T @ z / size)
            z = np.linalg.solve(chol, z.T).T
        xs.append(TWO_GAUSSIANS_MEANS[c] + TWO_GAUSSIANS_STD * z)
        labels.append(np.full(size, c, dtype=np.int64))
    order = rng.permutation(n)
    x = np.concatenate(xs)[order].astype(np.float32)
    label = np.concatenate(labels)[order]
    if targets == "index":
        return TensorDataset(x, label)
    t = (2.0 * label - 1.0) if targets == "signed" else label.astype(np.float64)
    return TensorDataset(x, t.astype(np.float32).reshape(n, 1))


def load_mnist_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike,
                   flatten: bool = True, normalize: bool = True) -> TensorDataset:
    """MNIST-style data from local IDX files (raw or gzip), e.g. ``train-images-idx3-ubyte.gz``
    and ``train-labels-idx1-ubyte.gz``.

    Returns:
        ``TensorDataset(x, y)``: ``x`` float32 in [0, 1] (``normalize``; else the uint8 pixels),
        shape ``(N, H*W)`` or ``(N, H, W)`` with ``flatten=False``; ``y`` int64 ``(N,)``.

    Raises:
        ValueError: naming the file, for a bad magic number, a size that does not match the
            header, images that are not a uint8 ``(N, H, W)`` array or labels that are not a
            uint8 ``(N,)`` array, or image and label counts that differ.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{os.fspath(images_path)!r}: expected an IDX image file (uint8, rank "
                         f"3, magic 0x00000803), got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"{os.fspath(labels_path)!r}: expected an IDX label file (uint8, rank "
                         f"1, magic 0x00000801), got {labels.dtype} of shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{os.fspath(images_path)!r} holds {images.shape[0]} images but "
                         f"{os.fspath(labels_path)!r} holds {labels.shape[0]} labels")
    x = images.reshape(images.shape[0], -1) if flatten else images
    if normalize:
        x = x.astype(np.float32) / np.float32(255.0)
    return TensorDataset(x, labels.astype(np.int64))


def repeat(dataset: Dataset, k: int) -> Subset:
    """``k`` copies of ``dataset`` one after the other (example ``i`` is ``dataset[i % n]``),
    without copying data: the redundant training set of the stochastic-vs-batch experiment."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"repeat: k must be a positive int, got {k!r}")
    return Subset(dataset, np.tile(np.arange(len(dataset)), int(k)))
