"""The ``gradflow`` command line (also ``python -m gradflow``): it parses and wires; the work is
done by the library (:mod:`gradflow.train.recipe`, :mod:`gradflow.train.compare`,
:mod:`gradflow.demos`, :mod:`gradflow.bench`).

    gradflow train                      # an MLP on the 8x8 digits, on the CPU, in seconds
    gradflow train --model cnn          # a small CNN on the digits as (N, 1, 8, 8) images
    gradflow train --dataset mnist-idx --mnist-images train-images-idx3-ubyte.gz \\
        --mnist-labels train-labels-idx1-ubyte.gz --hidden 256,128 --device auto
    gradflow train --resume runs/latest --epochs 30   # continue a run to 30 epochs in all
    gradflow train --logger wandb,dvclive             # also csv, tensorboard, mlflow
    gradflow plot runs/full runs/mini runs/sgd --out cmp.png   # compare runs' curves
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
import importlib
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from gradflow.train import recipe

TRAIN_DEFAULTS, DEFAULT_LR, LOGGERS = recipe.TRAIN_DEFAULTS, recipe.DEFAULT_LR, recipe.LOGGERS

__all__ = ["main", "CLIError", "TRAIN_DEFAULTS"]

BENCHMARKS = ("lr", "throughput", "convergence", "conv", "batch-size", "callgrind", "optim",
              "memory", "distributed")
#: A user error (exit status 1) and a bad command line (exit status 2).
CLIError, UsageError = recipe.RecipeError, recipe.OptionError


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, so that ``main`` returns 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")

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

def _loggers(text: str) -> str:
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in LOGGERS:
            raise argparse.ArgumentTypeError(f"unknown logger {name!r}; choose from "
                                             f"{', '.join(LOGGERS)}")
    return ",".join(names)


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
    demo = sub.add_parser("graph-demo", allow_abbrev=False,
                          help="draw the lecture's sigmoid-neuron graph",
                          description="Draw the computational graph of the lecture's sigmoid "
                                      "neuron f(w, x) = sigmoid(w0*x0 + w1*x1 + w2) with its "
                                      "values and gradients.")
    demo.add_argument("--out", metavar="PATH", default=None,
                      help="where to write the drawing (default: sigmoid_neuron.<format>)")
    demo.add_argument("--format", choices=("svg", "png", "dot"), default=None,
                      help="svg, png or dot (default: from --out's suffix, else svg)")
    demo.add_argument("--decomposed", action="store_true",
                      help="draw sigmoid as the lecture's gates: 1 / (1 + exp(-1 * z))")
    demo.set_defaults(handler=cmd_graph_demo)
    plot = sub.add_parser("plot", allow_abbrev=False,
                          help="compare the loss and accuracy curves of training runs",
                          description="Draw the loss and accuracy curves of several gradflow "
                                      "train runs on shared axes, vs epoch, step and wall "
                                      "time, each labelled by the options that differ between "
                                      "them (e.g. batch size).")
    plot.add_argument("runs", nargs="+", type=_path, metavar="RUN_DIR",
                      help="run folders (each with metrics.csv, and config.json for labels)")
    plot.add_argument("--out", type=_path, default="compare.png", metavar="PATH",
                      help="the PNG to write (default: compare.png)")
    plot.add_argument("--label", action="append", metavar="TEXT",
                      help="a run's label, once per run in order (default: from the configs)")
    plot.set_defaults(handler=cmd_plot)
    bench = sub.add_parser("bench", add_help=False, allow_abbrev=False,
                           help=f"run an experiment: {', '.join(BENCHMARKS)} "
                                "(gradflow bench NAME --help for options)")
    bench.add_argument("name", nargs="?", metavar="NAME", help=" | ".join(BENCHMARKS))
    bench.set_defaults(handler=cmd_bench)
    sub.add_parser("launch", add_help=False,  # run by _main before parsing (mpiexec's words)
                   help="start N data-parallel ranks: gradflow launch -n N -- train ...")
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
    data.add_argument("--dataset", choices=recipe.DATASETS,
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
    model.add_argument("--model", choices=recipe.MODELS,
                       help="mlp: a multilayer perceptron on the flat rows; cnn: Conv2d-ReLU "
                            "stages (stride-2 convolutions downsample) and two Linear layers on "
                            f"(N, 1, H, W) images of {' or '.join(recipe.IMAGE_DATASETS)}; cnn "
                            "changes the defaults of --dropout to 0.3, --epochs to 30 and "
                            f"--scheduler to cosine (default: {d['model']})")
    model.add_argument("--channels", type=_channels, metavar="SIZES",
                       help=f"--model cnn: channels of each stage "
                            f"(default: {recipe.DEFAULT_CHANNELS})")
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
    opt.add_argument("--optimizer", choices=recipe.OPTIMIZERS,
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
    opt.add_argument("--scheduler", choices=recipe.SCHEDULERS,
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
    run.add_argument("--resume", nargs="?", const=recipe.RESUME_LATEST, type=_path, metavar="PATH",
                     help="continue from a checkpoint file or run folder (no PATH: --out, else "
                          "runs/latest); the run's config.json supplies the options not given")
    run.add_argument("--no-progress", action="store_true", default=None,
                     help="no progress bar")
    run.add_argument("--suggest-batch-size", action="store_true",
                     help="print the gradient noise scale, the batch size and learning rate it "
                          "suggests and their predicted cost; train nothing")
    run.add_argument("--logger", type=_loggers, metavar="NAMES",
                     help="comma-separated trackers: csv (always: OUT/metrics.csv), tensorboard "
                          "(OUT/tensorboard), mlflow (OUT/mlflow), wandb (OUT/wandb, offline "
                          "unless you have a W&B account configured), dvclive (OUT/dvclive)")
    run.add_argument("--tensorboard", action="store_true", default=None,
                     help="same as --logger tensorboard")
    run.add_argument("--mlflow", action="store_true", default=None,
                     help="same as --logger mlflow")
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

def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gradflow`` command line on ``argv`` (default ``sys.argv[1:]``); return the exit
    status (never raises, except with ``--debug``). Under MPI a rank that fails after joining
    the job ends the whole job (the other ranks may be waiting in a collective)."""
    code = _main(argv)
    if code and "mpi4py" in sys.modules:  # a rank of an MPI job: end the whole job
        from gradflow.distributed.comm import fail

        return fail(code)
    return code

