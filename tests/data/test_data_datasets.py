"""Built-in data sets: digits, two Gaussians, MNIST IDX files, repeat."""

import gzip
import re
import struct

import numpy as np
import pytest

from gradflow.data import DataLoader, TensorDataset, datasets


def test_load_digits_whole_set():
    ds = datasets.load_digits()
    x, y = ds.arrays
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    assert datasets.load_digits(flatten=False).arrays[0].shape == (1797, 8, 8)


def test_load_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = datasets.load_digits().arrays
    np.testing.assert_array_equal(x * 16, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_load_digits_stratified_split():
    train, test = datasets.load_digits(test_size=0.2, seed=0)
    assert len(train) + len(test) == 1797 and len(test) == 360
    full = np.bincount(datasets.load_digits().arrays[1]) / 1797
    np.testing.assert_allclose(np.bincount(test.arrays[1]) / len(test), full, atol=0.01)
    again = datasets.load_digits(test_size=0.2, seed=0)[1]
    np.testing.assert_array_equal(again.arrays[0], test.arrays[0])
    other = datasets.load_digits(test_size=0.2, seed=1)[1]
    assert not np.array_equal(other.arrays[0], test.arrays[0])
    train, test = datasets.load_digits(test_size=100, seed=0)
    assert len(test) == 100 and set(test.arrays[1].tolist()) == set(range(10))
    full = {r.tobytes() for r in datasets.load_digits().arrays[0]}
    train_rows = {r.tobytes() for r in train.arrays[0]}
    test_rows = {r.tobytes() for r in test.arrays[0]}
    assert train_rows | test_rows == full and len(train) + len(test) == 1797
    for bad in [1.5, 0.0, 0, 1797, True]:
        with pytest.raises(ValueError, match="load_digits: test_size"):
            datasets.load_digits(test_size=bad)


def test_two_gaussians_matches_the_lecture():
    x, t = datasets.two_gaussians().arrays
    assert x.shape == (100, 2) and x.dtype == np.float32
    assert t.shape == (100, 1) and set(t.ravel().tolist()) == {-1.0, 1.0}
    assert (t > 0).sum() == 50, "balanced classes"
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(x64[t[:, 0] > 0].mean(0), [0.4, 0.8], atol=1e-6)
    np.testing.assert_allclose(x64[t[:, 0] < 0].mean(0), [-0.4, -0.8], atol=1e-6)
    # Hessian of E = 1/(2P) sum (w.x + b - t)^2 w.r.t. the weights: mean(x x^T); λ_max = 0.84
    lam = np.linalg.eigvalsh(x64.T @ x64 / len(x64))
    np.testing.assert_allclose(lam, [0.04, 0.84], atol=1e-6)
    assert 2 / lam[-1] == pytest.approx(2.38, abs=0.005)
    assert not np.array_equal(t[:50], np.sort(t[:50], axis=0)), "classes are interleaved"


def test_two_gaussians_seed_targets_and_errors():
    a, b = datasets.two_gaussians(seed=3), datasets.two_gaussians(seed=3)
    np.testing.assert_array_equal(a.arrays[0], b.arrays[0])
    assert not np.array_equal(a.arrays[0], datasets.two_gaussians(seed=4).arrays[0])
    ds = datasets.two_gaussians(n=31, targets="index", exact=False)
    assert len(ds) == 31 and ds.arrays[1].dtype == np.int64
    assert sorted(np.bincount(ds.arrays[1]).tolist()) == [15, 16]
    binary = datasets.two_gaussians(targets="binary", seed=3).arrays[1]
    np.testing.assert_array_equal(binary * 2 - 1, a.arrays[1])
    with pytest.raises(ValueError, match="targets"):
        datasets.two_gaussians(targets="pm")
    with pytest.raises(ValueError, match="n must be"):
        datasets.two_gaussians(n=4)


def write_idx(path, array, magic_type=0x08, compress=False, mangle=None):
    data = struct.pack(">BBBB", 0, 0, magic_type, array.ndim)
    data += struct.pack(f">{array.ndim}I", *array.shape) + array.astype(">u1").tobytes()
    if mangle:
        data = mangle(data)
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_idx(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    ext = ".gz" if compress else ""
    ip = write_idx(tmp_path / f"img-idx3-ubyte{ext}", images, compress=compress)
    lp = write_idx(tmp_path / f"lab-idx1-ubyte{ext}", labels, compress=compress)
    ds = datasets.load_mnist_idx(ip, lp)
    x, y = ds.arrays
    assert x.shape == (5, 12) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x * 255, images.reshape(5, 12), atol=1e-4)
    assert y.tolist() == [3, 1, 4, 1, 5]
    raw = datasets.load_mnist_idx(ip, lp, flatten=False, normalize=False).arrays[0]
    np.testing.assert_array_equal(raw, images)


def test_load_mnist_idx_errors_name_the_file(tmp_path):
    images = np.zeros((3, 2, 2), dtype=np.uint8)
    lp = write_idx(tmp_path / "labels", np.zeros(3, dtype=np.uint8))
    bad = write_idx(tmp_path / "bad-magic", images, mangle=lambda d: b"\x01" + d[1:])
    with pytest.raises(ValueError, match="bad-magic.*not an IDX file"):
        datasets.load_mnist_idx(bad, lp)
    short = write_idx(tmp_path / "short", images, mangle=lambda d: d[:-2])
    with pytest.raises(ValueError, match="short.*truncated"):
        datasets.load_mnist_idx(short, lp)
    ip = write_idx(tmp_path / "images", images)
    with pytest.raises(ValueError, match=re.escape(f"'{ip}': expected an IDX label file")):
        datasets.load_mnist_idx(ip, ip)
    with pytest.raises(ValueError, match=re.escape(f"'{lp}': expected an IDX image file")):
        datasets.load_mnist_idx(lp, lp)
    lp4 = write_idx(tmp_path / "labels4", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 images.*labels4.*4 labels"):
        datasets.load_mnist_idx(ip, lp4)
    (tmp_path / "broken.gz").write_bytes(gzip.compress(b"\0\0\x08\x01" + b"\0" * 50)[:-9])
    with pytest.raises(ValueError, match="broken.gz.*gzip"):
        datasets.load_mnist_idx(tmp_path / "broken.gz", lp)


def test_repeat_concatenates_copies():
    ds = TensorDataset(np.arange(4.0), np.arange(4))
    rep = datasets.repeat(ds, 3)
    assert len(rep) == 12
    assert [int(rep[i][1]) for i in range(12)] == [0, 1, 2, 3] * 3
    loader = DataLoader(rep, batch_size=5, shuffle=True, seed=0)
    labels = sorted(int(v) for b in loader for v in b[1].numpy())
    assert labels == sorted([0, 1, 2, 3] * 3)
    with pytest.raises(ValueError, match="k must be"):
        datasets.repeat(ds, 0)
