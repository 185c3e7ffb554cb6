"""Uniqueness of a key across a whole stream, in bounded and predictable memory.

Semantics: a row is a duplicate when its key equals the key of an EARLIER ACCEPTED row (the
first valid occurrence is kept; later ones are quarantined under ``unique``).

A single resident-ID key never comes here: its exact 64-bit code goes to the compiled table
``kernels.unique.CodeSet`` (8 bytes per slot). Any other key — composite, or one text column —
is tracked here: a 64-bit hash in a numpy open-addressing table (power-of-two slots, load <= 0.7,
doubling), and to stay exact the key text is appended to a temporary file and hash matches are
confirmed against it: 12 bytes per slot plus an 8-byte offset per key (~30 bytes per key in RAM)
and the key bytes on disk. Memory grows with the number of distinct accepted keys, never with
row width.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import polars as pl
import pyarrow as pa

_EMPTY = np.uint64(0)
_MAX_LOAD = 0.7


class _Table:
    def __init__(self, capacity: int = 1 << 16, with_refs: bool = False) -> None:
        self.slots = np.zeros(capacity, np.uint64)
        self.refs = np.full(capacity, -1, np.int32) if with_refs else None
        self.count = 0

    @property
    def mask(self) -> np.uint64:
        return np.uint64(len(self.slots) - 1)

    def nbytes(self) -> int:
        return self.slots.nbytes + (self.refs.nbytes if self.refs is not None else 0)

    def grow_for(self, extra: int) -> None:
        need = self.count + extra
        if need <= _MAX_LOAD * len(self.slots):
            return
        capacity = len(self.slots)
        while need > _MAX_LOAD * capacity:
            capacity *= 2
        used = np.flatnonzero(self.slots != _EMPTY)
        hashes = self.slots[used]
        refs = self.refs[used] if self.refs is not None else None
        self.slots = np.zeros(capacity, np.uint64)
        if self.refs is not None:
            self.refs = np.full(capacity, -1, np.int32)
        self.count = 0
        self.insert(hashes, refs)

    def insert(self, hashes: np.ndarray, refs: np.ndarray | None) -> None:
        """Insert entries known to be absent (equal hashes allowed: they get separate slots)."""
        pos = hashes & self.mask
        pending = np.arange(len(hashes))
        while pending.size:
            p = pos[pending]
            free = self.slots[p] == _EMPTY
            cand = pending[free]
            self.slots[pos[cand]] = hashes[cand]
            if self.refs is not None:
                assert refs is not None  # a table that keeps refs is always given them
                self.refs[pos[cand]] = refs[cand]
                won = self.refs[pos[cand]] == refs[cand]
            else:
                won = self.slots[pos[cand]] == hashes[cand]
            lost = cand[~won]
            pending = pending[~free] if lost.size == 0 else np.concatenate((pending[~free], lost))
            pos[pending] = (pos[pending] + np.uint64(1)) & self.mask
        self.count += len(hashes)

    def lookup(self, hashes: np.ndarray, same_key=None) -> np.ndarray:
        """Index of each hash's matching entry (confirmed by ``same_key(rows, refs)``), or -1."""
        found = np.full(len(hashes), -1, np.int64)
        pos = hashes & self.mask
        active = np.arange(len(hashes))
        while active.size:
            p = pos[active]
            s = self.slots[p]
            hit = s == hashes[active]
            if hit.any() and same_key is not None:
                assert self.refs is not None  # keys are confirmed through refs: only tables that keep them
                rows = active[hit]
                confirmed = same_key(rows, self.refs[p[hit]])
                hit_idx = np.flatnonzero(hit)
                hit[hit_idx[~confirmed]] = False
            found[active[hit]] = p[hit]
            keep = ~hit & (s != _EMPTY)
            active = active[keep]
            pos[active] = (pos[active] + np.uint64(1)) & self.mask
        return found


