"""Building string columns: gather rows, splice in rows computed elsewhere.

Outputs are ``large_string`` (int64 offsets), like the reference path's Polars output.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ._jit import jit
from .arrow import Strings

_U = np.uint64  # array indices cast to unsigned: no negative-index wraparound code per access


@jit
def gather_bytes(offsets, data, rows):
    """Rows ``rows`` (sorted) of a string column: runs of consecutive rows are copied at once."""
    m = rows.shape[0]
    out_off = np.empty(m + 1, np.int64)
    out_off[0] = 0
    total = 0
    for j in range(m):
        r = rows[_U(j)]
        total += offsets[_U(r + 1)] - offsets[_U(r)]
        out_off[_U(j + 1)] = total
    out = np.empty(total, np.uint8)
    j = 0
    while j < m:
        k = j
        while k + 1 < m and rows[_U(k + 1)] == rows[_U(k)] + 1:
            k += 1
        a = offsets[rows[_U(j)]]
        b = offsets[rows[_U(k)] + 1]
        dst = out_off[_U(j)]
        for t in range(b - a):
            out[_U(dst + t)] = data[_U(a + t)]
        j = k + 1
    return out_off, out


@jit
def splice_bytes(base_off, base_data, at, rep_off, rep_data):
    """``base`` with the (empty) rows ``at`` replaced by the rows of ``rep`` in order."""
    m = base_off.shape[0] - 1
    extra = rep_off[rep_off.shape[0] - 1] - rep_off[0]
    out_off = np.empty(m + 1, np.int64)
    out = np.empty(base_off[_U(m)] - base_off[0] + extra, np.uint8)
    out_off[0] = 0
    p = 0
    k = 0
    for r in range(m):
        if k < at.shape[0] and at[_U(k)] == r:
            a = rep_off[_U(k)]
            b = rep_off[_U(k + 1)]
            for t in range(b - a):
                out[_U(p + t)] = rep_data[_U(a + t)]
            p += b - a
            k += 1
        else:
            a = base_off[_U(r)]
            b = base_off[_U(r + 1)]
            for t in range(b - a):
                out[_U(p + t)] = base_data[_U(a + t)]
            p += b - a
        out_off[_U(r + 1)] = p
    return out_off, out


def large_string(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    n = len(offsets) - 1
    validity, nulls = None, 0
    if valid is not None and len(valid) and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(
        pa.large_string(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=nulls
    )


def gather(column: Strings, rows: np.ndarray) -> pa.Array:
    """``column.take(rows)`` as large_string (rows sorted ascending)."""
    offsets, data = gather_bytes(column.offsets, column.data, rows)
    valid = column.valid[rows] if column.has_nulls else None
    return large_string(offsets, data, valid)


def splice(
    base_offsets: np.ndarray,
    base_data: np.ndarray,
    base_valid: np.ndarray | None,
    at: np.ndarray,
    replacement: pa.Array,
) -> pa.Array:
    """A large_string column from kernel output with rows ``at`` taken from ``replacement``."""
    rep = Strings(replacement)
    offsets, data = splice_bytes(base_offsets, base_data, at, rep.offsets, rep.data)
    valid = np.ones(len(base_offsets) - 1, np.bool_) if base_valid is None else base_valid.copy()
    valid[at] = rep.valid if rep.has_nulls else True
    return large_string(offsets, data, valid)
