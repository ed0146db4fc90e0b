"""Saving and loading: ``save(obj, f)`` / ``load(f, map_location=None)``, PyTorch's signatures.
Never pickle.

One file, in the safetensors format: an 8-byte little-endian header length, a JSON header, then
the raw little-endian array bytes. Every Tensor, NumPy/CuPy array and NumPy scalar of ``obj``
becomes one safetensors entry (``t0``, ``t1``, ...); the structure around them is a JSON tree in
the header's ``__metadata__["__gradflow__"]``, with a SHA-256 of the tree, the entry table and the
array bytes in ``__metadata__["__gradflow_sha256__"]``, so truncation and flipped bytes are
detected. Any safetensors reader can read the arrays back.

Tree nodes: ``null``/``true``/``false``, JSON ints (any size) and finite floats, strings, JSON
arrays (lists), and tagged objects ``{"$t": ...}`` for tuples, dicts (a list of ``[key, value]``
pairs, so int, float, bool, None and tuple keys keep their type), non-finite floats, tensors
(with ``requires_grad``, whether it is an ``nn.Parameter`` and its device), arrays (with their
device) and NumPy scalars. An object that appears twice (a tied weight) is stored once and loads
as one object.

Loading reads and checks the whole header (length, JSON, entry table, tree, devices) before it
reads any array byte, reads only regular files (never a FIFO or a device) and checks the checksum
before it builds anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _pyio
import json
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from typing import IO, Any

import numpy as np

from gradflow.backends import cpu_backend, cuda, get_backend
from gradflow.creation import from_numpy
from gradflow.device import device as _device
from gradflow.dtypes import bfloat16
from gradflow.nn.parameter import Parameter
from gradflow.tensor import Tensor

__all__ = ["save", "load", "atomic_write", "CheckpointError", "CorruptCheckpointError",
           "get_rng_state", "set_rng_state", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META, _DIGEST = "__gradflow__", "__gradflow_sha256__"
_MAX_HEADER = 1 << 30
_MAX_DEPTH = 100  # nesting of lists/tuples/dicts (and tuple keys), on save and on load
_MAX_NDIM = 64  # NumPy's limit
_HEADER_CHUNK = 1 << 20  # the header is read (and checked to be text) a MiB at a time
_DATA_CHUNK = 1 << 26  # streams of unknown length are read 64 MiB at a time
_CODES = {np.dtype(k): v for k, v in [
    ("bool", "BOOL"), ("uint8", "U8"), ("int8", "I8"), ("int16", "I16"), ("uint16", "U16"),
    ("int32", "I32"), ("uint32", "U32"), ("int64", "I64"), ("uint64", "U64"),
    ("float16", "F16"), ("float32", "F32"), ("float64", "F64")]}
_CODES[np.dtype(bfloat16)] = "BF16"
_DTYPES = {v: k for k, v in _CODES.items()}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # bytes that JSON text never holds
_SUPPORTED = ("gradflow reads only its own checkpoints (safetensors + JSON, written by gf.save): "
              "nested dicts/lists/tuples of Tensors, NumPy/CuPy arrays, numbers, strings, bools "
              "and None")

FileLike = str | os.PathLike | IO[bytes]
MapLocation = str | dict[str, str] | Callable[[Tensor, str], Tensor | None] | None


class CheckpointError(ValueError):
    """The file is not a gradflow checkpoint (or one this version cannot read)."""


class CorruptCheckpointError(CheckpointError):
    """The file is a gradflow checkpoint that was truncated or corrupted."""


class _Malformed(ValueError):
    """An impossible structure in a header (internal: becomes a CorruptCheckpointError)."""


def _is_path(f: Any) -> bool:
    return isinstance(f, str | os.PathLike)


# --- saving ---------------------------------------------------------------------------------------
class _Encoder:
    """Turns ``obj`` into a JSON tree, collecting arrays into ``self.arrays`` (name -> array)."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}
        self._active: set[int] = set()

    def node(self, x: Any, path: str, depth: int = 0) -> Any:
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
                    "requires_grad": x.requires_grad, "device": str(x.device)}
            if isinstance(x, Parameter):
                node["parameter"] = True
            return node
        if isinstance(x, np.ndarray):
            return {"$t": "ndarray", "ref": self._array(x, x, path), "device": "cpu"}
        if type(x).__module__.startswith("cupy"):
            return {"$t": "ndarray", "ref": self._array(x, x.get(), path),
                    "device": f"cuda:{x.device.id}"}
        if isinstance(x, list | tuple | dict):
            return self._container(x, path, depth)
        raise TypeError(f"save: cannot save {path} of type {type(x).__name__}; a checkpoint holds "
                        "Tensors, NumPy/CuPy arrays, numbers, strings, bools, None and "
                        "dicts/lists/tuples of them (convert it to those first)")

    def _container(self, x: list | tuple | dict, path: str, depth: int) -> Any:
        if id(x) in self._active:
            raise ValueError(f"save: {path} contains itself (a circular reference)")
        if depth >= _MAX_DEPTH:
            raise ValueError(f"save: {path[:200]}... is nested more than {_MAX_DEPTH} levels deep; "
                             "flatten the structure")
        self._active.add(id(x))
        try:
            if isinstance(x, list):
                return [self.node(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(x)]
            if isinstance(x, tuple):
                return {"$t": "tuple", "v": [self.node(v, f"{path}[{i}]", depth + 1)
                                             for i, v in enumerate(x)]}
            return {"$t": "dict", "v": [[self.key(k, path, depth + 1),
                                         self.node(v, f"{path}[{k!r}]", depth + 1)]
                                        for k, v in x.items()]}
        finally:
            self._active.discard(id(x))

    def key(self, k: Any, path: str, depth: int) -> Any:
        if k is None or isinstance(k, bool | int | float | str | np.generic):
            return self.node(k, path, depth)
        if isinstance(k, tuple):
            if depth >= _MAX_DEPTH:
                raise ValueError(f"save: {path} has a key nested more than {_MAX_DEPTH} levels "
                                 "deep")
            return {"$t": "tuple", "v": [self.key(v, path, depth + 1) for v in k]}
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


def _serialize(obj: Any) -> list:
    """The chunks of bytes of the file holding ``obj``."""
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
    return [len(header).to_bytes(8, "little"), header, *chunks]


def save(obj: Any, f: FileLike, pickle_module: Any = None, pickle_protocol: Any = None) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of Tensors, NumPy/CuPy arrays, NumPy scalars,
    ints, floats, strings, bools and None) to ``f`` as one safetensors file, as ``torch.save``.

    ``f`` is a path (``str`` / ``os.PathLike``) or a binary file object opened for writing
    (``io.BytesIO``, ``open(p, "wb")``; written at its position, left open, as in PyTorch).

    Types come back as they went in: int vs float, tuple vs list, int vs str dict keys, Tensor
    (with ``requires_grad`` and its device; ``nn.Parameter`` stays a Parameter) vs array, and every
    dtype (big-endian arrays come back native). Dict subclasses (``OrderedDict``) come back as
    dicts and namedtuples as tuples. Gradients and the autograd graph are not saved.

    A path is written atomically: to a temporary file ``.NAME.PID-XXXX.tmp`` in the same
    directory, flushed and fsynced, then renamed over ``path`` (and the directory fsynced), so a
    crash leaves the old file or the new one, never a mix, and a failed save leaves the old file
    untouched. A successful save removes the temporary files of earlier saves to the same path
    that were cut off (by a crash or a kill). A symlink is written through (its target is
    replaced). Only regular files are replaced: pass an open file object to write elsewhere.

    Raises:
        TypeError: naming the offending entry, for an object or dtype that cannot be stored, or
            for an ``f`` that is neither a path nor a binary file object.
        ValueError: for a circular or too deeply nested ``obj``, for ``pickle_module`` /
            ``pickle_protocol`` (gradflow never pickles), or when ``f`` names a device or FIFO.
        IsADirectoryError, FileNotFoundError: when ``f`` is a directory or its directory is
            missing.
    """
    if pickle_module is not None or pickle_protocol is not None:
        raise ValueError("save: pickle_module/pickle_protocol are not supported: gradflow never "
                         "pickles; it writes safetensors + JSON (leave these arguments out)")
    if _is_path(f):
        path = _target_path(f)  # path errors before the (possibly long) serialization
        _atomic_write(path, _serialize(obj))
        return
    write = _writer(f)
    for chunk in _serialize(obj):
        _write_all(write, chunk)
    flush = getattr(f, "flush", None)
    if callable(flush):
        flush()


def _writer(f: Any) -> Callable:
    if isinstance(f, _pyio.TextIOBase):
        raise TypeError("save: f is a text-mode file; open it in binary mode ('wb')")
    write = getattr(f, "write", None)
    if not callable(write):
        raise TypeError(f"save: f must be a file path (str or os.PathLike) or a binary file "
                        f"object with a write method, got {type(f).__name__}")
    return write


def _write_all(write: Callable, chunk: Any) -> None:
    view = memoryview(chunk).cast("B")
    while len(view):
        n = write(view)
        if n is None or n >= len(view):  # buffered writers write everything, raw ones may not
            return
        view = view[n:]


_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")


def _target_path(f: str | os.PathLike, who: str = "save") -> str:
    """The file a save to ``f`` replaces, checked: a regular file (or nothing) in a directory."""
    path = os.fspath(f)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.islink(path):  # replace the target, not the link, as open(path, "wb") would
        path = os.path.realpath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{who}: {path!r} is a directory; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{who}: {path!r} is {_kind(st.st_mode)}, not a regular file; gradflow "
                         "replaces checkpoint files atomically, so a path must name a regular "
                         "file (to write to it anyway: with open(path, 'wb') as f: "
                         "gf.save(obj, f))")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{who}: the directory of {path!r} does not exist; create "
                                f"{directory!r} first")
    return path


# Temporary files: ".NAME.PID-HEX.tmp" (".NAME.HEX.tmp" from gradflow before 2026-12).
_IN_FLIGHT: set[str] = set()  # names of this process's temporary files being written
_GRACE_S = 60.0  # a dead process's temporary file younger than this is left alone
_UNKNOWN_S = 3600.0  # ... one with no process id in its name, younger than this
_ANCIENT_S = 86400.0  # older than this, any temporary file of the path is stale


@contextlib.contextmanager
def _temporary(path: str):
    """A fresh temporary file name next to ``path``; the file is removed if the block fails."""
    directory = os.path.dirname(os.path.abspath(path))
    name = f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
    tmp = os.path.join(directory, name)
    _IN_FLIGHT.add(name)
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _IN_FLIGHT.discard(name)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def _clean_stale_temps(path: str) -> None:
    """Remove the temporary files that earlier, interrupted saves to ``path`` left behind: this
    process's (not being written), a dead process's (after a minute) and any older than a day."""
    directory, base = os.path.split(os.path.abspath(path))
    pattern = re.compile(rf"\.{re.escape(base)}\.(?:(\d+)-)?[0-9a-f]{{12}}\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now, me = time.time(), os.getpid()
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or name in _IN_FLIGHT:
            continue
        full = os.path.join(directory, name)
        pid = None if m.group(1) is None else int(m.group(1))
        if pid != me:
            try:
                age = now - os.lstat(full).st_mtime
            except OSError:
                continue
            stale = age > _ANCIENT_S or (age > _UNKNOWN_S if pid is None else
                                         age > _GRACE_S and not _pid_alive(pid))
            if not stale:
                continue
        with contextlib.suppress(OSError):
            os.unlink(full)


def _fsync_directory(directory: str) -> None:
    if os.name != "posix":
        return
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    except OSError:  # some filesystems refuse to fsync a directory
        pass
    finally:
        os.close(dfd)


def atomic_write(path: str | os.PathLike, data: bytes | str | Iterable[bytes], *,
                 who: str = "atomic_write") -> str:
    """Replace the file ``path`` by ``data`` (bytes, text as UTF-8, or an iterable of byte
    chunks) atomically; return the path written.

    The data goes to a temporary file in the same folder, is fsynced and renamed over ``path``
    (the folder is fsynced too), so a reader or a crash sees the old file or the new one, never
    a part; an existing file keeps its permissions; stale temporary files of dead writers are
    removed. Every gradflow writer (checkpoints, configs, results, plots, graphs) uses it.
    Errors name ``who``: a missing folder is a FileNotFoundError, a directory an
    IsADirectoryError.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
    path = _target_path(path, who)
    _atomic_write(path, chunks)
    return path


