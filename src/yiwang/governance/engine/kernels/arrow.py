"""Arrow string arrays as numpy views (offsets, data, validity) and back, without copies."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_EMPTY_U8 = np.zeros(0, np.uint8)
_EMPTY_BOOL = np.zeros(0, np.bool_)


class Strings:
    """Zero-copy numpy views of a (large_)string/binary Arrow array.

    ``offsets`` (int32 or int64, length n+1, absolute into ``data``), ``data`` (uint8) and
    ``valid`` (bool per row; empty when the array has no nulls).
    """

    __slots__ = ("array", "data", "has_nulls", "n", "offsets", "valid")

    def __init__(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
        kind = array.type
        if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
            width = np.int64
        elif pa.types.is_string(kind) or pa.types.is_binary(kind):
            width = np.int32
        else:
            array = array.cast(pa.large_string())
            width = np.int64
        self.array = array
        self.n = n = len(array)
        buffers = array.buffers()
        size = np.dtype(width).itemsize
        if buffers[1] is None:
            self.offsets = np.zeros(n + 1, width)
        else:
            self.offsets = np.frombuffer(buffers[1], width, n + 1, array.offset * size)
        data = buffers[2]
        self.data = np.frombuffer(data, np.uint8) if data is not None and data.size else _EMPTY_U8
        self.has_nulls = array.null_count > 0
        self.valid = array.is_valid().to_numpy(zero_copy_only=False) if self.has_nulls else _EMPTY_BOOL


def string_array(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An Arrow string array over ``offsets`` (int32 → string, int64 → large_string) and ``data``."""
    n = len(offsets) - 1
    kind = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    validity = None
    null_count = 0
    if valid is not None and len(valid) and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(kind, n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=null_count)


def validity_buffer(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    if valid is None or not len(valid) or valid.all():
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int(len(valid) - np.count_nonzero(valid))