def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1] or os.environ.get("GRADFLOW_DEBUG", "") not in ("", "0")
    if argv[:1] == ["launch"]:  # its own parser: the words after -- are the ranks' command
        from gradflow.distributed.launch import main as launch

        return launch(argv[1:])
    try:
        args, rest = build_parser().parse_known_args(argv)
        if rest and args.command != "bench":
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

def cmd_info(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow info``."""
    from gradflow.info import environment_rows

    rows = environment_rows()
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


# --- train, plot, graph-demo ---------------------------------------------------------------------
def cmd_train(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow train``: :func:`gradflow.train.recipe.run` on the resolved options."""
    given = {k: v for k, v in vars(args).items() if k in TRAIN_DEFAULTS and v is not None}
    opts, checkpoint = recipe.resolve_train_options(given)
    if args.suggest_batch_size:
        return recipe.suggest_batch_size(opts)
    return recipe.run(opts, checkpoint, argv=args.argv)


def cmd_plot(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow plot RUN_DIR... --out PATH``: :func:`gradflow.train.compare.plot_runs`."""
    from gradflow.train.compare import plot_runs

    if args.label is not None and len(args.label) != len(args.runs):
        raise UsageError(f"gradflow plot: error: {len(args.label)} --label for "
                         f"{len(args.runs)} runs; give one per run or none")
    labels = plot_runs(args.runs, args.out, labels=args.label)
    for run, label in zip(args.runs, labels, strict=True):
        print(f"{label}: {run}")
    print(f"wrote {args.out}")
    return 0


def cmd_graph_demo(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """``gradflow graph-demo``: the lecture's sigmoid neuron (:mod:`gradflow.demos`), its
    output and gradients printed, its graph drawn."""
    from gradflow.demos import sigmoid_neuron
    from gradflow.viz import draw_graph, resolve_format

    fmt = resolve_format(args.format, args.out)
    out = args.out if args.out is not None else f"sigmoid_neuron.{fmt}"
    nodes = sigmoid_neuron(decomposed=args.decomposed)
    nodes["f"].backward()
    grads = {n: nodes[n].grad.item() for n in ("w0", "w1", "w2", "x0", "x1")}
    print("f(w, x) = sigmoid(w0*x0 + w1*x1 + w2) at w = (2, -3, -3), x = (-1, -2)")
    print(f"f = {nodes['f'].item():.2f}")
    for names in (("w0", "w1", "w2"), ("x0", "x1")):
        print("  ".join(f"df/d{n} = {grads[n]:.2f}" for n in names))
    draw_graph(nodes["f"], fmt, out, params=nodes, precision=2)
    print(f"graph ({fmt}) written to {out}")
    return 0


# --- bench ----------------------------------------------------------------------------------------
_BENCH_USAGE = (
    f"usage: gradflow bench {{{','.join(BENCHMARKS)}}} [args...]\n"
    "  lr           learning rate vs the Hessian's top eigenvalue (lecture 003)\n"
    "  throughput   training speed of gradflow beside NumPy, PyTorch and JAX\n"
    "  convergence  batch vs minibatch vs stochastic gradient descent\n"
    "  conv         conv2d layers and a CNN step beside PyTorch and hand-written NumPy\n"
    "  batch-size   the gradient noise scale's batch size and rate vs measured steps\n"
    "  callgrind    instructions per training step (noise-free overhead)\n"
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
        name = f"gradflow.bench.{args.name.replace('-', '_')}"
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise CLIError(f"benchmark {args.name!r} is not available in this installation") \
            from None
    with _one_line_usage_errors():
        return module.main(list(rest))

@contextlib.contextmanager
def _one_line_usage_errors():
    """Make the argparse parsers of a delegated command (bench) report a bad
    command line as one line and exit status 2, as ``gradflow``'s own parser does."""
    original = argparse.ArgumentParser.error

    def error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
        raise UsageError(f"{parser.prog}: error: {message} (see '{parser.prog} --help')")

    argparse.ArgumentParser.error = error
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original
