"""Database engine, sessions, the declarative Base and the migration entry point.

SQLite (WAL) is the embedded default; PostgreSQL is used when the URL names one.
On SQLite, writers must take the write lock *before* they read, or a writer that
committed in between makes their upgrade fail (SQLITE_BUSY_SNAPSHOT). So transactions
start with ``BEGIN IMMEDIATE`` — except inside read requests (``reads_first()``, set for
GET/HEAD by the web layer), which start deferred so that pages never wait behind a
writer; if such a transaction does write (an audit entry for a personal-data read, say),
it has written nothing yet, so it is ended and reopened with ``BEGIN IMMEDIATE`` just
before its first write. Writers queue on ``core.writer_lock`` before ``BEGIN IMMEDIATE``, so
the write lock passes from one to the next at once instead of after a busy-handler sleep.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, Text, create_engine, event, text
from sqlalchemy import String
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from yiwang.core import wal, writer_lock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with the pragmas and pool settings yiwang expects."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            **kwargs,
        )
        _install_sqlite_pragmas(engine, path if path and path != ":memory:" else None)
        return engine
    url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    return path if path and path != ":memory:" else None


def _install_sqlite_pragmas(engine: Engine, path: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):
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
    def _on_begin(conn):
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
    def _before_write(conn, cursor, statement, parameters, context, executemany):
        if conn.info.get("sqlite_deferred") and _WRITE_VERBS.match(statement):
            _upgrade(conn, cursor)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn):
        conn.info.pop("sqlite_deferred", None)

    _release_after(engine.dialect, "do_commit")  # the "commit" event fires before the commit
    _release_after(engine.dialect, "do_rollback")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        writer_lock.release(record.info)  # never keep the lock in the pool

    @event.listens_for(engine, "close")
    @event.listens_for(engine, "close_detached")
    def _on_close(*args):
        info = args[1].info if len(args) > 1 else None
        if info is not None:
            writer_lock.close(info)


def _upgrade(conn, cursor) -> None:
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
    if conn.info.get("sqlite_deferred"):
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            _upgrade(conn, cursor)
        finally:
            cursor.close()


def _acquire_writer(info: dict) -> None:
    try:
        writer_lock.acquire(info, BUSY_SECONDS)
    except sqlite3.OperationalError as exc:  # the same error type as SQLite's own "database is locked"
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


def _release_after(dialect, name: str) -> None:
    """Release the writer lock once this dialect's commit or rollback has really ended the transaction."""
    inner = getattr(dialect, name)

    def wrapped(dbapi_connection):
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


BUSY_SECONDS = 30.0
_reads_first: contextvars.ContextVar[bool] = contextvars.ContextVar("yiwang_reads_first", default=False)
# A statement that writes: starts with a write verb, or is a CTE (``WITH ...``) that contains one (a
# false positive only takes the writer lock a little early).
_WRITE_VERBS = re.compile(r"\s*(?:(?:INSERT|UPDATE|DELETE|REPLACE)\b|WITH\b.*\b(?:INSERT|UPDATE|DELETE|REPLACE)\b)",
                          re.IGNORECASE | re.DOTALL)


def reads_first(enabled: bool = True) -> contextvars.Token:
    """Mark the current context (a GET request) as mostly reading: SQLite begins deferred."""
    return _reads_first.set(enabled)


@contextmanager
def reading() -> Iterator[None]:
    """Sessions begun inside this block (this task or thread) begin deferred on SQLite.

    For lookups made while a coroutine may suspend with its session open: a deferred read
    holds no write lock, so it can never make the event loop and a writer wait on each other.
    """
    token = _reads_first.set(True)
    try:
        yield
    finally:
        _reads_first.reset(token)


def make_sessionmaker(engine_or_conn) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_or_conn, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for scripts and background jobs: commits on success, rolls back on error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# Migrations ----------------------------------------------------------------

def alembic_config(url: str):
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


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate filter (env.py, tests): never propose dropping the lake catalog's tables."""
    if type_ == "table" and reflected and compare_to is None:
        return not (name or "").startswith(FOREIGN_TABLE_PREFIXES)
    return True


@contextmanager
def migrating(engine: Engine):
    """A connection in a transaction for one migration run, committed when the block ends.

    Only one run at a time (a PostgreSQL advisory lock, on SQLite a file lock beside the database),
    so a second run waits and then finds the database at heads. On SQLite foreign keys are off
    while it runs — SQLite ignores the pragma inside a transaction, and rebuilding a table in
    batch mode drops it, which would cascade-delete its children — and ``foreign_key_check``
    must be clean before the commit; they are on again afterwards, also when the run fails.
    """
    token = _reads_first.set(False)  # a migration writes: BEGIN IMMEDIATE, behind the writer lock
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
        _reads_first.reset(token)


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


def _set_foreign_keys(conn, on: bool) -> None:
    raw = conn.connection.driver_connection  # outside any transaction (the pragma is ignored inside one)
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if bool(raw.execute("PRAGMA foreign_keys").fetchone()[0]) != on:
        raise MigrationError(f"could not switch SQLite foreign keys {'on' if on else 'off'} for the migration")


def _restore_foreign_keys(conn) -> None:
    """Foreign keys on again; a connection where that fails is discarded, never pooled with them off."""
    try:
        _set_foreign_keys(conn, True)
    except Exception:  # noqa: BLE001 - the new connection that replaces it gets them from the "connect" event
        conn.invalidate()


def _check_foreign_keys(conn) -> None:
    rows = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if not rows:
        return
    broken: dict[tuple[str, str], list] = {}
    for table, rowid, parent, _fk in rows:
        broken.setdefault((table, parent), []).append(rowid)
    detail = "; ".join(f"{table} rows {', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''} "
                       f"(referring to missing {parent})" for (table, parent), ids in broken.items())
    raise MigrationError(f"migration rolled back: it would leave {len(rows)} foreign key violation(s): {detail}")


def current_revisions(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


class EncryptedText(TypeDecorator[str]):
    """A text column stored SM4-GCM encrypted with the configured data key (YIWANG_DATA_KEY).

    Pair it with a blind-index column (``core.crypto.blind_index``) when the value must be
    searchable; the ciphertext itself is randomised and cannot be compared.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        from yiwang.core import crypto

        return None if value is None else "sm4:" + crypto.encrypt_text(crypto.column_key(), value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        from yiwang.core import crypto

        if value is None:
            return None
        if not value.startswith("sm4:"):
            raise crypto.CryptoError("encrypted column holds a value that is not SM4 ciphertext")
        return crypto.decrypt_text(crypto.column_key(), value[4:])


class MetaValue(Base):
    """Small key/value facts about this installation (e.g. which reference packs are loaded)."""

    __tablename__ = "yiwang_meta"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(MetaValue, key)
    return row.value if row else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(MetaValue, key)
    if row is None:
        session.add(MetaValue(key=key, value=value))
    else:
        row.value, row.updated_at = value, utcnow()


# Unit of work ------------------------------------------------------------------

def commit(session: Session) -> None:
    """Commit a service's write — unless an enclosing ``unit_of_work`` will commit it all at once."""
    if session.info.get("uow_depth", 0):
        session.flush()
    else:
        session.commit()


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Group several service writes into one atomic transaction."""
    depth = session.info.get("uow_depth", 0)
    session.info["uow_depth"] = depth + 1
    try:
        yield session
    except BaseException:
        session.info["uow_depth"] = depth
        if depth == 0:
            session.rollback()
        raise
    session.info["uow_depth"] = depth
    if depth == 0:
        session.commit()
