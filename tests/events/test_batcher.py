"""The intake batcher lets a group commit fill during a burst, and never delays an isolated report."""

import asyncio

from helpers import run_async
from yiwang.events.batcher import Batcher


def _item(loop, n):
    return (f"report {n}", None, None, loop.create_future(), loop.time())


async def _fill_after(batcher, arrivals, *, burst: bool):
    loop = asyncio.get_running_loop()
    batcher.ended = loop.time() if burst else loop.time() - 10
    batch = [_item(loop, 0)]
    for n, delay in enumerate(arrivals, start=1):
        loop.call_later(delay, lambda n=n: batcher.queue.put_nowait(_item(loop, n)))
    started = loop.time()
    await batcher._fill(loop, batch)
    return len(batch), loop.time() - started


def _batcher(linger_ms: float) -> Batcher:
    b = Batcher(factory=None)
    b.linger = linger_ms / 1000
    return b


def test_a_burst_batch_takes_the_reports_arriving_within_the_linger():
    size, waited = run_async(_fill_after(_batcher(40), [0.005, 0.010, 0.015, 0.200], burst=True))
    assert size == 4  # the three that came within 40 ms, not the one at 200 ms
    assert 0.03 <= waited < 0.15


def test_an_isolated_report_is_written_at_once():
    size, waited = run_async(_fill_after(_batcher(40), [0.005], burst=False))
    assert size == 1 and waited < 0.02


def test_a_full_batch_does_not_wait():
    b = _batcher(500)
    b.max = 3
    size, waited = run_async(_fill_after(b, [0.001, 0.002, 0.003], burst=True))
    assert size == 3 and waited < 0.3


def test_an_intake_burst_in_one_process_makes_the_others_triage_wait(tmp_path, monkeypatch):
    import os
    import time

    from yiwang.events import batcher

    monkeypatch.setattr(batcher, "LAST_WRITE", [0.0])
    monkeypatch.setattr(batcher, "_touched", [0.0])
    assert not batcher.intake_busy(tmp_path)
    batcher.mark_intake(tmp_path)
    monkeypatch.setattr(batcher, "LAST_WRITE", [0.0])  # seen from another process: only the shared mark
    assert batcher.intake_busy(tmp_path)
    assert not batcher.intake_busy(None)  # without a shared home, only this process's own batches count
    old = time.time() - 5
    os.utime(tmp_path / batcher.ACTIVITY_FILE, (old, old))
    assert not batcher.intake_busy(tmp_path)  # the burst is over


def test_one_process_triages_at_a_time_on_sqlite(tmp_path):
    from yiwang.events.timers import TriageTurn

    path = str(tmp_path / "db.sqlite-triage")
    first, second = TriageTurn(path), TriageTurn(path)  # two descriptors: as two processes would hold
    try:
        assert first.take()
        assert not second.take()
        first.give_back()
        assert second.take()
        assert TriageTurn(None).take()  # PostgreSQL: every process takes part
    finally:
        first.close()
        second.close()
