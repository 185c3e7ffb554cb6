"""Read-only SQL over the lake for staff: one SELECT, lake files only, bounded rows and time.

Every query runs in a fresh in-memory DuckDB whose only readable files are the data
files of the tables the query names. Before the query runs the connection is locked:
external access off (no other files, no COPY/ATTACH/INSTALL/LOAD), extension
auto-loading off, Python variable lookup off, and ``lock_configuration`` so that no
SET can undo it. The statement kind is checked with DuckDB's own parser.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from pyiceberg.schema import Schema

from yiwang.core.lake.scan import parquet_scan, quote_ident, quote_literal


class QueryError(ValueError):
    """The query was refused or failed; the message is meant for the person who typed it."""


@dataclass(frozen=True)
class QueryLimits:
    max_rows: int | None = 10_000  # rows returned; the result says when it was cut
    timeout_seconds: float | None = 30.0
    memory_limit: str = "1GB"
    spill_limit: str = "10GB"  # temp space for sorts and joins larger than memory
    threads: int | None = None


@dataclass(frozen=True)
class TableSource:
    """What a query sees as one table: a schema and the Parquet files of one snapshot."""

    schema: Schema
    paths: list[str]


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    truncated: bool


Resolver = Callable[[list[str]], Mapping[str, TableSource]]


def check_select(query: str) -> list[str]:
    """Refuse anything but one SELECT; return the ``zone.table`` names it reads."""
    parser = duckdb.connect(config={"enable_external_access": False, "autoload_known_extensions": False})
    try:
        try:
            statements = parser.extract_statements(query)
        except duckdb.Error as exc:
            raise QueryError(f"syntax error: {exc}") from None
        if len(statements) != 1:
            raise QueryError(f"exactly one statement is allowed, got {len(statements)}")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise QueryError(f"only SELECT queries are allowed, not {statements[0].type.name}")
        row = parser.execute("SELECT json_serialize_sql(?::VARCHAR)", [query]).fetchone()
        assert row is not None  # a SELECT of one expression returns one row
        tree = json.loads(row[0])
    finally:
        parser.close()
    if tree.get("error"):
        raise QueryError(f"syntax error: {tree.get('error_message')}")
    return sorted(set(_table_refs(tree)))


def _table_refs(node: object) -> Iterator[str]:
    """Walk DuckDB's parse tree for base-table references that name a schema."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            if node.get("at_clause"):
                raise QueryError("AT (VERSION/TIMESTAMP) is not supported here; use the as_of option")
            if node.get("schema_name"):  # SQL names are case-insensitive; lake names are lower case
                yield f"{node['schema_name']}.{node['table_name']}".lower()
        for value in node.values():
            yield from _table_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _table_refs(value)


class Sandbox:
    """A locked DuckDB connection exposing exactly the given tables as ``zone.table`` views."""

    def __init__(
        self,
        sources: Mapping[str, TableSource],
        limits: QueryLimits,
        register_filesystem: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        config: dict[str, str | bool | int | float | list[str]] = {  # duckdb.connect's config type
            "memory_limit": limits.memory_limit,
            # Big sorts spill here, not into the web process's working folder.
            "temp_directory": tempfile.gettempdir() + "/yiwang-duckdb-sql",
            "max_temp_directory_size": limits.spill_limit,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if limits.threads:
            config["threads"] = limits.threads
        self.conn = duckdb.connect(":memory:", config=config)
        if register_filesystem is not None:
            register_filesystem(self.conn)
        allowed: list[str] = []
        for name, source in sources.items():
            zone, table = name.split(".", 1)
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(zone)}")
            self.conn.execute(
                f"CREATE VIEW {quote_ident(zone)}.{quote_ident(table)} AS SELECT * FROM "
                f"{parquet_scan(source.paths, source.schema)}"
            )
            allowed += source.paths
        self.conn.execute(f"SET allowed_paths = [{', '.join(quote_literal(p) for p in allowed)}]")
        for statement in (
            "SET enable_progress_bar = false",
            "SET python_enable_replacements = false",
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ):
            self.conn.execute(statement)
        self._timer: threading.Timer | None = None
        if limits.timeout_seconds:
            self._timer = threading.Timer(limits.timeout_seconds, self._interrupt)
            self._timer.daemon = True
        self.timeout = limits.timeout_seconds

    def reader(self, query: str, batch_rows: int = 64 * 1024) -> pa.RecordBatchReader:
        """Run the query; stream its result. The connection closes when the stream ends."""
        if self._timer is not None:
            self._timer.start()
        try:
            with _friendly_errors(self.timeout):
                result = self.conn.sql(query).to_arrow_reader(batch_rows)
        except BaseException:
            self.close()
            raise
        return pa.RecordBatchReader.from_batches(result.schema, self._iterate(result))

    def _iterate(self, result: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            with _friendly_errors(self.timeout):
                yield from result
        finally:
            self.close()

    def _interrupt(self) -> None:
        try:
            self.conn.interrupt()
        except duckdb.Error:
            pass  # the query finished and the connection closed meanwhile

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.conn.close()


@contextmanager
def _friendly_errors(timeout: float | None) -> Iterator[None]:
    """Turn DuckDB errors into QueryError messages staff can act on."""
    try:
        yield
    except duckdb.InterruptException:
        raise QueryError(f"query cancelled: it ran longer than {timeout:g} s") from None
    except duckdb.PermissionException as exc:
        raise QueryError(f"not allowed: only lake tables can be read ({_first_line(exc)})") from None
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def run_query(
    query: str,
    resolve: Resolver,
    limits: QueryLimits,
    register_filesystem: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> QueryResult:
    """Run one read-only query and collect at most ``limits.max_rows`` rows."""
    sandbox = Sandbox(resolve(check_select(query)), limits, register_filesystem)
    batches, rows, cap, truncated = [], 0, limits.max_rows, False
    try:
        reader = sandbox.reader(query)
        for batch in reader:
            if cap is not None and rows + batch.num_rows > cap:
                batches.append(batch.slice(0, cap - rows))
                truncated = True
                break
            batches.append(batch)
            rows += batch.num_rows
    finally:
        sandbox.close()
    return QueryResult(table=pa.Table.from_batches(batches, schema=reader.schema), truncated=truncated)


def stream_query(
    query: str,
    resolve: Resolver,
    limits: QueryLimits,
    register_filesystem: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    batch_rows: int = 64 * 1024,
) -> pa.RecordBatchReader:
    """Check, resolve and run a query; stream its result batches."""
    sources = resolve(check_select(query))
    return Sandbox(sources, limits, register_filesystem).reader(query, batch_rows)
