"""Iceberg SQL catalog with multi-table atomic commits and consistent multi-table reads.

Iceberg commits one table at a time: each commit swaps the table's metadata pointer
(one row of ``iceberg_tables``). A load writes three zones, so three pointers must
move together. Because the SQL catalog keeps all pointers in one database, grouping
the three compare-and-swap updates in one database transaction makes the load
atomic for every reader of the catalog (yiwang, Spark, Trino...), which is what the
Iceberg REST catalog offers as "multi-table transactions". A crash between two
table commits rolls the database transaction back, leaving all pointers as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.update import TableRequirement, TableUpdate
from sqlalchemy import CursorResult, Select, and_, event, insert, or_, select, update
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from yiwang.core.lake.storage import S3Options, fileio_properties, warehouse_uri


class AtomicSqlCatalog(SqlCatalog):
    """A ``SqlCatalog`` whose commits inside ``atomic()`` land together or not at all."""

    def __init__(self, name: str, **properties: str) -> None:
        super().__init__(name, **properties)
        self._local = threading.local()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group every table commit made by this thread into one database transaction."""
        if getattr(self._local, "session", None) is not None:
            yield  # already inside an atomic block: join it
            return
        with Session(self.engine) as session:
            self._local.session = session
            try:
                yield
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                self._local.session = None

    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            return super().commit_table(table, requirements, updates)
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(table.name()))
        name = Catalog.table_name_from(table.name())
        row = session.execute(self._rows_query([(namespace, name)]).with_for_update()).one_or_none()
        current = self._convert_orm_to_iceberg(row) if row else None  # type: ignore[arg-type]
        staged = self._update_and_stage_table(current, table.name(), requirements, updates)
        if current is not None and staged.metadata == current.metadata:
            return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        if current is not None:
            result = session.execute(
                update(IcebergTables)
                .where(
                    IcebergTables.catalog_name == self.name,
                    IcebergTables.table_namespace == namespace,
                    IcebergTables.table_name == name,
                    IcebergTables.metadata_location == current.metadata_location,
                )
                .values(
                    metadata_location=staged.metadata_location,
                    previous_metadata_location=current.metadata_location,
                )
            )
            assert isinstance(result, CursorResult)  # an UPDATE's result, typed as any Result
            if result.rowcount < 1:
                raise CommitFailedException(f"Table has been updated by another process: {namespace}.{name}")
        else:
            try:  # no SAVEPOINT: pysqlite would commit it on release; a failure aborts the whole block anyway
                session.execute(
                    insert(IcebergTables).values(**self._create_table_row(namespace, name, staged.metadata_location))
                )
            except IntegrityError as exc:
                raise TableAlreadyExistsError(f"Table {namespace}.{name} already exists") from exc
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    def load_tables(self, identifiers: Iterable[str]) -> dict[str, Table]:
        """Load several tables from ONE catalog read, so that they come from the same committed state."""
        wanted = {ident: _split_identifier(ident) for ident in identifiers}
        if not wanted:
            return {}
        with Session(self.engine) as session:
            rows = session.execute(self._rows_query(list(wanted.values()))).all()
        by_key = {(r.table_namespace, r.table_name): r for r in rows}
        tables = {}
        for ident, key in wanted.items():
            row = by_key.get(key)
            if row is None:
                raise NoSuchTableError(f"Table does not exist: {ident}")
            tables[ident] = self._convert_orm_to_iceberg(SimpleNamespace(**row._mapping))  # type: ignore[arg-type]
        return tables

    def _rows_query(self, keys: list[tuple[str, str]]) -> Select[str, str, str | None]:
        match = or_(*(and_(IcebergTables.table_namespace == ns, IcebergTables.table_name == n) for ns, n in keys))
        query = select(IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location).where(
            IcebergTables.catalog_name == self.name, match
        )
        if (type_filter := self._iceberg_type_filter()) is not None:
            query = query.where(type_filter)
        return query


def _split_identifier(ident: str) -> tuple[str, str]:
    """``zone.table`` as ``(namespace, name)``."""
    namespace, name = ident.split(".", 1)
    return namespace, name


def open_catalog(db_url: str, location: str, *, name: str = "yiwang", s3: S3Options | None = None) -> AtomicSqlCatalog:
    """Open (and create if needed) the Iceberg catalog stored in the platform's database."""
    catalog = AtomicSqlCatalog(
        name,
        uri=db_url,
        warehouse=warehouse_uri(location),
        init_catalog_tables="true",
        **fileio_properties(s3),
    )
    if catalog.engine.dialect.name == "sqlite":
        event.listen(catalog.engine, "connect", _sqlite_busy_timeout)
        catalog.engine.dispose()  # pooled connections opened before the listener lack the pragma
    return catalog


def _sqlite_busy_timeout(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Wait for a concurrent writer instead of failing at once with 'database is locked'."""
    dbapi_conn.execute("PRAGMA busy_timeout = 30000")
