"""``mpiexec -n 2 gradflow train``: one data-parallel run, one run folder written by rank 0; a
command-line error on one rank ends the whole job (mpiexec as a subprocess with a timeout)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mpiexec(*args, timeout=240):
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([exe, "-n", "2", sys.executable, *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_two_ranks_train_one_run_and_rank_zero_writes_it(tmp_path):
    out = tmp_path / "run"
    proc = _mpiexec("-m", "gradflow", "train", "--epochs", "2", "--hidden", "16",
                    "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("finished: 2 epoch(s)") == 1  # rank 0 prints, rank 1 is quiet
    assert "data-parallel on 2 ranks" in proc.stdout
    files = set(os.listdir(out))
    assert {"config.json", "metrics.csv", "results.json", "model.gf", "last.gf"} <= files
    assert json.loads((out / "config.json").read_text())["ranks"] == 2
    assert (out / "metrics.csv").read_text().count("\n") == 3  # header + 2 epochs, once
    results = json.loads((out / "results.json").read_text())
    assert results["test_examples"] == 360 and results["steps"] == 2 * 41  # ceil(1293/32)


def test_a_command_line_error_on_one_rank_ends_the_job(tmp_path):
    code = ("import sys; from gradflow.distributed import init; from gradflow.cli import main; "
            "r = init().rank; "
            f"args = ['train', '--epochs', '50', '--out', {str(tmp_path / 'run')!r}, "
            "'--no-progress']; "
            "args += ['--resume', '/no/such/checkpoint'] if r == 1 else []; "
            "sys.exit(main(args))")
    start = time.monotonic()
    proc = _mpiexec("-c", code, timeout=120)
    assert proc.returncode != 0
    assert "gradflow: error" in proc.stderr
    assert time.monotonic() - start < 60  # not the 50 epochs, and no hang


def test_gradflow_launch_starts_the_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    if shutil.which("mpiexec") is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = ("import gradflow.distributed as d, os, pathlib; "
            f"pathlib.Path({str(tmp_path)!r}, str(d.rank())).write_text("
            "f\"{d.size()} {os.environ['OMP_NUM_THREADS']}\")")
    proc = subprocess.run([sys.executable, "-m", "gradflow", "launch", "-n", "2", "--threads", "1",
                           "--exec", "--", sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"0": "2 1", "1": "2 1"}
