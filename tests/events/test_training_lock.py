"""Training a triage model takes seconds and must not hold SQLite's writer lock meanwhile."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import insert, text

from helpers import pg_base_url, timed_write
from yiwang.core import audit, sqlite_tx
from yiwang.core.db import Base, make_engine, make_sessionmaker
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.events import triage_versions
from yiwang.events.models import Correction, ModelVersion

pytestmark = pytest.mark.skipif(bool(pg_base_url()), reason="the writer lock is SQLite's; PostgreSQL has none")


def test_other_writers_go_ahead_while_a_model_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_tx, "BUSY_SECONDS", 2.0)
    engine = make_engine(f"sqlite:///{tmp_path / 'train.db'}")
    tables = [audit.AuditEntry.__table__, audit.AuditHead.__table__, Correction.__table__, ModelVersion.__table__]
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=tables)
        conn.execute(insert(audit.AuditHead).values(id=1, last_id=0, last_hash=audit.GENESIS_HASH))
        conn.exec_driver_sql("CREATE TABLE other (v INTEGER)")
    factory = make_sessionmaker(engine)
    outcome: dict = {}
    real_train = triage_versions.TextClassifier.train

    def other_writer() -> None:
        outcome.update(timed_write(factory, "INSERT INTO other VALUES (1)"))

    def train_while_another_writes(texts, codes):
        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(10)
        return real_train(texts, codes)

    monkeypatch.setattr(triage_versions.TextClassifier, "train", staticmethod(train_while_another_writes))
    with factory() as session:
        row = triage_versions.train_version(session, tmp_path, actor=SYSTEM_ACTOR, per_category=5)
    assert row.active
    assert outcome["error"] is None, outcome
    assert outcome["seconds"] < 1.0, outcome
    with factory() as session:
        assert session.execute(text("SELECT count(*) FROM other")).scalar_one() == 1
        assert audit.verify(session).ok
    engine.dispose()
