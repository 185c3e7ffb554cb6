"""A load: several tables (say ``raw``, ``clean`` and ``share``) written together, committed atomically.

Each table's files are staged in parallel (one writer thread per table; PyArrow
releases the GIL while encoding). Only when every table is staged are the new
snapshots committed, all inside one catalog transaction: readers see the old
state of every table or the new state of every table, never a mix.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import pyarrow as pa

from yiwang.core.lake.writes import TableStage, Target, WriteContext, WriteMode


@dataclass(frozen=True)
class LoadResult:
    """What a committed load changed: snapshot ids per table pin the exact version for later reads."""

    load_id: str
    snapshots: dict[str, int | None]
    rows_written: dict[str, int]
    rows_replaced: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Load:
    """Collects batches for several tables; ``commit()`` publishes all of them at once.

    Use as a context manager: leaving the block normally commits, an exception aborts
    (staged files become orphans that ``Lake.cleanup_orphans`` removes).
    """

    def __init__(
        self, ctx: WriteContext, targets: Mapping[str, Target | str | WriteMode], *, load_id: str | None = None
    ) -> None:
        self.load_id = load_id or uuid.uuid4().hex
        self._ctx = ctx
        self._started = time.perf_counter()
        self._stages: dict[str, TableStage] = {}
        try:
            for ident, spec in targets.items():
                self._stages[ident] = TableStage(ctx, ident, Target.of(spec), self.load_id)
        except BaseException:
            self.abort()
            raise
        self._done = False
        self.result: LoadResult | None = None

    def write(
        self, table: str, data: pa.RecordBatch | pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]
    ) -> None:
        """Queue rows for ``table``; blocks briefly when that table's writer is behind (back-pressure)."""
        stage = self._stages.get(table)
        if stage is None:
            raise KeyError(f"{table} is not a target of this load (targets: {', '.join(self._stages)})")
        if isinstance(data, (pa.RecordBatch, pa.Table)):
            stage.put(data)
            return
        for batch in data:
            stage.put(batch)

    def base_snapshot_id(self, table: str) -> int | None:
        """The snapshot ``table``'s write builds on (``None``: empty, or not opened yet)."""
        return self._stages[table].base_snapshot_id

    def commit(self) -> LoadResult:
        """Finish every table's files, then commit all tables in one catalog transaction."""
        if self._done:
            raise RuntimeError("this load is already committed or aborted")
        self._done = True
        try:
            staged = {ident: stage.finish() for ident, stage in self._stages.items()}
            with self._ctx.catalog.atomic():
                # A fixed order means two loads never wait on each other's row locks in a cycle.
                committed = {ident: tx.commit_transaction() for ident, tx in sorted(staged.items()) if tx is not None}
        except BaseException:
            self.abort()
            raise
        snapshots = {}
        for ident in self._stages:
            table = committed.get(ident)
            if table is None and self._ctx.catalog.table_exists(ident):
                table = self._ctx.catalog.load_table(ident)  # untouched by this load
            snapshot = table.current_snapshot() if table is not None else None
            snapshots[ident] = snapshot.snapshot_id if snapshot else None
        return LoadResult(
            load_id=self.load_id,
            snapshots=snapshots,
            rows_written={i: s.rows_in for i, s in self._stages.items()},
            rows_replaced={i: s.rows_replaced for i, s in self._stages.items() if s.target.mode is WriteMode.UPSERT},
            seconds=time.perf_counter() - self._started,
        )

    def abort(self) -> None:
        self._done = True
        for stage in self._stages.values():
            stage.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._done:
            self.result = self.commit()
