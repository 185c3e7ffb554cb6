"""The audit ledger: appends chain by SM3; any edit, deletion or reordering is found and named."""

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from yiwang.core import audit
from yiwang.core.security import SYSTEM_ACTOR


def _append(db, n: int) -> list[int]:
    ids = [
        audit.record(db, actor=SYSTEM_ACTOR, action="test.write", target_type="thing", target_id=i, detail={"i": i}).id
        for i in range(n)
    ]
    db.commit()
    return ids


def _drop_triggers(db) -> None:
    """What an attacker with database rights does first."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("DROP TRIGGER audit_entries_no_update"))
        db.execute(text("DROP TRIGGER audit_entries_no_delete"))
    else:
        db.execute(text("DROP TRIGGER audit_entries_no_update ON audit_entries"))


def test_chain_links_each_entry_to_the_previous(db):
    ids = _append(db, 3)
    rows = db.execute(text("SELECT id, prev_hash, hash FROM audit_entries ORDER BY id")).all()
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    for prev, cur in itertools.pairwise(rows):
        assert cur.prev_hash == prev.hash
    assert ids == [r.id for r in rows[-3:]]
    assert audit.verify(db).ok


def test_triggers_refuse_update_and_delete(db):
    _append(db, 1)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE audit_entries SET action = 'x' WHERE id = 1"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text("DELETE FROM audit_entries WHERE id = 1"))


def test_edit_is_detected_and_named(db):
    ids = _append(db, 5)
    _drop_triggers(db)
    db.execute(text("UPDATE audit_entries SET actor_username = 'mallory' WHERE id = :id"), {"id": ids[2]})
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == ids[2] and "edited" in result.problem


def test_deleting_a_middle_entry_is_detected(db):
    ids = _append(db, 5)
    _drop_triggers(db)
    db.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[1]})
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == ids[2] and f"#{ids[1]} is missing" in result.problem


def test_deleting_the_last_entry_is_detected(db):
    ids = _append(db, 3)
    _drop_triggers(db)
    db.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[-1]})
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == ids[-1] and "deleted at the end" in result.problem


def test_reordering_is_detected(db):
    ids = _append(db, 4)
    _drop_triggers(db)
    a, b = ids[1], ids[2]
    # Swap the two rows' positions in the chain by renumbering them.
    db.execute(text("UPDATE audit_entries SET id = -1 WHERE id = :a"), {"a": a})
    db.execute(text("UPDATE audit_entries SET id = :a WHERE id = :b"), {"a": a, "b": b})
    db.execute(text("UPDATE audit_entries SET id = :b WHERE id = -1"), {"b": b})
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == a


def test_recomputed_hash_still_breaks_the_next_link(db):
    """Rewriting an entry and its own hash is caught by the next entry's prev_hash."""
    ids = _append(db, 3)
    _drop_triggers(db)
    entry = db.get(audit.AuditEntry, ids[0])
    entry.reason = "forged"
    entry.hash = audit.compute_hash(entry, entry.prev_hash)
    db.flush()
    result = audit.verify(db)
    assert not result.ok and result.first_bad_id == ids[1] and "does not link" in result.problem


def test_search_filters(db):
    _append(db, 2)
    audit.record(db, actor=SYSTEM_ACTOR, action="personal.read", target_type="user", target_id=9, reason="核查")
    db.commit()
    found = audit.search(db, audit.AuditFilter(action="personal.", target_type="user", target_id="9"))
    assert [e.reason for e in found] == ["核查"]
    assert all(e.action.startswith("test.") for e in audit.search(db, audit.AuditFilter(action="test.")))


def test_cli_verify_exit_codes(fresh_install, engine_for, yiwang_cli):
    ok = yiwang_cli(fresh_install, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stderr
    eng = engine_for(fresh_install)
    with eng.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update ON audit_entries"))
        conn.execute(text("UPDATE audit_entries SET reason = 'tampered' WHERE id = 3"))
    eng.dispose()
    bad = yiwang_cli(fresh_install, "audit", "verify")
    assert bad.returncode == 1
    assert "entry #3" in bad.stderr and "edited" in bad.stderr


def test_append_without_head_row_is_refused_and_verify_says_so(db):
    _append(db, 2)
    db.execute(text("DELETE FROM audit_head"))
    result = audit.verify(db)
    assert not result.ok and "head row" in result.problem and "missing" in result.problem
    with pytest.raises(audit.LedgerError, match="no head row"):
        audit.record(db, actor=SYSTEM_ACTOR, action="test.write")


def test_head_row_is_seeded_by_the_migrations(db):
    head = db.get(audit.AuditHead, 1)
    assert head is not None and head.last_id == audit.count(db)


def test_time_range_pages_newest_first_without_gaps_or_repeats(db):
    import datetime as dt

    start = audit.utcnow() - dt.timedelta(seconds=1)
    made = [audit.record(db, actor=None, action="test.page", target_id=str(k)).id for k in range(25)]
    db.commit()
    flt = audit.AuditFilter(action="test.page", since=start)
    seen, before = [], None
    while True:
        page = audit.search(db, flt, limit=7, before_id=before)
        if not page:
            break
        seen += [e.id for e in page]
        before = page[-1].id
    assert seen == sorted(made, reverse=True)


def test_over_long_and_nul_values_are_fitted_to_their_columns_and_still_chain(db):
    """``record`` fits what a request brought to each column (PostgreSQL refuses an over-long value and a NUL
    character, which made a refused request a 500); the stored value is the hashed one, so the chain holds."""
    from types import SimpleNamespace

    who = SimpleNamespace(user_id=None, username="u" * 400)
    entry = audit.record(
        db,
        actor=who,
        action="test." + "a" * 300,
        target_type="route",
        target_id="GET /" + "x" * 5000,
        outcome="failed",
        reason="why\x00not",
        origin=audit.Origin(ip="1" * 100),
        detail={"path": "/x\x00y"},
    )
    db.commit()
    db.expire_all()
    row = db.get(audit.AuditEntry, entry.id)
    assert len(row.target_id) == 200 and row.target_id.startswith("GET /xxx") and row.target_id.endswith(audit.CUT_MARK)
    assert len(row.actor_username) == 150 and len(row.action) == 100 and len(row.ip) == 64
    assert row.reason == "why\ufffdnot" and "x\\u0000y" in row.detail
    short = audit.record(db, actor=SYSTEM_ACTOR, action="test.write", target_type="thing", target_id="y" * 200)
    db.commit()
    assert db.get(audit.AuditEntry, short.id).target_id == "y" * 200  # a value that fits is kept whole
    assert audit.verify(db).ok
