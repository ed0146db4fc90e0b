"""Batch augmentations: RandomShift, GaussianNoise, Compose."""

import numpy as np
import pytest

from gradflow.data.transforms import Compose, GaussianNoise, RandomShift


class FixedShifts:
    """An rng stand-in whose integers() returns the given (dy, dx) rows."""

    def __init__(self, dy, dx):
        self.dy, self.dx = np.array(dy), np.array(dx)

    def integers(self, low, high, size):
        return np.stack([self.dy, self.dx])


def test_random_shift_moves_pixels_with_zero_fill():
    img = np.zeros((2, 5, 5), dtype=np.float32)
    img[:, 2, 2] = 1.0
    img[1, 0, 0] = 2.0
    out = RandomShift(2)(img, FixedShifts([1, -1], [2, 0]))
    assert out.shape == img.shape and out.dtype == img.dtype
    assert out[0, 3, 4] == 1.0 and out[0].sum() == 1.0
    assert out[1, 1, 2] == 1.0 and out[1].sum() == 1.0, "the pixel at (0, 0) left the image"
    assert img[0, 2, 2] == 1.0, "the input is unchanged"


def test_random_shift_flat_batch_matches_image_batch():
    rng = np.random.default_rng(0)
    imgs = rng.random((8, 4, 6)).astype(np.float32)
    shift = RandomShift(1, image_shape=(4, 6))
    flat = shift(imgs.reshape(8, 24), np.random.default_rng(3))
    full = shift(imgs, np.random.default_rng(3))
    assert flat.shape == (8, 24)
    np.testing.assert_array_equal(flat.reshape(8, 4, 6), full)
    # every output pixel is either 0 or an input pixel of the same image
    for i in range(8):
        assert set(full[i].ravel().tolist()) <= set(imgs[i].ravel().tolist()) | {0.0}


def test_random_shift_bounds_and_identity():
    x = np.ones((50, 3, 3))
    out = RandomShift(1)(x, np.random.default_rng(0))
    assert out[:, 1, 1].min() == 1.0, "a shift of at most 1 keeps the centre of a 3x3 image"
    np.testing.assert_array_equal(RandomShift(0)(x, np.random.default_rng(0)), x)


def test_random_shift_errors():
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)
    with pytest.raises(ValueError, match=r"\(N, H\*W\)"):
        RandomShift(1)(np.zeros((2, 16)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="image_shape"):
        RandomShift(1, image_shape=(4, 5))(np.zeros((2, 16)), np.random.default_rng(0))


def test_gaussian_noise_statistics_dtype_and_clip():
    x = np.full((200, 50), 0.5, dtype=np.float32)
    out = GaussianNoise(0.1)(x, np.random.default_rng(0))
    assert out.dtype == np.float32
    assert abs((out - x).std() - 0.1) < 0.005 and abs((out - x).mean()) < 0.005
    clipped = GaussianNoise(1.0, clip=(0.0, 1.0))(x, np.random.default_rng(0))
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    with pytest.raises(TypeError, match="floating"):
        GaussianNoise(0.1)(np.zeros((2, 2), dtype=np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(-1.0)


def test_compose_is_reproducible():
    t = Compose([RandomShift(1, (4, 4)), GaussianNoise(0.05)])
    x = np.random.default_rng(1).random((6, 16)).astype(np.float32)
    np.testing.assert_array_equal(t(x, np.random.default_rng(9)), t(x, np.random.default_rng(9)))
    assert not np.array_equal(t(x, np.random.default_rng(9)), t(x, np.random.default_rng(10)))
    with pytest.raises(TypeError, match="not callable"):
        Compose([1])
