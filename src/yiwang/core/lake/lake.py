"""The ``Lake``: one object for the platform's Iceberg tables, their zones, history and SQL."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from yiwang.core.config import Settings
from yiwang.core.lake import maintenance
from yiwang.core.lake.catalog import AtomicSqlCatalog, open_catalog
from yiwang.core.lake.history import (
    AsOf,
    SnapshotInfo,
    list_snapshots,
    resolve_snapshot,
)
from yiwang.core.lake.loads import Load, LoadResult
from yiwang.core.lake.parquet import ParquetOptions
from yiwang.core.lake.query import (
    QueryError,
    QueryLimits,
    QueryResult,
    TableSource,
    run_query,
    stream_query,
)
from yiwang.core.lake.storage import (
    S3Options,
    arrow_filesystem,
    duckdb_path,
    is_s3,
    register_duckdb_filesystem,
    warehouse_uri,
)
from yiwang.core.lake.writes import Target, WriteContext, WriteMode, snapshot_data_files

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

# raw: as received; clean: validated and standardised; share: masked, fit to hand out;
# quarantine: rows that failed validation, kept for the data owner to fix.
ZONES = ("raw", "clean", "share", "quarantine")
SNAPSHOT_CACHE_SIZE = 512  # snapshots whose file lists SQL queries keep at hand
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")  # lower case: SQL names are case-insensitive


def parse_table_name(name: str) -> tuple[str, str]:
    """Split ``zone.table`` and check both parts."""
    zone, _, table = name.partition(".")
    if zone not in ZONES:
        raise ValueError(f"{name!r}: the zone must be one of {', '.join(ZONES)}")
    if not _NAME.match(table):
        raise ValueError(f"{name!r}: table names are lower-case letters, digits and _, starting with a letter")
    return zone, table


class Lake:
    """Iceberg tables in zones, stored in the platform database's catalog and a warehouse folder or bucket."""

    def __init__(
        self,
        db_url: str,
        location: str,
        *,
        s3: S3Options | None = None,
        catalog_name: str = "yiwang",
        parquet: ParquetOptions | None = None,
        work_memory: str = "1GB",
    ) -> None:
        self.location = warehouse_uri(location)
        self.s3 = s3 if is_s3(self.location) else None
        self.catalog: AtomicSqlCatalog = open_catalog(db_url, location, name=catalog_name, s3=self.s3)
        for zone in ZONES:  # an explicit location fixes the layout: <warehouse>/<zone>/<table>/
            self.catalog.create_namespace_if_not_exists(zone, {"location": f"{self.location}/{zone}"})
        self._paths: OrderedDict[str, list[str]] = OrderedDict()
        self._paths_lock = threading.Lock()
        self._ctx = WriteContext(self.catalog, self.location, self.s3, parquet or ParquetOptions(), work_memory)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Lake:
        """The lake described by the platform settings (database URL, lake location, S3 keys)."""
        s3 = S3Options(settings.lake_s3_endpoint, settings.lake_s3_access_key, settings.lake_s3_secret_key)
        return cls(settings.db_url, settings.lake_location, s3=s3, **options)

    def close(self) -> None:
        self.catalog.engine.dispose()

    # -- tables ---------------------------------------------------------------
    def tables(self, zone: str | None = None) -> list[str]:
        """``zone.table`` names, optionally of one zone."""
        zones = [zone] if zone else ZONES
        return sorted(".".join(ident) for z in zones for ident in self.catalog.list_tables(z))

    def exists(self, name: str) -> bool:
        parse_table_name(name)
        return self.catalog.table_exists(name)

    def table(self, name: str) -> Table:
        """The PyIceberg table, for anything this class does not cover."""
        parse_table_name(name)
        return self.catalog.load_table(name)

    def schema(self, name: str) -> pa.Schema:
        return self.table(name).schema().as_arrow()

    def drop(self, name: str) -> None:
        """Remove the table from the catalog (its files go with the next ``cleanup_orphans``)."""
        parse_table_name(name)
        self.catalog.drop_table(name)

    # -- writes ---------------------------------------------------------------
    def load(self, targets: Mapping[str, Target | str | WriteMode], *, load_id: str | None = None) -> Load:
        """Start a multi-table load; its tables are committed together by ``Load.commit()``."""
        for name in targets:
            parse_table_name(name)
        return Load(self._ctx, targets, load_id=load_id)

    def write(
        self,
        name: str,
        data: pa.Table | pa.RecordBatch | pa.RecordBatchReader | Iterable[pa.RecordBatch],
        *,
        mode: WriteMode | str = WriteMode.APPEND,
        key: Iterable[str] = (),
        schema: pa.Schema | None = None,
        load_id: str | None = None,
    ) -> LoadResult:
        """Write one table in one snapshot: ``append``, ``replace``, or ``upsert`` by ``key``."""
        target = Target(mode=WriteMode(mode), key=tuple(key), schema=schema)
        with self.load({name: target}, load_id=load_id) as load:
            load.write(name, data)
        return load.result  # type: ignore[return-value]

    # -- history and time travel ----------------------------------------------
    def history(self, name: str) -> list[SnapshotInfo]:
        """The table's snapshots, oldest first, with row and file counts."""
        return list_snapshots(self.table(name))

    def snapshot_id(self, name: str, *, as_of: AsOf | None = None) -> int | None:
        """Id of the snapshot current at ``as_of`` (now if omitted); ``None`` if the table was empty."""
        snapshot = resolve_snapshot(self.table(name), as_of=as_of)
        return snapshot.snapshot_id if snapshot else None

    def current_snapshots(self, names: Iterable[str]) -> dict[str, int | None]:
        """Current snapshot ids of several tables, read together: a consistent set to pin for later reads."""
        names = list(names)
        for name in names:
            parse_table_name(name)
        tables = self.catalog.load_tables(names)
        return {name: (s.snapshot_id if (s := t.current_snapshot()) else None) for name, t in tables.items()}

    def read_batches(
        self,
        name: str,
        *,
        snapshot_id: int | None = None,
        as_of: AsOf | None = None,
        columns: Iterable[str] = ("*",),
        row_filter: str | None = None,
    ) -> pa.RecordBatchReader:
        """Stream the table as it was at a snapshot or time (now by default)."""
        table = self.table(name)
        snapshot = resolve_snapshot(table, snapshot_id=snapshot_id, as_of=as_of)
        selected = tuple(columns)
        if snapshot is None:  # before the first commit: nothing to read, current columns
            empty = table.schema().as_arrow()
            if selected != ("*",):
                empty = pa.schema([empty.field(c) for c in selected])
            return pa.RecordBatchReader.from_batches(empty, iter(()))
        scan = table.scan(snapshot_id=snapshot.snapshot_id, selected_fields=selected, row_filter=row_filter or "True")
        return scan.to_arrow_batch_reader()

    def read(self, name: str, **options: Any) -> pa.Table:
        """Like ``read_batches`` but collected into one Arrow table."""
        return self.read_batches(name, **options).read_all()

    # -- SQL ------------------------------------------------------------------
    def query(
        self,
        sql: str,
        *,
        as_of: AsOf | None = None,
        snapshots: Mapping[str, int | None] | None = None,
        limits: QueryLimits | None = None,
    ) -> QueryResult:
        """Run one read-only SELECT over ``zone.table`` names; the result says if rows were cut."""
        return run_query(sql, self._resolver(as_of, snapshots), limits or QueryLimits(), self._register_fs)

    def sql(self, sql: str, **options: Any) -> pa.Table:
        """Run one read-only SELECT and return its rows (at most ``limits.max_rows``)."""
        return self.query(sql, **options).table

    def sql_batches(
        self,
        sql: str,
        *,
        as_of: AsOf | None = None,
        snapshots: Mapping[str, int | None] | None = None,
        limits: QueryLimits | None = None,
    ) -> pa.RecordBatchReader:
        """Stream a read-only SELECT's rows (no row cap; the time limit still applies)."""
        return stream_query(
            sql, self._resolver(as_of, snapshots), limits or QueryLimits(max_rows=None), self._register_fs
        )

    def _register_fs(self, conn: DuckDBPyConnection) -> None:
        register_duckdb_filesystem(conn, self.location, self.s3)

    def _resolver(
        self, as_of: AsOf | None, snapshots: Mapping[str, int | None] | None
    ) -> Callable[[list[str]], dict[str, TableSource]]:
        pinned = dict(snapshots or {})

        def resolve(names: list[str]) -> dict[str, TableSource]:
            wanted = [n for n in names if n.partition(".")[0] in ZONES]
            try:
                tables = self.catalog.load_tables(wanted)  # one read: a consistent view across zones
            except NoSuchTableError as exc:
                raise QueryError(str(exc)) from None
            return {name: self._source(table, pinned, name, as_of) for name, table in tables.items()}

        return resolve

    def _source(self, table: Table, pinned: dict[str, int | None], name: str, as_of: AsOf | None) -> TableSource:
        try:
            if name in pinned:
                snapshot = None if pinned[name] is None else resolve_snapshot(table, snapshot_id=pinned[name])
            else:
                snapshot = resolve_snapshot(table, as_of=as_of)
            paths = self._snapshot_paths(table, snapshot)
        except (LookupError, NotImplementedError) as exc:
            raise QueryError(f"{name}: {exc}") from None
        schema = table.schema()
        if snapshot is not None and snapshot.schema_id is not None:
            schema = table.metadata.schema_by_id(snapshot.schema_id) or schema
        return TableSource(schema=schema, paths=paths)

    def _snapshot_paths(self, table: Table, snapshot: Snapshot | None) -> list[str]:
        """Data file paths of a snapshot, cached: a snapshot never changes, and its manifests are many small reads."""
        if snapshot is None:
            return []
        key = snapshot.manifest_list
        with self._paths_lock:
            if key in self._paths:
                self._paths.move_to_end(key)
                return self._paths[key]
        paths = [duckdb_path(f.file_path) for f in snapshot_data_files(table.io, snapshot)]
        with self._paths_lock:
            self._paths[key] = paths
            while len(self._paths) > SNAPSHOT_CACHE_SIZE:
                self._paths.popitem(last=False)
        return paths

    # -- maintenance ----------------------------------------------------------
    def compact(self, name: str, *, parquet: ParquetOptions | None = None) -> LoadResult | None:
        """Rewrite the table's current rows with ``parquet`` (default: the lake's encoding) in one snapshot.

        Loads may write lightly encoded files for speed (the governance load writes its big zones
        uncompressed); this re-encodes them later, off the load's path. Same rows, same schema;
        earlier snapshots, and time travel to them, are untouched until expired. The rewrite reads
        exactly the snapshot it replaces, and the commit requires that snapshot to be still
        current: if a load commits meanwhile, the compaction fails and nothing is lost.
        Returns ``None`` when the table has no rows to rewrite.
        """
        target = Target(mode=WriteMode.REPLACE, schema=self.schema(name), parquet=parquet or self._ctx.parquet)
        load = self.load({name: target})
        base = load.base_snapshot_id(name)
        if base is None:
            load.abort()
            return None
        with load:
            load.write(name, self.read_batches(name, snapshot_id=base))
        return load.result

    def expire_snapshots(self, name: str, *, older_than: datetime, retain_last: int = 1) -> list[int]:
        """Forget old snapshots (time travel to them stops working); returns their ids."""
        return maintenance.expire_snapshots(self.table(name), older_than=older_than, retain_last=retain_last)

    def cleanup_orphans(self, *, older_than: timedelta = timedelta(days=1), dry_run: bool = False) -> list[str]:
        """Delete files in the zone folders that no snapshot references (left by failed or killed loads)."""
        keep: set[str] = set()
        zone_folders = [
            self.catalog.load_namespace_properties(zone).get("location", f"{self.location}/{zone}").rstrip("/")
            for zone in ZONES
        ]
        folders = list(zone_folders)
        for name in self.tables():
            table = self.table(name)
            keep |= maintenance.referenced_files(table)
            if not any(table.location().startswith(z + "/") for z in zone_folders):
                folders.append(table.location())  # a table placed elsewhere by another engine
        fs = arrow_filesystem(self.location, self.s3)
        return maintenance.remove_orphans(fs, folders, keep, older_than=older_than, dry_run=dry_run)
