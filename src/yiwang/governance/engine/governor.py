"""Apply one resource's rules to a stream of raw batches: normalise, validate, split, mask.

``Governor.process`` is called once per batch, in source order (uniqueness is stateful), and
returns the clean rows (typed), the quarantined rows (with every failing rule and the original
values) and the share rows (masked). Nothing is dropped: every input row is either clean or
quarantined.

Each rule runs once, on the compiled path (``fastpath``: numba kernels over Arrow buffers);
``tests/governance/engine/engine_oracle.py`` is the plain reference it is tested against.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from .fastpath import CleanRows, FastMasker, FastPath
from .masking import Masker
from .quality import COLUMN_LEVEL_EXCLUDED, ColumnQuality, QualityAccumulator
from .refdata import region_codes
from .rules import CROSS_FIELD_RULES, ResourceRules
from .sources.common import LINE
from .unique import UniqueKeyTracker
from .validate import Check

FAILURE_TYPE = pa.struct(
    [("rule", pa.string()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())]
)


@dataclass
class BatchResult:
    rows: int
    clean: pa.RecordBatch
    quarantine: pa.RecordBatch
    share: pa.RecordBatch | None
    by_rule: Counter = field(default_factory=Counter)  # rows failing each rule
    by_first_rule: Counter = field(default_factory=Counter)  # rows by their first failing rule
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)  # thread CPU seconds per stage
    clean_rows: CleanRows | None = None  # the accepted rows, for ``Governor.mask``

    def deferred(self) -> CleanRows | None:
        """What ``Governor.mask`` needs for the share zone (computed later, on another thread)."""
        return self.clean_rows

    @property
    def clean_frame(self) -> pl.DataFrame | None:
        """The accepted rows as a Polars frame: normalised strings, typed columns, ``_line``."""
        return self.clean_rows.frame() if self.clean_rows is not None else None


class Governor:
    """Stateful per-load engine for one resource's rules."""

    def __init__(
        self,
        rules: ResourceRules,
        *,
        keys: Mapping[str, bytes] | None = None,
        today: dt.date | None = None,
        id_regions: np.ndarray | None = None,
        mask: bool = True,
        spill_dir: str | None = None,
    ) -> None:
        self.rules = rules
        self.today = today or dt.date.today()
        self.masker = Masker(rules, keys=dict(keys or {}), today=self.today) if mask else None
        # one resident-ID column: exact 64-bit codes in the compiled table (``FastPath.duplicates``);
        # any other key: hashed and confirmed against its text (``UniqueKeyTracker``)
        self.trackers = [
            None
            if len(key) == 1 and rules.column(key[0]).kind == "resident_id"
            else UniqueKeyTracker(key, spill_dir=spill_dir)
            for key in rules.unique_keys
        ]
        self.quality = QualityAccumulator(columns={c.name: ColumnQuality() for c in rules.columns})
        self.fast = FastPath(rules, today=self.today, region_codes=region_codes() if id_regions is None else id_regions)
        self.fast_masker = FastMasker(self.masker) if self.masker is not None else None

    def process(self, batch: pa.RecordBatch, *, mask: bool = True, clock=None) -> BatchResult:
        """Govern one batch. ``mask=False`` leaves the share zone to ``self.mask(result.deferred())``
        (the pipeline runs it on another thread, overlapping with the next batch)."""
        clock = clock or time.perf_counter
        fast = self.fast
        c0, t0 = time.thread_time(), clock()
        n = batch.num_rows
        cols = {rule.name: fast.column(rule, batch.column(rule.name)) for rule in self.rules.columns}
        c1, t1 = time.thread_time(), clock()
        checks, derived = fast.checks(cols)
        failing = np.zeros(n, bool)
        for check in checks:
            failing |= check.fails
        for index, (tracker, key) in enumerate(zip(self.trackers, self.rules.unique_keys)):
            if tracker is None:
                dup = fast.duplicates(index, derived[key[0]].code, ~failing)
            else:
                dup = tracker.duplicates(pl.DataFrame([cols[c].series() for c in key]), eligible=~failing)
            checks.append(Check("unique", key[0], dup))
            self.quality.key_rows += int(np.count_nonzero(~np.any([cols[c].empty for c in key], axis=0)))
            self.quality.duplicates += int(dup.sum())
        for check in checks[len(checks) - len(self.trackers) :]:
            failing |= check.fails
        c2, t2 = time.thread_time(), clock()
        rows = np.flatnonzero(~failing)
        lines = batch.column(LINE).take(pa.array(rows, pa.int64()))
        clean = fast.clean_batch(cols, rows, lines)
        quarantine = self._quarantine(batch, checks, failing)
        clean_rows = CleanRows(cols, rows, lines)
        c3, t3 = time.thread_time(), clock()
        share = self.fast_masker.apply(clean_rows) if mask and self.fast_masker is not None else None
        c4, t4 = time.thread_time(), clock()
        result = BatchResult(rows=n, clean=clean, quarantine=quarantine, share=share, clean_rows=clean_rows)
        latest = None
        fresh = self.rules.freshness_column
        if fresh and len(rows) and cols[fresh].days is not None:
            days, valid = cols[fresh].date_days()
            ok = rows[valid[rows]]
            if ok.size:
                latest = dt.date(1970, 1, 1) + dt.timedelta(days=int(days[ok].max()))
        self._count(result, checks, failing, {name: c.empty for name, c in cols.items()}, latest)
        result.timings = {"normalise": t1 - t0, "validate": t2 - t1, "split": t3 - t2, "mask": t4 - t3}
        result.cpu_timings = {
            "normalise": c1 - c0,
            "validate": c2 - c1,
            "split": c3 - c2 + time.thread_time() - c4,
            "mask": c4 - c3,
        }
        return result

    def mask(self, clean: CleanRows) -> pa.RecordBatch:
        """The share-zone batch for accepted rows (stateless, so it may run on another thread):
        takes ``BatchResult.deferred()``."""
        if self.fast_masker is None:
            raise ValueError("this governor was built with mask=False")
        return self.fast_masker.apply(clean)

    def _quarantine(self, batch: pa.RecordBatch, checks: list[Check], failing: np.ndarray) -> pa.RecordBatch:
        rows = np.flatnonzero(failing)
        originals = batch.take(pa.array(rows, pa.int64()))
        matrix = np.stack([c.fails[rows] for c in checks], axis=1) if checks else np.zeros((len(rows), 0), bool)
        first = matrix.argmax(axis=1) if len(rows) else np.zeros(0, np.int64)
        # all failures, row-major: (row, check order)
        r_idx, c_idx = np.nonzero(matrix)
        names = np.array([c.rule for c in checks], dtype=object)
        columns = np.array([c.column for c in checks], dtype=object)
        reasons = np.empty(len(r_idx), dtype=object)
        values = np.empty(len(r_idx), dtype=object)
        column_values = {name: originals.column(name) for name in set(columns.tolist())} if len(rows) else {}
        for j, check in enumerate(checks):
            sel = np.flatnonzero(c_idx == j)
            if sel.size:
                reasons[sel] = check.reasons_at(rows[r_idx[sel]])
                values[sel] = column_values[check.column].take(pa.array(r_idx[sel])).to_numpy(zero_copy_only=False)
        offsets = np.concatenate(([0], np.cumsum(matrix.sum(axis=1)))).astype(np.int32)
        failures = pa.ListArray.from_arrays(
            pa.array(offsets),
            pa.StructArray.from_arrays(
                [
                    pa.array(names[c_idx], pa.string()),
                    pa.array(columns[c_idx], pa.string()),
                    pa.array(values, pa.string()),
                    pa.array(reasons, pa.string()),
                ],
                fields=list(FAILURE_TYPE),
            ),
        )
        first_pos = offsets[:-1]  # the first failure of each row is its first list element
        lead = [
            originals.column(LINE),
            pa.array(names[first], pa.string()) if len(rows) else pa.array([], pa.string()),
            pa.array(columns[first], pa.string()) if len(rows) else pa.array([], pa.string()),
            pa.array(values[first_pos] if len(rows) else [], pa.string()),
            pa.array(reasons[first_pos] if len(rows) else [], pa.string()),
            failures,
        ]
        source = [originals.column(name) for name in batch.schema.names if name != LINE]
        names_out = [LINE, "_rule", "_column", "_value", "_reason", "_failures"] + [
            n for n in batch.schema.names if n != LINE
        ]
        return pa.RecordBatch.from_arrays(lead + source, names=names_out)

    def _count(
        self,
        result: BatchResult,
        checks: list[Check],
        failing: np.ndarray,
        empty: dict[str, np.ndarray],
        latest: dt.date | None,
    ) -> None:
        q = self.quality
        q.rows += result.rows
        invalid_cells: dict[str, np.ndarray] = {}
        for check in checks:
            count = int(check.fails.sum())
            if count:
                result.by_rule[check.rule] += count
            if check.rule in CROSS_FIELD_RULES:
                q.cross_checked += result.rows
                q.cross_failed += count
            elif check.rule not in COLUMN_LEVEL_EXCLUDED:
                invalid_cells[check.column] = invalid_cells.get(check.column, np.zeros(result.rows, bool)) | check.fails
        for name, stats in q.columns.items():
            stats.filled += int((~empty[name]).sum())
            if name in invalid_cells:
                stats.invalid += int(invalid_cells[name].sum())
        if len(checks):
            rows = np.flatnonzero(failing)
            if rows.size:
                matrix = np.stack([c.fails[rows] for c in checks], axis=1)
                firsts = matrix.argmax(axis=1)
                for j, count in zip(*np.unique(firsts, return_counts=True)):
                    result.by_first_rule[checks[int(j)].rule] += int(count)
        q.add_dates(latest)

    def close(self) -> None:
        for tracker in self.trackers:
            if tracker is not None:
                tracker.close()