def _atomic_write(path: str | os.PathLike, chunks: Iterable) -> None:
    """Replace the file ``path`` by ``chunks`` atomically (see :func:`save`)."""
    path = _target_path(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    with _temporary(path) as tmp:
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):  # keep the old permissions
                with contextlib.suppress(OSError):
                    os.fchmod(f.fileno(), mode)
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    _fsync_directory(os.path.dirname(os.path.abspath(path)))
    _clean_stale_temps(path)


# --- loading: where the arrays go -----------------------------------------------------------------
def _canonical(place: Any, what: str) -> str:
    """``place`` (a device string or gf.device) as ``"cpu"`` or ``"cuda:N"``."""
    if not isinstance(place, str):
        raise TypeError(f"load: {what} must be a device string such as 'cpu' or 'cuda:0' or a "
                        f"gf.device, got {type(place).__name__}")
    if place.strip().lower() == "auto":
        return "cuda:0" if cuda.is_available() else "cpu"
    try:
        dev = _device(place)
    except RuntimeError as exc:
        raise RuntimeError(f"load: {what} {place!r} is not a device ({exc}); use 'cpu', 'cuda' "
                           "or 'cuda:N'") from None
    return "cuda:0" if dev == "cuda" else str(dev)


class _Mapper:
    """``map_location``: where a tensor saved on a device is loaded (PyTorch's forms)."""

    def __init__(self, map_location: Any):
        self.every: str | None = None
        self.table: dict[str, str] = {}
        self.fn: Callable | None = None
        if map_location is None:
            pass
        elif isinstance(map_location, str):  # gf.device is a str
            self.every = _canonical(map_location, "map_location")
        elif isinstance(map_location, dict):
            self.table = {_canonical(k, "a map_location key"): _canonical(v, "a map_location value")
                          for k, v in map_location.items()}
        elif callable(map_location):
            self.fn = map_location
        else:
            raise TypeError("load: map_location must be a device string ('cpu', 'cuda:0'), a "
                            "gf.device, a dict {saved_device: device} or a callable "
                            f"(tensor, saved_device) -> Tensor or None; got "
                            f"{type(map_location).__name__}")

    def target(self, saved: str) -> str:
        return self.every or self.table.get(saved, saved)

    def call(self, t: Tensor, saved: str, name: str) -> Tensor | None:
        out = self.fn(t, saved)
        if out is not None and not isinstance(out, Tensor):
            raise TypeError(f"load: map_location returned {type(out).__name__} for a tensor saved "
                            f"on {saved!r} of {name!r}; it must return a Tensor (e.g. "
                            "tensor.cuda(1)) or None (to load it on its saved device)")
        return out


