"""DataLoader: the three regimes, shuffling by (seed, epoch), resume, drop_last, devices,
transforms and errors. (Full batch is batch_size=len(dataset): batch_size=None means no batching,
as in PyTorch; see test_torch_data.py.)"""

import numpy as np
import pytest

import gradflow as gf
from gradflow.data import DataLoader, Dataset, TensorDataset, transforms


def make(n=10, d=3):
    x = np.arange(n * d, dtype=np.float64).reshape(n, d)
    return TensorDataset(x, np.arange(n))


def rows(batch):
    """The example indices of a batch of make(): the label column."""
    return batch[1].numpy().tolist()


class ItemDataset(Dataset):
    """A generic dataset without get_batch: batched item by item."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, float(i)), i


@pytest.mark.parametrize("batch_size, steps, shapes", [
    (1, 10, [1] * 10), (4, 3, [4, 4, 2]), (10, 1, [10]), (32, 1, [10])])
def test_regimes_len_and_shapes(batch_size, steps, shapes):
    loader = DataLoader(make(), batch_size=batch_size)
    batches = list(loader)
    assert len(loader) == steps == len(batches)
    assert [b[0].shape for b in batches] == [(s, 3) for s in shapes]
    assert all(isinstance(t, gf.Tensor) for b in batches for t in b)


def test_full_batch_is_whole_set_with_dtypes():
    ds = make()
    (x, y), = list(DataLoader(ds, batch_size=len(ds)))
    np.testing.assert_array_equal(x.numpy(), ds.arrays[0])
    assert x.dtype == np.float64 and y.dtype == np.int64 and x.device == "cpu"


def test_batches_are_copies_not_views_of_the_dataset():
    ds = make()
    x, _ = next(iter(DataLoader(ds, batch_size=10)))
    x.array[...] = -1
    assert ds.arrays[0].min() >= 0


@pytest.mark.parametrize("batch_size", [1, 3, 10])
def test_every_index_exactly_once_per_epoch(batch_size):
    loader = DataLoader(make(), batch_size=batch_size, shuffle=True, seed=5)
    for _ in range(3):
        seen = [i for b in loader for i in rows(b)]
        assert sorted(seen) == list(range(10))


def test_shuffle_depends_only_on_seed_and_epoch():
    a = DataLoader(make(), batch_size=3, shuffle=True, seed=7)
    b = DataLoader(make(), batch_size=3, shuffle=True, seed=7)
    epochs_a = [[i for batch in a for i in rows(batch)] for _ in range(3)]
    epochs_b = [[i for batch in b for i in rows(batch)] for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert epochs_a[0] != list(range(10))
    c = DataLoader(make(), batch_size=3, shuffle=True, seed=8)
    assert [i for batch in c for i in rows(batch)] != epochs_a[0]
    assert epochs_a[1] == a.order(1).tolist()


def test_epoch_counts_iterations_and_set_epoch_resumes():
    loader = DataLoader(make(), batch_size=4, shuffle=True, seed=3)
    assert loader.epoch == 0
    orders = []
    for _ in range(4):
        orders.append([i for b in loader for i in rows(b)])
    assert loader.epoch == 4
    resumed = DataLoader(make(), batch_size=4, shuffle=True, seed=3)
    resumed.set_epoch(2)
    assert [i for b in resumed for i in rows(b)] == orders[2]
    assert resumed.epoch == 3
    other = DataLoader(make(), batch_size=4, shuffle=True)
    other.load_state_dict(loader.state_dict())
    assert other.state_dict() == {"epoch": 4, "seed": 3}


def test_abandoned_iteration_still_counts_as_an_epoch():
    loader = DataLoader(make(), batch_size=2, shuffle=True, seed=1)
    it = iter(loader)
    next(it)
    assert loader.epoch == 1
    assert [i for b in loader for i in rows(b)] == loader.order(1).tolist()


def test_no_shuffle_keeps_order():
    loader = DataLoader(make(), batch_size=3)
    for _ in range(2):
        assert [i for b in loader for i in rows(b)] == list(range(10))


def test_seed_none_follows_manual_seed():
    gf.manual_seed(123)
    a = DataLoader(make(), batch_size=2, shuffle=True)
    gf.manual_seed(123)
    b = DataLoader(make(), batch_size=2, shuffle=True)
    assert a.seed == b.seed


@pytest.mark.parametrize("batch_size, steps", [(3, 3), (5, 2), (1, 10)])
def test_drop_last(batch_size, steps):
    loader = DataLoader(make(), batch_size=batch_size, drop_last=True, shuffle=True, seed=0)
    batches = list(loader)
    assert len(loader) == steps == len(batches)
    assert all(b[0].shape[0] == batch_size for b in batches)


def test_generic_dataset_collates_item_by_item():
    loader = DataLoader(ItemDataset(5), batch_size=2, shuffle=True, seed=0)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    x, y = batches[0]
    assert x.dtype == np.float64 and y.dtype == np.int64, "arrays keep their dtype, as torch"
    np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy())
    assert sorted(i for b in batches for i in rows(b)) == list(range(5))


def test_subset_and_repeat_keep_fast_path():
    from gradflow.data import Subset

    sub = Subset(make(), [9, 1, 4])
    assert hasattr(sub, "get_batch") and not hasattr(Subset(ItemDataset(3), [0]), "get_batch")
    (x, y), = list(DataLoader(sub, batch_size=3))
    assert y.numpy().tolist() == [9, 1, 4]


def test_device_cpu_and_auto():
    x, _ = next(iter(DataLoader(make(), batch_size=2, device="cpu")))
    assert x.device == "cpu"
    x, _ = next(iter(DataLoader(make(), batch_size=2, device="auto")))
    assert x.device == ("cuda:0" if gf.cuda.is_available() else "cpu")


@pytest.mark.skipif(not gf.cuda.is_available(), reason="no usable CUDA device")
def test_device_cuda():
    x, y = next(iter(DataLoader(make(), batch_size=4, device="cuda")))
    assert x.device == y.device == "cuda:0" and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), make().arrays[0][:4])


def test_transform_is_reproducible_and_varies_per_step_and_epoch():
    noise = transforms.GaussianNoise(1.0)

    def run(loader, epochs=2):
        return [[b[0].numpy() for b in loader] for _ in range(epochs)]

    a = run(DataLoader(make(), batch_size=5, seed=11, transform=noise))
    b = run(DataLoader(make(), batch_size=5, seed=11, transform=noise))
    for ea, eb in zip(a, b):
        for xa, xb in zip(ea, eb):
            np.testing.assert_array_equal(xa, xb)
    assert not np.allclose(a[0][0] - make().arrays[0][:5], a[0][1] - make().arrays[0][5:])
    assert not np.allclose(a[0][0], a[1][0])
    resumed = DataLoader(make(), batch_size=5, seed=11, transform=noise)
    resumed.set_epoch(1)
    np.testing.assert_array_equal(next(iter(resumed))[0].numpy(), a[1][0])


def test_transform_applies_to_features_only():
    loader = DataLoader(make(), batch_size=10, seed=0, transform=lambda x, rng: x * 0)
    x, y = next(iter(loader))
    assert x.numpy().max() == 0 and y.numpy().tolist() == list(range(10))


def test_bad_transform_output_is_an_error():
    loader = DataLoader(make(), batch_size=2, seed=0, transform=lambda x, rng: x[:1])
    with pytest.raises(ValueError, match="transform"):
        next(iter(loader))
    with pytest.raises(TypeError, match="callable"):
        DataLoader(make(), transform="flip")


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(make(), batch_size=bad)


def test_other_errors():
    # as in PyTorch: a drop_last loader with too big a batch, and an empty set, yield nothing
    assert len(DataLoader(make(), batch_size=11, drop_last=True)) == 0
    assert list(DataLoader(make(), batch_size=11, drop_last=True)) == []
    assert list(DataLoader(TensorDataset(np.zeros((0, 2))))) == []
    with pytest.raises(ValueError, match="num_samples"):  # nothing to shuffle
        DataLoader(TensorDataset(np.zeros((0, 2))), shuffle=True)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(make(), shuffle=True, seed=-1)
    with pytest.raises(ValueError, match="unknown device"):
        DataLoader(make(), device="tpu")
    with pytest.raises(ValueError, match="epoch"):
        DataLoader(make()).set_epoch(-2)
