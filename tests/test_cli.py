"""The ``gradflow`` command line, end to end in a temporary folder: ``train`` (files written,
accuracy printed, resume), ``info``, ``graph-demo``, ``bench``, and one-line errors."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow import cli
from gradflow.cli import main
from gradflow.models import cnn, mlp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Small, fast settings shared by most train runs.
TINY = ["--dataset", "two-gaussians", "--n-samples", "60", "--hidden", "8", "--no-progress"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own empty folder (the default --out is runs/<timestamp>)."""
    monkeypatch.chdir(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_one_line_error(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "error" in err


def write_idx(folder: Path, n: int = 80, side: int = 6, seed: int = 0) -> tuple[Path, Path]:
    """A tiny MNIST-style pair of IDX files (gzip images, raw labels), 3 separable classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(np.uint8)
    images = (rng.random((n, side, side)) * 40).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 * label:2 * label + 2, :] = 255
    images_path, labels_path = folder / "images.gz", folder / "labels.idx"
    with gzip.open(images_path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, side, side) + images.tobytes())
    labels_path.write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    return images_path, labels_path


# --- train: the default digits run --------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One short digits run with the default model, shared by the file checks below."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("digits") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train", "--epochs", "2", "--out", str(out), "--no-progress"])
    return code, buf.getvalue(), out


def test_train_prints_table_and_test_accuracy(digits_run):
    code, out_text, _ = digits_run
    assert code == 0
    assert "digits: 1293 train / 144 val / 360 test examples" in out_text
    assert "MLP 64-128-10 relu" in out_text
    lines = out_text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["epoch", "loss"])
    assert [line.split()[0] for line in lines[header + 1:header + 3]] == ["1", "2"]
    acc = float(next(line for line in lines if line.startswith("test accuracy:")).split()[2])
    assert 0.5 < acc <= 1.0  # two epochs of Adam on the digits are far above chance (0.1)
    assert "wrote " in out_text


def test_train_writes_metrics_csv(digits_run):
    _, _, out = digits_run
    rows = read_csv(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time"):
        assert key in rows[0]
        assert all(np.isfinite(float(r[key])) for r in rows)


def test_train_writes_config_json(digits_run):
    _, _, out = digits_run
    config = json.loads((out / "config.json").read_text())
    assert set(cli.TRAIN_DEFAULTS) <= set(config["options"])
    opts = config["options"]
    assert (opts["dataset"], opts["hidden"], opts["optimizer"], opts["epochs"]) == (
        "digits", "128", "adam", 2)
    assert opts["lr"] == cli.DEFAULT_LR["adam"] and opts["batch_size"] == 32
    assert config["device"] == "cpu"
    assert config["data"] == {"train": 1293, "val": 144, "test": 360}
    assert config["model"]["parameters"] == 64 * 128 + 128 + 128 * 10 + 10
    assert config["command"].startswith("gradflow train --epochs 2")
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 2 and results["stop_reason"] == "epochs"
    assert 0.0 <= results["test_accuracy"] <= 1.0


def test_train_writes_curves_png(digits_run):
    _, _, out = digits_run
    assert (out / "curves.png").read_bytes()[:8] == PNG_MAGIC


def test_train_checkpoint_loads(digits_run):
    _, _, out = digits_run
    assert {p.name for p in out.glob("*.gf")} == {"last.gf", "model.gf", "ckpt-epoch0001.gf",
                                                  "ckpt-epoch0002.gf"}
    state = gf.io.load(out / "last.gf")
    assert state["epoch"] == 2
    model = mlp(64, [128], 10)
    model.load_state_dict(state["model"])  # strict: every key and shape matches
    x = gf.tensor(np.zeros((3, 64), dtype=np.float32))
    assert model(x).shape == (3, 10)
    tested = gf.io.load(out / "model.gf")  # the final weights, a plain state_dict
    assert tested.keys() == state["model"].keys()
    for key, value in tested.items():
        np.testing.assert_array_equal(value.numpy(), state["model"][key].numpy())


def test_early_stopping_keeps_the_best_weights(capsys):
    code, out_text, err = run(capsys, "train", *TINY, "--lr", "0.3", "--early-stopping", "1",
                              "--epochs", "40", "--out", "e")
    assert code == 0, err
    assert json.loads(Path("e", "results.json").read_text())["stop_reason"] == "early_stopping"
    rows = read_csv(Path("e", "metrics.csv"))
    losses = [float(r["val_loss"]) for r in rows]
    best = losses.index(min(losses)) + 1
    assert f"at epoch {best}, its weights restored" in out_text
    tested = gf.io.load(Path("e", "model.gf"))
    kept = gf.io.load(Path("e", f"ckpt-epoch{best:04d}.gf"))["model"]
    for key, value in tested.items():
        np.testing.assert_array_equal(value.numpy(), kept[key].numpy())


# --- train: other datasets and options ------------------------------------------------------------
def test_default_out_is_timestamped_and_linked_as_latest(capsys):
    code, out_text, _ = run(capsys, "train", *TINY, "--epochs", "1")
    assert code == 0
    runs = [p for p in Path("runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1 and (runs[0] / "last.gf").is_file()
    latest = Path("runs", "latest")
    if latest.is_symlink():  # best effort where symlinks work
        assert latest.resolve() == runs[0].resolve()
    assert f"wrote {runs[0]}" in out_text


def test_resume_continues_from_the_checkpoint(capsys):
    assert run(capsys, "train", *TINY, "--epochs", "2", "--out", "a")[0] == 0
    code, out_text, _ = run(capsys, "train", "--resume", "a", "--epochs", "3", "--no-progress")
    assert code == 0
    assert "resuming from a" in out_text
    resumed = read_csv(Path("a", "metrics.csv"))
    assert [r["epoch"] for r in resumed] == ["1", "2", "3"]
    assert json.loads(Path("a", "results.json").read_text())["epochs"] == 3
    # the saved options (two-gaussians, hidden 8) were used, and the result is the same as an
    # uninterrupted three-epoch run, bit for bit
    assert json.loads(Path("a", "config.json").read_text())["options"]["hidden"] == "8"
    assert run(capsys, "train", *TINY, "--epochs", "3", "--out", "b")[0] == 0
    straight = read_csv(Path("b", "metrics.csv"))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [r[key] for r in resumed] == [r[key] for r in straight]


def test_resume_without_path_uses_latest_run(capsys):
    assert run(capsys, "train", *TINY, "--epochs", "1")[0] == 0
    code, out_text, _ = run(capsys, "train", "--resume", "--epochs", "2", "--no-progress")
    assert code == 0
    (folder,) = [p for p in Path("runs").iterdir() if p.name != "latest"]
    assert [r["epoch"] for r in read_csv(folder / "metrics.csv")] == ["1", "2"]


def test_resume_of_a_finished_run_says_so(capsys):
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", "a")[0] == 0
    code, out_text, _ = run(capsys, "train", "--resume", "a/last.gf", "--no-progress")
    assert code == 0
    assert "already has 1 epoch(s)" in out_text
    assert "test accuracy:" in out_text


def test_two_gaussians_linear_model_learns(capsys):
    code, out_text, _ = run(capsys, "train", "--dataset", "two-gaussians", "--no-progress",
                            "--out", "tg")
    assert code == 0
    assert "linear 2-2" in out_text
    results = json.loads(Path("tg", "results.json").read_text())
    assert results["test_accuracy"] >= 0.9  # the two classes are well separated


def test_mnist_idx_with_augmentation(capsys, tmp_path):
    images, labels = write_idx(tmp_path)
    code, out_text, err = run(capsys, "train", "--dataset", "mnist-idx", "--mnist-images",
                              str(images), "--mnist-labels", str(labels), "--augment",
                              "--hidden", "16", "--epochs", "2", "--no-progress", "--out", "m")
    assert code == 0, err
    assert "mnist-idx:" in out_text and "MLP 36-16-3" in out_text and "augment" in out_text
    config = json.loads(Path("m", "config.json").read_text())
    assert config["data"]["test"] == 16  # 20% of 80 held out


def test_mnist_idx_separate_test_files(capsys, tmp_path):
    images, labels = write_idx(tmp_path)
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    test_images, test_labels = write_idx(test_dir, n=30, seed=1)
    code, _, err = run(capsys, "train", "--dataset", "mnist-idx", "--mnist-images", str(images),
                       "--mnist-labels", str(labels), "--mnist-test-images", str(test_images),
                       "--mnist-test-labels", str(test_labels), "--epochs", "1",
                       "--no-progress", "--out", "m")
    assert code == 0, err
    assert json.loads(Path("m", "results.json").read_text())["test_examples"] == 30


# --- train --model cnn -------------------------------------------------------------------------
def test_cnn_on_digits_learns_and_saves_the_tested_weights(capsys):
    code, out_text, err = run(capsys, "train", "--model", "cnn", "--epochs", "2", "--out", "c",
                              "--dropout", "0", "--no-progress")
    assert code == 0, err
    assert "model: CNN 1x8x8 conv 16-32 relu -> 10" in out_text
    results = json.loads(Path("c", "results.json").read_text())
    assert results["test_accuracy"] >= 0.8  # ~0.9 after 2 epochs; >= 0.98 after the defaults
    options = json.loads(Path("c", "config.json").read_text())["options"]
    assert options["model"] == "cnn" and options["channels"] == "16,32"
    assert options["scheduler"] == "cosine" and options["dropout"] == 0.0  # cnn default; given
    assert options["norm"] == "batch"  # the cnn default: conv-BN-ReLU-MaxPool stages
    assert options["hidden"] is None  # an MLP option, not resolved for a CNN
    model = cnn((1, 8, 8), 10, norm="batch")
    model.load_state_dict(gf.load(str(Path("c", "model.gf"))))
    _, test = gf.data.datasets.load_digits(test_size=0.2, seed=0)
    x, y = test.arrays
    model.eval()
    with gf.no_grad():
        logits = model(gf.tensor(x.reshape(-1, 1, 8, 8)))
    accuracy = float((logits.argmax(1).numpy() == y).mean())
    assert accuracy == pytest.approx(results["test_accuracy"])


def test_cnn_on_mnist_idx_with_augmentation(capsys, tmp_path):
    images, labels = write_idx(tmp_path)
    code, out_text, err = run(capsys, "train", "--model", "cnn", "--dataset", "mnist-idx",
                              "--mnist-images", str(images), "--mnist-labels", str(labels),
                              "--augment", "--channels", "4", "--dropout", "0.1", "--epochs",
                              "1", "--no-progress", "--out", "m")
    assert code == 0, err
    assert "model: CNN 1x6x6 conv 4 relu -> 3" in out_text and "augment" in out_text
    layers = json.loads(Path("m", "config.json").read_text())["model"]["layers"]
    assert sum(layer.startswith("Conv2d") for layer in layers) == 1
    assert sum(layer.startswith("MaxPool2d(kernel_size=2") for layer in layers) == 1
    assert sum(layer.startswith("Dropout") for layer in layers) == 2


def test_cnn_needs_square_images(capsys, tmp_path):
    images, labels = tmp_path / "images.idx", tmp_path / "labels.idx"
    images.write_bytes(struct.pack(">IIII", 0x803, 10, 4, 5) + bytes(200))
    labels.write_bytes(struct.pack(">II", 0x801, 10) + bytes(range(10)))
    code, _, err = run(capsys, "train", "--model", "cnn", "--dataset", "mnist-idx",
                       "--mnist-images", str(images), "--mnist-labels", str(labels),
                       "--out", "m")
    assert code == 1
    assert_one_line_error(err)
    assert "--model cnn: the mnist-idx examples have 20 pixels, not a square image" in err
    assert not Path("m").exists()


def test_cnn_norm_batch_is_looked_up_when_built(capsys, monkeypatch):
    from gradflow.nn.normalization import BatchNorm2d

    monkeypatch.delattr(gf.nn, "BatchNorm2d", raising=False)
    code, _, err = run(capsys, "train", "--model", "cnn", "--norm", "batch", "--out", "a")
    assert code == 1
    assert_one_line_error(err)
    assert "norm='batch' needs gradflow.nn.BatchNorm2d" in err and not Path("a").exists()
    monkeypatch.setattr(gf.nn, "BatchNorm2d", BatchNorm2d, raising=False)
    code, _, err = run(capsys, "train", "--model", "cnn", "--norm", "batch", "--channels", "4",
                       "--epochs", "1", "--out", "b", "--no-progress")
    assert code == 0, err
    layers = json.loads(Path("b", "config.json").read_text())["model"]["layers"]
    assert sum(layer.startswith("BatchNorm2d(4") for layer in layers) == 1
    assert all("bias=False" in layer for layer in layers if layer.startswith("Conv2d"))


def test_cnn_builder_shapes_and_errors():
    model = cnn((3, 9, 7), 5, channels=(4, 6, 8), hidden=0)
    assert model(gf.zeros(2, 3, 9, 7)).shape == (2, 5)  # 9x7 -> 5x4 -> 3x2 -> 2x1
    assert model[-1].in_features == 8 * 2 * 1
    for kwargs, words in [({"in_shape": (8, 8)}, "in_shape must be (C, H, W)"),
                          ({"channels": ()}, "channels must be a non-empty"),
                          ({"norm": "layer"}, "unknown norm 'layer'"),
                          ({"dropout": 1.0}, "dropout must be in [0, 1)"),
                          ({"n_classes": 0}, "n_classes must be an int >= 1"),
                          ({"channels": (2, 2, 2, 2, 2)}, "too small for 5 stride-2 stages")]:
        args = {"in_shape": (1, 8, 8), "n_classes": 10, **kwargs}
        with pytest.raises(ValueError, match=re.escape(words)):
            cnn(args.pop("in_shape"), args.pop("n_classes"), **args)


@pytest.mark.parametrize("options", [
    ["--batch-size", "full", "--optimizer", "sgd"],
    ["--batch-size", "1", "--optimizer", "momentum", "--momentum", "0.5"],
    ["--norm", "batch", "--dropout", "0.2", "--activation", "tanh", "--init", "xavier"],
    ["--norm", "layer", "--activation", "gelu", "--init", "he", "--optimizer", "adamw"],
    ["--optimizer", "rmsprop", "--clip", "1.0", "--l2", "0.01", "--scheduler", "cosine"],
    ["--activation", "leaky_relu", "--clip-adaptive", "0.05", "--weight-decay", "1e-4",
     "--scheduler", "step"],
    ["--activation", "sigmoid", "--early-stopping", "1", "--val-split", "0.25"],
])
def test_train_options(capsys, options):
    code, out_text, err = run(capsys, "train", *TINY, "--epochs", "3", "--out", "o", *options)
    assert code == 0, err
    assert "test accuracy:" in out_text
    config = json.loads(Path("o", "config.json").read_text())["options"]
    for flag, value in zip(options[::2], options[1::2]):
        stored = config[flag[2:].replace("-", "_")]
        assert str(stored) == value or float(stored) == float(value)


def test_tensorboard_logs(capsys):
    pytest.importorskip("tensorboardX")
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", "t", "--tensorboard")
    assert code == 0, err
    assert any(p.name.startswith("events.out.tfevents") for p in Path("t", "tensorboard").iterdir())


def test_mlflow_missing_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", "t", "--mlflow")
    assert code == 1
    assert_one_line_error(err)
    assert "mlflow" in err


# --- errors: one line on stderr, no traceback ---------------------------------------------------
@pytest.mark.parametrize(("argv", "code", "words"), [
    (["train", "--lr", "-1"], 2, "--lr"),
    (["train", "--lr", "abc"], 2, "--lr"),
    (["train", "--activation", "swish"], 2, "unknown activation 'swish'"),
    (["train", "--dataset", "imagenet"], 2, "--dataset"),
    (["train", "--batch-size", "0"], 2, "--batch-size"),
    (["train", "--dropout", "1.5"], 2, "--dropout"),
    (["train", "--hidden", "12,x"], 2, "--hidden"),
    (["train", "--device", "tpu"], 2, "--device"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["train", "--dataset", "mnist-idx"], 2, "--mnist-images"),
    (["train", "--dataset", "mnist-idx", "--mnist-images", "nope.gz", "--mnist-labels",
      "nope.idx"], 1, "no such file: nope.gz"),
    (["train", "--clip", "1", "--clip-adaptive", "0.1"], 2, "not both"),
    (["train", "--early-stopping", "2", "--val-split", "0"], 2, "--val-split"),
    (["train", "--augment", "--dataset", "two-gaussians"], 2, "--augment"),
    (["train", "--resume", "no/such/run"], 1, "no checkpoint"),
    (["frobnicate"], 2, "invalid choice"),
    ([], 2, "COMMAND"),
    (["bench", "nope"], 2, "unknown benchmark 'nope'"),
    (["bench", "lr", "--steps", "x"], 2, "gradflow bench lr: error: argument --steps"),
    (["graph-demo", "--bogus"], 2, "gradflow graph-demo: error: unrecognized arguments: --bogus"),
    (["train", "--out", ""], 2, "argument --out: empty path"),
    (["train", "--resume", ""], 2, "argument --resume: empty path"),
    (["train", "--dataset", "mnist-idx", "--mnist-images", "", "--mnist-labels", "l"], 2,
     "argument --mnist-images: empty path"),
    (["train", "--mnist-images", "x.gz"], 2,
     "--mnist-images applies only with --dataset mnist-idx (this run uses --dataset digits)"),
    (["train", "--dataset", "two-gaussians", "--mnist-test-labels", "y"], 2,
     "--mnist-test-labels applies only with --dataset mnist-idx"),
    (["train", "--n-samples", "50"], 2, "--n-samples applies only with --dataset two-gaussians"),
    (["train", "--momentum", "0.5", "--optimizer", "adam"], 2,
     "--momentum applies only with --optimizer momentum (this run uses --optimizer adam)"),
    (["train", "--momentum", "0.5"], 2, "--momentum applies only with --optimizer momentum"),
    (["train", "--hidden", "none", "--dropout", "0.1"], 2,
     "--dropout applies only with hidden layers; --hidden none gives a linear model"),
    (["train", "--hidden", "none", "--activation", "tanh"], 2, "--activation applies only"),
    (["train", "--dataset", "two-gaussians", "--norm", "batch"], 2,
     "--norm applies only with hidden layers; the two-gaussians model is linear"),
    (["train", "--dataset", "mnist-idx", "--mnist-images", "a", "--mnist-labels", "b",
      "--mnist-test-images", "c", "--mnist-test-labels", "d", "--test-split", "0.3"], 2,
     "--test-split applies only with a held-out test set"),
    (["train", "--dataset", "mnist-idx", "--mnist-images", "a", "--mnist-labels", "b",
      "--mnist-test-images", "c"], 2, "give both --mnist-test-images and --mnist-test-labels"),
    (["train", "--model", "cnn", "--dataset", "two-gaussians"], 2,
     "--model cnn needs image data: --dataset digits or mnist-idx (this run uses --dataset "
     "two-gaussians; use --model mlp for it)"),
    (["train", "--model", "resnet"], 2, "argument --model: invalid choice: 'resnet'"),
    (["train", "--model", "cnn", "--hidden", "64"], 2,
     "--hidden applies only with --model mlp (this run uses --model cnn)"),
    (["train", "--model", "cnn", "--init", "he"], 2, "--init applies only with --model mlp"),
    (["train", "--model", "cnn", "--activation", "tanh"], 2,
     "--activation applies only with --model mlp"),
    (["train", "--channels", "8"], 2,
     "--channels applies only with --model cnn (this run uses --model mlp)"),
    (["train", "--model", "cnn", "--channels", "8,0"], 2, "argument --channels"),
    (["train", "--model", "cnn", "--channels", "none"], 2, "at least one stage"),
    (["train", "--model", "cnn", "--norm", "layer"], 2,
     "--norm layer does not apply to --model cnn; choose one of none, batch"),
])
def test_errors_are_one_line(capsys, argv, code, words):
    got, out_text, err = run(capsys, *argv)
    assert got == code
    assert_one_line_error(err)
    assert words in err
    assert "Traceback" not in out_text


def test_options_that_apply_are_accepted(capsys):
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", "x", "--optimizer",
                       "momentum", "--momentum", "0.5", "--dropout", "0.1", "--norm", "layer")
    assert code == 0, err


def test_resume_of_a_file_that_is_not_a_checkpoint(capsys, tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a checkpoint\n")
    code, out_text, err = run(capsys, "train", "--resume", str(folder / "notes.txt"))
    assert code == 1
    assert_one_line_error(err)
    assert "notes.txt' is not a gradflow checkpoint" in err
    assert os.listdir(folder) == ["notes.txt"], "nothing was written beside it"
    gf.save({"w": gf.ones(1)}, folder / "weights.gf")
    code, _, err = run(capsys, "train", "--resume", str(folder / "weights.gf"))
    assert code == 1 and "not a training checkpoint" in err
    assert_one_line_error(err)


def test_resume_of_a_corrupted_checkpoint(capsys):
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", "a")[0] == 0
    config = Path("a", "config.json").read_bytes()
    data = bytearray(Path("a", "last.gf").read_bytes())
    data[-1] ^= 0xFF
    Path("a", "last.gf").unlink()  # a hard link of ckpt-epoch0001.gf: leave that one intact
    Path("a", "last.gf").write_bytes(bytes(data))
    code, _, err = run(capsys, "train", "--resume", "a", "--epochs", "2")
    assert code == 1
    assert_one_line_error(err)
    assert "last.gf' is corrupted: its checksum does not match" in err
    assert Path("a", "config.json").read_bytes() == config


def test_out_that_is_a_file(capsys):
    Path("taken").write_text("x")
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", "taken")
    assert code == 1
    assert_one_line_error(err)
    assert "--out taken: exists and is not a folder" in err


def test_cuda_unavailable_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(gf.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gf.cuda, "unavailable_reason", lambda: "no GPU in this test")
    code, _, err = run(capsys, "train", "--device", "cuda", "--epochs", "1")
    assert code == 1
    assert_one_line_error(err)
    assert "CUDA is not available: no GPU in this test" in err
    assert not Path("runs").exists()  # nothing written before the check


def test_existing_run_is_not_overwritten(capsys):
    assert run(capsys, "train", *TINY, "--epochs", "1", "--out", "a")[0] == 0
    code, _, err = run(capsys, "train", *TINY, "--epochs", "1", "--out", "a")
    assert code == 1
    assert_one_line_error(err)
    assert "--resume" in err


def test_divergence_is_one_line(capsys):
    code, _, err = run(capsys, "train", *TINY, "--optimizer", "sgd", "--lr", "1e30",
                       "--epochs", "1", "--out", "d")
    assert code == 1
    assert_one_line_error(err)
    assert "diverged" in err and "--clip" in err


def test_ctrl_c_exits_130(capsys, monkeypatch):
    import gradflow.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gradflow.train.Trainer, "fit", interrupted)
    code, _, err = run(capsys, "train", *TINY, "--out", "k")
    assert code == 130
    assert len(err.strip().splitlines()) == 1
    assert "interrupted" in err and "--resume k" in err


def test_unexpected_error_is_one_line_and_debug_shows_it(capsys, monkeypatch):
    import gradflow.train

    def broken(*args, **kwargs):
        raise TypeError("boom")

    monkeypatch.setattr(gradflow.train.Trainer, "fit", broken)
    code, _, err = run(capsys, "train", *TINY, "--out", "u")
    assert code == 1
    assert_one_line_error(err)
    assert "TypeError: boom" in err and "--debug" in err
    with pytest.raises(TypeError, match="boom"):
        main(["--debug", "train", *TINY, "--out", "u2"])


# --- help, info, graph-demo, bench --------------------------------------------------------------
def test_help(capsys):
    code, out_text, _ = run(capsys, "--help")
    assert code == 0
    for command in ("train", "info", "graph-demo", "bench"):
        assert command in out_text
    code, out_text, _ = run(capsys, "--version")
    assert code == 0 and out_text.strip() == f"gradflow {gf.__version__}"
    code, out_text, _ = run(capsys, "train", "--help")
    assert code == 0
    for flag in ("--dataset", "--mnist-images", "--model", "--channels", "--hidden", "--activation",
                 "--norm",
                 "--dropout", "--optimizer", "--lr", "--momentum", "--batch-size", "--epochs",
                 "--device", "--weight-decay", "--l2", "--clip", "--clip-adaptive", "--augment",
                 "--early-stopping", "--val-split", "--seed", "--out", "--resume",
                 "--no-progress", "--tensorboard", "--mlflow"):
        assert flag in out_text


def test_info(capsys):
    code, out_text, err = run(capsys, "info")
    assert code == 0, err
    assert f"gradflow        {gf.__version__}" in out_text
    assert f"numpy           {np.__version__}" in out_text
    assert "default dtype   float32" in out_text
    assert "backend cpu" in out_text
    cuda_line = next(line for line in out_text.splitlines() if line.startswith("backend cuda"))
    if not gf.cuda.is_available():
        assert gf.cuda.unavailable_reason() in cuda_line


def test_info_reports_why_cuda_is_missing(capsys, monkeypatch):
    monkeypatch.setattr(gf.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gf.cuda, "unavailable_reason", lambda: "no GPU in this test")
    code, out_text, _ = run(capsys, "info")
    assert code == 0
    assert "backend cuda    unavailable: no GPU in this test" in out_text
    assert "device 'auto'   cpu" in out_text


def test_graph_demo_writes_svg(capsys):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    code, out_text, err = run(capsys, "graph-demo", "--out", "neuron.svg")
    assert code == 0, err
    assert "f = 0.73" in out_text
    assert "<svg" in Path("neuron.svg").read_text()


def test_graph_demo_dot_and_help(capsys):
    pytest.importorskip("graphviz")
    code, _, err = run(capsys, "graph-demo", "--format", "dot", "--out", "neuron.dot")
    assert code == 0, err
    assert Path("neuron.dot").read_text().startswith("digraph")
    code, out_text, _ = run(capsys, "graph-demo", "--help")
    assert code == 0 and "--format" in out_text


def test_bench_lr(capsys):
    code, out_text, err = run(capsys, "bench", "lr", "--steps", "20", "--sgd-epochs", "2",
                              "--out", "lr")
    assert code == 0, err
    assert "λ_max" in out_text and "diverged" in out_text
    assert Path("lr", "lr_experiment.csv").is_file()


@pytest.mark.parametrize("name", cli.BENCHMARKS)
def test_bench_delegates_help(capsys, name):
    code, out_text, _ = run(capsys, "bench", name, "--help")
    assert code == 0
    assert f"gradflow bench {name}" in out_text  # the benchmark's own parser answered


def test_bench_usage(capsys):
    code, out_text, _ = run(capsys, "bench", "--help")
    assert code == 0
    for name in cli.BENCHMARKS:
        assert name in out_text
    code, _, err = run(capsys, "bench")
    assert code == 2 and "usage: gradflow bench" in err


# --- the entry point ---------------------------------------------------------------------------
def test_python_dash_m_gradflow_train(tmp_path):
    """``python -m gradflow`` in a fresh interpreter: the one subprocess test."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "gradflow", "train", "--epochs", "1",
                           "--out", "sub", *TINY], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy:" in proc.stdout
    assert (tmp_path / "sub" / "metrics.csv").is_file()


def test_logger_option_writes_dvclive_and_bad_names_are_usage_errors(capsys):
    pytest.importorskip("dvclive")
    code, _, err = run(capsys, "train", *TINY, "--epochs", "2", "--out", "d",
                       "--logger", "csv,dvclive")
    assert code == 0, err
    metrics = json.loads(Path("d/dvclive/metrics.json").read_text())
    assert metrics["step"] == 2 and "loss" in metrics
    assert Path("d/dvclive/plots/metrics/loss.tsv").is_file() and Path("d/dvc.yaml").is_file()
    assert not Path(".dvc").exists()  # not inside a Git repository: no dvc init
    code, _, err = run(capsys, "train", *TINY, "--logger", "csv,neptune")
    assert code == 2 and "unknown logger 'neptune'" in err


def test_suggest_batch_size_prints_the_noise_scale_and_trains_nothing(capsys):
    code, out_text, err = run(capsys, "train", "--suggest-batch-size", "--out", "s")
    assert code == 0, err
    assert "B_simple = " in out_text and "eps_max = " in out_text
    line = next(x for x in out_text.splitlines() if x.startswith("suggested:"))
    batch = int(line.split("--batch-size ")[1].split()[0])
    lr = float(line.split("--lr ")[1].split()[0])
    assert 1 <= batch <= 1293 and lr > 0
    assert not Path("s").exists()  # nothing trained, nothing written
