"""One table's part of a write: stage Parquet files on a worker thread, then plan one snapshot.

Nothing here touches the catalog pointer: the staged transaction is committed by
``Load`` together with the other tables of the same load.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from dataclasses import dataclass, field
from enum import StrEnum

import duckdb
import pyarrow as pa
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot

from yiwang.core.lake.catalog import AtomicSqlCatalog
from yiwang.core.lake.parquet import (
    BatchConformer,
    ParquetOptions,
    RollingParquetWriter,
    file_arrow_schema,
)
from yiwang.core.lake.storage import S3Options, register_duckdb_filesystem
from yiwang.core.lake.upsert import plan_upsert

LOAD_ID_PROPERTY = "yiwang.load-id"
_DONE = object()


class WriteMode(StrEnum):
    APPEND = "append"  # add the rows
    REPLACE = "replace"  # the rows become the whole table
    UPSERT = "upsert"  # rows replace those with the same key, others are added


@dataclass(frozen=True)
class Target:
    """How one table of a load is written."""

    mode: WriteMode = WriteMode.APPEND
    key: tuple[str, ...] = ()
    # Declare the schema to create the table even if no batch arrives; else the first batch's is used.
    schema: pa.Schema | None = None
    # How this table's files are encoded in this load (default: the lake's ``ParquetOptions``).
    parquet: ParquetOptions | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", WriteMode(self.mode))
        object.__setattr__(self, "key", tuple(self.key))
        if self.mode is WriteMode.UPSERT and not self.key:
            raise ValueError("an upsert needs key columns")

    @classmethod
    def of(cls, spec: Target | str | WriteMode) -> Target:
        return spec if isinstance(spec, Target) else cls(mode=WriteMode(spec))


@dataclass(frozen=True)
class WriteContext:
    """What every staged write needs from the lake."""

    catalog: AtomicSqlCatalog
    warehouse: str
    s3: S3Options | None = None
    parquet: ParquetOptions = field(default_factory=ParquetOptions)
    duckdb_memory: str = "1GB"
    queue_depth: int = 4

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """An internal (trusted) DuckDB connection for rewrites, spilling to a temp folder."""
        conn = duckdb.connect(
            config={
                "memory_limit": self.duckdb_memory,
                "temp_directory": tempfile.gettempdir() + "/yiwang-duckdb",
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        )
        conn.execute("SET enable_progress_bar = false")
        register_duckdb_filesystem(conn, self.warehouse, self.s3)
        return conn


def normalise_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """Map Arrow types Iceberg lacks onto ones it has (nanosecond time, dictionaries, all-null)."""
    fields = []
    for f in schema:
        kind = f.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_null(kind):
            kind = pa.string()
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            kind = pa.timestamp("us", kind.tz)
        fields.append(pa.field(f.name, kind, f.nullable, f.metadata))
    return pa.schema(fields)


class TableStage:
    """Stages one table's data files from a stream of batches, on its own thread."""

    def __init__(self, ctx: WriteContext, ident: str, target: Target, load_id: str) -> None:
        self.ident, self.target, self.load_id, self._ctx = ident, target, load_id, ctx
        self._tx: Transaction | None = None
        self._queue: queue.Queue[pa.RecordBatch | pa.Table | object] = queue.Queue(maxsize=ctx.queue_depth)  # or _DONE
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._aborted = False
        self._writer: RollingParquetWriter | None = None
        self._conform: BatchConformer | None = None
        self.rows_in = 0
        self.rows_replaced = 0
        if target.schema is not None:
            self._begin(target.schema)

    @property
    def base_snapshot_id(self) -> int | None:
        """The snapshot this table's write builds on (known once the table is opened)."""
        return self._tx.table_metadata.current_snapshot_id if self._tx is not None else None

    # -- feeding --------------------------------------------------------------
    def put(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self._tx is None:
            self._begin(batch.schema)
        self.rows_in += batch.num_rows
        while True:
            self._raise_worker_error()
            try:
                self._queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def _begin(self, incoming: pa.Schema) -> None:
        incoming = normalise_arrow_schema(incoming)
        self._tx = self._load_or_create(incoming).transaction()
        with self._tx.update_schema() as update:
            update.union_by_name(incoming)
        metadata = self._tx.table_metadata
        if not metadata.spec().is_unpartitioned():
            raise NotImplementedError(f"{self.ident} is partitioned; yiwang writes unpartitioned tables only")
        schema = metadata.schema()
        if missing := [k for k in self.target.key if k not in schema.column_names]:
            raise ValueError(f"{self.ident}: key columns {missing} are not in the table")
        file_schema = file_arrow_schema(schema, incoming)
        self._conform = BatchConformer(file_schema)
        self._writer = self._new_writer(file_schema)
        self._thread = threading.Thread(target=self._work, name=f"lake-write-{self.ident}", daemon=True)
        self._thread.start()

    def _load_or_create(self, schema: pa.Schema) -> Table:
        """The table, created empty first if needed.

        Creating it in its own commit (not with the data) lets two loads that both
        create it race safely: the loser just uses the winner's table. An empty new
        table is the same "no data yet" that readers saw before.
        """
        try:
            return self._ctx.catalog.load_table(self.ident)
        except NoSuchTableError:
            pass
        try:
            return self._ctx.catalog.create_table(self.ident, schema=schema)
        except (TableAlreadyExistsError, CommitFailedException):
            return self._ctx.catalog.load_table(self.ident)

    def _new_writer(self, file_schema: pa.Schema) -> RollingParquetWriter:
        metadata = self._tx.table_metadata  # type: ignore[union-attr]
        return RollingParquetWriter(
            io=self._tx._table.io,  # type: ignore[union-attr]
            locations=self._tx._table.location_provider(),  # type: ignore[union-attr]
            schema=metadata.schema(),
            file_schema=file_schema,
            table_properties=metadata.properties,
            spec_id=metadata.default_spec_id,
            options=self.target.parquet or self._ctx.parquet,
            keys=self.target.key,
        )

    def _work(self) -> None:
        try:
            while (item := self._queue.get()) is not _DONE:
                for batch in item.to_batches() if isinstance(item, pa.Table) else (item,):
                    self._writer.write(self._conform(batch))  # type: ignore[misc, union-attr]
            if self._aborted:
                self._writer.abort()  # type: ignore[union-attr]
            else:
                self._writer.close()  # type: ignore[union-attr]
        except BaseException as exc:
            self._error = exc
            self._writer.abort()  # type: ignore[union-attr]
            while self._queue.get() is not _DONE:  # drain so the feeder never blocks
                pass

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"writing {self.ident} failed: {self._error}") from self._error

    # -- finishing ------------------------------------------------------------
    def finish(self) -> Transaction | None:
        """Wait for the files, then stage the snapshot in the (uncommitted) transaction."""
        if self._tx is None:
            if self.target.mode is WriteMode.REPLACE and self._ctx.catalog.table_exists(self.ident):
                self._begin(self._ctx.catalog.load_table(self.ident).schema().as_arrow())
            else:
                return None  # nothing arrived and no schema declared: nothing to do
        self._queue.put(_DONE)
        self._thread.join()  # type: ignore[union-attr]
        self._raise_worker_error()
        self._stage_snapshot(self._writer.data_files)  # type: ignore[union-attr]
        return self._tx

    def abort(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._aborted = True
            self._queue.put(_DONE)
            self._thread.join()

    def _stage_snapshot(self, new_files: list[DataFile]) -> None:
        tx = self._tx
        props = {LOAD_ID_PROPERTY: self.load_id}
        mode = self.target.mode
        if mode is WriteMode.APPEND:
            if new_files:
                # merge_append folds small manifests together (as Iceberg Java does), so
                # planning a read stays cheap after thousands of appends.
                with tx.update_snapshot(snapshot_properties=props).merge_append() as append:  # type: ignore[union-attr]
                    for data_file in new_files:
                        append.append_data_file(data_file)
            return
        old_files = current_data_files(tx)  # type: ignore[arg-type]
        removed, added = old_files, list(new_files)
        if mode is WriteMode.UPSERT:
            removed, rewritten = self._upsert(old_files, new_files)
            added += rewritten
        if not removed and not added:
            return
        with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:  # type: ignore[union-attr]
            overwrite.delete_by_predicate(AlwaysTrue())  # look at every manifest...
            for data_file in removed:  # ...but drop only these files
                overwrite.delete_data_file(data_file)
            for data_file in added:
                overwrite.append_data_file(data_file)

    def _upsert(self, old_files: list[DataFile], new_files: list[DataFile]) -> tuple[list[DataFile], list[DataFile]]:
        schema = self._tx.table_metadata.schema()  # type: ignore[union-attr]

        def write_survivors(reader: pa.RecordBatchReader) -> list[DataFile]:
            writer = self._new_writer(self._conform.target)  # type: ignore[union-attr]
            for batch in reader:
                writer.write(self._conform(batch))  # type: ignore[misc]
            return writer.close()

        with self._ctx.duckdb() as conn:
            plan = plan_upsert(
                conn,
                schema=schema,
                key=self.target.key,
                old_files=old_files,
                new_files=new_files,
                write_survivors=write_survivors,
            )
        self.rows_replaced = plan.replaced_rows
        return plan.removed, plan.rewritten


def current_data_files(tx: Transaction) -> list[DataFile]:
    """Data files of the transaction's base snapshot."""
    return snapshot_data_files(tx._table.io, tx.table_metadata.current_snapshot())


def snapshot_data_files(io: FileIO, snapshot: Snapshot | None) -> list[DataFile]:
    """Data files of a snapshot; refuses merge-on-read delete files, which yiwang never writes."""
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(io):
        if manifest.content != ManifestContent.DATA:
            raise NotImplementedError("table has delete files (merge-on-read by another engine); compact it first")
        files += [
            e.data_file
            for e in manifest.fetch_manifest_entry(io, discard_deleted=True)
            if e.data_file.content == DataFileContent.DATA
        ]
    return files
