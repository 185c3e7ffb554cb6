"""Housekeeping: expire old snapshots, delete files no snapshot references.

A killed or failed write leaves Parquet, manifest and metadata files that no
committed snapshot points to. They are harmless but take space; ``remove_orphans``
deletes those older than a grace period (younger ones may belong to a load in flight).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs
from pyiceberg.table import Table

from yiwang.core.lake.storage import arrow_path


def referenced_files(table: Table) -> set[str]:
    """Every file any snapshot or metadata version of the table still needs (as PyArrow paths)."""
    io = table.io
    refs = {table.metadata_location, *(entry.metadata_file for entry in table.metadata.metadata_log)}
    refs |= {s.statistics_path for s in table.metadata.statistics}
    refs |= {s.statistics_path for s in table.metadata.partition_statistics}
    seen_manifests: set[str] = set()
    for snapshot in table.snapshots():
        refs.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            refs.add(manifest.manifest_path)
            refs |= {e.data_file.file_path for e in manifest.fetch_manifest_entry(io, discard_deleted=True)}
    return {arrow_path(uri) for uri in refs}


def remove_orphans(
    fs: pafs.FileSystem,
    folders: Iterable[str],
    keep: set[str],
    *,
    older_than: timedelta,
    dry_run: bool = False,
) -> list[str]:
    """Delete files under ``folders`` that are not in ``keep`` and older than the grace period."""
    cutoff = datetime.now(UTC) - older_than
    removed = []
    for folder in folders:
        infos = fs.get_file_info(pafs.FileSelector(arrow_path(folder), recursive=True, allow_not_found=True))
        for info in infos:
            if info.type != pafs.FileType.File or info.path in keep:
                continue
            modified = info.mtime
            if modified is not None and modified.replace(tzinfo=modified.tzinfo or UTC) > cutoff:
                continue
            if not dry_run:
                fs.delete_file(info.path)
            removed.append(info.path)
    return removed


def expire_snapshots(table: Table, *, older_than: datetime, retain_last: int = 1) -> list[int]:
    """Forget snapshots older than ``older_than``, keeping the newest ``retain_last`` (and every ref)."""
    ordered = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
    protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
    keep = {s.snapshot_id for s in ordered[-retain_last:]} if retain_last > 0 else set()
    cutoff_ms = int(older_than.timestamp() * 1000)
    expired = [s.snapshot_id for s in ordered if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep | protected]
    if expired:
        table.maintenance.expire_snapshots().by_ids(expired).commit()
    return expired
