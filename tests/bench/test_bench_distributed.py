"""``gradflow bench distributed``: the ring model's algebra, and one quick end-to-end run on 1 and
2 MPI ranks (mpiexec as subprocesses with timeouts; no timing assertions)."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from gradflow.bench.distributed import (
    CSV_FIELDS,
    NETWORK,
    extrapolate,
    fit_ring,
    gradient_bytes,
    main,
    ring_time,
    shares,
)


@pytest.mark.parametrize("ranks", [2, 4])
def test_fit_ring_recovers_latency_and_bandwidth(ranks):
    alpha, beta = 20e-6, 1 / 3e9
    n = np.array([4096.0 * 4**k for k in range(8)])
    t = np.array([ring_time(ranks, b, alpha, beta) for b in n])
    a, b = fit_ring(n, t, ranks)  # slope from >= 1 MiB, intercept from <= 64 KiB
    assert a == pytest.approx(alpha, rel=1e-6) and b == pytest.approx(beta, rel=1e-9)
    a, b = fit_ring(n[:4], t[:4], ranks)  # no large messages: relative least squares
    assert a == pytest.approx(alpha, rel=1e-9) and b == pytest.approx(beta, rel=1e-9)
    # a cache step (fast small messages) does not leak into the gradient's bandwidth
    t_cached = np.where(n <= 65536, t / 2, t)
    assert fit_ring(n, t_cached, ranks)[1] == pytest.approx(beta, rel=1e-9)
    with pytest.raises(ValueError, match="ranks=1"):
        fit_ring(n, t, 1)
    with pytest.raises(ValueError, match=">= 2"):
        fit_ring(n[:1], t[:1], ranks)


def test_ring_time_and_extrapolated_efficiency():
    # 2 ranks: one message each way of n/2 bytes, twice (reduce-scatter, allgather)
    assert ring_time(2, 1000, 1e-6, 1e-9) == pytest.approx(2e-6 + 1000e-9)
    assert ring_time(1, 1e9, 1.0, 1.0) == 0.0
    rows = extrapolate(0.1, 7e6, 10e-6, 1e-9, ranks=(2, 8, 64))
    assert [r["ranks"] for r in rows] == [2, 8, 64]
    for r in rows:
        t = ring_time(r["ranks"], 7e6, 10e-6, 1e-9)
        assert r["ring_ms_loopback"] == pytest.approx(t * 1e3)
        assert r["efficiency_loopback"] == pytest.approx(0.1 / (0.1 + t))
        net = ring_time(r["ranks"], 7e6, NETWORK["alpha_s"], NETWORK["beta_s_per_byte"])
        assert r["efficiency_network"] == pytest.approx(0.1 / (0.1 + net))
    effs = [r["efficiency_loopback"] for r in rows]
    assert effs == sorted(effs, reverse=True)  # more ranks: more latency, more bytes per rank


def test_shares_and_gradient_bytes():
    assert shares(256, 2) == [128, 128] and shares(10, 3) == [4, 3, 3]
    assert sum(shares(257, 4)) == 257
    # 784·1024 + 1024 + 1024·1024 + 1024 + 1024·10 + 10 parameters, float32
    assert gradient_bytes("mlp", (784, 1024, 1024, 10)) == 7_454_760
    assert gradient_bytes("cnn", ()) == 4 * (16 * 25 + 16 + 32 * 16 * 25 + 32 + 32 * 49 * 10 + 10)


def test_quick_run_on_one_and_two_ranks(tmp_path, capsys):
    pytest.importorskip("mpi4py", reason='pip install "gradflow[mpi]" mpich')
    if shutil.which("mpiexec") is None:
        pytest.skip('no mpiexec on PATH: pip install "gradflow[mpi]" mpich')
    assert main(["--quick", "--ranks", "2", "--timeout", "120", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "distributed.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_FIELDS)
    scaling = {(r["mode"], int(r["ranks"])): r for r in rows if r["section"] == "scaling"}
    assert set(scaling) == {("weak", 1), ("weak", 2), ("strong", 1), ("strong", 2)}
    one = float(scaling["weak", 1]["samples_per_s"])
    for (mode, ranks), r in scaling.items():
        assert r["params_identical"] == "True"  # broadcast + GradSync: one model on every rank
        per_rank = 16 if mode == "weak" else 16 // ranks
        assert (int(r["batch_per_rank"]), int(r["global_batch"])) == (per_rank, per_rank * ranks)
        assert float(r["step_ms"]) > 0 and float(r["compute_ms"]) > 0
        assert float(r["efficiency"]) == pytest.approx(float(r["samples_per_s"]) / (ranks * one),
                                                       rel=1e-9)
    assert float(scaling["weak", 1]["allreduce_ms"]) < float(scaling["weak", 1]["step_ms"])
    micro = [r for r in rows if r["section"] == "allreduce"]
    assert sorted(int(r["bytes"]) for r in micro) == sorted({4096, 65536, 2384})
    for r in micro:
        ratio = float(r["gradsync_ms"]) / float(r["mpi4py_ms"])
        assert float(r["gradsync_over_mpi4py"]) == pytest.approx(ratio, rel=1e-9)
        assert 0 < float(r["mpi4py_min_ms"]) <= float(r["mpi4py_ms"])
        assert 0 < float(r["gradsync_min_ms"]) <= float(r["gradsync_ms"])
    model = [int(r["ranks"]) for r in rows if r["section"] == "model"]
    assert model == [2, 4, 8, 16, 32, 64]
    text = (tmp_path / "distributed.md").read_text(encoding="utf-8")
    for heading in ("## Scaling", "## Allreduce on 2 ranks", "## Ring-allreduce model",
                    "## Targets", "- uptime before:"):
        assert heading in text
    assert "efficiency" in capsys.readouterr().out


def test_bad_arguments_are_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--ranks", "1,x"])
    assert main(["--ranks", "0", "--out", str(tmp_path)]) == 1
    assert "ranks" in capsys.readouterr().err
