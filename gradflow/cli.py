"""The ``gradflow`` command line (also ``python -m gradflow``).

    gradflow train                      # an MLP on the 8x8 digits, on the CPU, in seconds
    gradflow train --model cnn          # a small CNN on the digits as (N, 1, 8, 8) images
    gradflow train --dataset mnist-idx --mnist-images train-images-idx3-ubyte.gz \\
        --mnist-labels train-labels-idx1-ubyte.gz --hidden 256,128 --device auto
    gradflow train --resume runs/latest --epochs 30   # continue a run to 30 epochs in all
    gradflow info                       # versions, backends, devices
    gradflow graph-demo --out neuron.svg
    gradflow bench lr --steps 200       # also: bench throughput, bench convergence

Errors (a bad option value, an option without the one it applies to, a missing file, CUDA not
available) are one line on stderr (``gradflow: error: ...`` or ``gradflow train: error: ...``)
and a non-zero exit status: 2 for a bad command line, 1 for anything else, 130 on Ctrl-C.
``gradflow --debug ...`` (or ``GRADFLOW_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

__all__ = ["main", "CLIError", "TRAIN_DEFAULTS"]

BENCHMARKS = ("lr", "throughput", "convergence", "conv")
DATASETS = ("digits", "two-gaussians", "mnist-idx")
MODELS = ("mlp", "cnn")
#: Datasets whose examples are square images (what ``--model cnn`` needs).
IMAGE_DATASETS = ("digits", "mnist-idx")
#: Channels of the CNN's stages when ``--channels`` is not given.
DEFAULT_CHANNELS = "16,32"
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "cosine", "step")
#: Learning rate used when ``--lr`` is not given.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 3e-3, "adamw": 3e-3, "rmsprop": 1e-3}
#: ``DEFAULT_LR`` is multiplied by this for a dataset (a 2-input linear model takes big steps).
DEFAULT_LR_SCALE = {"two-gaussians": 10.0}
#: Hidden layers used when ``--hidden`` is not given ("" is a single linear layer).
DEFAULT_HIDDEN = {"digits": "128", "two-gaussians": "", "mnist-idx": "128"}

#: Defaults that differ for ``--model cnn`` (where not given): conv-BN-ReLU-MaxPool stages,
#: the recipe measured to reach 98.9 %
#: mean test accuracy on digits over 5 splits (without dropout the CNN overfits).
CNN_DEFAULTS: dict[str, Any] = {"norm": "batch", "dropout": 0.3, "epochs": 30,
                                 "scheduler": "cosine"}

#: Every ``gradflow train`` option and its default (``None``: resolved from other options).
TRAIN_DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "mnist_images": None, "mnist_labels": None,
    "mnist_test_images": None, "mnist_test_labels": None, "n_samples": 200,
    "test_split": 0.2, "val_split": 0.1,
    "model": "mlp", "hidden": None, "channels": None, "activation": "relu", "norm": "none",
    "dropout": 0.0, "init": "default",
    "optimizer": "adam", "lr": None, "momentum": 0.9, "weight_decay": None, "l2": 0.0,
    "clip": None, "clip_adaptive": None, "scheduler": "none",
    "batch_size": 32, "epochs": 20, "device": "cpu", "augment": False,
    "early_stopping": None, "seed": 0,
    "out": None, "resume": None, "no_progress": False, "tensorboard": False, "mlflow": False,
}
#: Options of one invocation, never taken from a resumed run's config.json.
_NOT_RESUMED = ("out", "resume", "no_progress", "tensorboard", "mlflow")


class CLIError(Exception):
    """A user error: printed as one line, exit status 1."""


class UsageError(CLIError):
    """A bad command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so that ``main`` returns 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


# --- option value types -----------------------------------------------------------------------
def _number(kind: Callable[[str], Any], low: float, high: float = math.inf, *,
            low_open: bool = False, high_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type`` that parses ``kind`` and checks it lies in the given interval."""
    left, right = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
    where = f"in {left}{low:g}, {high:g}{right}" if high != math.inf else \
        (f"> {low:g}" if low_open else f">= {low:g}")

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low) and \
            (value < high if high_open else value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"{text!r} must be {where}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _batch_size(text: str) -> int | str:
    """``full`` (one batch per epoch), ``1`` (stochastic) or a minibatch size."""
    if text.strip().lower() == "full":
        return "full"
    return _number(int, 1)(text)


def _device(text: str) -> str:
    dev = text.strip().lower()
    if dev in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", dev):
        return dev
    raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda, cuda:N or auto")


def _path(text: str) -> str:
    """A file or folder name: not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path; give a file or folder name")
    return text


class _Latest:
    """``--resume`` without PATH (not a str, so argparse does not run ``_path`` on it)."""

    def __repr__(self) -> str:
        return "<the latest run>"


RESUME_LATEST = _Latest()


def _channels(text: str) -> str:
    """``"16,32"``: the CNN's channels per stage, at least one."""
    from gradflow.models import parse_hidden

    try:
        sizes = parse_hidden(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("hidden sizes", "channels")) from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"{text!r}: the CNN needs at least one stage, e.g. 16,32")
    return ",".join(str(s) for s in sizes)


