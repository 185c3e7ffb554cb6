"""Apply one resource's rules to a stream of raw batches: normalise, validate, split, mask.

``Governor.process`` is called once per batch, in source order (uniqueness is stateful), and
returns the clean rows (typed), the quarantined rows (with every failing rule and the original
values) and the share rows (masked). Nothing is dropped: every input row is either clean or
quarantined.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

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


class Governor:
    """Stateful per-load engine for one resource's rules."""

    def __init__(self, rules: ResourceRules, *, keys: Mapping[str, bytes] | None = None, today: dt.date | None = None,
                 id_regions: np.ndarray | None = None, mask: bool = True, spill_dir: str | None = None) -> None:
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

    def process(self, batch: pa.RecordBatch, *, mask: bool = True, clock=None) -> BatchResult:
        """Govern one batch. ``mask=False`` leaves the share zone to ``self.mask(result.clean_frame)``
        (the pipeline runs it on another thread, overlapping with the next batch)."""
        import time

        clock = clock or time.perf_counter
        t0 = clock()
        frame = pl.from_arrow(batch)
        norm = normalise(frame, self.rules.columns, batch)
        t1 = clock()
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
        t2 = clock()
        accepted = ~failing
        clean_frame = norm.filter(pl.Series(accepted)).with_columns(frame[LINE].filter(pl.Series(accepted)))
        clean = self._clean_batch(clean_frame)
        quarantine = self._quarantine(batch, checks, failing)
        t3 = clock()
        share = self.mask(clean_frame) if mask and self.masker is not None else None
        t4 = clock()
        result = BatchResult(rows=n, clean=clean, quarantine=quarantine, share=share, clean_frame=clean_frame)
        self._count(result, checks, failing, empty, clean_frame)
        result.timings = {"normalise": t1 - t0, "validate": t2 - t1, "split": t3 - t2, "mask": t4 - t3}
        return result

    def mask(self, clean_frame: pl.DataFrame) -> pa.RecordBatch:
        """The share-zone batch for accepted rows (stateless, so it may run on another thread)."""
        if self.masker is None:
            raise ValueError("this governor was built with mask=False")
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
               clean_frame: pl.DataFrame) -> None:
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
        fresh = self.rules.freshness_column
        if fresh and clean_frame.height:
            typed = fresh + TYPED_SUFFIX
            if typed in clean_frame.columns:
                q.add_dates(clean_frame[typed].max())

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()


def _single_batch(table: pa.Table) -> pa.RecordBatch:
    table = table.combine_chunks()
    batches = table.to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in table.schema], schema=table.schema)
