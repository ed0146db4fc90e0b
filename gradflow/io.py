"""Saving and loading: ``save(obj, path)`` / ``load(path, device=None)``. Never pickle.

One file, in the safetensors format: an 8-byte little-endian header length, a JSON header, then
the raw little-endian array bytes. Every Tensor, NumPy/CuPy array and NumPy scalar of ``obj``
becomes one safetensors entry (``t0``, ``t1``, ...); the structure around them is a JSON tree in
the header's ``__metadata__["__gradflow__"]``, with a SHA-256 of the tree, the entry table and the
array bytes in ``__metadata__["__gradflow_sha256__"]``, so truncation and flipped bytes are
detected. Any safetensors reader can read the arrays back.

Tree nodes: ``null``/``true``/``false``, JSON ints (any size) and finite floats, strings, JSON
arrays (lists), and tagged objects ``{"$t": ...}`` for tuples, dicts (a list of ``[key, value]``
pairs, so int, float, bool, None and tuple keys keep their type), non-finite floats, tensors
(with ``requires_grad`` and whether it is an ``nn.Parameter``), arrays and NumPy scalars. An object
that appears twice (a tied weight) is stored once and loads as one object.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
from typing import Any

import numpy as np

from gradflow.backends import cpu_backend, get_backend
from gradflow.creation import from_numpy
from gradflow.nn.parameter import Parameter
from gradflow.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "CorruptCheckpointError", "get_rng_state",
           "set_rng_state", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META, _DIGEST = "__gradflow__", "__gradflow_sha256__"
_MAX_HEADER = 1 << 30
_CODES = {np.dtype(k): v for k, v in [
    ("bool", "BOOL"), ("uint8", "U8"), ("int8", "I8"), ("int16", "I16"), ("uint16", "U16"),
    ("int32", "I32"), ("uint32", "U32"), ("int64", "I64"), ("uint64", "U64"),
    ("float16", "F16"), ("float32", "F32"), ("float64", "F64")]}
_DTYPES = {v: k for k, v in _CODES.items()}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class CheckpointError(ValueError):
    """The file is not a gradflow checkpoint (or one this version cannot read)."""


class CorruptCheckpointError(CheckpointError):
    """The file is a gradflow checkpoint that was truncated or corrupted."""


# --- saving ---------------------------------------------------------------------------------------
class _Encoder:
    """Turns ``obj`` into a JSON tree, collecting arrays into ``self.arrays`` (name -> array)."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}
        self._active: set[int] = set()

    def node(self, x: Any, path: str) -> Any:
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, np.generic):  # before float: np.float64 subclasses float
            return {"$t": "npscalar", "ref": self._array(x, np.asarray(x), path)}
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return float(x) if math.isfinite(x) else {"$t": "float", "v": repr(float(x))}
        if isinstance(x, Tensor):
            node = {"$t": "tensor", "ref": self._array(x, x.detach().numpy(), path),
                    "requires_grad": x.requires_grad}
            if isinstance(x, Parameter):
                node["parameter"] = True
            return node
        if isinstance(x, np.ndarray) or type(x).__module__.startswith("cupy"):
            host = x if isinstance(x, np.ndarray) else x.get()
            return {"$t": "ndarray", "ref": self._array(x, host, path)}
        if isinstance(x, list | tuple | dict):
            if id(x) in self._active:
                raise ValueError(f"save: {path} contains itself (a circular reference)")
            self._active.add(id(x))
            try:
                if isinstance(x, list):
                    return [self.node(v, f"{path}[{i}]") for i, v in enumerate(x)]
                if isinstance(x, tuple):
                    return {"$t": "tuple", "v": [self.node(v, f"{path}[{i}]")
                                                 for i, v in enumerate(x)]}
                return {"$t": "dict", "v": [[self.key(k, path), self.node(v, f"{path}[{k!r}]")]
                                            for k, v in x.items()]}
            finally:
                self._active.discard(id(x))
        raise TypeError(f"save: cannot save {path} of type {type(x).__name__}; a checkpoint holds "
                        "Tensors, NumPy/CuPy arrays, numbers, strings, bools, None and "
                        "dicts/lists/tuples of them (convert it to those first)")

    def key(self, k: Any, path: str) -> Any:
        if k is None or isinstance(k, bool | int | float | str | np.generic):
            return self.node(k, path)
        if isinstance(k, tuple):
            return {"$t": "tuple", "v": [self.key(v, path) for v in k]}
        raise TypeError(f"save: {path} has a key {k!r} of type {type(k).__name__}; dict keys "
                        "must be str, int, float, bool, None or tuples of them")

    def _array(self, obj: Any, host: np.ndarray, path: str) -> str:
        name = self._names.get(id(obj))
        if name is not None:
            return name
        if host.dtype.newbyteorder("=") not in _CODES:
            raise TypeError(f"save: {path} has dtype {host.dtype}, which safetensors cannot "
                            f"store; use one of {sorted(str(d) for d in _CODES)}")
        host = np.asarray(host, dtype=host.dtype.newbyteorder("<"), order="C")
        name = f"t{len(self.arrays)}"
        self.arrays[name] = host
        self._names[id(obj)] = name
        return name


