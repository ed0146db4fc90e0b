"""gf.save / gf.load: faithful round trips, atomic writes, and clear errors for files that are
not gradflow checkpoints or are truncated/corrupted. Nothing is ever unpickled."""

import math
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow import io as gio
from gradflow.io import CheckpointError, CorruptCheckpointError, load, save
from gradflow.nn import Parameter


def assert_same(a, b, path="obj"):
    """Equal values and identical types, recursively (dtype, shape, requires_grad included)."""
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for (ka, va), kb in zip(a.items(), b):
            assert type(ka) is type(kb), f"{path}: key types differ"
            assert_same(va, b[kb], f"{path}[{ka!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, gf.Tensor):
        assert a.requires_grad == b.requires_grad and a.device == b.device, path
        assert_same(a.numpy(), b.numpy(), path)
    elif isinstance(a, np.ndarray | np.generic):
        same_dtype = a.dtype.newbyteorder("=") == b.dtype  # big-endian input comes back native
        assert same_dtype and np.shape(a) == np.shape(b), path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    else:
        assert a == b, path


def rich_object():
    rng = np.random.default_rng(0)
    w = Parameter(gf.randn(3, 2))
    return {
        "model": {"fc.weight": w, "fc.bias": gf.zeros(3), "steps": gf.tensor(7),
                  "mask": gf.tensor([True, False]), "x64": gf.tensor([1.5], dtype="float64"),
                  "h": gf.ones(2, requires_grad=True)},
        "optim": {"state": {0: {"step": 3, "exp_avg": gf.ones(3, 2)}, 1: {"step": 3}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                    "nesterov": False, "name": None}]},
        "arrays": [rng.standard_normal((2, 3)), rng.standard_normal(4).astype(np.float32),
                   np.arange(5, dtype=np.int64), np.array([True, False]),
                   np.array(2.5), np.zeros((0, 3), dtype=np.float32), np.array([], dtype=np.int64),
                   np.arange(6, dtype=np.uint8).reshape(2, 3), np.array([1, 2], dtype=">i4"),
                   np.ones(3, dtype=np.float16)],
        "scalars": (np.float32(1.25), np.int64(-4), np.bool_(True), np.float64(0.1)),
        "numbers": [0, -1, 2**100, -(2**70), 1.0, 0.0, -0.0, 1e-300, float("inf"),
                    float("-inf"), float("nan"), True, False],
        "strings": ["", "plain", "ünïcødé ✓", 'quo"te\\slash'],
        "keys": {1: "int", "1": "str", 2.5: "float", False: "bool", None: "none",
                 (1, "a"): "tuple", np.int64(3): "numpy int"},
        "empty": [[], (), {}],
        "one": (1,),
    }


def test_round_trip_is_faithful(tmp_path):
    obj = rich_object()
    path = tmp_path / "ckpt.gf"
    save(obj, path)
    back = load(path)
    assert_same(obj, back)
    assert type(back["model"]["fc.weight"]) is Parameter
    assert back["model"]["fc.weight"].requires_grad
    assert back["model"]["h"].is_leaf and back["model"]["h"].requires_grad
    assert back["arrays"][8].dtype == np.int32, "big-endian arrays come back native"


def test_round_trip_of_top_level_leaves(tmp_path):
    for obj in [gf.arange(4), np.eye(2), 3, "s", None, [1, (2,)]]:
        save(obj, tmp_path / "x")
        assert_same(obj, load(tmp_path / "x"))


def test_shared_objects_stay_shared(tmp_path):
    w = gf.randn(2, 2)
    a = np.zeros(3)
    save({"enc": w, "dec": w, "a": [a, a]}, tmp_path / "tied")
    back = load(tmp_path / "tied")
    assert back["enc"] is back["dec"] and back["a"][0] is back["a"][1]
    assert len(pytest.importorskip("safetensors.numpy").load_file(tmp_path / "tied")) == 2


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    save({"t": gf.zeros(3), "a": np.zeros(2)}, tmp_path / "w")
    back = load(tmp_path / "w")
    back["a"][0] = 1.0
    back["t"] += 1
    assert back["t"].numpy().tolist() == [1.0, 1.0, 1.0]


