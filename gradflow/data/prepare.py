"""Ready-made classification splits: :func:`load_classification` (digits, two Gaussians, IDX
files into train/validation/test sets) and :func:`holdout_split`, the split it uses."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from gradflow.data.dataset import Dataset, Subset, TensorDataset, random_split

__all__ = ["ClassificationData", "load_classification", "holdout_split", "labels_of",
           "as_images", "OnChannels", "CLASSIFICATION_SETS", "IMAGE_SETS"]

#: Names :func:`load_classification` knows.
CLASSIFICATION_SETS = ("digits", "two-gaussians", "mnist-idx")
#: Those whose examples are square images.
IMAGE_SETS = ("digits", "mnist-idx")


def holdout_split(dataset: Dataset, share: float, seed: int) -> tuple[Subset, Subset]:
    """(the rest, a random ``share`` of ``dataset``) as Subsets, at least one example each
    (:func:`random_split` with ``seed``); a ValueError if it has fewer than two."""
    n = len(dataset)
    k = min(max(1, round(share * n)), n - 1) if n > 1 else 0
    if k == 0:
        raise ValueError(f"the dataset has {n} example(s): too few to split")
    rest, part = random_split(dataset, [n - k, k], seed=seed)
    return rest, part


def labels_of(dataset: Dataset) -> np.ndarray:
    """The labels (last array) of a TensorDataset or of Subsets of one, as a NumPy array."""
    base, index = dataset, None
    while hasattr(base, "indices"):
        index = base.indices if index is None else base.indices[index]
        base = base.dataset
    labels = np.asarray(base.arrays[-1])
    return labels if index is None else labels[index]


def as_images(dataset: TensorDataset, shape: tuple[int, int]) -> TensorDataset:
    """``dataset`` (a TensorDataset of flat rows) with its features as ``(N, 1, H, W)``."""
    x, *rest = dataset.arrays
    return TensorDataset(x.reshape(x.shape[0], 1, *shape), *rest)


class OnChannels:
    """Apply a transform of ``(N, H, W)`` batches to single-channel ``(N, 1, H, W)`` ones."""

    def __init__(self, transform: Any):
        self.transform = transform

    def __call__(self, x: Any, rng: Any) -> Any:
        return self.transform(x.reshape(x.shape[0], *x.shape[2:]), rng).reshape(x.shape)

    def __repr__(self) -> str:
        return f"OnChannels({self.transform!r})"


class ClassificationData:
    """The train/val/test split of one dataset and what a model needs to know about it:
    ``in_features``, ``n_classes`` and ``image_shape`` (``(H, W)`` or None)."""

    def __init__(self, train: Dataset, val: Dataset | None, test: Dataset, in_features: int,
                 n_classes: int, image_shape: tuple[int, int] | None):
        self.train, self.val, self.test = train, val, test
        self.in_features, self.n_classes, self.image_shape = in_features, n_classes, image_shape

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": 0 if self.val is None else len(self.val),
                "test": len(self.test)}


def load_classification(name: str, *, images: bool = False, test_split: float = 0.2,
                        val_split: float = 0.1, seed: int = 0, n_samples: int = 200,
                        mnist_images: str | None = None, mnist_labels: str | None = None,
                        mnist_test_images: str | None = None,
                        mnist_test_labels: str | None = None) -> ClassificationData:
    """The dataset ``name`` split into train, validation (``val_split`` of the rest, none for
    0) and test sets (``test_split``, or the separate IDX test files); with ``images`` the
    features are ``(N, 1, H, W)`` images, else flat rows."""
    if name not in CLASSIFICATION_SETS:
        raise ValueError(f"load_classification: unknown dataset {name!r}; choose one of "
                         f"{', '.join(CLASSIFICATION_SETS)}")
    rest, test, image_shape = _load(name, images, test_split, seed, n_samples, mnist_images,
                                    mnist_labels, mnist_test_images, mnist_test_labels)
    train, val = holdout_split(rest, val_split, seed) if val_split else (rest, None)
    in_features, test_features = math.prod(train[0][0].shape), math.prod(test[0][0].shape)
    if test_features != in_features:
        raise ValueError(f"the test images have {test_features} pixels but the training images "
                         f"{in_features}")
    n_classes = {"digits": 10, "two-gaussians": 2}.get(name)
    if n_classes is None:
        n_classes = int(max(labels_of(rest).max(), labels_of(test).max())) + 1
    return ClassificationData(train, val, test, in_features, n_classes, image_shape)


def _load(name: str, images: bool, test_split: float, seed: int, n_samples: int,
          mnist_images: str | None, mnist_labels: str | None, mnist_test_images: str | None,
          mnist_test_labels: str | None) -> tuple[Any, Any, tuple[int, int] | None]:
    from gradflow.data import datasets

    if name == "digits":
        rest, test = datasets.load_digits(test_size=test_split, seed=seed)
        if images:
            rest, test = as_images(rest, (8, 8)), as_images(test, (8, 8))
        return rest, test, (8, 8)
    if name == "two-gaussians":
        full = datasets.two_gaussians(n=n_samples, seed=seed, targets="index")
        return (*holdout_split(full, test_split, seed), None)
    for what, path in (("images", mnist_images), ("labels", mnist_labels)):
        if not path or not os.path.isfile(path):
            raise FileNotFoundError(f"mnist-idx: no {what} file {path!r}")
    full = datasets.load_mnist_idx(mnist_images, mnist_labels)
    pixels = full.arrays[0].shape[1]
    side = math.isqrt(pixels)
    shape = (side, side) if side * side == pixels else None
    if images and shape is None:
        raise ValueError(f"--model cnn: the mnist-idx examples have {pixels} pixels, not a "
                         "square image; use --model mlp")
    if images:
        full = as_images(full, shape)
    if mnist_test_images:
        test = datasets.load_mnist_idx(mnist_test_images, mnist_test_labels)
        if images and test.arrays[0].shape[1] == pixels:  # else the caller names the mismatch
            test = as_images(test, shape)
        return full, test, shape
    return (*holdout_split(full, test_split, seed), shape)
