"""``fit`` on 2 MPI ranks (mpiexec as a subprocess with a timeout): sharded global batches,
the gradient sync, exact metrics, rank-0 writers, bit-exact resume; and the DataLoader's shards
in one process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow import nn
from gradflow.data import DataLoader, TensorDataset
from gradflow.train import fit

JOB = Path(__file__).with_name("mpi_fit_job.py")
ROOT = Path(__file__).resolve().parents[2]


def _ranks(tmp_path, *args):
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(JOB), str(tmp_path), *args],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]


def _data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((36, 4)).astype(np.float32)[:33], rng.integers(0, 3, 36)[:33]


def _model_and_opt(name):
    gf.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = (gf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if name == "sgd"
           else gf.optim.Adam(model.parameters(), lr=0.01))
    return model, opt


def _simulated_two_ranks(name):
    """One process doing what 2 ranks do: per global batch, each rank's share forward and
    backward, gradients weighted by the shares and summed (float32), one step."""
    x, y = _data()
    model, opt = _model_and_opt(name)
    loader = DataLoader(TensorDataset(gf.tensor(x), gf.tensor(y)), batch_size=8, shuffle=True,
                        seed=5)
    loss_fn = nn.CrossEntropyLoss()
    params = list(model.parameters())
    for epoch in range(3):
        order = loader.order(epoch)
        for s in range(0, len(order), 8):
            idx = order[s:s + 8]
            n = len(idx)
            total = [np.zeros(p.shape, np.float32) for p in params]
            for r in (0, 1):
                piece = idx[n * r // 2:n * (r + 1) // 2]
                if len(piece) == 0:
                    continue
                opt.zero_grad()
                loss_fn(model(gf.tensor(x[piece])), gf.tensor(y[piece])).backward()
                for t, p in zip(total, params):
                    t += np.multiply(p.grad.numpy().reshape(-1), len(piece) / n).reshape(p.shape)
            for t, p in zip(total, params):
                p.grad = gf.tensor(t)
            opt.step()
    return [p.numpy() for p in params]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_two_ranks_match_the_simulated_reference_bit_for_bit(tmp_path, opt):
    r0, r1 = _ranks(tmp_path, "fit", opt)
    assert r0["sharded"] and r1["sharded"]  # fit sharded the DataLoaders built without shard=
    assert r0["steps"] == r1["steps"] == 15  # ceil(33/8) steps per epoch on every rank
    assert r0["params"] == r1["params"]
    for got, want in zip(r0["params"], _simulated_two_ranks(opt)):
        np.testing.assert_array_equal(np.asarray(got, np.float32), want)
    # metrics are global means: the same on both ranks and equal to one process's (rounding)
    assert r0["history"] == [{**a, **{k: b[k] for k in ("epoch_time", "samples_per_s")}}
                             for a, b in zip(r1["history"], r0["history"])]
    x, y = _data()
    model, optimizer = _model_and_opt(opt)
    rng = np.random.default_rng(3)
    rng.standard_normal((36, 4)), rng.integers(0, 3, 36)
    xv, yv = rng.standard_normal((9, 4)).astype(np.float32), rng.integers(0, 3, 9)
    one = fit(model, nn.CrossEntropyLoss(), optimizer,
              DataLoader(TensorDataset(gf.tensor(x), gf.tensor(y)), batch_size=8, shuffle=True,
                         seed=5),
              DataLoader(TensorDataset(gf.tensor(xv), gf.tensor(yv)), batch_size=4),
              epochs=3, progress=False)
    for mine, theirs in zip(r0["history"], one.records):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "steps"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5), key
    for got, want in zip(r0["params"], model.parameters()):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)
    # rank 0 alone wrote the CSV log: one header, one row per epoch
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 4


def test_two_ranks_resume_bit_for_bit_with_dropout_and_batchnorm(tmp_path):
    r0, r1 = _ranks(tmp_path, "resume")
    assert r0["files"] == ["ckpt-step0000006.gf", "last.gf"]
    assert r0["steps"] == 15
    for r in (r0, r1):
        assert r["resumed"] == r["full"]  # interrupted at step 7, resumed from step 6
    assert r0["full"] == r1["full"]
    assert r0["running_mean"] == r1["running_mean"]  # averaged across ranks each epoch
    assert r0["draw"] != r1["draw"]  # per-rank random streams (dropout masks differ)


def test_a_stop_decided_on_one_rank_stops_every_rank(tmp_path):
    r0, r1 = _ranks(tmp_path, "stop")
    # rank 1's callback alone sets stop_training at epoch 2: rank 0 stops too (no rank is left
    # waiting in a collective)
    assert r0 == r1 == {"epochs": 2, "reason": "callback"}


def test_shards_partition_every_global_batch():
    x = gf.tensor(np.arange(22.0).reshape(11, 2))
    ds = TensorDataset(x, gf.tensor(np.arange(11)))
    whole = [b[1].numpy().tolist() for b in DataLoader(ds, batch_size=4, shuffle=True, seed=3)]
    for size in (2, 3, 5):
        loaders = [DataLoader(ds, batch_size=4, shuffle=True, seed=3, shard=(r, size))
                   for r in range(size)]
        assert all(len(lo) == len(whole) and lo.sharded for lo in loaders)
        per_rank = []
        for lo in loaders:
            batches = []
            for b in lo:
                batches.append((b[1].numpy().tolist(), lo.last_batch_share))
            per_rank.append(batches)
        for s, batch in enumerate(whole):
            assert sum((per_rank[r][s][0] for r in range(size)), []) == batch
            assert [per_rank[r][s][1][1] for r in range(size)] == [len(batch)] * size
            assert sum(per_rank[r][s][1][0] for r in range(size)) == len(batch)


def test_shard_arguments_are_checked():
    ds = TensorDataset(gf.tensor(np.zeros((4, 2))), gf.tensor(np.zeros(4)))
    assert not DataLoader(ds, batch_size=2, shard="auto").sharded  # one process
    for bad in ((2, 2), (-1, 2), "all", (0,), (0.5, 2)):
        with pytest.raises(ValueError, match="shard must be"):
            DataLoader(ds, batch_size=2, shard=bad)
    with pytest.raises(ValueError, match="explicit seed"):
        DataLoader(ds, batch_size=2, shuffle=True, shard=(0, 2))
    with pytest.raises(ValueError, match="seed= instead of generator"):
        DataLoader(ds, batch_size=2, shuffle=True, generator=gf.Generator(), shard=(0, 2))
    with pytest.raises(ValueError, match="needs a map-style dataset with batching"):
        DataLoader(ds, batch_size=None, shard=(0, 2))
