"""Table history and time travel: which snapshot was current at a given time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from yiwang.core.lake.writes import LOAD_ID_PROPERTY

AsOf = datetime | date


@dataclass(frozen=True)
class SnapshotInfo:
    """One version of a table, as shown in a history list."""

    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    added_rows: int
    deleted_rows: int
    added_files: int
    deleted_files: int
    total_rows: int
    total_files: int
    load_id: str | None
    is_current: bool


def list_snapshots(table: Table) -> list[SnapshotInfo]:
    """Every snapshot still in the table's metadata, oldest first."""
    current = table.metadata.current_snapshot_id
    infos = [_info(s, s.snapshot_id == current) for s in table.snapshots()]
    return sorted(infos, key=lambda i: (i.committed_at, i.snapshot_id))


def _info(snapshot: Snapshot, is_current: bool) -> SnapshotInfo:
    summary = snapshot.summary

    def number(key: str) -> int:
        return int(summary.get(key, 0) or 0) if summary else 0

    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,
        parent_id=snapshot.parent_snapshot_id,
        committed_at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
        operation=summary.operation.value if summary else "unknown",
        added_rows=number("added-records"),
        deleted_rows=number("deleted-records"),
        added_files=number("added-data-files"),
        deleted_files=number("deleted-data-files"),
        total_rows=number("total-records"),
        total_files=number("total-data-files"),
        load_id=summary.get(LOAD_ID_PROPERTY) if summary else None,
        is_current=is_current,
    )


def resolve_snapshot(table: Table, *, snapshot_id: int | None = None, as_of: AsOf | None = None) -> Snapshot | None:
    """The snapshot to read: the given id, the one current at ``as_of``, or the current one.

    A ``date`` means the end of that day; a naive ``datetime`` is local time. ``None``
    comes back when the table had no data yet at that time.
    """
    if snapshot_id is not None:
        snapshot = table.snapshot_by_id(snapshot_id)
        if snapshot is None:
            raise LookupError(f"{'.'.join(table.name())} has no snapshot {snapshot_id}")
        return snapshot
    if as_of is None:
        return table.current_snapshot()
    inclusive = True
    if not isinstance(as_of, datetime):
        as_of, inclusive = datetime.combine(as_of + timedelta(days=1), time.min), False
    return table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000), inclusive=inclusive)
