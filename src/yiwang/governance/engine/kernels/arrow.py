"""Arrow string arrays as numpy views (offsets, data, validity) and back, without copies."""

from __future__ import annotations

from typing import Any

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
        width: type[np.signedinteger[Any]]
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
