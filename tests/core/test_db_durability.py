"""SQLite: an acknowledged commit is on disk, and a CTE that writes takes the writer's path."""

from __future__ import annotations

import threading

from sqlalchemy import text

from yiwang.core.db import make_engine, reading


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
    return engine


def test_commits_are_synchronous_full_in_wal_mode(tmp_path):
    """WAL with synchronous=NORMAL may lose the last commits on a power cut; FULL syncs the log on each commit."""
    engine = _engine(tmp_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
    engine.dispose()


def test_a_cte_that_updates_upgrades_a_reading_transaction(tmp_path):
    """``WITH ... UPDATE`` in a deferred transaction must take the writer lock first, like a bare UPDATE,
    or a writer that commits between our read and our write makes it fail with SQLITE_BUSY_SNAPSHOT."""
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with reading(), engine.connect() as conn, conn.begin():
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1  # the snapshot starts here
        other = threading.Thread(target=lambda: _insert(engine, 5))
        other.start()
        other.join()
        conn.execute(text("WITH s AS (SELECT 10 AS d) UPDATE t SET v = v + (SELECT d FROM s)"))
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT v FROM t"))) == [11, 15]
    engine.dispose()


def _insert(engine, value):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})
