"""Anchors: the SM2-signed head exported outside the database catches what the chain alone cannot,
a rewrite or truncation by whoever owns the database (triggers bypassed, hashes recomputed)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, insert, select, update

from helpers import make_settings, new_database
from yiwang.core import audit, crypto
from yiwang.core.db import Base, make_engine, make_sessionmaker, session_scope
from yiwang.core.security import SYSTEM_ACTOR

Entry, Head = audit.AuditEntry, audit.AuditHead


@pytest.fixture
def ledger(tmp_path) -> Iterator[SimpleNamespace]:
    """A committed database (SQLite file or PostgreSQL schema) holding only the ledger, as migrations leave it."""
    database = new_database(tmp_path)
    engine = make_engine(database.url)
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=[Entry.__table__, Head.__table__])
        for ddl in audit.append_only_ddl(conn.dialect.name):
            conn.exec_driver_sql(ddl)
        conn.execute(insert(Head).values(id=1, last_id=0, last_hash=audit.GENESIS_HASH))
    yield SimpleNamespace(
        engine=engine,
        factory=make_sessionmaker(engine),
        url=database.url,
        anchors=tmp_path / "anchors.jsonl",
        key=crypto.sm2_generate_keypair(),
    )
    engine.dispose()
    database.drop()


def _append(factory, n: int) -> None:
    with session_scope(factory) as session:
        for i in range(n):
            audit.record(session, actor=SYSTEM_ACTOR, action="test.write", target_id=i, reason="核查")


def _as_owner(conn) -> None:
    """What the database owner does to get past the append-only triggers."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_entries_no_delete")
    else:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


def _rewrite_from(engine, entry_id: int, reason: str = "forged") -> None:
    """Edit one entry, then recompute every later hash and the head: a perfect forgery for the chain."""
    with engine.begin() as conn:
        _as_owner(conn)
        prev = conn.execute(select(Entry.hash).where(Entry.id == entry_id - 1)).scalar() or audit.GENESIS_HASH
        for row in conn.execute(select(Entry.__table__).where(Entry.id >= entry_id).order_by(Entry.id)).all():
            fields = dict(row._mapping, prev_hash=prev)
            if row.id == entry_id:
                fields["reason"] = reason
            fields["hash"] = audit.compute_hash(SimpleNamespace(**fields), prev)
            conn.execute(
                update(Entry)
                .where(Entry.id == row.id)
                .values(reason=fields["reason"], prev_hash=prev, hash=fields["hash"])
            )
            prev = fields["hash"]
            last = row.id
        conn.execute(update(Head).where(Head.id == 1).values(last_id=last, last_hash=prev))


def _truncate(engine, keep: int) -> None:
    """Delete every entry after ``keep`` and point the head at what is left (the genesis head when 0)."""
    with engine.begin() as conn:
        _as_owner(conn)
        conn.execute(delete(Entry).where(Entry.id > keep))
        last_hash = conn.execute(select(Entry.hash).where(Entry.id == keep)).scalar() or audit.GENESIS_HASH
        conn.execute(update(Head).where(Head.id == 1).values(last_id=keep, last_hash=last_hash))


def _verify(ledger, **kwargs) -> audit.VerifyResult:
    found = audit.read_anchors(ledger.anchors) if ledger.anchors.exists() else []
    return audit.verify_snapshot(ledger.factory, found, public_key=ledger.key.public_key, **kwargs)


def test_an_anchor_is_the_signed_head(ledger):
    _append(ledger.factory, 5)
    anchor = audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    with ledger.factory() as session:
        head = session.get(Head, 1)
        assert (anchor.last_id, anchor.last_hash) == (5, head.last_hash)
    assert audit.read_anchors(ledger.anchors) == [anchor]
    assert anchor.signed_by(ledger.key.public_key)
    result = _verify(ledger)
    assert result.ok and result.anchors == 1 and result.entries == 5


