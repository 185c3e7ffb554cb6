"""SQLite transactions: reads begin deferred (never wait for a writer); writes hold the lock from the start."""

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from yiwang.core.db import make_engine
from yiwang.core.sqlite_tx import mostly_reading as reads_first


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
    return engine


def test_reads_do_not_wait_for_a_writer(tmp_path):
    engine = _engine(tmp_path)
    writer = engine.connect()
    writer.begin()
    writer.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock, uncommitted
    reads_first(True)
    try:
        started = time.perf_counter()
        with engine.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0  # WAL snapshot
        assert time.perf_counter() - started < 1.0
    finally:
        reads_first(False)
        writer.rollback()
        writer.close()


def test_a_reading_transaction_that_writes_upgrades_safely(tmp_path):
    """Another writer commits between our read and our write: we still write, without SQLITE_BUSY."""
    engine = _engine(tmp_path)
    reads_first(True)
    try:
        with engine.connect() as conn, conn.begin():
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            other = threading.Thread(target=lambda: _insert(engine, 7))
            other.start()
            other.join()
            conn.execute(text("INSERT INTO t VALUES (8)"))
        with engine.connect() as conn:
            assert sorted(r[0] for r in conn.execute(text("SELECT v FROM t"))) == [7, 8]
    finally:
        reads_first(False)


def _insert(engine, value):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})


def test_writes_by_default_begin_immediate(tmp_path):
    engine = _engine(tmp_path)
    first = engine.connect()
    first.begin()
    first.execute(text("SELECT 1"))  # IMMEDIATE: the write lock is taken at BEGIN, before any write
    raw = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}").raw_connection()
    raw.execute("PRAGMA busy_timeout=100")
    try:
        raw.execute("BEGIN IMMEDIATE")
        acquired = True
    except Exception:
        acquired = False
    finally:
        raw.close()
        first.rollback()
        first.close()
    assert not acquired


def test_reading_block_begins_deferred_and_restores_the_default(tmp_path, monkeypatch):
    from yiwang.core import sqlite_tx
    from yiwang.core.db import reading

    monkeypatch.setattr(sqlite_tx, "BUSY_SECONDS", 0.2)

    engine = _engine(tmp_path)
    writer = engine.connect()
    writer.begin()
    writer.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock
    try:
        with reading(), engine.connect() as reader:
            started = time.perf_counter()
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            assert time.perf_counter() - started < 1.0
        with engine.connect() as other:  # outside the block: sessions begin immediate again
            other.connection.driver_connection.execute("PRAGMA busy_timeout = 100")
            with pytest.raises(OperationalError, match="locked"):
                other.execute(text("SELECT 1"))
    finally:
        writer.rollback()
        writer.close()


def test_writers_queue_on_the_writer_lock_and_get_it_when_the_holder_commits(tmp_path):
    engine = _engine(tmp_path)
    events: list[tuple[str, float]] = []
    first = engine.connect()
    first.begin()
    first.execute(text("INSERT INTO t VALUES (1)"))

    def second_writer():
        with engine.begin() as conn:
            events.append(("second began", time.perf_counter()))
            conn.execute(text("INSERT INTO t VALUES (2)"))

    waiter = threading.Thread(target=second_writer)
    waiter.start()
    time.sleep(0.3)
    assert events == []  # still queued behind the first writer
    first.commit()
    committed = time.perf_counter()
    waiter.join(timeout=5)
    first.close()
    assert events and events[0][1] >= committed  # it began only once the first writer had committed
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT v FROM t"))) == [1, 2]


def test_a_connection_returned_to_the_pool_never_keeps_the_writer_lock(tmp_path, monkeypatch):
    from yiwang.core import sqlite_tx

    monkeypatch.setattr(sqlite_tx, "BUSY_SECONDS", 2.0)
    engine = _engine(tmp_path)
    abandoned, other = engine.connect(), engine.connect()
    other.close()  # the pool now hands out this other connection first (FIFO)
    abandoned.begin()
    abandoned.execute(text("INSERT INTO t VALUES (1)"))
    abandoned.close()  # no commit: the pool rolls back — and the writer lock goes with it
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert time.perf_counter() - started < 1.0
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t"))] == [2]


def test_start_writing_takes_the_writer_lock_before_the_checks_that_follow(tmp_path):
    """A long read, then start_writing: what is read from then on stays true until the commit."""
    from sqlalchemy.orm import Session

    from yiwang.core.db import reading, start_writing

    engine = _engine(tmp_path)
    with reading(), Session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0  # the read part: no lock
        _insert(engine, 1)  # another writer commits meanwhile (it would have waited, had we held the lock)
        start_writing(session)
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 1  # a fresh view, under the lock
        blocked = threading.Thread(target=lambda: _insert(engine, 2))
        blocked.start()
        time.sleep(0.3)
        assert blocked.is_alive()  # others queue behind us now
        session.execute(text("INSERT INTO t VALUES (3)"))
        session.commit()
    blocked.join(timeout=5)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY rowid"))] == [1, 3, 2]


def test_start_writing_outside_a_deferred_transaction_changes_nothing(tmp_path):
    from sqlalchemy.orm import Session

    from yiwang.core.db import start_writing

    engine = _engine(tmp_path)
    with Session(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        start_writing(session)  # already the writer: no commit in between
        session.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_bare_commit_cannot_split_a_unit_of_work(tmp_path):
    """Inside ``unit_of_work`` services commit with ``db.commit`` (a flush); ``session.commit()`` is refused."""
    from yiwang.core import db

    engine = _engine(tmp_path)
    factory = db.make_sessionmaker(engine)
    with factory() as session:

        def split_the_unit() -> None:
            with db.unit_of_work(session):
                session.execute(text("INSERT INTO t VALUES (1)"))
                db.commit(session)  # inside the unit: a flush, nothing durable yet
                session.execute(text("INSERT INTO t VALUES (2)"))
                session.commit()

        with pytest.raises(RuntimeError, match="unit_of_work"):
            split_the_unit()  # refused, and the unit rolled back: neither 1 nor 2 is kept
        with db.unit_of_work(session):
            session.execute(text("INSERT INTO t VALUES (3)"))
            with session.begin_nested():  # a savepoint may end inside the unit
                session.execute(text("INSERT INTO t VALUES (4)"))
            db.commit(session)
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT v FROM t"))) == [3, 4]
