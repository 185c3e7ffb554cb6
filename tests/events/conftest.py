"""Fixtures of the event center tests.

The shared installation seeds a small history (``YIWANG_EVENTS_HISTORY_CASES``) so the suite
stays fast; the statistics tests only need a few thousand cases. Set before any
installation is created (conftest files are imported at collection).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("YIWANG_EVENTS_HISTORY_CASES", "3000")
os.environ.setdefault("YIWANG_EVENTS_BACKGROUND", "false")
sys.path.insert(0, os.path.dirname(__file__))  # ev_helpers

import pytest

from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR


@pytest.fixture
def api_key(db):
    from yiwang.events import apikeys

    _row, value = apikeys.create(db, actor=SYSTEM_ACTOR, name="test-client", origin=Origin(ip="test"))
    return value


@pytest.fixture
def run_triage(db, settings):
    from yiwang.events import pipeline

    def _run() -> int:
        return pipeline.run_all(db, home=settings.home_path)

    return _run
