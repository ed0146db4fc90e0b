"""gradflow.data as PyTorch's torch.utils.data: samplers, datasets, random_split, collation,
DataLoader arguments and errors, worker processes, and a training loop in PyTorch's idiom; each
checked side by side with torch where torch is deterministic."""

import collections
import gc
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import gradflow as gf
from gradflow import data as gdata
from gradflow import nn, optim

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def np_dtype(t):
    return torch.empty(0, dtype=t.dtype).numpy().dtype


def same(g, t):
    """gradflow's result ``g`` matches torch's ``t``: containers, types, shapes, dtypes, values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(g, gf.Tensor), f"expected a gf.Tensor, got {type(g).__name__}"
        assert tuple(g.shape) == tuple(t.shape) and g.dtype == np_dtype(t), (g, t)
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    elif isinstance(t, dict):
        assert type(g) is type(t) and list(g) == list(t)
        for k in t:
            same(g[k], t[k])
    elif isinstance(t, list | tuple):
        assert type(g).__name__ == type(t).__name__ and len(g) == len(t), (g, t)
        for a, b in zip(g, t):
            same(a, b)
    else:
        assert g == t and type(g) is type(t)


def test_utils_data_is_the_same_module():
    import gradflow.utils.data as d
    from gradflow.utils.data import DataLoader, TensorDataset

    assert d is gf.data is gf.utils.data
    assert DataLoader is gdata.DataLoader and TensorDataset is gdata.TensorDataset


# -- samplers -----------------------------------------------------------------------------

def test_sequential_sampler_as_torch():
    s = gdata.SequentialSampler(range(7))
    assert list(s) == list(tdata.SequentialSampler(range(7))) and len(s) == 7


@pytest.mark.parametrize("replacement, num_samples", [(False, None), (False, 23), (False, 4),
                                                       (True, None), (True, 50)])
def test_random_sampler_lengths_sets_and_reproducibility(replacement, num_samples):
    n = 10
    g = gdata.RandomSampler(range(n), replacement, num_samples, gf.Generator().manual_seed(3))
    t = tdata.RandomSampler(range(n), replacement, num_samples, torch.Generator().manual_seed(3))
    a, b = list(g), list(g)
    assert len(g) == len(t) == len(a) == len(list(t)) and a != b
    assert all(isinstance(i, int) and 0 <= i < n for i in a)
    if not replacement:  # whole permutations, the last one cut short: counts differ by <= 1
        counts = np.bincount(a, minlength=n)
        assert counts.max() - counts.min() <= 1 and len(set(a[:n])) == min(n, len(a))
    again = gdata.RandomSampler(range(n), replacement, num_samples,
                                gf.Generator().manual_seed(3))
    assert list(again) == a and list(again) == b


def test_random_sampler_without_generator_follows_manual_seed():
    gf.manual_seed(5)
    a = list(gdata.RandomSampler(range(20)))
    gf.manual_seed(5)
    assert list(gdata.RandomSampler(range(20))) == a and sorted(a) == list(range(20))


def test_subset_random_sampler_as_torch():
    idx = [3, 9, 4, 7]
    g = gdata.SubsetRandomSampler(idx, generator=gf.Generator().manual_seed(0))
    t = tdata.SubsetRandomSampler(idx)
    assert sorted(g) == sorted(t) == sorted(idx) and len(g) == len(t) == 4
    fresh = [list(gdata.SubsetRandomSampler(idx, gf.Generator().manual_seed(0))) for _ in "ab"]
    assert fresh[0] == fresh[1]


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0, 2.0]
    g = gdata.WeightedRandomSampler(w, 200, generator=gf.Generator().manual_seed(0))
    drawn = list(g)
    assert len(g) == len(tdata.WeightedRandomSampler(w, 200)) == len(drawn) == 200
    assert set(drawn) == {1, 2, 4}, "zero weights are never drawn"
    assert drawn.count(2) > drawn.count(1)
    unique = list(gdata.WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(unique) == sorted(tdata.WeightedRandomSampler(w, 3, replacement=False))
    with pytest.raises(RuntimeError):  # as torch.multinomial: 6 > 5 without replacement
        list(gdata.WeightedRandomSampler(w, 6, replacement=False))
    with pytest.raises(RuntimeError):
        list(tdata.WeightedRandomSampler(w, 6, replacement=False))


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n, size", [(10, 3), (9, 3), (2, 5)])
def test_batch_sampler_as_torch(n, size, drop_last):
    g = gdata.BatchSampler(gdata.SequentialSampler(range(n)), size, drop_last)
    t = tdata.BatchSampler(tdata.SequentialSampler(range(n)), size, drop_last)
    assert list(g) == list(t) and len(g) == len(t)


@pytest.mark.parametrize("make", [
    lambda m: m.BatchSampler(range(4), 0, False),
    lambda m: m.BatchSampler(range(4), -1, False),
    lambda m: m.BatchSampler(range(4), 2.5, False),
    lambda m: m.BatchSampler(range(4), True, False),
    lambda m: m.BatchSampler(range(4), "2", False),
    lambda m: m.BatchSampler(range(4), 2, "no"),
    lambda m: m.RandomSampler(range(4), replacement=1),
    lambda m: m.RandomSampler(range(4), num_samples=0),
    lambda m: m.RandomSampler(range(4), num_samples=-2),
    lambda m: m.RandomSampler(range(4), num_samples=2.0),
    lambda m: m.RandomSampler([]),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 0),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], True),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement="yes"),
    lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 2),
    lambda m: iter(m.Sampler()).__next__(),
])
def test_sampler_argument_errors_as_torch(make):
    with pytest.raises(Exception) as texc:
        make(tdata)
    with pytest.raises(texc.type):
        make(gdata)


# -- datasets -----------------------------------------------------------------------------

def test_tensor_dataset_items_are_tuples_of_tensors():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = gdata.TensorDataset(gf.tensor(x), gf.tensor([0, 1, 2, 3, 4, 5]))
    tds = tdata.TensorDataset(torch.tensor(x), torch.tensor([0, 1, 2, 3, 4, 5]))
    same(ds[2], tds[2])
    same(ds[-1], tds[-1])
    same(ds[1:3], tds[1:3])
    assert isinstance(ds[2][0], gf.Tensor) and len(ds) == len(tds) == 6
    assert all(isinstance(t, gf.Tensor) for t in ds.tensors)
    with pytest.raises(AssertionError, match=r"size mismatch.*\[6, 5\]"):  # torch's type
        gdata.TensorDataset(gf.tensor(x), gf.zeros(5))
    with pytest.raises(AssertionError):
        tdata.TensorDataset(torch.tensor(x), torch.zeros(5))


@pytest.mark.parametrize("n, lengths", [(10, [7, 3]), (10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]),
                                        (7, [0.1] * 10), (5, [1.0]), (10, [10, 0])])
def test_random_split_lengths_as_torch(n, lengths):
    with pytest.warns(UserWarning) if n == 7 else _no_warning():
        parts = gdata.random_split(gdata.TensorDataset(np.arange(n)), lengths,
                                   generator=gf.Generator().manual_seed(0))
    with pytest.warns(UserWarning) if n == 7 else _no_warning():
        tparts = tdata.random_split(range(n), lengths)
    assert [len(p) for p in parts] == [len(p) for p in tparts]
    idx = [int(i) for p in parts for i in p.indices]
    assert sorted(idx) == list(range(n)), "disjoint and covering"


class _no_warning:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def test_random_split_reproducible_with_generator():
    ds = gdata.TensorDataset(np.arange(50))

    def split(g):
        return [p.indices.tolist() for p in gdata.random_split(ds, [0.6, 0.4], generator=g)]

    a = split(gf.Generator().manual_seed(0))
    assert a == split(gf.Generator().manual_seed(0)) != split(gf.Generator().manual_seed(1))
    gf.manual_seed(7)
    b = [p.indices.tolist() for p in gdata.random_split(ds, [25, 25])]
    gf.manual_seed(7)
    assert b == [p.indices.tolist() for p in gdata.random_split(ds, [25, 25])]
    assert split(gf.Generator().manual_seed(4)) == \
        [p.indices.tolist() for p in gdata.random_split(ds, [0.6, 0.4], seed=4)]
    sub = gdata.random_split(ds, [0.6, 0.4], generator=gf.Generator().manual_seed(0))[1]
    assert int(sub[0][0]) == a[1][0]


@pytest.mark.parametrize("lengths", [[5, 4], [6, 6], [0.5, 0.6], [1.5, -0.5]])
def test_random_split_errors_as_torch(lengths):
    with pytest.raises(ValueError):
        tdata.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="random_split"):
        gdata.random_split(gdata.TensorDataset(np.arange(10)), lengths)


def test_subset_concat_and_stack_datasets_as_torch():
    a, b = gdata.TensorDataset(np.arange(3)), gdata.TensorDataset(np.arange(10, 15))
    ta, tb = tdata.TensorDataset(torch.arange(3)), tdata.TensorDataset(torch.arange(10, 15))
    cat, tcat = a + b, ta + tb
    assert isinstance(cat, gdata.ConcatDataset) and len(cat) == len(tcat) == 8
    assert cat.cumulative_sizes == tcat.cumulative_sizes
    for i in [0, 2, 3, 7, -1, -8]:
        same(cat[i], tcat[i])
    with pytest.raises(ValueError):
        cat[-9]
    with pytest.raises(AssertionError):
        gdata.ConcatDataset([])
    sub, tsub = gdata.Subset(cat, [7, 0, 3]), tdata.Subset(tcat, [7, 0, 3])
    same([sub[i] for i in range(3)], [tsub[i] for i in range(3)])
    same(sub.__getitems__([0, 2]), tsub.__getitems__([0, 2]))
    stack = gdata.StackDataset(a, a)
    same(stack[1], tdata.StackDataset(ta, ta)[1])
    same(gdata.StackDataset(x=a, y=a)[2], tdata.StackDataset(x=ta, y=ta)[2])
    with pytest.raises(ValueError):
        gdata.StackDataset(a, b)


# -- collation ----------------------------------------------------------------------------

Point = collections.namedtuple("Point", ["x", "y"])

BATCHES = [
    [0, 1, 2],
    [0.5, 1.5],
    [True, False],
    [1, 2.5],
    [np.float32(1), np.float32(2)],
    [np.int16(3), np.int16(4)],
    [np.arange(3.0), np.ones(3)],
    [np.arange(4, dtype=np.int32).reshape(2, 2)] * 3,
    ["a", "b"],
    [{"x": 1, "y": np.zeros(2, np.float32)}, {"x": 2, "y": np.ones(2, np.float32)}],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [Point(1, np.zeros(2)), Point(2, np.ones(2))],
    [{"a": (np.zeros(1), [1, 2])}, {"a": (np.ones(1), [3, 4])}],
]


def to_torch(obj):
    if isinstance(obj, gf.Tensor):
        return torch.from_numpy(obj.numpy())
    if isinstance(obj, dict):
        return {k: to_torch(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_torch(v) for v in obj))
    if isinstance(obj, list | tuple):
        return type(obj)(to_torch(v) for v in obj)
    return obj


@pytest.mark.parametrize("batch", BATCHES, ids=range(len(BATCHES)))
def test_default_collate_as_torch(batch):
    same(gdata.default_collate(batch), tdata.default_collate(batch))


def test_default_collate_of_tensors_and_errors():
    ts = [gf.tensor([1.0, 2.0]), gf.tensor([3.0, 4.0])]
    same(gdata.default_collate(ts), tdata.default_collate([to_torch(t) for t in ts]))
    w = gf.tensor([1.0, 2.0], requires_grad=True)
    out = gdata.default_collate([w, w * 2])
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])
    for bad, kind in [([[1, 2], [3]], RuntimeError), ([object(), object()], TypeError),
                      ([np.array(["a"]), np.array(["b"])], TypeError)]:
        with pytest.raises(kind):
            tdata.default_collate(bad)
        with pytest.raises(kind, match="default_collate"):
            gdata.default_collate(bad)


@pytest.mark.parametrize("item", [3, 2.5, np.arange(3), np.float64(2.0), (np.zeros(2), 1),
                                  {"a": np.ones(2), "b": "s"}, [np.zeros(1), 2],
                                  Point(np.zeros(1), 1), np.array(["x"])],
                         ids=range(9))
def test_default_convert_as_torch(item):
    g, t = gdata.default_convert(item), tdata.default_convert(item)
    if isinstance(t, np.ndarray):
        assert g is item
    else:
        same(g, t)


# -- DataLoader ---------------------------------------------------------------------------

def pair(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return gdata.TensorDataset(x, y), tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


class Squares(gdata.Dataset):
    """Items computed in Python (no get_batch: batched item by item, or in workers)."""

    def __init__(self, n=10, torch_style=False):
        self.n, self.torch_style = n, torch_style

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": np.full(2, i * i, dtype=np.float32), "i": i, "half": i / 2}


class TSquares(tdata.Dataset):
    def __init__(self, n=10):
        self.g = Squares(n)

    def __len__(self):
        return self.g.n

    def __getitem__(self, i):
        return self.g[i]


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=4, drop_last=True),
                                dict(batch_size=1), dict(batch_size=None), dict(batch_size=32)])
def test_loader_batches_as_torch(kw):
    g, t = pair()
    got, want = list(gdata.DataLoader(g, **kw)), list(tdata.DataLoader(t, **kw))
    assert len(gdata.DataLoader(g, **kw)) == len(tdata.DataLoader(t, **kw)) == len(want)
    same(got, want)
    same(list(gdata.DataLoader(Squares(), **kw)), list(tdata.DataLoader(TSquares(), **kw)))


def test_loader_with_samplers_and_collate_fn_as_torch():
    g, t = pair()
    bs = [[3, 1], [0, 9, 2], [5]]
    same(list(gdata.DataLoader(g, batch_sampler=bs)), list(tdata.DataLoader(t, batch_sampler=bs)))
    same(list(gdata.DataLoader(g, sampler=[9, 8, 7], batch_size=2)),
         list(tdata.DataLoader(t, sampler=[9, 8, 7], batch_size=2)))
    same(list(gdata.DataLoader(Squares(), batch_sampler=bs)),
         list(tdata.DataLoader(TSquares(), batch_sampler=bs)))
    same(list(gdata.DataLoader(g, batch_size=3, collate_fn=len)),
         list(tdata.DataLoader(t, batch_size=3, collate_fn=len)))
    same(list(gdata.DataLoader(g, batch_size=2, pin_memory=True, in_order=False)),
         list(tdata.DataLoader(t, batch_size=2)))


def test_shuffle_with_generator_is_reproducible():
    g, _ = pair(20)

    def epochs(loader):
        return [[i for b in loader for i in b[1].tolist()] for _ in range(2)]

    a = epochs(gdata.DataLoader(g, batch_size=3, shuffle=True,
                                generator=gf.Generator().manual_seed(0)))
    assert a == epochs(gdata.DataLoader(g, batch_size=3, shuffle=True,
                                        generator=gf.Generator().manual_seed(0)))
    assert a[0] != a[1] and sorted(a[0]) == sorted(a[1]) == list(range(20))
    items = gdata.DataLoader(Squares(20), batch_size=3, shuffle=True,
                             generator=gf.Generator().manual_seed(0))
    assert a == [[i for b in items for i in b["i"].tolist()] for _ in range(2)], \
        "the order depends on the generator, not on how the dataset is batched"
    loader = gdata.DataLoader(g, shuffle=True, generator=gf.Generator())
    assert isinstance(loader.sampler, gdata.RandomSampler)
    assert isinstance(gdata.DataLoader(g, shuffle=True).sampler, gdata.RandomSampler)


class Stream(gdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = gdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = tdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                dict(batch_size=None)])
def test_iterable_dataset_as_torch(kw):
    same(list(gdata.DataLoader(Stream(7), **kw)), list(tdata.DataLoader(TStream(7), **kw)))
    assert len(gdata.DataLoader(Stream(7), **kw)) == len(tdata.DataLoader(TStream(7), **kw))


ERROR_CASES = {
    "sampler+shuffle": lambda m, ds, s: m.DataLoader(ds, sampler=s, shuffle=True),
    "batch_sampler+batch_size": lambda m, ds, s: m.DataLoader(ds, batch_sampler=[[0]],
                                                              batch_size=2),
    "batch_sampler+shuffle": lambda m, ds, s: m.DataLoader(ds, batch_sampler=[[0]], shuffle=True),
    "batch_sampler+sampler": lambda m, ds, s: m.DataLoader(ds, batch_sampler=[[0]], sampler=s),
    "batch_sampler+drop_last": lambda m, ds, s: m.DataLoader(ds, batch_sampler=[[0]],
                                                             drop_last=True),
    "batch_size=None+drop_last": lambda m, ds, s: m.DataLoader(ds, batch_size=None,
                                                               drop_last=True),
    "negative num_workers": lambda m, ds, s: m.DataLoader(ds, num_workers=-1),
    "negative timeout": lambda m, ds, s: m.DataLoader(ds, timeout=-1),
    "prefetch without workers": lambda m, ds, s: m.DataLoader(ds, prefetch_factor=2),
    "negative prefetch": lambda m, ds, s: m.DataLoader(ds, num_workers=1, prefetch_factor=-1),
    "persistent without workers": lambda m, ds, s: m.DataLoader(ds, persistent_workers=True),
    "context without workers": lambda m, ds, s: m.DataLoader(ds, multiprocessing_context="spawn"),
    "unknown context": lambda m, ds, s: m.DataLoader(ds, num_workers=1,
                                                     multiprocessing_context="nope"),
    "batch_size=0": lambda m, ds, s: m.DataLoader(ds, batch_size=0),
    "batch_size=-1": lambda m, ds, s: m.DataLoader(ds, batch_size=-1),
    "batch_size=2.5": lambda m, ds, s: m.DataLoader(ds, batch_size=2.5),
    "batch_size=True": lambda m, ds, s: m.DataLoader(ds, batch_size=True),
    "shuffle empty": lambda m, ds, s: m.DataLoader(m.Subset(ds, []), shuffle=True),
    "set batch_size": lambda m, ds, s: setattr(m.DataLoader(ds), "batch_size", 3),
    "set sampler": lambda m, ds, s: setattr(m.DataLoader(ds), "sampler", s),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_loader_argument_errors_as_torch(case):
    g, t = pair()
    with pytest.raises(Exception) as texc:
        ERROR_CASES[case](tdata, t, tdata.SequentialSampler(t))
    with pytest.raises(texc.type, match="DataLoader|BatchSampler|RandomSampler"):
        ERROR_CASES[case](gdata, g, gdata.SequentialSampler(g))


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])])
def test_iterable_dataset_refuses_samplers_as_torch(kw):
    with pytest.raises(ValueError):
        tdata.DataLoader(TStream(3), **kw)
    with pytest.raises(ValueError, match="IterableDataset"):
        gdata.DataLoader(Stream(3), **kw)


def test_gradflow_extras_still_refuse_conflicts():
    g, _ = pair()
    with pytest.raises(ValueError, match="not both"):
        gdata.DataLoader(g, shuffle=True, seed=1, generator=gf.Generator())
    with pytest.raises(TypeError, match="gradflow.Generator"):
        gdata.DataLoader(g, shuffle=True, generator=torch.Generator())


# -- worker processes ---------------------------------------------------------------------

class WhoLoads(gdata.Dataset):
    """Items that say which process and worker computed them."""

    def __init__(self, n=8, fail_at=None):
        self.n, self.fail_at = n, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"item {i} is broken")
        info = gdata.get_worker_info()
        assert (info is None) == (os.getpid() == PARENT), "worker info only in workers"
        return {"i": i, "pid": os.getpid(), "wid": -1 if info is None else info.id,
                "nw": 0 if info is None else info.num_workers,
                "seed": -1 if info is None else info.seed,
                "init": INIT_CALLS.get(os.getpid(), -1),
                "draw": float(np.random.rand() if info is not None else 0.0)}


PARENT = os.getpid()
INIT_CALLS: dict[int, int] = {}


def record_init(worker_id):
    INIT_CALLS[os.getpid()] = worker_id


def fail_init(worker_id):
    raise ValueError(f"init of worker {worker_id} failed")


def no_children():
    gc.collect()
    deadline = time.monotonic() + 5
    while mp.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not mp.active_children()


def test_workers_give_the_batches_of_one_process():
    for kw in (dict(batch_size=3), dict(batch_size=None), dict(batch_size=2, drop_last=True)):
        one = list(gdata.DataLoader(Squares(11), **kw))
        two = list(gdata.DataLoader(Squares(11), num_workers=2, **kw))
        same(two, [to_torch(b) for b in one])
    gen = [list(gdata.DataLoader(Squares(11), batch_size=3, shuffle=True, num_workers=w,
                                 generator=gf.Generator().manual_seed(1))) for w in (0, 2)]
    same(gen[1], to_torch(gen[0]))
    assert no_children()


def test_worker_info_seeds_and_init_fn():
    assert gdata.get_worker_info() is None
    loader = gdata.DataLoader(WhoLoads(8), batch_size=2, num_workers=2, worker_init_fn=record_init,
                              generator=gf.Generator().manual_seed(0))
    batches = list(loader)
    assert [b["i"].tolist() for b in batches] == [[0, 1], [2, 3], [4, 5], [6, 7]], "in order"
    wids = [b["wid"].tolist() for b in batches]
    assert wids == [[0, 0], [1, 1], [0, 0], [1, 1]], "round robin"
    pids = {int(p) for b in batches for p in b["pid"].tolist()}
    assert len(pids) == 2 and PARENT not in pids
    assert all(b["nw"].tolist() == [2, 2] for b in batches)
    assert all(b["init"].tolist() == b["wid"].tolist() for b in batches), "worker_init_fn ran"
    seeds = {w: s for b in batches for w, s in zip(b["wid"].tolist(), b["seed"].tolist())}
    assert seeds[1] == seeds[0] + 1
    again = list(gdata.DataLoader(WhoLoads(8), batch_size=2, num_workers=2,
                                  generator=gf.Generator().manual_seed(0)))
    assert [b["seed"].tolist() for b in again] == [b["seed"].tolist() for b in batches]
    assert [b["draw"].tolist() for b in again] == [b["draw"].tolist() for b in batches], \
        "NumPy's global generator is seeded per worker"
    info = gdata.WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    with pytest.raises(RuntimeError, match="Cannot assign"):
        info.id = 1
    assert no_children()


def test_worker_exception_is_raised_in_the_main_process():
    with pytest.raises(KeyError, match=r"(?s)worker process \d.*item 5 is broken"):
        list(gdata.DataLoader(WhoLoads(8, fail_at=5), batch_size=2, num_workers=2))
    assert no_children()
    with pytest.raises(ValueError, match=r"(?s)worker_init_fn.*init of worker 0 failed"):
        list(gdata.DataLoader(WhoLoads(4), batch_size=2, num_workers=2, worker_init_fn=fail_init))
    assert no_children()


def test_workers_end_with_the_iteration_or_persist():
    loader = gdata.DataLoader(WhoLoads(8), batch_size=1, num_workers=2)
    for _ in loader:
        break
    assert no_children(), "an abandoned iteration stops its workers"
    loader = gdata.DataLoader(WhoLoads(6), batch_size=2, num_workers=2, persistent_workers=True)
    first = {int(p) for b in loader for p in b["pid"].tolist()}
    second = {int(p) for b in loader for p in b["pid"].tolist()}
    assert first == second and len(mp.active_children()) == 2
    del loader
    assert no_children(), "a collected loader stops its persistent workers"


def test_iterable_dataset_in_workers_as_torch():
    got = list(gdata.DataLoader(Stream(7), batch_size=2, num_workers=2))
    same(got, list(tdata.DataLoader(TStream(7), batch_size=2, num_workers=2)))
    assert no_children()


class Slow(gdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(0.3)
        return i


def test_worker_timeout():
    with pytest.raises(RuntimeError, match="timed out after 0.1 seconds"):
        list(gdata.DataLoader(Slow(), num_workers=1, timeout=0.1))
    assert no_children()


def test_spawned_workers():
    # a dataset of gradflow classes only, so that the spawned workers import gradflow, not torch
    ds = gdata.StackDataset(gdata.TensorDataset(np.arange(5)), gdata.TensorDataset(np.ones(5)))
    got = list(gdata.DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn"))
    same(got, [to_torch(b) for b in gdata.DataLoader(ds, batch_size=2)])
    assert no_children()


# -- training in PyTorch's idiom ----------------------------------------------------------

def test_training_loop_in_pytorch_idiom():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    ds = gdata.TensorDataset(gf.tensor(x), gf.tensor(y))
    sampler = gdata.RandomSampler(ds, generator=gf.Generator().manual_seed(0))
    loader = gdata.DataLoader(ds, batch_size=16, sampler=sampler)
    gf.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(5):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / len(ds))
    assert len(loader) == 8 and losses[-1] < 0.01 * losses[0]