def _entries_json(entries: dict[str, dict]) -> bytes:
    return json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()


def _digest(meta: str, entries: dict[str, dict], data_chunks) -> str:
    h = hashlib.sha256(b"gradflow\0" + meta.encode() + b"\0" + _entries_json(entries) + b"\0")
    for chunk in data_chunks:
        h.update(chunk)
    return h.hexdigest()


def _bytes(a: np.ndarray) -> memoryview:
    return memoryview(a.reshape(-1).view(np.uint8))


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of Tensors, NumPy/CuPy arrays, NumPy scalars,
    ints, floats, strings, bools and None) to ``path`` as one safetensors file, atomically.

    Types come back as they went in: int vs float, tuple vs list, int vs str dict keys, Tensor
    (with ``requires_grad``; ``nn.Parameter`` stays a Parameter) vs array, and every dtype
    (big-endian arrays come back native). Dict subclasses (``OrderedDict``) come back as dicts
    and namedtuples as tuples. Gradients and the autograd graph are not saved.

    The file is written to a temporary file in the same directory, flushed and fsynced, then
    renamed over ``path`` (and the directory fsynced): a crash leaves either the old file or the
    new one, never a mix.

    Raises:
        TypeError: naming the offending entry, for an object or dtype that cannot be stored.
    """
    enc = _Encoder()
    tree = enc.node(obj, "obj")
    meta = json.dumps({"format": "gradflow", "version": FORMAT_VERSION, "tree": tree},
                      allow_nan=False, separators=(",", ":"))
    # Larger items first (as the safetensors library does) so arrays stay aligned in the file.
    names = sorted(enc.arrays, key=lambda n: (-enc.arrays[n].dtype.itemsize, int(n[1:])))
    entries, offset = {}, 0
    for name in names:
        a = enc.arrays[name]
        entries[name] = {"dtype": _CODES[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                         "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    chunks = [_bytes(enc.arrays[n]) for n in names]
    digest = _digest(meta, entries, chunks)
    header = json.dumps({"__metadata__": {_META: meta, _DIGEST: digest}, **entries},
                        separators=(",", ":")).encode()
    header += b" " * (-(8 + len(header)) % 8)
    _atomic_write(path, [len(header).to_bytes(8, "little"), header, *chunks])


def _atomic_write(path: str | os.PathLike, chunks: list) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: {path!r} is a directory; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: the directory of {path!r} does not exist; create "
                                f"{directory!r} first")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name == "posix":  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        except OSError:  # some filesystems refuse to fsync a directory
            pass
        finally:
            os.close(dfd)


# --- loading --------------------------------------------------------------------------------------
def _sniff(head: bytes) -> str:
    """What a file that is not a safetensors file seems to be, for the error message."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it looks like a Python pickle (e.g. from pickle.dump); gradflow never unpickles"
    if head[:4] == b"PK\x03\x04":
        return "it is a zip archive (e.g. from torch.save or numpy.savez)"
    if head[:6] == b"\x93NUMPY":
        return "it is a NumPy .npy file"
    return "it is not a safetensors file"


def _read_header(buf: bytearray, name: str) -> tuple[dict, int]:
    if len(buf) < 9:
        raise CheckpointError(f"{name!r} is not a gradflow checkpoint: it is only {len(buf)} "
                              "bytes long")
    n = int.from_bytes(buf[:8], "little")
    if buf[8:9] != b"{" or n < 2 or n > _MAX_HEADER:
        raise CheckpointError(f"{name!r} is not a gradflow checkpoint: {_sniff(bytes(buf[:8]))}")
    if 8 + n > len(buf):
        raise CorruptCheckpointError(f"{name!r} is truncated: its header needs {n} bytes but "
                                     f"only {len(buf) - 8} follow the length field")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: its header is not valid JSON "
                                     f"({exc})") from exc
    if not isinstance(header, dict):
        raise CorruptCheckpointError(f"{name!r} is corrupted: its header is not a JSON object")
    return header, 8 + n


def _check_entries(entries: dict, data_len: int, name: str) -> None:
    """Validate the safetensors entry table against the bytes that follow the header."""
    spans = []
    for key, e in entries.items():
        try:
            dtype = _DTYPES[e["dtype"]]
            shape = e["shape"]
            begin, end = e["data_offsets"]
            ok = all(type(s) is int and s >= 0 for s in [*shape, begin, end]) and (
                end - begin == math.prod(shape) * dtype.itemsize)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise CorruptCheckpointError(f"{name!r} is corrupted: bad entry {key!r}: {e!r}")
        spans.append((begin, end))
    spans.sort()
    expected = 0
    for begin, end in spans:
        if begin != expected:
            raise CorruptCheckpointError(f"{name!r} is corrupted: array data is not contiguous")
        expected = end
    if data_len < expected:
        raise CorruptCheckpointError(f"{name!r} is truncated: its arrays need {expected} bytes "
                                     f"after the header, only {data_len} are there")
    if data_len > expected:
        raise CorruptCheckpointError(f"{name!r} is corrupted: {data_len - expected} unexpected "
                                     "bytes after the array data")


