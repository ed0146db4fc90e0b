"""Reading IDX files (the MNIST format), raw or gzip-compressed, with validation.

An IDX file is ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the
values, big-endian, in C order.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx"]

_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # not gzip: the raw IDX bytes
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{os.fspath(path)!r}: gzip data is truncated or corrupted "
                         f"({exc})") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file ``path`` (gzip detected by content, not by name).

    Raises:
        ValueError: naming the file, when the magic number is wrong or the size does not match
            the header.
    """
    data = _read_bytes(path)
    name = os.fspath(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{name!r} is not an IDX file: bad magic number {data[:4].hex()!r} "
                         "(expected 0000 then a type byte 08/09/0b/0c/0d/0e and the rank)")
    dtype, ndim = _TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name!r}: IDX header is truncated ({len(data)} bytes, rank {ndim} "
                         f"needs {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", ndim, 4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{name!r}: IDX size mismatch: header says shape {shape} "
                         f"({expected} bytes) but the file holds {len(data)} bytes "
                         f"({'truncated' if len(data) < expected else 'trailing data'})")
    values = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