def _hidden(text: str) -> str:
    from gradflow.models import parse_hidden

    try:
        return ",".join(str(s) for s in parse_hidden(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_POSITIVE = _number(float, 0.0, low_open=True)
_NON_NEGATIVE = _number(float, 0.0)
_FRACTION = _number(float, 0.0, 1.0, high_open=True)
_OPEN_FRACTION = _number(float, 0.0, 1.0, low_open=True, high_open=True)


# --- the parser -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``gradflow`` parser with its subcommands (each sets ``handler``)."""
    parser = _Parser(prog="gradflow", allow_abbrev=False,
                     description="gradflow: define-by-run autograd and neural-network training "
                                 "on NumPy (CPU) and CuPy (CUDA).")
    from gradflow import __version__

    parser.add_argument("--version", action="version", version=f"gradflow {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(sub)
    info = sub.add_parser("info", allow_abbrev=False, help="versions, backends and devices",
                          description="Print gradflow's, Python's, NumPy's and CuPy's versions, "
                                      "the backends and devices found, and the default dtype.")
    info.set_defaults(handler=cmd_info)
    demo = sub.add_parser("graph-demo", add_help=False, allow_abbrev=False,
                          help="draw the lecture's sigmoid-neuron graph "
                               "(gradflow graph-demo --help for options)")
    demo.set_defaults(handler=cmd_graph_demo)
    bench = sub.add_parser("bench", add_help=False, allow_abbrev=False,
                           help=f"run an experiment: {', '.join(BENCHMARKS)} "
                                "(gradflow bench NAME --help for options)")
    bench.add_argument("name", nargs="?", metavar="NAME", help=" | ".join(BENCHMARKS))
    bench.set_defaults(handler=cmd_bench)
    return parser


def _add_train(sub: Any) -> None:
    d = TRAIN_DEFAULTS
    p = sub.add_parser(
        "train", allow_abbrev=False, argument_default=None,
        help="train an MLP or CNN classifier (default: an MLP on digits, on the CPU, in seconds)",
        description="Train a multilayer perceptron (or, --model cnn, a small convolutional "
                    "network on image data), print a table per epoch and the test "
                    "accuracy, and write into --out: config.json (the resolved options), "
                    "metrics.csv (one row per epoch), results.json (test accuracy and loss), "
                    "curves.png, the training checkpoints (last.gf, ckpt-epochNNNN.gf; "
                    "--resume continues them) and model.gf (the tested weights: "
                    "model.load_state_dict(gf.load('model.gf'))). Options not given take their "
                    "defaults (with --resume, the resumed run's values).")
    data = p.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS,
                      help=f"digits (8x8, bundled with scikit-learn), two-gaussians (the "
                           f"lecture's set-1) or mnist-idx (local IDX files) (default: "
                           f"{d['dataset']})")
    data.add_argument("--mnist-images", type=_path, metavar="PATH",
                      help="IDX image file (raw or .gz)")
    data.add_argument("--mnist-labels", type=_path, metavar="PATH",
                      help="IDX label file (raw or .gz)")
    data.add_argument("--mnist-test-images", type=_path, metavar="PATH",
                      help="optional separate IDX test images (else --test-split is held out)")
    data.add_argument("--mnist-test-labels", type=_path, metavar="PATH",
                      help="optional IDX test labels")
    data.add_argument("--n-samples", type=_number(int, 6), metavar="N",
                      help=f"examples drawn for two-gaussians (default: {d['n_samples']})")
    data.add_argument("--test-split", type=_OPEN_FRACTION, metavar="F",
                      help=f"share held out as the test set (default: {d['test_split']})")
    data.add_argument("--val-split", type=_FRACTION, metavar="F",
                      help=f"share of the rest used for validation, 0 for none "
                           f"(default: {d['val_split']})")
    data.add_argument("--augment", action="store_true", default=None,
                      help="random shifts of up to 1 pixel and Gaussian noise (image data)")
    model = p.add_argument_group("model")
    model.add_argument("--model", choices=MODELS,
                       help="mlp: a multilayer perceptron on the flat rows; cnn: Conv2d-ReLU "
                            "stages (stride-2 convolutions downsample) and two Linear layers on "
                            f"(N, 1, H, W) images of {' or '.join(IMAGE_DATASETS)}; cnn changes "
                            "the defaults of --dropout to 0.3, --epochs to 30 and --scheduler to "
                            f"cosine (default: {d['model']})")
    model.add_argument("--channels", type=_channels, metavar="SIZES",
                       help=f"--model cnn: channels of each stage (default: {DEFAULT_CHANNELS})")
    model.add_argument("--hidden", type=_hidden, metavar="SIZES",
                       help="--model mlp: hidden layer widths, e.g. 128,64; 'none' for a linear "
                            "model "
                            "(default: 128; none for two-gaussians)")
    model.add_argument("--activation", type=_choice("activation", "ACTIVATIONS"),
                       metavar="NAME", help=f"relu, tanh, sigmoid, gelu or leaky_relu "
                                            f"(default: {d['activation']})")
    model.add_argument("--norm", choices=("batch", "layer", "none"),
                       help="normalization after each hidden Linear (mlp) or each Conv2d (cnn: "
                            f"batch or none) (default: {d['norm']})")
    model.add_argument("--dropout", type=_FRACTION, metavar="P",
                       help="dropout after each hidden activation (mlp) or before each Linear "
                            f"(cnn) (default: {d['dropout']})")
    model.add_argument("--init", choices=("default", "xavier", "he"),
                       help="--model mlp: weight init: PyTorch's default, Xavier (Glorot) or "
                            "He (Kaiming) "
                            f"(default: {d['init']})")
    opt = p.add_argument_group("optimization")
    opt.add_argument("--optimizer", choices=OPTIMIZERS,
                     help=f"momentum is SGD with --momentum (default: {d['optimizer']})")
    opt.add_argument("--lr", type=_POSITIVE, metavar="LR",
                     help="learning rate (default: " +
                          ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) +
                          "; x10 for two-gaussians)")
    opt.add_argument("--momentum", type=_number(float, 0.0, 1.0, high_open=True), metavar="M",
                     help=f"momentum of --optimizer momentum (default: {d['momentum']})")
    opt.add_argument("--weight-decay", type=_NON_NEGATIVE, metavar="WD",
                     help="the optimizer's weight decay (default: 0; adamw 0.01)")
    opt.add_argument("--l2", type=_NON_NEGATIVE, metavar="LAMBDA",
                     help="explicit L2 penalty lambda/2 * sum ||W||^2 on the weights "
                          f"(default: {d['l2']})")
    opt.add_argument("--clip", type=_POSITIVE, metavar="MAX_NORM",
                     help="clip the gradients' total norm to MAX_NORM")
    opt.add_argument("--clip-adaptive", type=_POSITIVE, metavar="FACTOR",
                     help="adaptive clipping: per parameter ||g|| / ||w|| <= FACTOR")
    opt.add_argument("--scheduler", choices=SCHEDULERS,
                     help="learning-rate schedule per epoch: cosine annealing to 0, or x0.1 "
                          f"every third of the epochs (default: {d['scheduler']})")
    opt.add_argument("--batch-size", type=_batch_size, metavar="N|full",
                     help=f"minibatch size; 1 is stochastic, full is batch gradient descent "
                          f"(default: {d['batch_size']})")
    opt.add_argument("--epochs", type=_number(int, 1), metavar="N",
                     help=f"epochs in all (a resumed run counts its earlier epochs) "
                          f"(default: {d['epochs']})")
    opt.add_argument("--early-stopping", type=_number(int, 1), metavar="PATIENCE",
                     help="stop when the validation loss has not improved for PATIENCE epochs "
                          "and keep the best weights")
    run = p.add_argument_group("run")
    run.add_argument("--device", type=_device, metavar="DEVICE",
                     help=f"cpu, cuda, cuda:N or auto (default: {d['device']})")
    run.add_argument("--seed", type=_number(int, 0), metavar="S",
                     help=f"seed of the split, the init and the shuffling (default: {d['seed']})")
    run.add_argument("--out", type=_path, metavar="DIR",
                     help="output folder (default: runs/<timestamp>, linked as runs/latest)")
    run.add_argument("--resume", nargs="?", const=RESUME_LATEST, type=_path, metavar="PATH",
                     help="continue from a checkpoint file or run folder (no PATH: --out, else "
                          "runs/latest); the run's config.json supplies the options not given")
    run.add_argument("--no-progress", action="store_true", default=None,
                     help="no progress bar")
    run.add_argument("--tensorboard", action="store_true", default=None,
                     help="log to OUT/tensorboard (needs tensorboardX)")
    run.add_argument("--mlflow", action="store_true", default=None,
                     help="log to MLflow (sqlite store in OUT/mlflow; needs mlflow)")
    p.set_defaults(handler=cmd_train)


def _choice(kind: str, table: str) -> Callable[[str], str]:
    """An argparse ``type`` checking a name against a table of :mod:`gradflow.models`."""
    def parse(text: str) -> str:
        from gradflow import models

        options = getattr(models, table)
        if text not in options:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}; choose one of "
                                             f"{', '.join(options)}")
        return text

    parse.__name__ = kind
    return parse


