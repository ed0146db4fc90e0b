"""Never hang (DISTRIBUTED.md): under ``mpiexec -n 2`` (a subprocess with a timeout, so a hang
fails the test instead of CI) a collective some rank skips, a rank that exits while the other
waits, and ``dist.fail`` / ``dist.abort_on_exit`` end the whole job non-zero within seconds."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradflow.distributed as dist

JOB = Path(__file__).with_name("mpi_comm_job.py")
ROOT = Path(__file__).resolve().parents[2]


def run_job(tmp_path, mode, timeout_var="60", limit=60, ranks=2):
    """(returncode, stderr + stdout, seconds) of ``mpiexec -n 2 python mpi_comm_job.py``."""
    pytest.importorskip("mpi4py")
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1",
               GRADFLOW_DIST_TIMEOUT=timeout_var)
    start = time.monotonic()
    proc = subprocess.run([exe, "-n", str(ranks), sys.executable, str(JOB),
                           str(tmp_path / "out.json"), mode],
                          env=env, capture_output=True, text=True, timeout=limit)
    return proc.returncode, proc.stderr + proc.stdout, time.monotonic() - start


def waited(out):
    """The seconds the aborting rank says it waited in the collective."""
    match = re.search(r"rank 0 of 2 waited ([0-9.]+) s in collective", out)
    assert match, out
    return float(match.group(1))


def test_a_skipped_collective_is_reported_and_aborts_after_the_timeout(tmp_path):
    # rank 1 skips a barrier, then computes for a minute: only the watchdog can end the job
    code, out, seconds = run_job(tmp_path, "skip", timeout_var="2", limit=50)
    assert code != 0, out
    assert 2 <= waited(out) < 2 + 10
    assert "rank 0 of 2 waited" in out and "collective barrier" in out
    assert "GRADFLOW_DIST_TIMEOUT=2" in out
    # every thread's stack, the main thread's ending in the barrier the job script called
    assert "in barrier" in out and "mpi_comm_job.py" in out
    assert "MPI_Abort" in out
    assert seconds < 50  # rank 1 sleeps 60 s: the watchdog ended the job


@pytest.mark.parametrize("mode", ["skip-exit", "exit3", "main-returns"])
def test_a_rank_that_exits_while_the_other_waits_ends_the_job(tmp_path, mode):
    # the timeout is 60 s: the exit notice (rank 1's count of collectives), not the timeout,
    # ends these jobs
    code, out, seconds = run_job(tmp_path, mode, limit=50)
    assert code != 0, out
    assert seconds < 45, out  # long before the 60 s watchdog
    # the aborting rank says why, unless MPICH's launcher ended the job first (seen in ~1 of 6
    # runs: rank 0's stderr is then lost with it)
    if "but rank 1 exited after" in out:
        assert "will never enter it" in out, out
        assert waited(out) < 10
    else:
        assert mode != "skip-exit" or out == "", out


def test_a_rank_that_exits_after_its_last_collective_aborts_nothing(tmp_path):
    # rank 1 leaves a gather that rank 0 still waits in for the slow rank 2: correct, not a hang
    code, out, _ = run_job(tmp_path, "late-peer", limit=60, ranks=3)
    assert code == 0, out
    assert json.loads((tmp_path / "out.json").read_text()) == [0, 1, 2]


def test_abort_on_exit_ends_the_job_with_mains_status(tmp_path):
    code, out, _ = run_job(tmp_path, "decorated", limit=50)
    assert code == 4, out  # rank 1's own status: it aborted, not rank 0's watchdog
    assert "rank 1: main returns 4" in out and "waited" not in out


def test_fail_prints_and_ends_the_job_with_its_status(tmp_path):
    code, out, _ = run_job(tmp_path, "fail", limit=50)
    assert code == 5, out
    assert "[rank 1/2] gradflow: error: rank 1 gives up" in out
    assert "fail() returned" not in out and "waited" not in out


def test_in_one_process_fail_and_abort_on_exit_change_nothing(capsys):
    assert dist.fail(3, "gradflow: error: nothing to abort") == 3
    assert capsys.readouterr().err == "gradflow: error: nothing to abort\n"
    assert dist.fail(0) == 0

    @dist.abort_on_exit
    def main(code):
        return code

    assert main(2) == 2 and main.__name__ == "main"
    with pytest.raises(SystemExit) as info, dist.abort_on_exit():
        sys.exit(3)
    assert info.value.code == 3

    @dist.abort_on_exit()
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(dist.TIMEOUT_VAR, raising=False)
    assert dist.collective_timeout() == dist.DEFAULT_TIMEOUT == 600
    monkeypatch.setenv(dist.TIMEOUT_VAR, "2.5")
    assert dist.collective_timeout() == 2.5
    monkeypatch.setenv(dist.TIMEOUT_VAR, "0")
    assert dist.collective_timeout() is None  # the watchdog is off
    for bad in ("ten", "-1", "nan"):
        monkeypatch.setenv(dist.TIMEOUT_VAR, bad)
        with pytest.raises(ValueError, match="GRADFLOW_DIST_TIMEOUT"):
            dist.collective_timeout()
