"""core.heap: serving processes freeze their start-up heap so full collections stay short."""

import gc

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from yiwang.app import _freeze_after_startup
from yiwang.core import heap


@pytest.fixture
def serving(monkeypatch):
    monkeypatch.setattr(heap, "_enabled", [True])
    yield
    gc.unfreeze()  # the test session itself must keep collecting


def test_nothing_is_frozen_outside_a_serving_process(monkeypatch):
    monkeypatch.setattr(heap, "_enabled", [False])
    assert heap.freeze() == 0 and gc.get_freeze_count() == 0


def test_a_freeze_leaves_the_collector_only_what_is_made_afterwards(serving):
    tracked = len(gc.get_objects())
    frozen = heap.freeze()
    assert frozen > 0.9 * tracked > 10000  # what the full passes used to walk...
    assert len(gc.get_objects()) < 1000  # ...and what they walk now
    made_after = [[i] for i in range(5000)]
    assert len(gc.get_objects()) >= 5000  # new objects are still collected normally
    del made_after


def test_a_second_freeze_reclaims_cycles_that_died_while_frozen(serving):
    class Node:
        pass

    pairs = [(Node(), Node()) for _ in range(1000)]
    for a, b in pairs:
        a.other, b.other = b, a
    del a, b
    heap.freeze()
    probe = gc.get_freeze_count()
    del pairs  # cycles among frozen objects: only a new freeze (which collects first) reclaims them
    assert heap.freeze() <= probe - 2000


def test_the_served_app_freezes_once_started(serving):
    app = FastAPI()
    _freeze_after_startup(app)
    assert gc.get_freeze_count() == 0
    with TestClient(app):
        assert gc.get_freeze_count() > 10000
