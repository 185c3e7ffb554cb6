"""Alembic migrations through one protected path: ``upgrade(engine)`` and ``migrating(engine)``.

One run at a time (a PostgreSQL advisory lock; on SQLite a file lock beside the database), in one
transaction; on SQLite foreign keys are off while tables are rebuilt and checked before the commit.
``yiwang db upgrade``, ``yiwang up`` and Alembic's own command line (``migrations/env.py``) all
come here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from sqlalchemy import Connection, Engine

from yiwang.core import sqlite_tx
from yiwang.core.sqlite_tx import sqlite_file


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    script_location = str(resources.files("yiwang") / "migrations")
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply Alembic migrations up to ``revision``, through the protections of ``migrating()``."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migrating(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


MIGRATION_LOCK_KEY = 0x7969_7761_6E67_0DB0  # PostgreSQL advisory lock held by a running migration
FOREIGN_TABLE_PREFIXES = ("iceberg_",)  # tables other libraries keep in our database (PyIceberg's SqlCatalog)


class MigrationError(RuntimeError):
    """A migration would have left the database inconsistent; nothing of it was committed."""


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate filter (env.py, tests): never propose dropping the lake catalog's tables."""
    if type_ == "table" and reflected and compare_to is None:
        return not (name or "").startswith(FOREIGN_TABLE_PREFIXES)
    return True


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for one migration run, committed when the block ends.

    Only one run at a time (a PostgreSQL advisory lock, on SQLite a file lock beside the database),
    so a second run waits and then finds the database at heads. On SQLite foreign keys are off
    while it runs — SQLite ignores the pragma inside a transaction, and rebuilding a table in
    batch mode drops it, which would cascade-delete its children — and ``foreign_key_check``
    must be clean before the commit; they are on again afterwards, also when the run fails.
    """
    token = sqlite_tx.mostly_reading(False)  # a migration writes: BEGIN IMMEDIATE, behind the writer lock
    try:
        with _migration_file_lock(engine), engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _set_foreign_keys(conn, False)
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":  # before Alembic reads its version table
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
                    yield conn
                    if sqlite:
                        _check_foreign_keys(conn)
            finally:
                if sqlite:
                    _restore_foreign_keys(conn)
    finally:
        sqlite_tx.end_marking(token)


@contextmanager
def _migration_file_lock(engine: Engine) -> Iterator[None]:
    """On a SQLite file, wait for ``<db>-migrate.lock`` (threads and processes alike); elsewhere nothing."""
    import fcntl
    import os

    path = sqlite_file(engine)
    if path is None:
        yield
        return
    fd = os.open(path + "-migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _set_foreign_keys(conn: Connection, on: bool) -> None:
    raw = conn.connection.driver_connection  # outside any transaction (the pragma is ignored inside one)
    assert raw is not None, "a live connection has a driver connection"
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if bool(raw.execute("PRAGMA foreign_keys").fetchone()[0]) != on:
        raise MigrationError(f"could not switch SQLite foreign keys {'on' if on else 'off'} for the migration")


def _restore_foreign_keys(conn: Connection) -> None:
    """Foreign keys on again; a connection where that fails is discarded, never pooled with them off."""
    try:
        _set_foreign_keys(conn, True)
    except Exception:
        conn.invalidate()


def _check_foreign_keys(conn: Connection) -> None:
    rows = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if not rows:
        return
    broken: dict[tuple[str, str], list[int]] = {}
    for table, rowid, parent, _fk in rows:
        broken.setdefault((table, parent), []).append(rowid)
    detail = "; ".join(
        f"{table} rows {', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''} (referring to missing {parent})"
        for (table, parent), ids in broken.items()
    )
    raise MigrationError(f"migration rolled back: it would leave {len(rows)} foreign key violation(s): {detail}")


def current_revisions(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())
