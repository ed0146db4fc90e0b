"""gf.save / gf.load: faithful round trips, atomic writes, and clear errors for files that are
not gradflow checkpoints or are truncated/corrupted. Nothing is ever unpickled."""

import io
import json
import math
import os
import pickle
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradflow as gf
from gradflow import io as gio
from gradflow.io import CheckpointError, CorruptCheckpointError, load, save
from gradflow.nn import Parameter


class CountingReader:
    """A file object that counts the bytes read through it."""

    def __init__(self, f, counter):
        self.f, self.counter = f, counter

    def readinto(self, b):
        n = self.f.readinto(b)
        self.counter[0] += n or 0
        return n

    def read(self, n=-1):
        data = self.f.read(n)
        self.counter[0] += len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def count_reads(monkeypatch):
    """Make load(path) count the bytes it reads; returns the one-element counter."""
    counter, real = [0], gio._open_regular

    def counting(path):
        f, size = real(path)
        return CountingReader(f, counter), size

    monkeypatch.setattr(gio, "_open_regular", counting)
    return counter


def entry(dtype, shape, begin, itemsize=4):
    return {"dtype": dtype, "shape": shape,
            "data_offsets": [begin, begin + math.prod(shape) * itemsize]}


def craft(path, tree, entries=None, data=b"", header_text=None):
    """Write a file with gradflow's layout and a VALID checksum around any tree and entries."""
    entries = entries or {}
    meta = json.dumps({"format": "gradflow", "version": 1, "tree": tree}, separators=(",", ":"))
    digest = gio._digest(meta, entries, [data])
    header = header_text.encode() if header_text is not None else json.dumps(
        {"__metadata__": {"__gradflow__": meta, "__gradflow_sha256__": digest}, **entries}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + data)
    return path


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


def test_map_location_forms(tmp_path):
    path = tmp_path / "d"
    save({"t": gf.ones(2), "a": np.ones(2), "p": Parameter(gf.zeros(1))}, path)
    for where in [None, "cpu", "CPU", gf.device("cpu"), "auto", {"cpu": "cpu"}, {"cuda:0": "cpu"},
                  lambda t, loc: t, lambda t, loc: None]:
        back = load(path, where) if where is not None else load(path)
        assert back["t"].device == "cpu" and isinstance(back["a"], np.ndarray), where
        assert type(back["p"]) is Parameter and back["p"].requires_grad
    assert load(path, device="cpu")["t"].device == "cpu", "device= is the earlier spelling"
    seen = []
    load(path, map_location=lambda t, loc: seen.append((type(t), t.shape, loc)))
    assert sorted(seen, key=str) == sorted([(gf.Tensor, (2,), "cpu")] * 2 + [
        (gf.Tensor, (1,), "cpu")], key=str), "called once per tensor/array with its location"
    doubled = load(path, map_location=lambda t, loc: t * 2)
    assert doubled["t"].tolist() == [2.0, 2.0] and doubled["t"].is_leaf


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"map_location": "tpu"}, RuntimeError, "map_location 'tpu' is not a device"),
    ({"map_location": "cuda:x"}, RuntimeError, "map_location 'cuda:x' is not a device"),
    ({"device": "tpu"}, RuntimeError, "'tpu' is not a device"),
    ({"map_location": 3}, TypeError, "map_location must be a device string.*got int"),
    ({"map_location": {"cpu": 0}}, TypeError, "map_location value must be a device string"),
    ({"map_location": "cpu", "device": "cpu"}, TypeError, "not both"),
    ({"map_location": lambda t, loc: t.numpy()}, TypeError, "returned ndarray.*must return a "
                                                           "Tensor"),
    ({"weights_only": False}, ValueError, "weights_only=False is not supported: gradflow never "
                                          "unpickles.*Tensors, NumPy/CuPy arrays"),
    ({"weights_only": "yes"}, TypeError, "weights_only must be True"),
    ({"pickle_module": pickle}, ValueError, "pickle_module is not supported"),
    ({"mmap": True}, ValueError, "mmap=True is not supported"),
])
def test_load_argument_errors(tmp_path, kwargs, exc, message):
    save({"t": gf.ones(2)}, tmp_path / "d")
    with pytest.raises(exc, match=message):
        load(tmp_path / "d", **kwargs)


def test_weights_only_true_and_none_are_accepted(tmp_path):
    save([gf.ones(1)], tmp_path / "d")
    for flag in (True, None):
        assert load(tmp_path / "d", weights_only=flag)[0].tolist() == [1.0]


