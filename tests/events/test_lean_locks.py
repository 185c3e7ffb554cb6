"""The lean intake front never holds or waits for SQLite's write lock while validating.

A coroutine that suspended with a write transaction open, while the event loop blocked on
``BEGIN IMMEDIATE``, deadlocked a one-worker server for the busy timeout (30 s) under load.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from yiwang.core import db as coredb
from yiwang.core.security import token_digest
from yiwang.events import apikeys
from yiwang.events.lean import validate_machine
from yiwang.events.models import ApiKey
from yiwang.events.schemas import MachineIntake


@pytest.fixture
def keyed_engine(tmp_path):
    engine = coredb.make_engine(f"sqlite:///{tmp_path / 'lean.sqlite'}")
    ApiKey.__table__.create(engine)
    with coredb.make_sessionmaker(engine)() as s:
        s.add(ApiKey(name="sensor-hub", prefix="ek_test", key_digest=token_digest("ek_test_value")))
        s.commit()
    apikeys._cache.clear()
    yield engine
    apikeys._cache.clear()
    engine.dispose()


def test_validation_with_a_cold_key_cache_does_not_wait_for_a_writer(keyed_engine):
    writer = keyed_engine.connect()
    writer.begin()  # BEGIN IMMEDIATE: another request's batch holds the lock
    writer.execute(text("UPDATE events_api_keys SET prefix = prefix"))
    try:
        data = MachineIntake.model_validate(
            {
                "channel": "iot",
                "description": "积水严重，路面无法通行",
                "long": 120.98,
                "lat": 31.385,
                "source_ref": "s-1",
            }
        )
        started = time.perf_counter()
        report, actor = validate_machine(coredb.make_sessionmaker(keyed_engine), data, {"x-api-key": "ek_test_value"})
        assert time.perf_counter() - started < 5.0  # an immediate begin would wait the 30 s busy timeout
        assert actor.display_name == "sensor-hub"
        assert report.idem_key == "sensor-hub:ref:s-1"
        assert not apikeys.needs_lookup("ek_test_value")  # cached: the next request stays on the loop
    finally:
        writer.rollback()
        writer.close()