def test_file_is_readable_by_the_safetensors_library(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    save({"x": gf.tensor(x), "y": np.arange(3)}, tmp_path / "s.safetensors")
    arrays = stn.load_file(tmp_path / "s.safetensors")
    assert sorted(a.shape for a in arrays.values()) == [(3,), (3, 4)]
    np.testing.assert_array_equal(next(a for a in arrays.values() if a.ndim == 2), x)


def test_device_argument(tmp_path):
    save({"t": gf.ones(2), "a": np.ones(2)}, tmp_path / "d")
    back = load(tmp_path / "d", device="cpu")
    assert back["t"].device == "cpu" and isinstance(back["a"], np.ndarray)
    with pytest.raises(ValueError, match="^unknown device 'tpu'"):
        load(tmp_path / "d", device="tpu")


@pytest.mark.skipif(not gf.cuda.is_available(), reason="no usable CUDA device")
def test_cuda_round_trip(tmp_path):
    t = gf.randn(3, device="cuda")
    save({"t": t, "a": t.array}, tmp_path / "g")
    back = load(tmp_path / "g", device="cuda")
    assert back["t"].device == "cuda:0" and type(back["a"]).__module__.startswith("cupy")
    np.testing.assert_array_equal(back["t"].numpy(), t.numpy())
    assert load(tmp_path / "g")["t"].device == "cpu"


def test_rng_state_round_trips_exactly(tmp_path):
    gf.manual_seed(1234)
    gf.rand(7)  # advance, and leave a buffered uint32 behind
    gf.randint(0, 10, 3)
    state = gio.get_rng_state()
    save({"rng": state}, tmp_path / "rng")
    expected = gf.rand(5).numpy()
    back = load(tmp_path / "rng")["rng"]
    assert back == state
    assert back["cpu"]["state"]["state"] > 2**64, "a 128-bit integer survives JSON"
    gio.set_rng_state(back)
    np.testing.assert_array_equal(gf.rand(5).numpy(), expected)
    with pytest.raises(ValueError, match="get_rng_state"):
        gio.set_rng_state({"cuda": {}})


# --- atomicity -------------------------------------------------------------------------------
def test_failed_rename_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    save({"v": 1, "t": gf.ones(3)}, path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save({"v": 2, "t": gf.zeros(1000)}, path)
    monkeypatch.undo()
    assert load(path)["v"] == 1
    assert os.listdir(tmp_path) == ["ckpt"], "the temporary file was removed"


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    save({"v": 1}, path)
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io error")))
    with pytest.raises(OSError, match="io error"):
        save({"v": 2}, path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert load(path) == {"v": 1} and os.listdir(tmp_path) == ["ckpt"]
    with pytest.raises(TypeError):
        save({"v": 3, "bad": object()}, path)
    assert load(path) == {"v": 1}


def test_save_replaces_and_path_errors(tmp_path):
    save([1], tmp_path / "f")
    save([2], str(tmp_path / "f"))
    assert load(tmp_path / "f") == [2]
    with pytest.raises(IsADirectoryError, match="directory"):
        save([1], tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save([1], tmp_path / "missing" / "f")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope")


# --- what cannot be saved --------------------------------------------------------------------
@pytest.mark.parametrize("obj, message", [
    ({"a": object()}, r"obj\['a'\] of type object"),
    ([1, {2, 3}], r"obj\[1\] of type set"),
    ({"c": np.ones(2, dtype=np.complex64)}, "dtype complex64"),
    ({frozenset(): 1}, "key"),
    ({"f": b"bytes"}, "of type bytes"),
])
def test_unsupported_objects(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "x")
    assert not os.listdir(tmp_path)


def test_circular_reference(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        save({"loop": loop}, tmp_path / "x")


# --- files that are not gradflow checkpoints -------------------------------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickle_is_rejected_and_never_executed(tmp_path):
    canary = tmp_path / "canary"
    pickle.loads(pickle.dumps(_Evil(canary)))
    assert canary.exists(), "the payload does run when unpickled"
    marker = tmp_path / "marker"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": _Evil(marker)}))
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + ".*pickle"):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, what", [
    (b"", "only 0 bytes"),
    (b"hello world, this is a text file\n", "not a safetensors file"),
    (b'{"json": "but not safetensors"}', "not a safetensors file"),
    (b"PK\x03\x04" + b"\0" * 40, "zip archive"),
    (b"\x93NUMPY" + b"\0" * 40, "npy"),
])
def test_other_files_are_rejected(tmp_path, content, what):
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + ".*" + what) as info:
        load(path)
    assert isinstance(info.value, ValueError) and "not a gradflow checkpoint" in str(info.value)


def test_plain_safetensors_file_is_rejected(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "plain.safetensors"
    stn.save_file({"w": np.ones(3, dtype=np.float32)}, path)
    with pytest.raises(CheckpointError, match="plain.safetensors.*not a gradflow checkpoint"):
        load(path)
    stn.save_file({"w": np.ones(3, dtype=np.float32)}, path, metadata={"format": "np"})
    with pytest.raises(CheckpointError, match="__gradflow__"):
        load(path)


def test_newer_format_version_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(gio, "FORMAT_VERSION", 99)
    save({"a": 1}, tmp_path / "new")
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="newer gradflow.*version 99"):
        load(tmp_path / "new")


# --- truncated and corrupted files -----------------------------------------------------------
def small_checkpoint(tmp_path):
    path = tmp_path / "c.gf"
    save({"w": gf.tensor([[1.0, 2.0], [3.0, 4.0]]), "step": 5, "ids": np.arange(3)}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize("keep", [1, 9, 50, 0.5, -8, -1])
def test_truncated_file(tmp_path, keep):
    path, data = small_checkpoint(tmp_path)
    keep = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as info:
        load(path)
    if keep >= 9:
        assert isinstance(info.value, CorruptCheckpointError)
        assert re.search("truncated|corrupted", str(info.value))


def test_truncated_data_says_truncated(tmp_path):
    path, data = small_checkpoint(tmp_path)
    path.write_bytes(data[:-3])
    with pytest.raises(CorruptCheckpointError, match="is truncated: its arrays need"):
        load(path)


def test_trailing_bytes_are_corruption(tmp_path):
    path, data = small_checkpoint(tmp_path)
    path.write_bytes(data + b"\0")
    with pytest.raises(CorruptCheckpointError, match="corrupted"):
        load(path)


def test_every_flipped_byte_is_detected(tmp_path):
    path, data = small_checkpoint(tmp_path)
    header_end = 8 + int.from_bytes(data[:8], "little")
    for i in range(len(data)):
        for mask in (0x01, 0x80):
            flipped = bytearray(data)
            flipped[i] ^= mask
            path.write_bytes(bytes(flipped))
            with pytest.raises(CheckpointError) as info:
                load(path)
            if i >= header_end:
                assert isinstance(info.value, CorruptCheckpointError)
                assert "corrupted" in str(info.value)


def test_data_flip_reports_checksum(tmp_path):
    path, data = small_checkpoint(tmp_path)
    flipped = bytearray(data)
    flipped[-1] ^= 0x10
    path.write_bytes(bytes(flipped))
    with pytest.raises(CorruptCheckpointError, match="corrupted: its checksum does not match"):
        load(path)
