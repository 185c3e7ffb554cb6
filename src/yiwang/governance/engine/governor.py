"""Apply one resource's rules to a stream of raw batches: normalise, validate, split, mask.

``Governor.process`` is called once per batch, in source order (uniqueness is stateful), and
returns the clean rows (typed), the quarantined rows (with every failing rule and the original
values) and the share rows (masked). Nothing is dropped: every input row is either clean or
quarantined.

Two implementations give the same results: the compiled path (``fastpath``: numba kernels over
Arrow buffers, used when numba is installed) and the reference path (Polars expressions and
numpy, below), which the compiled path is tested against and falls back to row by row for
whatever its kernels cannot decide. ``Governor(..., kernels=False)`` forces the reference.
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
from .kernels import enabled as kernels_enabled
from .masking import Masker
from .normalise import TYPED_SUFFIX, normalise
from .quality import COLUMN_LEVEL_EXCLUDED, ColumnQuality, QualityAccumulator
from .rules import ResourceRules
from .sources.common import LINE
from .unique import UniqueKeyTracker
from .validate import Check, Validator

FAILURE_TYPE = pa.struct([("rule", pa.string()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())])
_COMPAT = pl.CompatLevel.oldest()  # plain (large_)string arrays: every Parquet/Iceberg writer reads them


@dataclass
class BatchResult:
    rows: int
    clean: pa.RecordBatch
    quarantine: pa.RecordBatch
    share: pa.RecordBatch | None
    clean_frame: pl.DataFrame | None = None  # normalised + typed accepted rows, for deferred masking
    by_rule: Counter = field(default_factory=Counter)  # rows failing each rule
    by_first_rule: Counter = field(default_factory=Counter)  # rows by their first failing rule
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)  # thread CPU seconds per stage
    clean_rows: CleanRows | None = None  # compiled path: the accepted rows, for ``Governor.mask``

    def deferred(self) -> CleanRows | pl.DataFrame | None:
        """What ``Governor.mask`` needs for the share zone, without building a DataFrame."""
        return self.clean_rows if self.clean_rows is not None else self.__dict__.get("_clean_frame")


def _get_clean_frame(self) -> pl.DataFrame | None:
    frame = self.__dict__.get("_clean_frame")
    if frame is None and self.clean_rows is not None:  # compiled path: built on first use
        frame = self.__dict__["_clean_frame"] = self.clean_rows.frame()
    return frame


def _set_clean_frame(self, frame: pl.DataFrame | None) -> None:
    self.__dict__["_clean_frame"] = frame


BatchResult.clean_frame = property(_get_clean_frame, _set_clean_frame)  # type: ignore[assignment]


class Governor:
    """Stateful per-load engine for one resource's rules."""

    def __init__(self, rules: ResourceRules, *, keys: Mapping[str, bytes] | None = None, today: dt.date | None = None,
                 id_regions: np.ndarray | None = None, mask: bool = True, spill_dir: str | None = None,
                 kernels: bool | None = None) -> None:
        self.rules = rules
        self.today = today or dt.date.today()
        self.validator = Validator(rules, today=self.today, id_regions=id_regions)
        self.masker = Masker(rules, keys=dict(keys or {}), today=self.today) if mask else None
        self.trackers = [
            UniqueKeyTracker(
                key,
                exact_resident_id=len(key) == 1 and rules.column(key[0]).kind == "resident_id",
                spill_dir=spill_dir,
            )
            for key in rules.unique_keys
        ]
        self.quality = QualityAccumulator(columns={c.name: ColumnQuality() for c in rules.columns})
        use_kernels = kernels_enabled() if kernels is None else kernels
        self.fast = FastPath(rules, today=self.today, region_codes=self.validator.id_regions) if use_kernels else None
        self.fast_masker = FastMasker(self.masker) if self.fast is not None and self.masker is not None else None

    def process(self, batch: pa.RecordBatch, *, mask: bool = True, clock=None) -> BatchResult:
        """Govern one batch. ``mask=False`` leaves the share zone to ``self.mask(result.clean_frame)``
        (the pipeline runs it on another thread, overlapping with the next batch)."""
        clock = clock or time.perf_counter
        if self.fast is not None:
            return self._process_fast(batch, mask=mask, clock=clock)
        c0, t0 = time.thread_time(), clock()
        frame = pl.from_arrow(batch)
        norm = normalise(frame, self.rules.columns, batch)
        c1, t1 = time.thread_time(), clock()
        checks, empty, derived = self.validator.run(norm)
        n = batch.num_rows
        failing = np.zeros(n, bool)
        for check in checks:
            failing |= check.fails
        for tracker, key in zip(self.trackers, self.rules.unique_keys):
            ids = derived.resident_ids.get(key[0]) if tracker.exact else None
            dup = tracker.duplicates(norm, eligible=~failing, codes=ids.code if ids is not None else None)
            checks.append(Check("unique", key[0], dup))
            self.quality.key_rows += int(np.count_nonzero(~np.any([empty[c] for c in key], axis=0)))
            self.quality.duplicates += int(dup.sum())
        for check in checks[len(checks) - len(self.trackers):]:
            failing |= check.fails
        c2, t2 = time.thread_time(), clock()
        accepted = ~failing
        clean_frame = norm.filter(pl.Series(accepted)).with_columns(frame[LINE].filter(pl.Series(accepted)))
        clean = self._clean_batch(clean_frame)
        quarantine = self._quarantine(batch, checks, failing)
        c3, t3 = time.thread_time(), clock()
        share = self.mask(clean_frame) if mask and self.masker is not None else None
        c4, t4 = time.thread_time(), clock()
        result = BatchResult(rows=n, clean=clean, quarantine=quarantine, share=share, clean_frame=clean_frame)
        latest = None
        fresh = self.rules.freshness_column
        if fresh and clean_frame.height and fresh + TYPED_SUFFIX in clean_frame.columns:
            latest = clean_frame[fresh + TYPED_SUFFIX].max()
        self._count(result, checks, failing, empty, latest)
        result.timings = {"normalise": t1 - t0, "validate": t2 - t1, "split": t3 - t2, "mask": t4 - t3}
        result.cpu_timings = {"normalise": c1 - c0, "validate": c2 - c1, "split": c3 - c2 + time.thread_time() - c4,
                              "mask": c4 - c3}
        return result

    def _process_fast(self, batch: pa.RecordBatch, *, mask: bool, clock) -> BatchResult:
        """``process`` on the compiled path (see ``fastpath``); same result, field for field."""
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
            ids = derived.get(key[0]) if tracker.exact else None
            if ids is not None:
                dup = fast.duplicates(index, ids.code, ~failing)
            else:
                norm = pl.DataFrame([cols[c].series() for c in key])
                dup = tracker.duplicates(norm, eligible=~failing)
            checks.append(Check("unique", key[0], dup))
            self.quality.key_rows += int(np.count_nonzero(~np.any([cols[c].empty for c in key], axis=0)))
            self.quality.duplicates += int(dup.sum())
        for check in checks[len(checks) - len(self.trackers):]:
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
            col = cols[fresh]
            ok = rows[col.days_valid[rows]]
            if ok.size:
                latest = dt.date(1970, 1, 1) + dt.timedelta(days=int(col.days[ok].max()))
        self._count(result, checks, failing, {name: c.empty for name, c in cols.items()}, latest)
        result.timings = {"normalise": t1 - t0, "validate": t2 - t1, "split": t3 - t2, "mask": t4 - t3}
        result.cpu_timings = {"normalise": c1 - c0, "validate": c2 - c1, "split": c3 - c2 + time.thread_time() - c4,
                              "mask": c4 - c3}
        return result

    def mask(self, clean_frame: pl.DataFrame | CleanRows) -> pa.RecordBatch:
        """The share-zone batch for accepted rows (stateless, so it may run on another thread).

        Takes ``BatchResult.clean_frame`` or, cheaper, ``BatchResult.deferred()``."""
        if self.masker is None:
            raise ValueError("this governor was built with mask=False")
        if isinstance(clean_frame, CleanRows):
            return self.fast_masker.apply(clean_frame)
        return _single_batch(self.masker.apply(clean_frame).to_arrow(compat_level=_COMPAT))

    def _clean_batch(self, clean_frame: pl.DataFrame) -> pa.RecordBatch:
        cols = []
        for rule in self.rules.columns:
            typed = rule.name + TYPED_SUFFIX
            cols.append(pl.col(typed).alias(rule.name) if typed in clean_frame.columns else pl.col(rule.name))
        return _single_batch(clean_frame.select([*cols, pl.col(LINE)]).to_arrow(compat_level=_COMPAT))

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
                [pa.array(names[c_idx], pa.string()), pa.array(columns[c_idx], pa.string()),
                 pa.array(values, pa.string()), pa.array(reasons, pa.string())],
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
        names_out = [LINE, "_rule", "_column", "_value", "_reason", "_failures"] + [n for n in batch.schema.names if n != LINE]
        return pa.RecordBatch.from_arrays(lead + source, names=names_out)

    def _count(self, result: BatchResult, checks: list[Check], failing: np.ndarray, empty: dict[str, np.ndarray],
               latest: dt.date | None) -> None:
        q = self.quality
        q.rows += result.rows
        invalid_cells: dict[str, np.ndarray] = {}
        for check in checks:
            count = int(check.fails.sum())
            if count:
                result.by_rule[check.rule] += count
            if check.rule in ("id_birthdate_match", "id_gender_match", "not_after", "not_before", "required_with"):
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
            tracker.close()


def _single_batch(table: pa.Table) -> pa.RecordBatch:
    table = table.combine_chunks()
    batches = table.to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in table.schema], schema=table.schema)
