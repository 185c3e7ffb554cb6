"""The ledger under concurrency: verify sees one snapshot and blocks no writer; audited reads
(deferred GET transactions) never chain onto a stale head."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from yiwang.core import audit, db
from yiwang.core.db import session_scope
from yiwang.core.security import SYSTEM_ACTOR


def _append(factory, n: int = 1, action: str = "test.write") -> None:
    with session_scope(factory) as session:
        audit.record_many(session, [dict(actor=SYSTEM_ACTOR, action=action, target_id=i) for i in range(n)])


def _hook_walk(monkeypatch, *, first=None, end=None) -> None:
    """Run ``first()`` once verify has read the first entry of the chain, ``end()`` once it has read the last."""
    walk = audit._iter_entries

    def hooked(session, *args, **kwargs):
        for n, entry in enumerate(walk(session, *args, **kwargs)):
            yield entry
            if n == 0 and first:
                first()
        if end:
            end()

    monkeypatch.setattr(audit, "_iter_entries", hooked)


def test_appends_after_the_head_was_read_are_not_a_break(ledger, monkeypatch):
    """The race of the review (an append between reading the chain and the head), made certain."""
    _, factory, _ = ledger
    _append(factory, 20)
    appended = []

    def append_in_another_thread():
        worker = threading.Thread(target=lambda: (_append(factory, 3), appended.append(3)), daemon=True)
        worker.start()
        worker.join(timeout=10)

    _hook_walk(monkeypatch, first=append_in_another_thread, end=append_in_another_thread)
    result = audit.verify_snapshot(factory)
    assert appended == [3, 3], "the writer was blocked while verify ran"
    assert result.ok, result.problem
    assert result.head[0] == 20 and result.entries == 20  # one snapshot: later appends are not even seen
    monkeypatch.undo()
    assert audit.verify_snapshot(factory).entries == 26


def test_snapshot_is_repeatable_read_and_read_only_on_postgresql(ledger):
    engine, factory, _ = ledger
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with audit.snapshot(factory) as session:
        assert session.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
    with factory() as session:  # the pooled connection is back to the defaults
        assert session.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        assert session.execute(text("SHOW transaction_read_only")).scalar() == "off"


def test_verify_while_another_thread_appends_never_reports_a_break(ledger):
    _, factory, _ = ledger
    _append(factory, 200)
    stop, errors, appended = threading.Event(), [], [0]

    def writer():
        try:
            while not stop.is_set():
                _append(factory, 1)
                appended[0] += 1
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        results = []
        deadline = time.monotonic() + 60
        while (len(results) < 40 or appended[0] < 20) and time.monotonic() < deadline:
            results.append(audit.verify_snapshot(factory))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert appended[0] >= 20, "the writer hardly ran: the test proved nothing"
    broken = [r for r in results if not r.ok]
    assert not broken, f"{len(broken)} of {len(results)} verifications reported a break: {broken[0].problem}"
    assert len({r.head[0] for r in results}) > 1, "every verification saw the same head: no append overlapped"


def test_a_writer_is_not_blocked_while_verify_runs(ledger, monkeypatch):
    """SQLite: verify holds no writer lock, so an append made in the middle of the walk finishes at once."""
    engine, factory, _ = ledger
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never block writers")
    _append(factory, 50)
    walking, appended = threading.Event(), threading.Event()

    def pause_in_the_walk():
        walking.set()
        appended.wait(timeout=10)  # with the writer lock held (the old verify), the append waits all this time

    _hook_walk(monkeypatch, first=pause_in_the_walk)
    result: list[audit.VerifyResult] = []
    verifier = threading.Thread(target=lambda: result.append(audit.verify_snapshot(factory)))
    verifier.start()
    assert walking.wait(timeout=30)
    started = time.monotonic()
    _append(factory, 1)
    took = time.monotonic() - started
    appended.set()
    verifier.join(timeout=30)
    assert took < 5, f"the append waited {took:.1f} s for verify"
    assert result and result[0].ok and result[0].entries == 50  # the snapshot: the new entry is not seen


def test_concurrent_audited_reads_never_fail(ledger):
    """Each thread is a GET: a deferred transaction that reads first, then writes one audit entry."""
    _, factory, _ = ledger
    threads_n, per_thread = 8, 25
    failures: list[str] = []
    barrier = threading.Barrier(threads_n)

    def audited_reads():
        barrier.wait()
        for i in range(per_thread):
            with db.reading(), factory() as session:
                try:
                    audit.count(session)  # the page's own reads
                    audit.record(session, actor=SYSTEM_ACTOR, action="personal.read", target_id=i, reason="核查")
                    session.commit()
                except Exception as exc:
                    session.rollback()
                    failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    threads = [threading.Thread(target=audited_reads) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, f"{len(failures)} of {threads_n * per_thread} audited reads failed, e.g. {failures[0]}"
    result = audit.verify_snapshot(factory)
    assert result.ok and result.entries == threads_n * per_thread