def test_save_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="never pickles"):
        save({}, tmp_path / "x", pickle_module=pickle)
    with pytest.raises(ValueError, match="never pickles"):
        save({}, tmp_path / "x", pickle_protocol=4)
    with pytest.raises(TypeError, match="file path .* or a binary file object.*got int"):
        save({}, 3)
    with open(tmp_path / "t.txt", "w") as f, pytest.raises(TypeError, match="binary mode"):
        save({}, f)
    assert os.listdir(tmp_path) == ["t.txt"]


def test_signatures_match_torch():
    torch = pytest.importorskip("torch")
    import inspect

    def names(fn, n):
        return list(inspect.signature(fn).parameters)[:n]

    assert names(load, 3) == names(torch.load, 3) == ["f", "map_location", "pickle_module"]
    assert names(save, 4) == names(torch.save, 4)
    params = inspect.signature(load).parameters
    assert params["weights_only"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["mmap"].kind is inspect.Parameter.KEYWORD_ONLY


def cuda_checkpoint(path, where="cuda:0"):
    """A checkpoint as a CUDA machine writes it (tensor and CuPy array saved on ``where``)."""
    a = np.arange(3, dtype=np.float32)
    craft(path, {"$t": "dict", "v": [
        ["t", {"$t": "tensor", "ref": "t0", "requires_grad": True, "device": where}],
        ["a", {"$t": "ndarray", "ref": "t1", "device": where}],
        ["c", {"$t": "tensor", "ref": "t2", "requires_grad": False, "device": "cpu"}]]},
        {"t0": entry("F32", [3], 0), "t1": entry("F32", [3], 12), "t2": entry("F32", [3], 24)},
        a.tobytes() * 3)


@pytest.mark.skipif(gf.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_checkpoint_on_a_cpu_machine(tmp_path, monkeypatch):
    path = tmp_path / "gpu.gf"
    cuda_checkpoint(path)
    reads = count_reads(monkeypatch)
    with pytest.raises(RuntimeError, match="gpu.gf.*saved on 'cuda:0': attempting to deserialize "
                       "it on the CUDA device 'cuda:0' but gf.cuda.is_available.. is False.*"
                       "map_location='cpu'"):
        load(path)
    assert reads[0] < os.path.getsize(path) - 30, "refused before the array bytes were read"
    for where in ["cpu", gf.device("cpu"), {"cuda:0": "cpu"}, lambda t, loc: t]:
        back = load(path, map_location=where)
        assert back["t"].device == "cpu" and back["t"].requires_grad
        assert back["t"].tolist() == [0.0, 1.0, 2.0] and isinstance(back["a"], np.ndarray)
    locations = []
    load(path, map_location=lambda t, loc: locations.append(loc) or t)
    assert sorted(locations) == ["cpu", "cuda:0", "cuda:0"]
    with pytest.raises(RuntimeError, match="attempting to deserialize"):
        load(path, map_location={"cuda:1": "cpu"})  # the tensors are on cuda:0
    with pytest.raises(RuntimeError, match="attempting to deserialize"):
        load(path, map_location=lambda t, loc: None)  # None: the saved device
    save({"t": gf.ones(1)}, tmp_path / "cpu.gf")
    with pytest.raises(RuntimeError, match="CUDA device 'cuda:0' but gf.cuda.is_available"):
        load(tmp_path / "cpu.gf", map_location="cuda")
    with pytest.raises(RuntimeError, match="is_available"):
        load(tmp_path / "cpu.gf", map_location={"cpu": "cuda:1"})


@pytest.mark.skipif(not gf.cuda.is_available(), reason="no usable CUDA device")
def test_cuda_round_trip(tmp_path):
    t = gf.randn(3, device="cuda")
    save({"t": t, "a": t.array, "c": gf.ones(2)}, tmp_path / "g")
    back = load(tmp_path / "g")  # as PyTorch: back on the device it was saved on
    assert back["t"].device == "cuda:0" and type(back["a"]).__module__.startswith("cupy")
    assert back["c"].device == "cpu"
    np.testing.assert_array_equal(back["t"].numpy(), t.numpy())
    for where in ["cpu", {"cuda:0": "cpu"}, lambda s, loc: s]:
        back = load(tmp_path / "g", map_location=where)
        assert back["t"].device == "cpu" and isinstance(back["a"], np.ndarray)
    moved = load(tmp_path / "g", map_location={"cpu": "cuda:0"})
    assert moved["c"].device == "cuda:0"
    assert load(tmp_path / "g", map_location=lambda s, loc: s.cuda())["c"].device == "cuda:0"
    n = gf.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"CUDA device {n} but gf.cuda.device_count.. is {n}"):
        load(tmp_path / "g", map_location=f"cuda:{n}")
    cuda_checkpoint(tmp_path / "far", where=f"cuda:{n}")
    with pytest.raises(RuntimeError, match="map_location"):
        load(tmp_path / "far")
    assert load(tmp_path / "far", map_location={f"cuda:{n}": "cuda:0"})["t"].device == "cuda:0"


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


def test_nesting_limit(tmp_path):
    deep = leaf = []
    for _ in range(gio._MAX_DEPTH - 1):
        leaf.append([])
        leaf = leaf[0]
    save(deep, tmp_path / "ok")
    assert load(tmp_path / "ok") == deep
    with pytest.raises(ValueError, match="nested more than 100 levels"):
        save([deep], tmp_path / "deep")
    assert not (tmp_path / "deep").exists()


def test_bfloat16_round_trip(tmp_path):
    t = gf.tensor([1.5, -2.0], dtype=gf.bfloat16)
    save({"t": t}, tmp_path / "b")
    back = load(tmp_path / "b")["t"]
    assert back.dtype == gf.bfloat16 and back.tolist() == [1.5, -2.0]


def test_files_from_before_devices_were_recorded_load_on_the_cpu(tmp_path):
    craft(tmp_path / "old", {"$t": "tensor", "ref": "t0", "requires_grad": False},
          {"t0": entry("F32", [2], 0)}, np.ones(2, np.float32).tobytes())
    assert load(tmp_path / "old").device == "cpu"


# --- file objects ----------------------------------------------------------------------------
def test_file_objects(tmp_path):
    buf = io.BytesIO()
    save({"w": gf.arange(3)}, buf)
    save([1, "two"], buf)  # a second checkpoint after the first, as in one stream
    end = buf.tell()
    buf.seek(0)
    assert load(buf)["w"].tolist() == [0, 1, 2]
    assert load(buf) == [1, "two"] and buf.tell() == end
    with open(tmp_path / "f.gf", "wb") as f:
        save({"x": np.eye(2)}, f)
    with open(tmp_path / "f.gf", "rb") as f:
        np.testing.assert_array_equal(load(f)["x"], np.eye(2))
    assert load(tmp_path / "f.gf")["x"].shape == (2, 2), "the same bytes as a path"


class Stream:
    """A non-seekable binary stream (a pipe, a socket) returning small pieces."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        n = min(n, 5) if n >= 0 else len(self.data)
        piece = self.data[self.pos:self.pos + n]
        self.pos += len(piece)
        return piece


def test_non_seekable_streams():
    buf = io.BytesIO()
    save({"w": gf.ones(4), "s": "x"}, buf)
    data = buf.getvalue()
    assert load(Stream(data))["w"].tolist() == [1.0] * 4
    with pytest.raises(CorruptCheckpointError, match="'<Stream>' is truncated: its arrays need"):
        load(Stream(data[:-1]))
    with pytest.raises(CorruptCheckpointError, match="truncated: its header needs"):
        load(Stream(data[:40]))


def test_file_object_errors(tmp_path):
    with pytest.raises(TypeError, match="file path .* or a binary file object.*got int"):
        load(3)
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as f, pytest.raises(TypeError, match="binary mode"):
        load(f)
    buf = io.BytesIO()
    save({"w": gf.ones(4)}, buf)
    with pytest.raises(CorruptCheckpointError, match="'<BytesIO>' is truncated"):
        load(io.BytesIO(buf.getvalue()[:-4]))
    with pytest.raises(CheckpointError, match="'<BytesIO>' is not a gradflow checkpoint"):
        load(io.BytesIO(b"\x80\x04garbage"))


# --- what is refused without reading it -------------------------------------------------------
@pytest.mark.parametrize("prefix", [b"", (1 << 30).to_bytes(8, "little") + b"{",
                                    (100).to_bytes(8, "little") + b'{"a":' + b"\0" * 50,
                                    b"random"])
def test_large_foreign_file_is_refused_after_a_small_prefix(tmp_path, monkeypatch, prefix):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(2**31)  # sparse: 2 GiB of zeros that take no disk space
        f.seek(0)
        f.write(os.urandom(4096) if prefix == b"random" else prefix)
    reads = count_reads(monkeypatch)
    with pytest.raises(CheckpointError, match="big.bin"):
        load(path)
    assert reads[0] <= 9 + gio._HEADER_CHUNK, f"read {reads[0]} bytes of 2 GiB"
    counter = [0]
    with open(path, "rb", buffering=0) as raw, pytest.raises(CheckpointError):
        load(CountingReader(raw, counter))
    assert counter[0] <= 9 + gio._HEADER_CHUNK


@pytest.fixture
def deadline():
    """Fail (instead of hanging) when a test blocks for more than 5 seconds."""
    if not hasattr(signal, "setitimer"):
        pytest.skip("needs signal.setitimer")

    def expired(signum, frame):
        raise TimeoutError("blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_devices_are_refused_without_reading(deadline, tmp_path):
    with pytest.raises(CheckpointError, match="'/dev/zero' .* a character device, not a regular"):
        load("/dev/zero")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load(tmp_path)
    if os.path.exists("/dev/null"):
        with pytest.raises(ValueError, match="character device, not a regular file"):
            save({"x": 1}, "/dev/null")
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(deadline, tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="pipe.* a FIFO .named pipe., not a regular file"):
        load(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        save({}, fifo)
    # A FIFO put in place between the check and the open is caught on the opened file.
    regular = os.stat(__file__)
    monkeypatch.setattr(gio.os, "stat", lambda p, *a, **k: regular)
    with pytest.raises(CheckpointError, match="FIFO"):
        load(fifo)


# --- valid checksum, impossible structure -----------------------------------------------------
T0 = {"$t": "tensor", "ref": "t0", "requires_grad": False}
F32x2 = {"t0": entry("F32", [2], 0)}
EIGHT = bytes(8)


@pytest.mark.parametrize("tree, entries, data, message", [
    (T0, {"t0": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, EIGHT, "bad entry"),
    (T0, {"t0": {"dtype": "F32", "shape": [2], "data_offsets": [0, 2**70]}}, EIGHT,
     "needs 8 bytes but its data_offsets"),
    (T0, {"t0": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, EIGHT,
     "needs 4835703278458516698824704 bytes"),
    (T0, {"t0": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, EIGHT, "needs 12 bytes"),
    (T0, {"t0": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, EIGHT, "bad entry"),
    (T0, {"t0": {"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}}, EIGHT,
     "bad entry"),
    (T0, {"t0": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}}, EIGHT,
     "unknown dtype 'F8_E4M3'"),
    (T0, {"t0": {"dtype": "F32", "shape": [2]}}, EIGHT, "bad entry"),
    (T0, {"t0": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4),
     "bad entry"),
    (T0, {"t0": entry("F32", [2], 0), "t1": entry("F32", [2], 4)}, bytes(12), "not contiguous"),
    (T0, {"t0": entry("F32", [2], 4)}, bytes(12), "not contiguous"),
    ({"$t": "tensor", "ref": "t9", "requires_grad": False}, F32x2, EIGHT, "missing entry 't9'"),
    ({"$t": "tensor", "ref": "t0"}, F32x2, EIGHT, "requires_grad=None"),
    ({"$t": "tensor", "ref": "t0", "requires_grad": True}, {"t0": entry("I32", [2], 0)}, EIGHT,
     "I32 tensor 't0' requires grad"),
    ({"$t": "tensor", "ref": "t0", "requires_grad": False, "device": "tpu:0"}, F32x2, EIGHT,
     "unknown device 'tpu:0'"),
    ({"$t": "npscalar", "ref": "t0"}, F32x2, EIGHT, "scalar 't0' has shape"),
    ({"$t": "pickle", "v": "cos\nsystem"}, {}, b"", "unknown node tag 'pickle'"),
    ({"no": "tag"}, {}, b"", "unknown dict node"),
    ({"$t": "float", "v": "1e999"}, {}, b"", "not nan, inf or -inf"),
    ({"$t": "dict", "v": [["a", 1, 2]]}, {}, b"", "not a .key, value. pair"),
    ({"$t": "dict", "v": [[[1], 1]]}, {}, b"", "list node as a dict key"),
    ({"$t": "dict", "v": [[T0, 1]]}, F32x2, EIGHT, "'tensor' as a dict key"),
    ({"$t": "dict", "v": [["a", 1], ["a", 2]]}, {}, b"", "the key 'a' twice"),
    ({"$t": "dict", "v": 5}, {}, b"", "no list of values"),
    ({"$t": "tensor", "ref": "t0", "requires_grad": False},
     {"t0": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02",
     "bytes other than 0 and 1"),
    (json.loads("[" * 101 + "]" * 101), {}, b"", "nested more than 100 levels"),
])
def test_impossible_structures_with_a_valid_checksum(tmp_path, tree, entries, data, message):
    path = craft(tmp_path / "crafted.gf", tree, entries, data)
    with pytest.raises(CorruptCheckpointError, match="crafted.gf' is corrupted: .*" + message):
        load(path)


def test_impossible_structures_are_refused_before_the_data(tmp_path, monkeypatch):
    big = bytes(1 << 20)
    path = craft(tmp_path / "c.gf", {"$t": "bogus"}, {"t0": entry("U8", [len(big)], 0, 1)}, big)
    reads = count_reads(monkeypatch)
    with pytest.raises(CorruptCheckpointError, match="unknown node tag 'bogus'"):
        load(path)
    assert reads[0] < 1000


@pytest.mark.parametrize("header, message", [
    ('{"__metadata__": {}, "__metadata__": {}}', "the key '__metadata__' twice"),
    ('{"t0": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}', "literal NaN"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "not valid JSON"),
    ('{"a": 1} ["x"]', "not valid JSON .Extra data"),
])
def test_bad_headers(tmp_path, header, message):
    path = craft(tmp_path / "h.gf", None, header_text=header)
    with pytest.raises(CorruptCheckpointError, match="h.gf' is corrupted: .*" + message):
        load(path)


def test_header_longer_than_the_file(tmp_path, monkeypatch):
    path = tmp_path / "short.gf"
    path.write_bytes((1 << 29).to_bytes(8, "little") + b'{"__metadata__":')
    reads = count_reads(monkeypatch)
    with pytest.raises(CorruptCheckpointError, match="short.gf' is truncated: its header needs "
                                                     "536870912 bytes but only 16 follow"):
        load(path)
    assert reads[0] == 9


# --- temporary files of interrupted saves ------------------------------------------------------
def dead_pid():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_interrupted_save_leaves_a_temp_file_that_the_next_save_removes(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    save({"v": 1}, path)

    def crash(*args):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(os, "replace", crash)
    monkeypatch.setattr(os, "unlink", lambda p: None)  # a hard kill does not clean up either
    with pytest.raises(KeyboardInterrupt):
        save({"v": 2}, path)
    monkeypatch.undo()
    left = [n for n in os.listdir(tmp_path) if n != "ckpt"]
    assert len(left) == 1 and re.fullmatch(rf"\.ckpt\.{os.getpid()}-[0-9a-f]{{12}}\.tmp", left[0])
    assert load(path) == {"v": 1}, "the failed save did not clobber the file"
    save({"v": 3}, path)
    assert os.listdir(tmp_path) == ["ckpt"] and load(path) == {"v": 3}


def test_stale_temp_files_of_other_processes(tmp_path):
    path = tmp_path / "model.gf"
    old = time.time() - 120
    ancient = time.time() - 2 * 86400

    def temp(name, mtime=None):
        (tmp_path / name).write_bytes(b"partial")
        if mtime is not None:
            os.utime(tmp_path / name, (mtime, mtime))
        return name

    gone = [temp(f".model.gf.{dead_pid()}-{'a' * 12}.tmp", old),  # a dead process's
            temp(f".model.gf.{os.getppid()}-{'b' * 12}.tmp", ancient),  # older than a day
            temp(f".model.gf.{'c' * 12}.tmp", ancient)]  # the earlier name, without a pid
    kept = [temp(f".model.gf.{os.getppid()}-{'d' * 12}.tmp", old),  # a live process's
            temp(f".model.gf.{dead_pid()}-{'e' * 12}.tmp"),  # too recent to be sure
            temp(f".model.gf.{'f' * 12}.tmp", old),
            temp(f".other.gf.{dead_pid()}-{'a' * 12}.tmp", old),  # another file's
            temp(f".model.gf.1.{dead_pid()}-{'a' * 12}.tmp", old),  # model.gf.1's
            temp("model.gf.tmp", ancient)]
    save([1], path)
    names = set(os.listdir(tmp_path))
    assert names == {"model.gf", *kept} and not names & set(gone)


def test_save_writes_through_symlinks_and_keeps_permissions(tmp_path):
    target = tmp_path / "real.gf"
    save([1], target)
    os.chmod(target, 0o600)
    link = tmp_path / "link.gf"
    link.symlink_to(target)
    save([2], link)
    assert link.is_symlink() and load(target) == [2]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
