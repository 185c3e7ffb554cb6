"""Streaming Parquet writer that turns record batches into Iceberg data files.

Batches are buffered only up to one row group, written with PyArrow's ParquetWriter
(which releases the GIL while encoding), and files roll over at a target size, so
memory stays flat however long the stream is. The Iceberg column statistics come
from the Parquet footer that was just written: no second read of the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO, OutputStream
from pyiceberg.io.pyarrow import (
    MetricModeTypes,
    StatisticsCollector,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    match_metrics_mode,
    parquet_path_to_id_mapping,
    schema_to_pyarrow,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.schema import Schema
from pyiceberg.table.locations import LocationProvider
from pyiceberg.typedef import Record
from pyiceberg.types import BinaryType, StringType

FIELD_ID_KEY = b"PARQUET:field_id"
COLUMN_METRICS_PREFIX = "write.metadata.metrics.column."


@dataclass(frozen=True)
class ParquetOptions:
    """How data files are encoded. Defaults were measured on 2 cores (see README.md beside this file)."""

    # zstd level 1 writes ~as fast as snappy/lz4 here and makes files ~45% smaller.
    compression: str = "zstd"
    compression_level: int | None = 1
    # ~256k rows per row group: cheap to buffer, and several groups per file for parallel reads.
    row_group_rows: int = 256 * 1024
    # Copy-on-write upserts rewrite whole files: 128 MB keeps a rewrite local without many tiny files.
    target_file_bytes: int = 128 * 1024 * 1024
    # Dictionary-encode a column only if, in a sample of the first rows, fewer than this share
    # of values are distinct: near-unique columns (ids, phone numbers) skip a costly failed attempt.
    dictionary_max_ratio: float = 0.5  # names, dates, addresses are near-unique: no wasted dictionary attempt
    dictionary_sample_rows: int = 8192
    # Min/max of string columns costs ~25% of write CPU and prunes little in unsorted data:
    # "keys" keeps them for key columns only (and where a table property asks for them).
    string_statistics: Literal["keys", "all"] = "keys"
    write_batch_size: int = 8192  # rows per internal encoding batch; 8x the default measured ~10% cheaper


def statistics_plan(
    schema: Schema, properties: dict[str, str], *, keys: Collection[str], string_statistics: str
) -> dict[int, StatisticsCollector]:
    """Iceberg column metrics to collect: the table's metrics properties, lightened per ``string_statistics``."""
    plan = compute_statistics_plan(schema, properties)
    if string_statistics == "all":
        return plan
    none = match_metrics_mode("none")
    for field_id, column in plan.items():
        if (
            isinstance(column.iceberg_type, (StringType, BinaryType))
            and column.column_name not in keys
            and COLUMN_METRICS_PREFIX + column.column_name not in properties
        ):
            plan[field_id] = replace(column, mode=none)
    return plan


def file_arrow_schema(schema: Schema, incoming: pa.Schema | None = None) -> pa.Schema:
    """Arrow schema of the data files: the table schema with Parquet field ids.

    Where the incoming batches carry the same logical type in another width
    (``string`` rather than ``large_string``), the incoming width is kept so no copy is made.
    """
    target = schema_to_pyarrow(schema, include_field_ids=True)
    if incoming is None:
        return target
    fields = []
    for field in target:
        index = incoming.get_field_index(field.name)
        if index >= 0 and _same_width_family(incoming.field(index).type, field.type):
            field = field.with_type(incoming.field(index).type)
        fields.append(field)
    return pa.schema(fields)


def _same_width_family(have: pa.DataType, want: pa.DataType) -> bool:
    strings: bool = (pa.types.is_string(have) or pa.types.is_large_string(have)) and (
        pa.types.is_string(want) or pa.types.is_large_string(want)
    )
    binaries: bool = (pa.types.is_binary(have) or pa.types.is_large_binary(have)) and (
        pa.types.is_binary(want) or pa.types.is_large_binary(want)
    )
    return strings or binaries


class BatchConformer:
    """Reorders, casts and null-fills incoming batches to the file schema (vectorised, per column)."""

    def __init__(self, target: pa.Schema) -> None:
        self.target = target
        self._plan_for: pa.Schema | None = None
        self._plan: list[int] = []

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        if batch.schema != self._plan_for:
            self._plan = [batch.schema.get_field_index(f.name) for f in self.target]
            self._plan_for = batch.schema
        columns = []
        for field, index in zip(self.target, self._plan):
            if index < 0:
                if not field.nullable:
                    raise ValueError(f"column {field.name!r} is required but missing from the data")
                columns.append(pa.nulls(batch.num_rows, field.type))
                continue
            column = batch.column(index)
            if column.type != field.type:
                column = pc.cast(column, field.type, safe=not pa.types.is_timestamp(field.type))
            columns.append(column)
        if isinstance(batch, pa.Table):
            return pa.Table.from_arrays(columns, schema=self.target)
        return pa.RecordBatch.from_arrays(columns, schema=self.target)


