"""Batch augmentations for :class:`~gradflow.data.DataLoader` (``transform=``).

Each transform is called as ``transform(x, rng)`` on a batch of NumPy images, ``(N, H*W)`` or
``(N, H, W)``, with an explicit ``numpy.random.Generator``; it returns a new array of the same
shape and dtype and never changes ``x``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["Compose", "GaussianNoise", "RandomShift"]

BatchTransform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class RandomShift:
    """Shift each image by ``(dy, dx)``, each uniform in ``[-max_shift, max_shift]``, filling
    the uncovered border with zeros.

    Args:
        max_shift: the largest shift in pixels (0 leaves images unchanged).
        image_shape: ``(H, W)``; needed for flat batches ``(N, H*W)``, optional for ``(N, H, W)``.
    """

    def __init__(self, max_shift: int, image_shape: tuple[int, int] | None = None):
        if isinstance(max_shift, bool) or not isinstance(max_shift, int | np.integer) \
                or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be a non-negative int, got "
                             f"{max_shift!r}")
        if image_shape is not None and (len(image_shape) != 2 or min(image_shape) < 1):
            raise ValueError(f"RandomShift: image_shape must be (H, W), got {image_shape!r}")
        self.max_shift = int(max_shift)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)

    def _images(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 3 and (self.image_shape is None or x.shape[1:] == self.image_shape):
            return x
        if x.ndim == 2 and self.image_shape is not None \
                and x.shape[1] == self.image_shape[0] * self.image_shape[1]:
            return x.reshape(x.shape[0], *self.image_shape)
        raise ValueError(f"RandomShift: expected a batch (N, H, W) or (N, H*W) with "
                         f"image_shape=(H, W), got shape {x.shape} and image_shape="
                         f"{self.image_shape}")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = self._images(np.asarray(x))
        k = self.max_shift
        if k == 0:
            return np.array(x)
        n, h, w = images.shape
        padded = np.pad(images, ((0, 0), (k, k), (k, k)))
        dy, dx = rng.integers(-k, k + 1, size=(2, n))
        # out[y, x] = image[y - dy, x - dx], i.e. padded[y - dy + k, x - dx + k]
        rows = (k - dy)[:, None] + np.arange(h)
        cols = (k - dx)[:, None] + np.arange(w)
        out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
        return out.reshape(np.shape(x))

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, image_shape={self.image_shape})"


class GaussianNoise:
    """Add ``std * N(0, 1)`` noise (in the batch's float dtype), then clip to ``clip`` if given,
    e.g. ``clip=(0.0, 1.0)`` for pixel intensities."""

    def __init__(self, std: float, clip: tuple[float, float] | None = None):
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std!r}")
        self.std = float(std)
        self.clip = clip

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: expected a floating-point batch, got {x.dtype}; "
                            "scale the images to floats first")
        dtype = x.dtype if x.dtype.itemsize >= 4 else np.float32
        noise = rng.standard_normal(x.shape, dtype=dtype)
        out = (x + self.std * noise).astype(x.dtype, copy=False)
        return out if self.clip is None else np.clip(out, *self.clip)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, clip={self.clip})"


class Compose:
    """Apply ``transforms`` in order, all drawing from the same ``rng``."""

    def __init__(self, transforms: Sequence[BatchTransform]):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable as transform(x, rng)")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"