@pytest.mark.parametrize("change", [dict(last_id=4), dict(last_hash="1" * 64), dict(at="2030-01-01T00:00:00+00:00")])
def test_an_altered_anchor_is_refused(ledger, change):
    _append(ledger.factory, 5)
    anchor = dataclasses.replace(audit.write_anchor(ledger.factory, ledger.anchors, ledger.key), **change)
    result = audit.verify_snapshot(ledger.factory, [anchor], public_key=ledger.key.public_key)
    assert not result.ok and "signature" in result.problem


def test_an_anchor_of_another_key_is_refused(ledger):
    _append(ledger.factory, 2)
    anchor = audit.write_anchor(ledger.factory, ledger.anchors, crypto.sm2_generate_keypair())
    result = audit.verify_snapshot(ledger.factory, [anchor], public_key=ledger.key.public_key)
    assert not result.ok and "signature" in result.problem


def test_plain_verify_catches_an_ordinary_edit(ledger):
    _append(ledger.factory, 4)
    with ledger.engine.begin() as conn:
        _as_owner(conn)
        conn.execute(update(Entry).where(Entry.id == 2).values(reason="tampered"))
    result = audit.verify_snapshot(ledger.factory)
    assert not result.ok and result.first_bad_id == 2 and "edited" in result.problem


def test_owner_rewrite_of_the_tail_is_caught_by_the_anchors(ledger):
    _append(ledger.factory, 5)
    audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    _append(ledger.factory, 3)
    _rewrite_from(ledger.engine, 3)
    assert audit.verify_snapshot(ledger.factory).ok  # the chain alone cannot see it: why anchors exist
    result = _verify(ledger)
    assert not result.ok and result.first_bad_id == 5 and "rewritten" in result.problem
    with pytest.raises(audit.LedgerError, match="rewritten"):  # nor is the forgery ever signed
        audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    assert len(audit.read_anchors(ledger.anchors)) == 1


@pytest.mark.parametrize("keep", [0, 2])
def test_owner_truncation_is_caught_by_the_anchors(ledger, keep):
    _append(ledger.factory, 5)
    audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    _truncate(ledger.engine, keep)
    plain = audit.verify_snapshot(ledger.factory)
    assert plain.ok and plain.entries == keep  # consistent after the truncation...
    result = _verify(ledger)
    assert not result.ok and result.first_bad_id == keep + 1  # ...but not with what was anchored
    assert f"chain ends at #{keep}" in result.problem and "deleted" in result.problem


def test_deleting_every_entry_and_the_head_is_caught(ledger):
    _append(ledger.factory, 3)
    with ledger.engine.begin() as conn:
        _as_owner(conn)
        conn.execute(delete(Entry))
        conn.execute(delete(Head))
    result = audit.verify_snapshot(ledger.factory)
    assert not result.ok and "head row" in result.problem and "missing" in result.problem
    with pytest.raises(audit.LedgerError, match="no head row"):  # and nothing starts a new chain silently
        _append(ledger.factory, 1)


def test_a_head_moved_back_is_caught(ledger):
    _append(ledger.factory, 4)
    with ledger.engine.begin() as conn:
        second = conn.execute(select(Entry.hash).where(Entry.id == 2)).scalar()
        conn.execute(update(Head).where(Head.id == 1).values(last_id=2, last_hash=second))
    result = audit.verify_snapshot(ledger.factory)
    assert not result.ok and result.first_bad_id == 3 and "moved back" in result.problem


def test_a_broken_chain_is_never_anchored(ledger):
    _append(ledger.factory, 3)
    with ledger.engine.begin() as conn:
        _as_owner(conn)
        conn.execute(update(Entry).where(Entry.id == 2).values(reason="tampered"))
    with pytest.raises(audit.LedgerError, match="#2"):
        audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    assert not ledger.anchors.exists()


