"""Upsert by key as copy-on-write, done by DuckDB over the Parquet files.

The incoming rows are first staged as ordinary data files. DuckDB then finds which
existing files hold a key that is being replaced (a semi-join reading only the key
columns) and streams those files' surviving rows (an anti-join) into new files.
Files without a matching key are kept untouched. DuckDB builds its hash table on the
smaller side and spills past its memory limit, so memory does not grow with the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema

from yiwang.core.lake.scan import parquet_scan, quote_ident
from yiwang.core.lake.storage import duckdb_path

STREAM_ROWS = 128 * 1024


@dataclass
class UpsertPlan:
    """Old files to drop, and the files holding their surviving rows."""

    removed: list[DataFile]
    rewritten: list[DataFile]
    replaced_rows: int


def plan_upsert(
    conn: duckdb.DuckDBPyConnection,
    *,
    schema: Schema,
    key: Sequence[str],
    old_files: Sequence[DataFile],
    new_files: Sequence[DataFile],
    write_survivors: Callable[[pa.RecordBatchReader], list[DataFile]],
) -> UpsertPlan:
    """Work out the copy-on-write rewrite for upserting ``new_files`` into ``old_files``."""
    missing = [k for k in key if k not in {f.name for f in schema.fields}]
    if not key or missing:
        raise ValueError(f"upsert needs key columns present in the table; missing: {missing or 'no key given'}")
    new_paths = [duckdb_path(f.file_path) for f in new_files]
    keys = ", ".join(quote_ident(k) for k in key)
    incoming = f"(SELECT {keys} FROM {parquet_scan(new_paths, schema)})"
    _refuse_duplicate_keys(conn, incoming, keys)
    if not old_files or not new_files:
        return UpsertPlan([], [], 0)

    match = " AND ".join(f"o.{quote_ident(k)} IS NOT DISTINCT FROM n.{quote_ident(k)}" for k in key)
    by_path = {duckdb_path(f.file_path): f for f in old_files}
    old_scan = parquet_scan(list(by_path), schema, filename=True)
    hits = conn.execute(
        f"SELECT o.filename, count(*) FROM {old_scan} o SEMI JOIN {incoming} n ON {match} GROUP BY o.filename"
    ).fetchall()
    if not hits:
        return UpsertPlan([], [], 0)
    affected = [by_path[path] for path, _ in hits]
    survivors = conn.sql(
        f"SELECT o.* FROM {parquet_scan([duckdb_path(f.file_path) for f in affected], schema)} o "
        f"ANTI JOIN {incoming} n ON {match}"
    ).to_arrow_reader(STREAM_ROWS)
    rewritten = write_survivors(survivors)
    return UpsertPlan(affected, rewritten, sum(count for _, count in hits))


def _refuse_duplicate_keys(conn: duckdb.DuckDBPyConnection, incoming: str, keys: str) -> None:
    duplicate = conn.execute(f"SELECT {keys} FROM {incoming} GROUP BY ALL HAVING count(*) > 1 LIMIT 1").fetchone()
    if duplicate is not None:
        raise ValueError(f"upsert data has the key {duplicate} more than once; deduplicate it first")
