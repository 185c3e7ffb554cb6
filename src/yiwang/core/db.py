"""The database as services see it: one way to read, one way to write.

- **Tables**: ``Base``, ``UTCDateTime`` (aware UTC on both databases), ``EncryptedText`` (SM4-GCM).
- **Read**: a request's GET/HEAD handlers read without asking (the web layer marks them); other code
  that only looks things up wraps the work in ``with db.reading():``.
- **Write**: a service ends with ``db.commit(session)``; a caller groups several services into one
  atomic write with ``with db.unit_of_work(session):`` (their commits become flushes); work that reads
  at length and then writes what it decided calls ``db.start_writing(session)`` before the checks.
  A bare ``session.commit()`` inside a unit of work is refused, so it cannot split the unit.
- **Scripts and jobs**: ``with db.session_scope(factory) as session:`` commits on success.

SQLite (WAL, embedded default) needs the begin modes and writer lock of ``core.sqlite_tx`` to serve
many readers and writers; PostgreSQL needs nothing of it. ``docs/ARCHITECTURE.md`` gives the reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, Engine, MetaData, String, Text, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from yiwang.core import sqlite_tx
from yiwang.core.migrate import current_revisions, upgrade
from yiwang.core.sqlite_tx import is_sqlite, sqlite_file, start_writing

__all__ = [
    "Base",
    "EncryptedText",
    "MetaValue",
    "UTCDateTime",
    "commit",
    "current_revisions",
    "get_meta",
    "is_sqlite",
    "make_engine",
    "make_sessionmaker",
    "ping",
    "reading",
    "session_scope",
    "set_meta",
    "sqlite_file",
    "start_writing",
    "unit_of_work",
    "upgrade",
    "utcnow",
]

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

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
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
        sqlite_tx.install(engine, path if path and path != ":memory:" else None)
        return engine
    url = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def make_sessionmaker(engine_or_conn: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_or_conn, expire_on_commit=False, autoflush=True)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# Reading and writing ----------------------------------------------------------------


@contextmanager
def reading() -> Iterator[None]:
    """Sessions begun inside this block (this task or thread) only read, unless they must write.

    On SQLite they begin deferred: a deferred read holds no write lock, so it never waits for a writer
    and never makes the event loop and a writer wait on each other. A write inside still works (the
    transaction takes the writer's place just before it).
    """
    token = sqlite_tx.mostly_reading(True)
    try:
        yield
    finally:
        sqlite_tx.end_marking(token)


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


@event.listens_for(Session, "before_commit")
def _refuse_commit_inside_a_unit(session: Session) -> None:
    """``session.commit()`` inside ``unit_of_work`` would make part of the unit durable on its own."""
    if session.info.get("uow_depth", 0) and not session.in_nested_transaction():  # a savepoint may end
        raise RuntimeError("session.commit() inside db.unit_of_work(): call db.commit(session), which flushes")


class EncryptedText(TypeDecorator[str]):
    """A text column stored SM4-GCM encrypted with the configured data key (YIWANG_DATA_KEY).

    Pair it with a blind-index column (``core.crypto.blind_index``) when the value must be
    searchable; the ciphertext itself is randomised and cannot be compared.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        from yiwang.core import crypto

        return None if value is None else "sm4:" + crypto.encrypt_text(crypto.column_key(), value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
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