def test_the_next_anchor_checks_only_what_came_after_the_last(ledger, monkeypatch):
    _append(ledger.factory, 6)
    first = audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    _append(ledger.factory, 2)
    seen = []
    verify = audit.verify
    monkeypatch.setattr(audit, "verify", lambda *a, **kw: seen.append(r := verify(*a, **kw)) or r)
    second = audit.write_anchor(ledger.factory, ledger.anchors, ledger.key)
    assert (first.last_id, second.last_id) == (6, 8)
    assert [r.entries for r in seen] == [2]
    assert audit.read_anchors(ledger.anchors) == [first, second]
    assert _verify(ledger).anchors == 2


def test_anchor_key_is_made_once_privately_or_taken_from_the_setting(tmp_path):
    settings = make_settings(tmp_path / "home", "sqlite://")
    with pytest.raises(audit.LedgerError, match="no anchor key"):
        audit.anchor_keypair(settings, create=False)
    made = audit.anchor_keypair(settings)
    path = settings.home_path / audit.KEY_FILE
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert audit.anchor_keypair(settings) == made == audit.anchor_keypair(settings, create=False)
    configured = crypto.sm2_generate_keypair()
    settings = make_settings(tmp_path / "home", "sqlite://", audit_anchor_key=crypto.sm2_keypair_hex(configured))
    assert audit.anchor_keypair(settings) == configured
    mismatched = crypto.sm2_keypair_hex(configured)[:64] + made.public_hex
    with pytest.raises(crypto.CryptoError, match="do not belong together"):
        crypto.sm2_keypair_from_hex(mismatched)


def test_anchor_file_setting_defaults_under_home(tmp_path):
    assert make_settings(tmp_path, "sqlite://").audit_anchor_path == (tmp_path / "audit-anchors.jsonl").resolve()
    elsewhere = tmp_path / "off-host" / "a.jsonl"
    assert make_settings(tmp_path, "sqlite://", audit_anchor_file=elsewhere).audit_anchor_path == elsewhere.resolve()


def test_web_process_anchors_while_it_runs(ledger, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    _append(ledger.factory, 3)
    settings = make_settings(tmp_path / "home", ledger.url, audit_anchor_file=ledger.anchors)
    app = FastAPI()
    app.state.settings, app.state.engine, app.state.sessionmaker = settings, ledger.engine, ledger.factory
    audit.anchor_in_background(app)
    with TestClient(app):
        deadline = time.monotonic() + 30
        while not ledger.anchors.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    anchors = audit.read_anchors(ledger.anchors)
    assert [a.last_id for a in anchors] == [3]
    assert anchors[0].signed_by(audit.anchor_keypair(settings, create=False).public_key)

    idle = FastAPI()
    idle.state.settings = make_settings(tmp_path / "home", ledger.url, audit_anchor_minutes=0)
    idle.state.engine, idle.state.sessionmaker = ledger.engine, ledger.factory
    before = idle.router.lifespan_context
    audit.anchor_in_background(idle)
    assert idle.router.lifespan_context is before


def test_cli_anchor_and_verify_with_anchors(ledger, tmp_path, yiwang_cli):
    settings = make_settings(tmp_path / "home", ledger.url)
    _append(ledger.factory, 4)
    made = yiwang_cli(settings, "audit", "anchor")
    assert made.returncode == 0, made.stderr
    path = settings.audit_anchor_path
    ok = yiwang_cli(settings, "audit", "verify", "--anchors", str(path))
    assert ok.returncode == 0 and "1 anchors hold" in ok.stderr, ok.stderr
    _rewrite_from(ledger.engine, 2)
    assert audit.verify_snapshot(ledger.factory).ok  # hashes recomputed: the chain alone holds
    bad = yiwang_cli(settings, "audit", "verify", "--anchors", str(path))
    assert bad.returncode == 1 and "entry #4" in bad.stderr and "rewritten" in bad.stderr, bad.stderr
