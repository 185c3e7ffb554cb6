"""Multi-row INSERT straight through the DB-API cursor, for the hot write paths.

SQLAlchemy's executemany compiles the statement, runs every value through the type system
and builds a result object per batch; for the intake's group commits that machinery costs
twice what SQLite itself spends on the rows. This keeps what matters — each column's own
bind processor (UTC datetimes, booleans, encrypted text are stored exactly as the ORM
stores them) and the engine's events (the SQLite writer lock still sees the write) — and
skips the rest: one ``INSERT ... VALUES (...), (...)`` per chunk, the SQL text cached per
dialect, table, columns and chunk size. ``prepare`` does all the Python work, so a caller
can do it before its transaction takes the writer lock and hold the lock only for ``run``.
SQLite and PostgreSQL only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table

MAX_PARAMETERS = 30000  # below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters per statement


@dataclass
class Prepared:
    """Statements and their flat parameter lists, ready to run."""

    columns: tuple[str, ...]
    chunks: list[tuple[str, list[Any]]]
    returning: tuple[str, ...]

    def set_column(self, name: str, values: list[Any]) -> None:
        """Replace one column's values (already in driver form), row by row, e.g. ids known only later."""
        at, width = self.columns.index(name), len(self.columns)
        it = iter(values)
        for _sql, params in self.chunks:
            for row in range(len(params) // width):
                params[row * width + at] = next(it)


@lru_cache(maxsize=256)
def _statement(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: int,
    conflict: tuple[str, ...] | None,
    returning: tuple[str, ...],
) -> str:
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    one = "(" + ", ".join([mark] * len(columns)) + ")"
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) VALUES " + ", ".join([one] * rows)
    if conflict:
        sql += f" ON CONFLICT ({', '.join(map(quote, conflict))}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(map(quote, returning))
    return sql


@lru_cache(maxsize=64)
def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[Callable[[Any], Any] | None, ...]:
    return tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns)


def prepare(
    dialect: Dialect,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    returning: tuple[str, ...] = (),
    conflict_do_nothing: tuple[str, ...] | None = None,
) -> Prepared:
    """The statements inserting ``rows`` (dicts with the same keys), values through each column's processor."""
    if dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk inserts need PostgreSQL or SQLite, not {dialect.name}")
    columns = tuple(rows[0]) if rows else ()
    processors = _processors(dialect, table, columns)
    per_chunk = max(1, MAX_PARAMETERS // max(1, len(columns)))
    chunks: list[tuple[str, list[Any]]] = []
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        params: list[Any] = []
        for row in chunk:
            if len(row) != len(columns):
                raise ValueError(f"every row must give the same columns as the first ({len(columns)})")
            for name, process in zip(columns, processors, strict=True):
                value = row[name]
                params.append(process(value) if process is not None and value is not None else value)
        chunks.append((_statement(dialect, table, columns, len(chunk), conflict_do_nothing, returning), params))
    return Prepared(columns, chunks, returning)


def run(conn: Connection, prepared: Prepared) -> list[tuple[Any, ...]]:
    """Execute prepared inserts; returns the ``returning`` columns of the rows written (driver values;
    with ``conflict_do_nothing``, rows that hit the conflict are not returned)."""
    out: list[tuple[Any, ...]] = []
    for sql, params in prepared.chunks:
        result = conn.exec_driver_sql(sql, tuple(params))
        if prepared.returning:
            out.extend(tuple(r) for r in result.fetchall())
    return out


def insert_values(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    returning: tuple[str, ...] = (),
    conflict_do_nothing: tuple[str, ...] | None = None,
) -> list[tuple[Any, ...]]:
    """``prepare`` and ``run`` in one step."""
    if not rows:
        return []
    return run(conn, prepare(conn.dialect, table, rows, returning=returning, conflict_do_nothing=conflict_do_nothing))