class _Decoder:
    def __init__(self, buf: bytearray, start: int, entries: dict, backend: Any):
        self.buf, self.start, self.entries, self.backend = buf, start, entries, backend
        self._cache: dict[tuple[str, str], Any] = {}

    def array(self, ref: str) -> np.ndarray:
        e = self.entries[ref]
        dtype = _DTYPES[e["dtype"]]
        begin = e["data_offsets"][0]
        count = math.prod(e["shape"])
        a = np.frombuffer(self.buf, dtype.newbyteorder("<"), count, self.start + begin)
        return a.reshape(tuple(e["shape"])).astype(dtype, copy=False)

    def node(self, x: Any) -> Any:
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, list):
            return [self.node(v) for v in x]
        tag = x["$t"]
        if tag == "tuple":
            return tuple(self.node(v) for v in x["v"])
        if tag == "dict":
            return {self.node(k): self.node(v) for k, v in x["v"]}
        if tag == "float":
            return _NONFINITE[x["v"]]
        if tag in ("tensor", "ndarray", "npscalar"):
            key = (tag, x["ref"])
            if key not in self._cache:
                self._cache[key] = self._leaf(tag, x)
            return self._cache[key]
        raise ValueError(f"unknown node tag {tag!r}")

    def _leaf(self, tag: str, x: dict) -> Any:
        a = self.array(x["ref"])
        if tag == "npscalar":
            return a[()]
        on_cpu = self.backend is None or self.backend is cpu_backend
        if tag == "ndarray":
            return a if on_cpu else self.backend.from_host(a)
        t = from_numpy(a) if on_cpu else from_numpy(a).to(self.backend)
        if x.get("parameter"):
            return Parameter(t, requires_grad=bool(x["requires_grad"]))
        return t.requires_grad_(bool(x["requires_grad"]))


def load(path: str | os.PathLike, device: Any = None) -> Any:
    """Read back what :func:`save` wrote; Tensors (and arrays) go to ``device`` (default CPU).

    Only JSON is parsed and raw bytes are reinterpreted as arrays: nothing in the file is ever
    executed.

    Raises:
        CheckpointError: (a ``ValueError``) naming the file, when it is not a gradflow checkpoint
            (a pickle, a text file, a safetensors file without gradflow metadata, a newer format).
        CorruptCheckpointError: naming the file, when it is truncated or corrupted.
    """
    name = os.fspath(path)
    backend = None if device is None else get_backend(device)  # a bad device fails first
    with open(path, "rb") as f:
        buf = bytearray(os.fstat(f.fileno()).st_size)
        got = f.readinto(buf)
    del buf[got:]
    header, start = _read_header(buf, name)
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not isinstance(meta.get(_META), str):
        raise CheckpointError(f"{name!r} is a safetensors file but not a gradflow checkpoint (no "
                              f"{_META!r} metadata); read its arrays with "
                              "safetensors.numpy.load_file")
    _check_entries(header, len(buf) - start, name)
    digest = _digest(meta[_META], header, [memoryview(buf)[start:]])
    if meta.get(_DIGEST) != digest:
        raise CorruptCheckpointError(f"{name!r} is corrupted: its checksum does not match its "
                                     "contents (the file was changed after it was written)")
    try:
        info = json.loads(meta[_META])
        version, tree = info["version"], info["tree"]
        ok = info["format"] == "gradflow" and type(version) is int
    except (ValueError, TypeError, KeyError, RecursionError):
        ok = False
    if not ok:
        raise CheckpointError(f"{name!r} is not a gradflow checkpoint: its {_META!r} metadata "
                              "is not a gradflow structure")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{name!r} was written by a newer gradflow (format version "
                              f"{version}; this one reads up to {FORMAT_VERSION}): upgrade "
                              "gradflow")
    try:
        return _Decoder(buf, start, header, backend).node(tree)
    except (KeyError, TypeError, ValueError, IndexError, RecursionError) as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: malformed structure "
                                     f"({type(exc).__name__}: {exc})") from exc


# --- random state ---------------------------------------------------------------------------------
def get_rng_state() -> dict:
    """The CPU generator's state as a plain dict (big ints included) that :func:`save` stores
    exactly. CuPy generators cannot be captured; reseed them with ``gf.manual_seed``."""
    return {"cpu": cpu_backend.get_rng_state()}


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state` (e.g. after ``load``)."""
    if not isinstance(state, dict) or "cpu" not in state:
        raise ValueError("set_rng_state: expected the dict returned by get_rng_state(), with a "
                         f"'cpu' entry; got {type(state).__name__}")
    cpu_backend.set_rng_state(state["cpu"])