class _KeyStore:
    """Append-only key texts on disk, for confirming hash matches exactly."""

    def __init__(self, directory: str | None) -> None:
        self._file = tempfile.TemporaryFile(dir=directory, prefix="yiwang-keys-", buffering=0)  # noqa: SIM115 - closed by close()
        self.offsets = np.zeros(1, np.int64)
        self._count = 0

    def append(self, keys: pl.Series) -> np.ndarray:
        """Write a column of key texts in one call; return their reference numbers."""
        arr = keys.to_arrow().cast(pa.large_binary())
        offsets = np.frombuffer(arr.buffers()[1], np.int64, len(arr) + 1, arr.offset * 8)
        data = arr.buffers()[2]
        self._file.seek(0, os.SEEK_END)
        if data is not None:
            self._file.write(memoryview(data)[offsets[0] : offsets[-1]])
        ends = self.offsets[-1] + (offsets[1:] - offsets[0])
        self.offsets = np.concatenate((self.offsets, ends))
        start = self._count
        self._count += len(arr)
        return np.arange(start, self._count, dtype=np.int32)

    def get(self, ref: int) -> bytes:
        begin, end = int(self.offsets[ref]), int(self.offsets[ref + 1])
        return os.pread(self._file.fileno(), end - begin, begin)

    def close(self) -> None:
        self._file.close()


class UniqueKeyTracker:
    """Remembers accepted keys across batches and flags later duplicates."""

    def __init__(self, columns: list[str], *, spill_dir: str | None = None) -> None:
        self.columns = columns
        self.table = _Table(with_refs=True)
        self.store = _KeyStore(spill_dir)

    def duplicates(self, norm: pl.DataFrame, eligible: np.ndarray) -> np.ndarray:
        """Mark duplicates in this batch and remember its accepted keys.

        ``eligible``: rows that pass every other rule (only those can become "the first").
        """
        keys, hashes, present = self._keys(norm)
        dup = np.zeros(norm.height, bool)
        rows = np.flatnonzero(present)
        if rows.size == 0:
            return dup
        h = hashes[rows]
        keys = keys.gather(rows)

        def same_key(local: np.ndarray, refs: np.ndarray) -> np.ndarray:
            return np.array([keys[int(i)].encode() == self.store.get(int(r)) for i, r in zip(local, refs)], bool)

        seen_before = self.table.lookup(h, same_key) >= 0
        # within the batch, the first eligible occurrence of a key wins; later ones are duplicates
        later = np.zeros(rows.size, bool)
        repeated = keys.is_duplicated().to_numpy()
        if repeated.any():
            sub = np.flatnonzero(repeated)
            never = np.iinfo(np.int64).max
            first = (
                pl.DataFrame({"k": keys.gather(sub), "i": sub, "e": eligible[rows][sub] & ~seen_before[sub]})
                .select(pl.col("i").filter(pl.col("e")).min().over("k").fill_null(never))
                .to_series()
                .to_numpy()
            )
            later[sub] = sub > first
        dup[rows] = seen_before | later
        accepted = np.flatnonzero(eligible[rows] & ~dup[rows])
        if accepted.size:
            self.table.grow_for(accepted.size)
            refs = self.store.append(keys.gather(accepted))
            self.table.insert(h[accepted], refs)
        return dup

    def _keys(self, norm: pl.DataFrame) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        """Key text per row, its 64-bit table hash, and whether the key is complete."""
        cols = [pl.col(c) for c in self.columns]
        present = norm.select(pl.all_horizontal([c.is_not_null() & (c.str.len_bytes() > 0) for c in cols]))
        present_np = present.to_series().to_numpy()
        joined = norm.select(pl.concat_str(cols, separator="\x1f").alias("k")).to_series()
        hashes = joined.hash(seed=0x5957).to_numpy().astype(np.uint64)
        hashes[hashes == 0] = 1
        return joined, hashes, present_np

    def close(self) -> None:
        self.store.close()
