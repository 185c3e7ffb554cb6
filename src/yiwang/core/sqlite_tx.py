"""SQLite transactions for many writers and readers of one file (internal to ``core.db``).

Writers must take the write lock *before* they read, or a writer that committed in between makes
their upgrade fail (SQLITE_BUSY_SNAPSHOT). So transactions start with ``BEGIN IMMEDIATE`` — except
where the context says it mostly reads (``db.reading()``, and every GET/HEAD request through the web
layer): those begin deferred so that pages never wait behind a writer, and if such a transaction
does write (an audit entry for a personal-data read, say) it has written nothing yet, so it is
ended and reopened with ``BEGIN IMMEDIATE`` just before its first write. Writers queue on
``core.writer_lock`` before ``BEGIN IMMEDIATE``, so the write lock passes from one to the next at
once instead of after a busy-handler sleep, and the lock is released only after the dialect's
commit or rollback has really ended the transaction (SQLAlchemy's "commit" event fires before it).

Nothing outside ``core.db`` and the web layer uses this module: services read and write through
``db.reading``, ``db.start_writing``, ``db.commit`` and ``db.unit_of_work``.
"""

from __future__ import annotations

import contextvars
import re
import sqlite3
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from yiwang.core import wal, writer_lock

BUSY_SECONDS = 30.0
_reads_first: contextvars.ContextVar[bool] = contextvars.ContextVar("yiwang_reads_first", default=False)
# A statement that writes: starts with a write verb, or is a CTE (``WITH ...``) that contains one (a
# false positive only takes the writer lock a little early).
_WRITE_VERBS = re.compile(
    r"\s*(?:(?:INSERT|UPDATE|DELETE|REPLACE)\b|WITH\b.*\b(?:INSERT|UPDATE|DELETE|REPLACE)\b)", re.IGNORECASE | re.DOTALL
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    return path if path and path != ":memory:" else None


def mostly_reading(enabled: bool = True) -> contextvars.Token[bool]:
    """Mark the current context (a GET request, a ``db.reading()`` block): SQLite begins deferred."""
    return _reads_first.set(enabled)


def end_marking(token: contextvars.Token[bool]) -> None:
    _reads_first.reset(token)


def install(engine: Engine, path: str | None) -> None:
    """Pragmas, begin modes and the writer lock of a SQLite engine (``path``: its file, None in memory)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns: 201 means durable
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_SECONDS * 1000)}")
        if path:
            cur.execute(f"PRAGMA wal_autocheckpoint={wal.AUTOCHECKPOINT_PAGES}")  # web processes checkpoint (core.wal)
        cur.close()
        if path:
            writer_lock.open_for(record.info, path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        deferred = _reads_first.get()
        if not deferred:
            _acquire_writer(conn.connection.info)
        try:
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
        except BaseException:
            writer_lock.release(conn.connection.info)
            raise
        conn.info["sqlite_deferred"] = deferred

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if conn.info.get("sqlite_deferred") and _WRITE_VERBS.match(statement):
            _upgrade(conn, cursor)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        conn.info.pop("sqlite_deferred", None)

    _release_after(engine.dialect, "do_commit")  # the "commit" event fires before the commit
    _release_after(engine.dialect, "do_rollback")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        writer_lock.release(record.info)  # never keep the lock in the pool

    @event.listens_for(engine, "close")
    @event.listens_for(engine, "close_detached")
    def _on_close(*args: Any) -> None:
        info = args[1].info if len(args) > 1 else None
        if info is not None:
            writer_lock.close(info)


def _upgrade(conn: Any, cursor: Any) -> None:
    """A deferred transaction is about to write: end its read-only part and begin again as the writer."""
    cursor.execute("COMMIT")  # the read-only part: nothing to lose
    _acquire_writer(conn.connection.info)
    cursor.execute("BEGIN IMMEDIATE")
    conn.info["sqlite_deferred"] = False


def start_writing(session: Session) -> None:
    """Take the writer's place now, before the checks that must see the data as it will be written.

    For work that reads and computes at length in a deferred transaction (``reading()``) and then
    writes: on SQLite the read-only part ends here and the writer lock is taken, so everything read
    from here on stays true until the commit. Elsewhere (PostgreSQL, a transaction already writing)
    nothing changes.
    """
    conn = session.connection()
    raw = conn.connection.dbapi_connection
    if conn.info.get("sqlite_deferred") and raw is not None:
        cursor = raw.cursor()
        try:
            _upgrade(conn, cursor)
        finally:
            cursor.close()


def _acquire_writer(info: dict[str, Any]) -> None:
    try:
        writer_lock.acquire(info, BUSY_SECONDS)
    except sqlite3.OperationalError as exc:  # the same error type as SQLite's own "database is locked"
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


def _release_after(dialect: Any, name: str) -> None:
    """Release the writer lock once this dialect's commit or rollback has really ended the transaction."""
    inner = getattr(dialect, name)

    def wrapped(dbapi_connection: Any) -> None:
        try:
            inner(dbapi_connection)
        finally:
            try:
                info = dbapi_connection.info  # the pool's record of the connection
            except (AttributeError, NotImplementedError):  # a raw or ad-hoc connection: never locked
                info = None
            if isinstance(info, dict):
                writer_lock.release(info)

    setattr(dialect, name, wrapped)
