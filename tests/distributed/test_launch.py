"""``gradflow launch``: finds mpiexec, sizes the BLAS threads per rank, starts the ranks."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from gradflow.distributed import launch

ROOT = Path(__file__).resolve().parents[2]
PRINT_RANK = ("import os, gradflow.distributed as d; c = d.init(); "
              "seen = c.allgather_object(f'rank {c.rank} of {c.size} threads ' "
              "+ os.environ['OMP_NUM_THREADS'] + ' ' + os.environ['OPENBLAS_NUM_THREADS']); "
              "c.rank == 0 and print(*seen, sep=chr(10))")  # one rank prints: no interleaving


def _launch(*words):
    pytest.importorskip("mpi4py")
    if launch.find_mpiexec() is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gradflow.distributed.launch", *words],
                          env=env, capture_output=True, text=True, timeout=90)


def test_launch_runs_a_program_on_two_ranks_with_their_threads():
    proc = _launch("-n", "2", "--threads", "3", "--exec", "--", sys.executable, "-c", PRINT_RANK)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["rank 0 of 2 threads 3 3",
                                        "rank 1 of 2 threads 3 3"]


def test_launch_runs_a_gradflow_subcommand_on_every_rank():
    proc = _launch("-n", "2", "--", "--version")  # python -m gradflow --version, twice
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("gradflow ") == 2, proc.stdout


def test_the_command_and_the_threads_per_rank(monkeypatch, capsys):
    monkeypatch.setattr(launch, "find_mpiexec", lambda explicit=None: "/opt/mpi/bin/mpiexec")
    monkeypatch.setattr(launch, "cpu_count", lambda: 8)
    for var in launch.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "2")  # given by the user: kept
    assert launch.main(["-n", "2", "--dry-run", "--", "train", "--epochs", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["OMP_NUM_THREADS=4", "OPENBLAS_NUM_THREADS=4", "MKL_NUM_THREADS=2",
                       "VECLIB_MAXIMUM_THREADS=4"]
    assert shlex.split(out[4]) == ["/opt/mpi/bin/mpiexec", "-n", "2", sys.executable, "-m",
                                   "gradflow", "train", "--epochs", "3"]
    # --threads wins over the environment; more ranks than cores: one thread each; no '--'
    assert launch.main(["-n", "16", "--dry-run", "--mpiexec-args", "--bind-to core",
                        "train"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=2"]
    assert shlex.split(out[4])[:5] == ["/opt/mpi/bin/mpiexec", "--bind-to", "core", "-n", "16"]
    assert launch.main(["-n", "3", "--threads", "5", "--exec", "--dry-run", "--", "hostname"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["OMP_NUM_THREADS=5"] * 1 + ["OPENBLAS_NUM_THREADS=5", "MKL_NUM_THREADS=5"]
    assert shlex.split(out[4]) == ["/opt/mpi/bin/mpiexec", "-n", "3", "hostname"]


def test_no_mpiexec_names_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(launch, "_wheel_mpiexec", lambda: None)
    assert launch.find_mpiexec() is None
    assert launch.main(["-n", "2", "--", "train"]) == 1
    err = capsys.readouterr().err
    assert 'pip install "gradflow[mpi]" mpich' in err and "no mpiexec" in err
    fake = tmp_path / "mpiexec"  # next to the interpreter (a venv that is not activated)
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "")
    assert launch.find_mpiexec() == str(fake)


def test_the_mpich_wheel_is_found():
    pytest.importorskip("mpi4py")
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("mpich")
    except PackageNotFoundError:
        pytest.skip("the mpich wheel is not installed")
    found = launch._wheel_mpiexec()
    assert found is not None and Path(found).name == "mpiexec" and os.access(found, os.X_OK)


def test_usage_errors(monkeypatch, capsys):
    assert launch.main(["-n", "0", "--", "train"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert launch.main(["-n", "2"]) == 2
    assert "no command to run" in capsys.readouterr().err
    assert launch.main(["--", "train"]) == 2  # -n is required
    assert "-n" in capsys.readouterr().err
    assert launch.main(["-n", "2", "train", "--", "x"]) == 2
    assert "before '--'" in capsys.readouterr().err
    monkeypatch.setenv("PMI_SIZE", "2")
    assert launch.main(["-n", "2", "--", "train"]) == 2
    assert "already running under an MPI launcher" in capsys.readouterr().err
