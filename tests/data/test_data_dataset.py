"""TensorDataset, Subset and random_split."""

import numpy as np
import pytest

import gradflow as gf
from gradflow.data import Dataset, Subset, TensorDataset, random_split


def test_tensor_dataset_from_arrays_and_tensors():
    x = np.random.default_rng(0).standard_normal((6, 2))
    ds = TensorDataset(x, gf.tensor([0, 1, 2, 3, 4, 5]), gf.tensor(x, dtype="float64"))
    assert len(ds) == 6
    a, y, x64 = ds.arrays
    assert a.dtype == np.float64, "an array keeps its dtype, as gf.tensor (torch.tensor) does"
    assert y.dtype == np.int64 and x64.dtype == np.float64, "a Tensor keeps its dtype"
    assert TensorDataset([[1.0], [2.0]]).arrays[0].dtype == np.float32, "lists as gf.tensor"
    item = ds[2]
    assert isinstance(item, tuple) and len(item) == 3 and item[1] == 2
    assert all(isinstance(t, gf.Tensor) for t in item)
    np.testing.assert_allclose(ds.get_batch(np.array([4, 0]))[0], x[[4, 0]], rtol=1e-6)


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"different lengths \[3, 4\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float64(1.0))


def test_dataset_base_requires_overrides():
    with pytest.raises(TypeError):  # PyTorch's Dataset has no __len__
        len(Dataset())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


def test_subset_indices_and_errors():
    ds = TensorDataset(np.arange(5))
    sub = Subset(ds, [4, -1, 0])
    assert len(sub) == 3 and [int(sub[i][0]) for i in range(3)] == [4, 4, 0]
    with pytest.raises(IndexError, match="index 5 is out of range for a dataset of 5"):
        Subset(ds, [0, 5])


@pytest.mark.parametrize("lengths", [[7, 3], [0.7, 0.3], [0.5, 0.25, 0.25]])
def test_random_split_partitions(lengths):
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, lengths, seed=1)
    idx = np.concatenate([p.indices for p in parts])
    assert sorted(idx.tolist()) == list(range(10))
    assert sum(len(p) for p in parts) == 10
    again = random_split(ds, lengths, seed=1)
    assert all((p.indices == q.indices).all() for p, q in zip(parts, again))


def test_random_split_errors():
    with pytest.raises(ValueError, match="sum to"):
        random_split(TensorDataset(np.arange(10)), [5, 4])
    with pytest.raises(ValueError, match="fractions"):
        random_split(TensorDataset(np.arange(10)), [0.5, 0.6])