# --- main -------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gradflow`` command line on ``argv`` (default ``sys.argv[1:]``); return the exit
    status (never raises, except with ``--debug``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1] or os.environ.get("GRADFLOW_DEBUG", "") not in ("", "0")
    try:
        args, rest = build_parser().parse_known_args(argv)
        if rest and args.command not in ("graph-demo", "bench"):
            raise UsageError(f"gradflow {args.command}: error: unrecognized arguments: "
                             f"{' '.join(rest)} (see 'gradflow {args.command} --help')")
        args.argv = argv
        return int(args.handler(args, rest) or 0)
    except SystemExit as exc:  # --help, or a delegated command's own argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt as exc:
        if debug:
            raise
        note = _one_line(exc)
        print("gradflow: interrupted" + (f"; {note}" if note else ""), file=sys.stderr)
        return 130
    except UsageError as exc:
        print(_one_line(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the command line's contract: one line, no traceback
        if debug:
            raise
        print(f"gradflow: error: {_describe(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


_EXPECTED = (CLIError, ValueError, RuntimeError, OSError, ImportError)


def _describe(exc: Exception) -> str:
    """The error as one line; unexpected kinds keep their type name and point to --debug."""
    text = _one_line(exc)
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        return f"no such file or directory: {exc.filename}"
    if isinstance(exc, _EXPECTED) and text:
        return text
    return f"{type(exc).__name__}: {text} (rerun with 'gradflow --debug ...' for the traceback)"


# --- info ---------------------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow info``."""
    import numpy as np

    import gradflow as gf
    from gradflow.dtypes import DEFAULT_FLOAT

    rows = [("gradflow", f"{gf.__version__} ({os.path.dirname(gf.__file__)})"),
            ("python", f"{platform.python_version()} ({sys.executable})"),
            ("platform", platform.platform()),
            ("numpy", np.__version__),
            ("cupy", _version("cupy") or "not installed"),
            ("default dtype", str(DEFAULT_FLOAT)),
            ("backend cpu", f"numpy, device 'cpu' ({os.cpu_count()} CPU cores)")]
    if gf.cuda.is_available():
        rows.append(("backend cuda", f"cupy, {gf.cuda.device_count()} device(s)"))
        rows += [(f"  cuda:{i}", name) for i, name in enumerate(_cuda_device_names())]
    else:
        rows.append(("backend cuda", f"unavailable: {gf.cuda.unavailable_reason()}"))
    rows.append(("device 'auto'", "cuda:0" if gf.cuda.is_available() else "cpu"))
    for name, use in (("scikit-learn", "digits"), ("matplotlib", "curves.png"),
                      ("tqdm", "progress bars"), ("tensorboardX", "--tensorboard"),
                      ("mlflow", "--mlflow"), ("graphviz", "graph drawing")):
        rows.append((name, f"{_version(name) or 'not installed'} ({use})"))
    rows.append(("dot (Graphviz)", shutil.which("dot") or "not found (SVG/PNG graphs)"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    names = [dist] + (["cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x"] if dist == "cupy" else [])
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def _cuda_device_names() -> list[str]:
    """``"<name>, <memory> GiB"`` per CUDA device (``"?"`` where CuPy cannot say)."""
    import cupy

    names = []
    for i in range(cupy.cuda.runtime.getDeviceCount()):
        try:
            props = cupy.cuda.runtime.getDeviceProperties(i)
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            names.append(f"{name}, {props['totalGlobalMem'] / 2**30:.1f} GiB")
        except Exception as exc:  # noqa: BLE001 - info must not fail on one device's details
            names.append(f"? ({type(exc).__name__}: {exc})")
    return names


# --- delegated commands -------------------------------------------------------------------------
def cmd_graph_demo(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow graph-demo [--out PATH] [--format svg|png|dot]``: see gradflow.viz."""
    from gradflow.viz import graph_demo_main

    with _one_line_usage_errors():
        return graph_demo_main(list(rest))


_BENCH_USAGE = (
    f"usage: gradflow bench {{{','.join(BENCHMARKS)}}} [args...]\n"
    "  lr           learning rate vs the Hessian's top eigenvalue (lecture 003)\n"
    "  throughput   training speed of gradflow beside NumPy, PyTorch and JAX\n"
    "  convergence  batch vs minibatch vs stochastic gradient descent\n"
    "'gradflow bench NAME --help' lists each one's options.")


def cmd_bench(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow bench NAME [args...]``: ``gradflow.bench.NAME.main(args)``."""
    wants_help = args.name in ("-h", "--help") or (args.name is None and
                                                    bool({"-h", "--help"} & set(rest)))
    if args.name is None or wants_help:
        print(_BENCH_USAGE, file=sys.stdout if wants_help else sys.stderr)
        return 0 if wants_help else 2
    if args.name not in BENCHMARKS:
        raise UsageError(f"gradflow bench: error: unknown benchmark {args.name!r}; choose one of "
                         f"{', '.join(BENCHMARKS)}")
    try:
        module = importlib.import_module(f"gradflow.bench.{args.name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"gradflow.bench.{args.name}":
            raise
        raise CLIError(f"benchmark {args.name!r} is not available in this installation") \
            from None
    with _one_line_usage_errors():
        return module.main(list(rest))


@contextlib.contextmanager
def _one_line_usage_errors():
    """Make the argparse parsers of a delegated command (graph-demo, bench) report a bad
    command line as one line and exit status 2, as ``gradflow``'s own parser does."""
    original = argparse.ArgumentParser.error

    def error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
        raise UsageError(f"{parser.prog}: error: {message} (see '{parser.prog} --help')")

    argparse.ArgumentParser.error = error
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original


# --- train: options -----------------------------------------------------------------------------
def resolve_train_options(given: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(every option resolved, the checkpoint to resume from or None).

    Precedence: options given on the command line, then (with ``--resume``) the resumed run's
    config.json, then :data:`TRAIN_DEFAULTS`; then the dataset- and optimizer-dependent
    defaults are filled in and the combination is checked.
    """
    given = {k: ("" if v is RESUME_LATEST else v) for k, v in given.items()}
    opts = dict(TRAIN_DEFAULTS)
    checkpoint = None
    if "resume" in given:
        checkpoint, saved = _resume_source(given["resume"], given.get("out"))
        opts.update({k: v for k, v in saved.items()
                     if k in TRAIN_DEFAULTS and k not in _NOT_RESUMED})
        if given.get("out") is None:
            opts["out"] = _short_path(os.path.dirname(checkpoint))
    opts.update(given)
    cnn = opts["model"] == "cnn"
    if cnn and "resume" not in given:
        opts.update({k: v for k, v in CNN_DEFAULTS.items() if k not in given})
    if opts["hidden"] is None and not cnn:
        opts["hidden"] = DEFAULT_HIDDEN[opts["dataset"]]
    if opts["channels"] is None and cnn:
        opts["channels"] = DEFAULT_CHANNELS
    if opts["lr"] is None:
        opts["lr"] = DEFAULT_LR[opts["optimizer"]] * DEFAULT_LR_SCALE.get(opts["dataset"], 1.0)
    if opts["weight_decay"] is None:
        opts["weight_decay"] = 0.01 if opts["optimizer"] == "adamw" else 0.0
    _check_dependencies(given, opts)
    _check_train_options(opts)
    return opts, checkpoint


def _short_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it."""
    rel = os.path.relpath(path)
    return path if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def _resume_source(path: str, out: str | None) -> tuple[str, dict[str, Any]]:
    """(the checkpoint file, the options in its run's config.json, or {} if it has none)."""
    from gradflow.train import find_checkpoint, load_checkpoint

    where = path or out or os.path.join("runs", "latest")
    if not os.path.exists(where):
        raise CLIError(f"--resume: no checkpoint file or run folder at {where!r}")
    file = os.path.realpath(find_checkpoint(os.path.realpath(where)))
    load_checkpoint(file)  # not a training checkpoint: fail before anything is written
    config = os.path.join(os.path.dirname(file), "config.json")
    if not os.path.isfile(config):
        return file, {}
    try:
        with open(config) as f:
            saved = json.load(f).get("options", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise CLIError(f"--resume: cannot read {config!r}: {exc}") from None
    return file, saved if isinstance(saved, dict) else {}


def _check_train_options(opts: dict[str, Any]) -> None:
    from gradflow.models import CNN_NORMS

    if opts["model"] == "cnn":
        if opts["dataset"] not in IMAGE_DATASETS:
            raise UsageError(f"gradflow train: error: --model cnn needs image data: --dataset "
                             f"{' or '.join(IMAGE_DATASETS)} (this run uses --dataset "
                             f"{opts['dataset']}; use --model mlp for it)")
        if opts["norm"] not in CNN_NORMS:
            raise UsageError(f"gradflow train: error: --norm {opts['norm']} does not apply to "
                             f"--model cnn; choose one of {', '.join(CNN_NORMS)}")
    if opts["dataset"] == "mnist-idx":
        for key in ("mnist_images", "mnist_labels"):
            if not opts[key]:
                raise UsageError(f"gradflow train: error: --dataset mnist-idx needs "
                                 f"--{key.replace('_', '-')} PATH")
        if bool(opts["mnist_test_images"]) != bool(opts["mnist_test_labels"]):
            raise UsageError("gradflow train: error: give both --mnist-test-images and "
                             "--mnist-test-labels, or neither")
    if opts["augment"] and opts["dataset"] == "two-gaussians":
        raise UsageError("gradflow train: error: --augment shifts images; two-gaussians is not "
                         "image data")
    if opts["clip"] is not None and opts["clip_adaptive"] is not None:
        raise UsageError("gradflow train: error: pass --clip or --clip-adaptive, not both")
    if opts["early_stopping"] is not None and not opts["val_split"]:
        raise UsageError("gradflow train: error: --early-stopping watches the validation loss: "
                         "it needs --val-split > 0")
    for key in ("mnist_images", "mnist_labels", "mnist_test_images", "mnist_test_labels"):
        path = opts[key]  # after the usage checks: a missing file is a runtime error
        if opts["dataset"] == "mnist-idx" and path and not os.path.isfile(path):
            raise CLIError(f"--{key.replace('_', '-')}: no such file: {path}")


def _applies(given: dict[str, Any], opts: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """Options that only apply with another: ``{option: (applies, what it needs and why not)}``."""
    from gradflow.models import parse_hidden

    mnist, dataset = opts["dataset"] == "mnist-idx", opts["dataset"]
    cnn = opts["model"] == "cnn"
    hidden = cnn or bool(parse_hidden(opts["hidden"]))
    linear = "--hidden none gives a linear model" if "hidden" in given else \
        f"the {dataset} model is linear (add --hidden SIZES)"
    needs_mlp = (not cnn, "--model mlp (this run uses --model cnn)")
    needs_mnist = (mnist, f"--dataset mnist-idx (this run uses --dataset {dataset})")
    return {
        "mnist_images": needs_mnist, "mnist_labels": needs_mnist,
        "mnist_test_images": needs_mnist, "mnist_test_labels": needs_mnist,
        "n_samples": (dataset == "two-gaussians",
                      f"--dataset two-gaussians (this run uses --dataset {dataset})"),
        "momentum": (opts["optimizer"] == "momentum",
                     f"--optimizer momentum (this run uses --optimizer {opts['optimizer']})"),
        "test_split": (not (mnist and opts["mnist_test_images"]),
                       "a held-out test set; --mnist-test-images gives the test set"),
        "hidden": needs_mlp,
        "init": needs_mlp,
        "activation": needs_mlp if cnn else (hidden, f"hidden layers; {linear}"),
        "channels": (cnn, f"--model cnn (this run uses --model {opts['model']})"),
        "norm": (hidden, f"hidden layers; {linear}"),
        "dropout": (hidden, f"hidden layers; {linear}"),
    }


def _check_dependencies(given: dict[str, Any], opts: dict[str, Any]) -> None:
    """An option given on the command line that has no effect in this run is an error."""
    for key, (applies, needs) in _applies(given, opts).items():
        if key in given and not applies:
            raise UsageError(f"gradflow train: error: --{key.replace('_', '-')} applies only "
                             f"with {needs}")


def resolve_device(name: str) -> str:
    """The device string to train on; a CLIError saying why when CUDA is asked for and absent."""
    import gradflow as gf

    if name == "auto":
        return "cuda:0" if gf.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not gf.cuda.is_available():
            raise CLIError(f"--device {name}: CUDA is not available: "
                           f"{gf.cuda.unavailable_reason()}. Use --device cpu or auto.")
        index = int(name.partition(":")[2] or 0)
        if index >= gf.cuda.device_count():
            raise CLIError(f"--device {name}: only {gf.cuda.device_count()} CUDA device(s)")
        return f"cuda:{index}"
    return "cpu"


def _default_out() -> str:
    """A fresh ``runs/<timestamp>`` folder (``-2``, ``-3``... if taken)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out, k = os.path.join("runs", stamp), 1
    while os.path.exists(out):
        k += 1
        out = os.path.join("runs", f"{stamp}-{k}")
    return out


def _link_latest(out: str) -> None:
    """Point ``runs/latest`` at ``out`` (best effort: skipped where symlinks fail)."""
    latest = os.path.join(os.path.dirname(out), "latest")
    if os.path.exists(latest) and not os.path.islink(latest):
        return
    tmp = f"{latest}.{os.getpid()}.tmp"
    try:
        os.symlink(os.path.basename(out), tmp)
        os.replace(tmp, latest)
    except OSError:
        if os.path.islink(tmp):
            os.unlink(tmp)


# --- train: data, model, optimizer --------------------------------------------------------------
class _Data:
    """The train/val/test split of one dataset and what the model needs to know about it."""

    def __init__(self, train: Any, val: Any, test: Any, in_features: int, n_classes: int,
                 image_shape: tuple[int, int] | None):
        self.train, self.val, self.test = train, val, test
        self.in_features, self.n_classes, self.image_shape = in_features, n_classes, image_shape

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": 0 if self.val is None else len(self.val),
                "test": len(self.test)}


def load_data(opts: dict[str, Any]) -> _Data:
    """The dataset ``opts`` names, split into train, validation and test sets."""
    rest, test, image_shape = _load_split(opts)
    train, val = _split(rest, opts["val_split"], opts["seed"]) if opts["val_split"] \
        else (rest, None)
    in_features, test_features = math.prod(train[0][0].shape), math.prod(test[0][0].shape)
    if test_features != in_features:
        raise CLIError(f"the test images have {test_features} pixels but the training images "
                       f"{in_features}")
    n_classes = {"digits": 10, "two-gaussians": 2}.get(opts["dataset"])
    if n_classes is None:
        n_classes = int(max(_labels(rest).max(), _labels(test).max())) + 1
    return _Data(train, val, test, in_features, n_classes, image_shape)


def _load_split(opts: dict[str, Any]) -> tuple[Any, Any, tuple[int, int] | None]:
    """(train and validation examples, test examples, the image shape or None); with
    ``--model cnn`` the features are ``(N, 1, H, W)`` images, else flat rows."""
    from gradflow.data import datasets

    name, seed = opts["dataset"], opts["seed"]
    images = opts["model"] == "cnn"
    if name == "digits":
        rest, test = datasets.load_digits(test_size=opts["test_split"], seed=seed)
        if images:
            rest, test = _as_images(rest, (8, 8)), _as_images(test, (8, 8))
        return rest, test, (8, 8)
    if name == "two-gaussians":
        full = datasets.two_gaussians(n=opts["n_samples"], seed=seed, targets="index")
        return (*_split(full, opts["test_split"], seed), None)
    full = datasets.load_mnist_idx(opts["mnist_images"], opts["mnist_labels"])
    pixels = full.arrays[0].shape[1]
    side = math.isqrt(pixels)
    shape = (side, side) if side * side == pixels else None
    if images and shape is None:
        raise CLIError(f"--model cnn: the mnist-idx examples have {pixels} pixels, not a square "
                       "image; use --model mlp")
    if images:
        full = _as_images(full, shape)
    if opts["mnist_test_images"]:
        test = datasets.load_mnist_idx(opts["mnist_test_images"], opts["mnist_test_labels"])
        if images and test.arrays[0].shape[1] == pixels:  # else load_data names the mismatch
            test = _as_images(test, shape)
        return full, test, shape
    return (*_split(full, opts["test_split"], seed), shape)


def _as_images(dataset: Any, shape: tuple[int, int]) -> Any:
    """``dataset`` (a TensorDataset of flat rows) with its features as ``(N, 1, H, W)``."""
    from gradflow.data import TensorDataset

    x, *rest = dataset.arrays
    return TensorDataset(x.reshape(x.shape[0], 1, *shape), *rest)


class _OnChannels:
    """Apply a transform of ``(N, H, W)`` batches to single-channel ``(N, 1, H, W)`` ones."""

    def __init__(self, transform: Any):
        self.transform = transform

    def __call__(self, x: Any, rng: Any) -> Any:
        return self.transform(x.reshape(x.shape[0], *x.shape[2:]), rng).reshape(x.shape)

    def __repr__(self) -> str:
        return f"OnChannels({self.transform!r})"


def _split(dataset: Any, share: float, seed: int) -> tuple[Any, Any]:
    """(the rest, a random ``share`` of ``dataset``) as Subsets; at least one example each."""
    from gradflow.data import random_split

    n = len(dataset)
    k = min(max(1, round(share * n)), n - 1) if n > 1 else 0
    if k == 0:
        raise CLIError(f"the dataset has {n} example(s): too few to split")
    rest, part = random_split(dataset, [n - k, k], seed=seed)
    return rest, part


def _labels(dataset: Any) -> Any:
    import numpy as np

    base, index = dataset, None
    while hasattr(base, "indices"):
        index = base.indices if index is None else base.indices[index]
        base = base.dataset
    labels = np.asarray(base.arrays[-1])
    return labels if index is None else labels[index]


def build_model(opts: dict[str, Any], data: _Data) -> Any:
    from gradflow.models import cnn, mlp, parse_hidden

    if opts["model"] == "cnn":
        channels = parse_hidden(opts["channels"])
        return cnn((1, *data.image_shape), data.n_classes, channels=channels,
                   norm=opts["norm"], dropout=opts["dropout"])
    return mlp(data.in_features, parse_hidden(opts["hidden"]), data.n_classes,
               activation=opts["activation"], norm=opts["norm"], dropout=opts["dropout"],
               init=opts["init"])


def build_optimizer(opts: dict[str, Any], params: Any) -> Any:
    from gradflow import optim

    name, lr, wd = opts["optimizer"], opts["lr"], opts["weight_decay"]
    if name == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=opts["momentum"], weight_decay=wd)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    return optim.RMSprop(params, lr=lr, weight_decay=wd)


def build_scheduler(opts: dict[str, Any], optimizer: Any) -> Any:
    from gradflow.optim import lr_scheduler

    if opts["scheduler"] == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=opts["epochs"])
    if opts["scheduler"] == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, opts["epochs"] // 3), gamma=0.1)
    return None


def build_loaders(opts: dict[str, Any], data: _Data, device: str) -> tuple[Any, Any, Any]:
    from gradflow.data import DataLoader, transforms

    transform = None
    if opts["augment"]:
        if data.image_shape is None:
            raise CLIError(f"--augment: {opts['dataset']} rows are not square images")
        transform = transforms.Compose([
            transforms.RandomShift(1, image_shape=data.image_shape),
            transforms.GaussianNoise(0.05, clip=(0.0, 1.0))])
        if opts["model"] == "cnn":
            transform = _OnChannels(transform)
    # "full": one batch of the whole training set (DataLoader's batch_size=None is PyTorch's
    # unbatched mode, one example at a time)
    bs = len(data.train) if opts["batch_size"] == "full" else opts["batch_size"]
    train = DataLoader(data.train, batch_size=bs, shuffle=True, seed=opts["seed"],
                       device=device, transform=transform)

    def evaluation(ds: Any) -> Any:
        return None if ds is None else DataLoader(ds, batch_size=1024, device=device)

    return train, evaluation(data.val), evaluation(data.test)


# --- train: running and reporting ---------------------------------------------------------------
def _loss_cell(value: float) -> str:
    return f"{value:8.4f}" if abs(value) < 1e3 else f"{value:8.2e}"


_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("epoch", "epoch", "{:5d}".format), ("loss", "loss", _loss_cell),
    ("accuracy", "acc", "{:6.3f}".format), ("val_loss", "val_loss", _loss_cell),
    ("val_accuracy", "val_acc", "{:7.3f}".format), ("lr", "lr", "{:8.2e}".format),
    ("epoch_time", "time", "{:5.2f}s".format))


def format_row(record: dict[str, Any]) -> str:
    """One line of the per-epoch table (blank cells for missing values)."""
    cells = []
    for key, title, fmt in _COLUMNS:
        width = max(len(title), len(fmt(1)))
        value = record.get(key)
        cells.append(fmt(value).rjust(width) if isinstance(value, int | float)
                     else " " * width)
    return "  ".join(cells)


def format_header() -> str:
    return "  ".join(title.rjust(max(len(title), len(fmt(1)))) for _, title, fmt in _COLUMNS)


def _table_callback() -> Any:
    """A Callback printing one table row per epoch (after a resume, the restored rows first)."""
    from gradflow.train import Callback

    class EpochTable(Callback):
        def __init__(self) -> None:
            self.new_epochs = 0

        def on_train_begin(self, trainer: Any) -> None:
            print(format_header(), flush=True)
            for record in trainer.history.records:
                print(format_row(record), flush=True)

        def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
            self.new_epochs += 1
            print(format_row(logs), flush=True)

    return EpochTable()


def build_callbacks(opts: dict[str, Any], out: str) -> tuple[list[Any], Any]:
    """(the callbacks of a run, the table printer among them)."""
    import importlib.util

    from gradflow import train

    callbacks: list[Any] = []
    if not opts["no_progress"] and importlib.util.find_spec("tqdm") is not None:
        callbacks.append(train.ProgressBar(leave=False))
    table = _table_callback()
    callbacks.append(table)
    if opts["early_stopping"] is not None:
        callbacks.append(train.EarlyStopping(patience=opts["early_stopping"]))
    callbacks.append(train.CSVLogger(os.path.join(out, "metrics.csv")))
    if opts["tensorboard"]:
        callbacks.append(train.TensorBoardLogger(os.path.join(out, "tensorboard")))
    if opts["mlflow"]:
        params = {k: v for k, v in opts.items() if v is not None and k not in _NOT_RESUMED}
        callbacks.append(train.MLflowLogger(logdir=os.path.join(out, "mlflow"),
                                            run_name=os.path.basename(os.path.abspath(out)),
                                            params=params))
    callbacks.append(train.ModelCheckpoint(out, every=1, keep_last=3))
    return callbacks, table


def evaluate(model: Any, loader: Any) -> tuple[float, float, int]:
    """(mean cross-entropy, accuracy, examples) of ``model`` in eval mode on ``loader``."""
    import gradflow as gf
    import gradflow.functional as F

    model.eval()
    total_loss = 0.0
    correct = seen = 0
    with gf.no_grad():
        for x, y in loader:
            logits = model(x)
            n = int(y.shape[0])
            total_loss += float(F.cross_entropy(logits, y)) * n
            correct += int((logits.argmax(axis=1) == y).sum())
            seen += n
    return total_loss / seen, correct / seen, seen


def _write_json(path: str, obj: dict[str, Any]) -> None:
    """``obj`` as indented JSON, written atomically (gradflow.io's temp file, fsync, rename)."""
    from gradflow.io import _atomic_write

    _atomic_write(path, [(json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()])


def plot_curves(history: Any, path: str, test_accuracy: float | None = None) -> bool:
    """Train/validation loss and accuracy per epoch, two panels, to ``path`` (False: no
    matplotlib). Uses the Agg canvas directly, so the global matplotlib backend is untouched."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = history["epoch"] if len(history) else []
    for ax, key, title in ((ax_loss, "loss", "loss (cross-entropy)"),
                           (ax_acc, "accuracy", "accuracy")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if f"{prefix}{key}" in history:
                ax.plot(epochs, history[f"{prefix}{key}"], marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if test_accuracy is not None:
        ax_acc.axhline(test_accuracy, color="gray", linestyle="--",
                       label=f"test {test_accuracy:.3f}")
    for ax in (ax_loss, ax_acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.savefig(path)
    return True


def _describe_run(opts: dict[str, Any], data: _Data, model: Any, device: str) -> str:
    """Two lines: the data split, then the model and the optimization."""
    from gradflow.models import parse_hidden

    sizes = data.sizes()
    if opts["model"] == "cnn":
        height, width = data.image_shape
        kind = (f"CNN 1x{height}x{width} conv {opts['channels'].replace(',', '-')} relu "
                f"-> {data.n_classes}")
    else:
        hidden = parse_hidden(opts["hidden"])
        widths = "-".join(str(w) for w in (data.in_features, *hidden, data.n_classes))
        kind = f"MLP {widths} {opts['activation']}" if hidden else f"linear {widths}"
    n_params = sum(p.numel() for p in model.parameters())
    bs = opts["batch_size"]
    regime = "full batch" if bs == "full" else "stochastic" if bs == 1 else f"batch {bs}"
    extras = [f"{k.replace('_', '-')} {opts[k]}" for k in
              ("norm", "dropout", "init", "weight_decay", "l2", "clip", "clip_adaptive",
               "scheduler", "early_stopping")
              if opts[k] not in (None, 0, 0.0, "none", "default")]
    extras += ["augment"] * bool(opts["augment"])
    return (f"{opts['dataset']}: {sizes['train']} train / {sizes['val']} val / "
            f"{sizes['test']} test examples\n"
            f"model: {kind} ({n_params:,} parameters); {opts['optimizer']} lr {opts['lr']:g}, "
            f"{regime}, {opts['epochs']} epochs on {device}"
            + "".join(f", {e}" for e in extras))


def cmd_train(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow train``: resolve the options, build data, model and optimizer, fit, report."""
    start = time.perf_counter()
    given = {k: v for k, v in vars(args).items() if k in TRAIN_DEFAULTS and v is not None}
    opts, checkpoint = resolve_train_options(given)
    device = resolve_device(opts["device"])
    data = load_data(opts)

    import numpy as np

    import gradflow as gf
    from gradflow import nn
    from gradflow.train import TrainingError, fit

    gf.manual_seed(opts["seed"])
    model = build_model(opts, data)
    optimizer = build_optimizer(opts, model.parameters())
    scheduler = build_scheduler(opts, optimizer)
    train_loader, val_loader, test_loader = build_loaders(opts, data, device)

    out = opts["out"] or _default_out()
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out}: exists and is not a folder; choose another --out")
    os.makedirs(out, exist_ok=True)
    if opts["out"] is None:
        _link_latest(out)
    opts["out"] = out
    if not checkpoint and _has_checkpoints(out):
        raise CLIError(f"--out {out} already holds a training run's checkpoints: continue it "
                       "with --resume, or choose another --out")
    config = {"options": opts, "command": " ".join(_quote(a) for a in ["gradflow", *args.argv]),
              "gradflow": gf.__version__, "device": device, "data": data.sizes(),
              "model": {"layers": [repr(m) for m in model], "parameters":
                        sum(p.numel() for p in model.parameters())},
              "resumed_from": checkpoint,
              "created": datetime.datetime.now().isoformat(timespec="seconds")}
    _write_json(os.path.join(out, "config.json"), config)

    print(_describe_run(opts, data, model, device))
    if checkpoint:
        print(f"resuming from {_short_path(checkpoint)}")
    callbacks, table = build_callbacks(opts, out)
    try:  # divergence is reported by fit's NaN guard, not by NumPy's overflow warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            history = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader,
                          epochs=opts["epochs"], scheduler=scheduler, callbacks=callbacks,
                          device=device, clip_grad_norm=opts["clip"],
                          clip_grad_adaptive=opts["clip_adaptive"], l2=opts["l2"],
                          resume=checkpoint, progress=False)
    except TrainingError as exc:
        raise CLIError(f"{exc} On the command line: a smaller --lr, or --clip 1.0 or "
                       "--clip-adaptive 0.01.") from None
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the last finished epoch is saved; continue with 'gradflow "
                                f"train --resume {out}'") from None
    if checkpoint and table.new_epochs == 0:
        print(f"the checkpoint already has {len(history)} epoch(s); pass --epochs N > "
              f"{len(history)} to train further")
    return _report(opts, out, model, history, test_loader, time.perf_counter() - start)


def _has_checkpoints(folder: str) -> bool:
    return os.path.isdir(folder) and any(f == "last.gf" or re.fullmatch(r"ckpt-epoch\d+\.gf", f)
                                         for f in os.listdir(folder))


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


def _report(opts: dict[str, Any], out: str, model: Any, history: Any, test_loader: Any,
            wall: float) -> int:
    """Evaluate on the test set; write results.json and curves.png; print the summary."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        test_loss, test_acc, n_test = evaluate(model, test_loader)
    reason = history.stop_reason
    what = {"epochs": "finished", "max_iters": "stopped at the step limit"}.get(reason, reason)
    if reason == "early_stopping":
        best = history.best("val_loss")
        what = (f"early stopping (best val_loss {best['val_loss']:.4f} at epoch {best['epoch']}, "
                "its weights restored)")
    print(f"{what}: {len(history)} epoch(s), {history.steps} steps, {wall:.1f} s")
    print(f"test accuracy: {test_acc:.4f} ({round(test_acc * n_test)}/{n_test}), "
          f"test loss {test_loss:.4f}")
    results = {"test_accuracy": test_acc, "test_loss": test_loss, "test_examples": n_test,
               "epochs": len(history), "steps": history.steps,
               "stop_reason": history.stop_reason, "wall_time_s": round(wall, 3),
               "final": history.records[-1] if len(history) else None}
    _write_json(os.path.join(out, "results.json"), results)
    from gradflow.io import save

    save(model.state_dict(), os.path.join(out, "model.gf"))  # the weights that were tested
    files = ["config.json", "metrics.csv", "results.json", "model.gf"]
    if plot_curves(history, os.path.join(out, "curves.png"), test_acc):
        files.append("curves.png")
    else:
        print("curves.png skipped: matplotlib is not installed")
    ckpts = sorted(f for f in os.listdir(out) if re.fullmatch(r"ckpt-epoch\d+\.gf", f))
    if os.path.exists(os.path.join(out, "last.gf")):
        files.append("last.gf" + (f" (+ {', '.join(ckpts)})" if ckpts else ""))
    print(f"wrote {out}{os.sep}: {', '.join(files)}")
    return 0