class RollingParquetWriter:
    """Writes a stream of conformed batches into data files of bounded size."""

    def __init__(
        self,
        *,
        io: FileIO,
        locations: LocationProvider,
        schema: Schema,
        file_schema: pa.Schema,
        table_properties: dict[str, str],
        spec_id: int,
        options: ParquetOptions,
        keys: Collection[str] = (),
    ) -> None:
        self._io, self._locations, self._options = io, locations, options
        self._file_schema, self._spec_id = file_schema, spec_id
        self._stats_plan = statistics_plan(
            schema, table_properties, keys=keys, string_statistics=options.string_statistics
        )
        self._column_ids = parquet_path_to_id_mapping(schema)
        self._stats_columns = [
            path
            for path, field_id in self._column_ids.items()
            if self._stats_plan[field_id].mode.type != MetricModeTypes.NONE
        ]
        self._prefix = uuid.uuid4().hex
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._dictionary: list[str] | None = None
        self._stream: OutputStream | None = None
        self._writer: pq.ParquetWriter | None = None
        self._path = ""
        self.data_files: list[DataFile] = []
        self.written_paths: list[str] = []
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        offset = 0
        while offset < batch.num_rows:  # cut big batches so each flush is one row group
            piece = batch.slice(offset, self._options.row_group_rows - self._buffered_rows)
            offset += piece.num_rows
            self._buffer.append(piece)
            self._buffered_rows += piece.num_rows
            if self._buffered_rows >= self._options.row_group_rows:
                self._flush()

    def close(self) -> list[DataFile]:
        """Flush and close the current file; return every data file written."""
        self._flush()
        self._close_file()
        return self.data_files

    def abort(self) -> None:
        """Close open handles after a failure; the files left behind are orphans for ``cleanup``."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                assert self._stream is not None  # opened with the writer
                self._stream.close()
        self._writer = self._stream = None
        self._buffer.clear()

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = pa.Table.from_batches(self._buffer, schema=self._file_schema)
        self._buffer, self._buffered_rows = [], 0
        if self._writer is None:
            self._open_file(table)
        assert self._writer is not None and self._stream is not None  # ``_open_file`` opened both
        self._writer.write_table(table, row_group_size=self._options.row_group_rows)
        self.rows += table.num_rows
        if self._stream.tell() >= self._options.target_file_bytes:
            self._close_file()

    def _open_file(self, sample: pa.Table) -> None:
        if self._dictionary is None:
            self._dictionary = self._dictionary_columns(sample)
        number = len(self.written_paths)
        self._path = self._locations.new_data_location(f"{self._prefix}-{number:05d}.parquet")
        self.written_paths.append(self._path)
        self._stream = self._io.new_output(self._path).create(overwrite=True)
        self._writer = pq.ParquetWriter(
            self._stream,
            self._file_schema,
            compression=self._options.compression,
            compression_level=self._options.compression_level,
            use_dictionary=self._dictionary,
            write_statistics=self._stats_columns,
            write_batch_size=self._options.write_batch_size,
            store_decimal_as_integer=True,
            # malloc rather than Arrow's mimalloc: mimalloc hands freed pages back to the kernel
            # within milliseconds, so every row group faulted (and zeroed) its buffers afresh.
            # This reaches the writer's own buffers; its column encoders take Arrow's default
            # pool, which ``import yiwang`` makes malloc too (``yiwang/__init__.py``).
            memory_pool=pa.system_memory_pool(),
        )

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        assert self._stream is not None  # opened with the writer
        size = self._stream.tell()
        self._stream.close()
        stats = data_file_statistics_from_parquet_metadata(
            parquet_metadata=self._writer.writer.metadata,
            stats_columns=self._stats_plan,
            parquet_column_mapping=self._column_ids,
        )
        self.data_files.append(
            DataFile.from_args(
                content=DataFileContent.DATA,
                file_path=self._path,
                file_format=FileFormat.PARQUET,
                partition=Record(),
                file_size_in_bytes=size,
                sort_order_id=None,
                spec_id=self._spec_id,
                equality_ids=None,
                key_metadata=None,
                **stats.to_serialized_dict(),
            )
        )
        self._writer = self._stream = None

    def _dictionary_columns(self, sample: pa.Table) -> list[str]:
        sample = sample.slice(0, self._options.dictionary_sample_rows)
        limit = self._options.dictionary_max_ratio * sample.num_rows
        chosen = []
        for field, column in zip(sample.schema, sample.columns):
            if pa.types.is_nested(field.type):
                continue
            if pa.types.is_dictionary(field.type) or pc.count_distinct(column).as_py() < limit:
                chosen.append(field.name)
        return chosen
