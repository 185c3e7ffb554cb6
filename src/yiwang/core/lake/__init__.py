"""Lakehouse access: Iceberg tables in zones, atomic multi-zone loads, time travel, sandboxed SQL.

Quick tour::

    lake = Lake.from_settings(get_settings())
    with lake.load({"raw.population": "append", "clean.population": Target(WriteMode.UPSERT, key=("id",)),
                    "share.population": "replace"}) as load:
        for batch in batches:
            load.write("raw.population", batch)
            ...
    load.result.snapshots                      # pin these to read exactly this load later
    lake.sql("SELECT town, count(*) FROM clean.population GROUP BY town")
    lake.read("clean.population", as_of=date(2026, 1, 31))
"""

from yiwang.core.lake.history import SnapshotInfo
from yiwang.core.lake.lake import ZONES, Lake, parse_table_name
from yiwang.core.lake.loads import Load, LoadResult
from yiwang.core.lake.parquet import ParquetOptions
from yiwang.core.lake.query import QueryError, QueryLimits, QueryResult
from yiwang.core.lake.storage import S3Options
from yiwang.core.lake.writes import Target, WriteMode

__all__ = [
    "ZONES",
    "Lake",
    "Load",
    "LoadResult",
    "ParquetOptions",
    "QueryError",
    "QueryLimits",
    "QueryResult",
    "S3Options",
    "SnapshotInfo",
    "Target",
    "WriteMode",
    "parse_table_name",
]
