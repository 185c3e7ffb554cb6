"""Exact whole-stream uniqueness of resident IDs: an open-addressing table of 64-bit codes.

Same semantics as ``unique.UniqueKeyTracker`` (a row is a duplicate when an earlier accepted
row has its key; the first eligible occurrence wins), evaluated in one sequential pass in
source order. 8 bytes per slot, load factor at most 0.75; the table quadruples up to 4 M slots
and doubles after that (32 MB at 2.7 M keys, 128 MB at 10 M); during a resize the old and the
new table coexist for a moment. ~30 ns per key once the table is far larger than the caches.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_U = np.uint64  # array indices cast to unsigned: no negative-index wraparound code per access

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MAX_LOAD = 0.75


@jit(inline="always")
def _slot(key, shift):
    return np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))


@jit
def check_insert(table, shift, codes, eligible):
    """Mark duplicates among ``codes`` (0 = no key) and insert the eligible new ones.

    Returns (dup flags, number inserted). The caller guarantees room for every eligible key.
    """
    n = codes.shape[0]
    dup = np.zeros(n, np.bool_)
    mask = table.shape[0] - 1
    added = 0
    for r in range(n):
        key = codes[_U(r)]
        if key == 0:
            continue
        i = _slot(key, shift)
        while True:
            s = table[_U(i)]
            if s == key:
                dup[_U(r)] = True
                break
            if s == 0:
                if eligible[_U(r)]:
                    table[_U(i)] = key
                    added += 1
                break
            i = (i + 1) & mask
    return dup, added


@jit
def rehash(old, new, shift):
    mask = new.shape[0] - 1
    for k in range(old.shape[0]):
        key = old[_U(k)]
        if key == 0:
            continue
        i = _slot(key, shift)
        while new[_U(i)] != 0:
            i = (i + 1) & mask
        new[_U(i)] = key


class CodeSet:
    """Accepted resident-ID codes of one load."""

    def __init__(self, capacity_bits: int = 16) -> None:
        self.bits = capacity_bits
        self.table = np.zeros(1 << capacity_bits, np.uint64)
        self.count = 0

    def duplicates(self, codes: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        need = self.count + int(np.count_nonzero(eligible & (codes != 0)))
        if need > MAX_LOAD * len(self.table):
            bits = self.bits
            while need > MAX_LOAD * (1 << bits):
                bits += 2 if bits < 22 else 1  # quadruple while small: fewer rehashes of a growing table
            table = np.zeros(1 << bits, np.uint64)
            rehash(self.table, table, np.uint64(64 - bits))
            self.table, self.bits = table, bits
        dup, added = check_insert(self.table, np.uint64(64 - self.bits), codes, eligible)
        self.count += int(added)
        return dup