def _backend_for(target: str, saved: str, name: str) -> Any:
    """The backend of ``target`` (None: the host); PyTorch's errors when it cannot be used."""
    if target == "cpu":
        return None
    if not cuda.is_available():
        raise RuntimeError(f"load: {name!r} holds a tensor saved on {saved!r}: attempting to "
                           f"deserialize it on the CUDA device {target!r} but "
                           f"gf.cuda.is_available() is False ({cuda.unavailable_reason()}). On a "
                           "CPU-only machine pass map_location='cpu' (or gf.device('cpu')) to load "
                           "it onto the CPU")
    index, count = int(target.partition(":")[2]), cuda.device_count()
    if index >= count:
        raise RuntimeError(f"load: {name!r} holds a tensor saved on {saved!r}: attempting to "
                           f"deserialize it on CUDA device {index} but gf.cuda.device_count() is "
                           f"{count}; pass map_location (e.g. {{{saved!r}: 'cuda:0'}}) to map it "
                           "to an existing device")
    return get_backend(target)


# --- loading: reading and checking the header -----------------------------------------------------
def _sniff(head: bytes) -> str:
    """What a file that is not a safetensors file seems to be, for the error message."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it looks like a Python pickle (e.g. from pickle.dump); gradflow never unpickles"
    if head[:4] == b"PK\x03\x04":
        return "it is a zip archive (e.g. from torch.save or numpy.savez)"
    if head[:6] == b"\x93NUMPY":
        return "it is a NumPy .npy file"
    return "it is not a safetensors file"


def _check_regular(st: os.stat_result, path: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"load: {path!r} is a directory, not a checkpoint file")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path!r} is not a gradflow checkpoint: it is "
                              f"{_kind(st.st_mode)}, not a regular file (gf.load reads regular "
                              "files and open binary file objects)")


def _open_regular(path: str) -> tuple[IO[bytes], int]:
    """(an unbuffered reader of the regular file ``path``, its size); refuses directories,
    FIFOs, devices and sockets without blocking on them."""
    _check_regular(os.stat(path), path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO put there since the stat won't hang
    try:
        st = os.fstat(fd)
        _check_regular(st, path)
        return os.fdopen(fd, "rb", buffering=0), st.st_size
    except BaseException:
        os.close(fd)
        raise


def _remaining(f: Any) -> int | None:
    """The bytes left in the file object ``f`` from its position, or None when unknown."""
    try:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None  # a pipe, a terminal, a device: read it as a stream
    except (AttributeError, OSError, ValueError, TypeError):
        pass
    try:
        if not f.seekable():
            return None
        pos = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(pos)
        return max(0, end - pos)
    except (AttributeError, OSError, ValueError, TypeError):
        return None


class _Reader:
    """Reads ``f`` in bounded pieces, never past ``left`` bytes (None: unknown, read to EOF)."""

    def __init__(self, f: Any, left: int | None):
        self.f, self.left = f, left
        self._readinto = getattr(f, "readinto", None)

    def read(self, n: int) -> bytearray:
        """Up to ``n`` bytes (fewer only at the end of the file)."""
        if self.left is not None:
            n = min(n, self.left)
        if self.left is not None and callable(self._readinto):
            out = bytearray(n)  # bounded by the file's size
            got = 0
            with memoryview(out) as view:
                while got < n:
                    k = self._readinto(view[got:])
                    if not k:
                        break
                    got += k
            del out[got:]
        else:
            out = bytearray()
            while len(out) < n:
                chunk = self.f.read(min(n - len(out), _DATA_CHUNK))
                if not chunk:
                    break
                if not isinstance(chunk, bytes | bytearray | memoryview):
                    raise TypeError(f"load: f.read() returned {type(chunk).__name__}, not bytes; "
                                    "open the file in binary mode ('rb')")
                out += chunk
        if self.left is not None:
            self.left -= len(out)
        return out


def _json(text: bytes | str) -> Any:
    """JSON without duplicate keys, NaN/Infinity literals or deep nesting surprises."""
    def pairs(items: list) -> dict:
        out = dict(items)
        if len(out) != len(items):
            seen = set()
            dup = next(k for k, _ in items if k in seen or seen.add(k))
            raise _Malformed(f"its header has the key {dup!r} twice")
        return out

    def constant(word: str) -> Any:
        raise _Malformed(f"its header holds the non-JSON literal {word}")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def _read_header(r: _Reader, name: str) -> dict:
    """The JSON header, read in 1 MiB pieces that must be text (so a large binary file is
    refused after its first MiB)."""
    size = r.left
    head = r.read(9)
    if len(head) < 9:
        raise CheckpointError(f"{name!r} is not a gradflow checkpoint: it is only {len(head)} "
                              "bytes long")
    n = int.from_bytes(head[:8], "little")
    if head[8:9] != b"{" or n < 2 or n > _MAX_HEADER:
        raise CheckpointError(f"{name!r} is not a gradflow checkpoint: {_sniff(bytes(head[:8]))}")
    if size is not None and 8 + n > size:
        raise CorruptCheckpointError(f"{name!r} is truncated: its header needs {n} bytes but "
                                     f"only {size - 8} follow the length field")
    parts, need = [bytes(head[8:])], n - 1
    while need:
        chunk = r.read(min(need, _HEADER_CHUNK))
        if not chunk:
            raise CorruptCheckpointError(f"{name!r} is truncated: its header needs {n} bytes but "
                                         f"only {n - need} follow the length field")
        bad = _BINARY.search(chunk)
        if bad:
            raise CheckpointError(f"{name!r} is not a gradflow checkpoint: its header is not "
                                  f"JSON text (binary byte 0x{chunk[bad.start()]:02x} at offset "
                                  f"{8 + n - need + bad.start()}); {_sniff(bytes(head[:8]))}")
        parts.append(bytes(chunk))
        need -= len(chunk)
    try:
        header = _json(b"".join(parts).decode("utf-8"))
    except _Malformed as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: its header is not valid JSON "
                                     f"({exc})") from None
    return header  # a dict: the text starts with "{"


def _check_entries(entries: dict) -> int:
    """Validate the safetensors entry table; return the number of array bytes it describes."""
    spans = []
    for key, e in entries.items():
        ok = isinstance(e, dict) and set(e) == {"dtype", "shape", "data_offsets"}
        if ok and e["dtype"] not in _DTYPES:
            raise _Malformed(f"entry {key!r} has the unknown dtype {e['dtype']!r}")
        if ok:
            shape, offsets = e["shape"], e["data_offsets"]
            ok = isinstance(shape, list) and len(shape) <= _MAX_NDIM and \
                isinstance(offsets, list) and len(offsets) == 2 and \
                all(type(s) is int and s >= 0 for s in [*shape, *offsets])
        if not ok:
            raise _Malformed(f"bad entry {key!r}: {str(e)[:200]}")
        begin, end = offsets
        nbytes = math.prod(shape) * _DTYPES[e["dtype"]].itemsize
        if end - begin != nbytes:
            raise _Malformed(f"entry {key!r} of shape {shape} and dtype {e['dtype']} needs "
                             f"{nbytes} bytes but its data_offsets {offsets} span {end - begin}")
        spans.append((begin, end, key))
    spans.sort()
    expected = 0
    for begin, end, key in spans:
        if begin != expected:
            raise _Malformed(f"array data is not contiguous (entry {key!r} starts at byte "
                             f"{begin}, expected {expected})")
        expected = end
    return expected


_LEAVES = {"tensor": ("ref", "requires_grad"), "ndarray": ("ref",), "npscalar": ("ref",)}


class _TreeCheck:
    """Validates the tree against the entry table before any array byte is read; collects the
    devices the tensors and arrays were saved on."""

    def __init__(self, entries: dict):
        self.entries = entries
        self.devices: set[str] = set()

    def node(self, x: Any, depth: int = 0, key: bool = False) -> None:
        if x is None or isinstance(x, bool | int | float | str):
            return
        if depth >= _MAX_DEPTH:
            raise _Malformed(f"its structure is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(x, list) and not key:
            for v in x:
                self.node(v, depth + 1)
            return
        tag = x.get("$t") if isinstance(x, dict) else None
        allowed = ("tuple", "float", "npscalar") if key else \
            ("tuple", "dict", "float", "tensor", "ndarray", "npscalar")
        if tag not in allowed:
            what = f"node tag {tag!r}" if tag is not None else f"{type(x).__name__} node"
            raise _Malformed(f"unknown {what}" + (" as a dict key" if key else ""))
        if tag == "tuple" or tag == "dict":
            v = x.get("v")
            if not isinstance(v, list):
                raise _Malformed(f"a {tag} node has no list of values")
            for item in v:
                if tag == "tuple":
                    self.node(item, depth + 1, key)
                    continue
                if not (isinstance(item, list) and len(item) == 2):
                    raise _Malformed("a dict node holds an item that is not a [key, value] pair")
                self.node(item[0], depth + 1, key=True)
                self.node(item[1], depth + 1)
        elif tag == "float":
            if x.get("v") not in _NONFINITE:
                raise _Malformed(f"a float node holds {x.get('v')!r}, not nan, inf or -inf")
        else:
            self.leaf(tag, x)

    def leaf(self, tag: str, x: dict) -> None:
        ref = x.get("ref")
        if not isinstance(ref, str) or ref not in self.entries:
            raise _Malformed(f"a {tag} node refers to the missing entry {ref!r}")
        e = self.entries[ref]
        if tag == "npscalar" and e["shape"] != []:
            raise _Malformed(f"the NumPy scalar {ref!r} has shape {e['shape']}")
        if tag == "tensor":
            rg, param = x.get("requires_grad"), x.get("parameter", False)
            if type(rg) is not bool or type(param) is not bool:
                raise _Malformed(f"the tensor {ref!r} has requires_grad={rg!r}, "
                                 f"parameter={param!r} (expected bools)")
            if rg and _DTYPES[e["dtype"]].kind not in "fcV":
                raise _Malformed(f"the {e['dtype']} tensor {ref!r} requires grad (only floating "
                                 "point tensors can)")
        if tag != "npscalar":
            saved = x.get("device", "cpu")
            if not (isinstance(saved, str) and re.fullmatch(r"cpu|cuda:\d{1,6}", saved)):
                raise _Malformed(f"the {tag} {ref!r} was saved on the unknown device {saved!r}")
            self.devices.add(saved)


# --- loading: building the objects ----------------------------------------------------------------
class _Decoder:
    def __init__(self, buf: bytearray, entries: dict, mapper: _Mapper, backends: dict,
                 name: str):
        self.buf, self.entries, self.mapper, self.backends = buf, entries, mapper, backends
        self.name = name
        self._cache: dict[tuple[str, str], Any] = {}

    def array(self, ref: str) -> np.ndarray:
        e = self.entries[ref]
        dtype = _DTYPES[e["dtype"]]
        begin = e["data_offsets"][0]
        count = math.prod(e["shape"])
        a = np.frombuffer(self.buf, dtype.newbyteorder("<"), count, begin)
        if dtype == np.bool_ and count and a.view(np.uint8).max() > 1:
            raise _Malformed(f"the bool array {ref!r} holds bytes other than 0 and 1")
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
            out = {}
            for k, v in x["v"]:
                k = self.node(k)
                if k in out:
                    raise _Malformed(f"a dict has the key {k!r} twice")
                out[k] = self.node(v)
            return out
        if tag == "float":
            return _NONFINITE[x["v"]]
        key = (tag, x["ref"])
        if key not in self._cache:
            self._cache[key] = self._leaf(tag, x)
        return self._cache[key]

    def _leaf(self, tag: str, x: dict) -> Any:
        a = self.array(x["ref"])
        if tag == "npscalar":
            return a[()]
        saved = x.get("device", "cpu")
        t = None
        if self.mapper.fn is not None:
            t = self.mapper.call(from_numpy(a), saved, self.name)
            if t is None:  # PyTorch: None means "restore on the saved device"
                if saved not in self.backends:
                    self.backends[saved] = _backend_for(saved, saved, self.name)
                backend = self.backends[saved]
                t = from_numpy(a) if backend is None else from_numpy(a).to(backend)
            if tag == "ndarray":
                return t.array
        if tag == "ndarray":
            backend = self.backends[self.mapper.target(saved)]
            return a if backend is None else backend.from_host(a)
        if t is None:
            backend = self.backends[self.mapper.target(saved)]
            t = from_numpy(a) if backend is None else from_numpy(a).to(backend)
        if x.get("parameter"):
            return Parameter(t.detach(), requires_grad=x["requires_grad"])
        return t.detach().requires_grad_(x["requires_grad"])


def _check_flags(pickle_module: Any, weights_only: Any, mmap: Any) -> None:
    if pickle_module is not None:
        raise ValueError(f"load: pickle_module is not supported: gradflow never unpickles; "
                         f"{_SUPPORTED}")
    if weights_only is False:
        raise ValueError("load: weights_only=False is not supported: gradflow never unpickles "
                         f"(a pickle can run any code); {_SUPPORTED}. Leave weights_only out (or "
                         "pass True); to read a torch.save file, load it with torch and save its "
                         "tensors with gf.save or safetensors")
    if weights_only is not None and weights_only is not True:
        raise TypeError(f"load: weights_only must be True (or None), got {weights_only!r}")
    if mmap:
        raise ValueError("load: mmap=True is not supported: gradflow reads the arrays into "
                         "memory to verify the file's SHA-256 checksum; leave mmap out")


def _stream_name(f: Any) -> str:
    name = getattr(f, "name", None)
    if isinstance(name, str):
        return name
    return f"<file descriptor {name}>" if isinstance(name, int) else f"<{type(f).__name__}>"


def load(f: FileLike, map_location: MapLocation = None, pickle_module: Any = None, *,
         weights_only: bool | None = True, mmap: bool | None = None,
         device: Any = None) -> Any:
    """Read back what :func:`save` wrote, as ``torch.load(f, map_location, weights_only=True)``.

    ``f`` is a path (``str`` / ``os.PathLike``) or a binary file object (``io.BytesIO``,
    ``open(p, "rb")``; read from its position, which is left just after the checkpoint, so several
    checkpoints written one after another to one stream load one after another).

    Tensors and arrays go back to the device they were saved on, unless ``map_location`` says:

    - a device (``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'auto'``, ``gf.device('cpu')``): all of them
      go there;
    - a dict ``{saved: device}`` (e.g. ``{'cuda:0': 'cpu'}``): those saved on ``saved`` go to
      ``device``, the others to their saved device;
    - a callable ``fn(tensor, saved_device)`` (``tensor`` on the CPU; PyTorch passes a storage):
      its returned Tensor is used (``lambda t, loc: t`` keeps all on the CPU, ``lambda t, loc:
      t.cuda(1)``), ``None`` means the saved device.

    ``device=`` is gradflow's earlier spelling of ``map_location``. A tensor bound for CUDA where
    CUDA cannot be used is a ``RuntimeError`` (as in PyTorch), raised before the arrays are read.

    Only JSON is parsed and raw bytes are reinterpreted as arrays: nothing in the file is ever
    executed, so ``weights_only=True`` is the only mode (``False`` and ``pickle_module`` are a
    ``ValueError``). The whole header is checked before any array byte is read: a file that is
    not a checkpoint is refused after reading at most its first MiB, a directory, FIFO or device
    without opening it for reading.

    Raises:
        CheckpointError: (a ``ValueError``) naming the file, when it is not a gradflow checkpoint
            (a pickle, a text file, a safetensors file without gradflow metadata, a newer format,
            a FIFO or a device).
        CorruptCheckpointError: naming the file, when it is truncated or corrupted (a bad
            checksum, or an impossible structure: bad offsets, shapes that do not match their
            bytes, unknown dtypes or tags, duplicate keys, nesting deeper than 100 levels).
        IsADirectoryError, FileNotFoundError: for a directory or a missing file.
        RuntimeError: for a ``map_location`` or saved device that is not usable here.
        TypeError: for a bad ``map_location`` type, or an ``f`` that is neither a path nor a
            binary file object.
    """
    _check_flags(pickle_module, weights_only, mmap)
    if device is not None:
        if map_location is not None:
            raise TypeError("load: pass map_location or device (its earlier gradflow spelling), "
                            "not both")
        map_location = device
    mapper = _Mapper(map_location)  # a bad map_location fails before the file is touched
    if _is_path(f):
        name = os.fsdecode(os.fspath(f))
        fh, size = _open_regular(name)
        with fh:
            return _load(_Reader(fh, size), name, mapper, whole_file=True)
    if isinstance(f, _pyio.TextIOBase):
        raise TypeError("load: f is a text-mode file; open it in binary mode ('rb')")
    if not callable(getattr(f, "read", None)):
        raise TypeError(f"load: f must be a file path (str or os.PathLike) or a binary file "
                        f"object with a read method, got {type(f).__name__}")
    return _load(_Reader(f, _remaining(f)), _stream_name(f), mapper, whole_file=False)


def _load(r: _Reader, name: str, mapper: _Mapper, whole_file: bool) -> Any:
    header = _read_header(r, name)
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not isinstance(meta.get(_META), str):
        raise CheckpointError(f"{name!r} is a safetensors file but not a gradflow checkpoint (no "
                              f"{_META!r} metadata); read its arrays with "
                              "safetensors.numpy.load_file")
    try:
        info = _json(meta[_META])
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
        nbytes = _check_entries(header)
        check = _TreeCheck(header)
        check.node(tree)
    except _Malformed as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: {exc}") from None
    except RecursionError:
        raise CorruptCheckpointError(f"{name!r} is corrupted: its structure is nested too "
                                     "deeply") from None
    if r.left is not None and r.left < nbytes:
        raise CorruptCheckpointError(f"{name!r} is truncated: its arrays need {nbytes} bytes "
                                     f"after the header, only {r.left} are there")
    if whole_file and r.left is not None and r.left > nbytes:
        raise CorruptCheckpointError(f"{name!r} is corrupted: {r.left - nbytes} unexpected "
                                     "bytes after the array data")
    backends = {}  # where the arrays go, resolved (CUDA errors) before the arrays are read
    if mapper.fn is None:
        for saved in sorted(check.devices):
            target = mapper.target(saved)
            if target not in backends:
                backends[target] = _backend_for(target, saved, name)
    buf = r.read(nbytes)
    if len(buf) < nbytes:
        raise CorruptCheckpointError(f"{name!r} is truncated: its arrays need {nbytes} bytes "
                                     f"after the header, only {len(buf)} are there")
    if meta.get(_DIGEST) != _digest(meta[_META], header, [buf]):
        raise CorruptCheckpointError(f"{name!r} is corrupted: its checksum does not match its "
                                     "contents (the file was changed after it was written)")
    try:
        return _Decoder(buf, header, mapper, backends, name).node(tree)
    except _Malformed as exc:
        raise CorruptCheckpointError(f"{name!r} is corrupted: {exc}") from None


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
