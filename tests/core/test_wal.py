"""core.wal: web processes copy the SQLite write-ahead log back in a thread of their own."""

import threading

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from yiwang.app import _checkpoint_in_background
from yiwang.core.db import make_engine
from yiwang.core.wal import AUTOCHECKPOINT_PAGES, Checkpointer


def _threads():
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoint"]


def test_connections_leave_checkpoints_to_the_background(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == AUTOCHECKPOINT_PAGES
    engine.dispose()


def test_a_checkpoint_copies_the_whole_log_back(tmp_path):
    path = tmp_path / "db.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    for i in range(20):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "x" * 5000 + str(i)})
    import sqlite3

    raw = sqlite3.connect(path, isolation_level=None)
    busy, frames, copied = Checkpointer(str(path)).run_once(raw)
    assert busy == 0 and frames > 20 and copied == frames  # nothing left only in the log
    raw.close()
    engine.dispose()


def test_the_app_runs_the_checkpointer_for_its_lifetime(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = FastAPI()
    app.state.engine = engine
    _checkpoint_in_background(app)
    before = len(_threads())
    with TestClient(app):
        assert len(_threads()) == before + 1
    assert len(_threads()) == before
    engine.dispose()


def test_no_checkpointer_without_a_sqlite_file():
    app = FastAPI()
    app.state.engine = make_engine("sqlite:///:memory:")
    _checkpoint_in_background(app)
    before = len(_threads())
    with TestClient(app):
        assert len(_threads()) == before
