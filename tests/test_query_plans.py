"""The hot list queries and the foreign-key lookups can use an index (issue 12, finding 9).

SQLite: ``EXPLAIN QUERY PLAN`` must not ``SCAN`` the filtered table without an index, nor sort with
``USE TEMP B-TREE FOR ORDER BY`` where the index gives the order. PostgreSQL: ``EXPLAIN`` with
``enable_seqscan = off`` (the test tables are small, so the planner would otherwise rightly prefer a
sequential scan) must name the expected index and, where the index gives the order, have no Sort.
The queries are the services' own: their SQL is captured as it is sent and explained with the same
parameters. Also: region scope by code-prefix range selects exactly what ``LIKE 'P%'`` did.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, select, text

from yiwang.core.security import (
    SYSTEM_ACTOR,
    Actor,
    ScopeKind,
    digit_upper_bound,
    prefix_range,
    prefix_upper_bound,
    scope_filter,
)
from yiwang.events import queries as events_queries
from yiwang.events.models import Case, Notification
from yiwang.governance import queries as governance_loads
from yiwang.org.models import Department, Region, User

TOWN = "320583102"  # a Kunshan town (巴城镇 in the reference pack)


def region_actor(code: str = TOWN) -> Actor:
    return Actor(
        user_id=None,
        username="t",
        display_name="t",
        permissions=frozenset({"*"}),
        scopes=frozenset({ScopeKind.REGION}),
        region_code=code,
    )


def is_pg(db) -> bool:
    return db.get_bind().dialect.name == "postgresql"


@contextmanager
def captured(db):
    """Collect (SQL, parameters) of every statement the session sends."""
    sent: list[tuple[str, object]] = []
    conn = db.connection()

    def listen(_conn, _cursor, statement, parameters, _context, _executemany):
        sent.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        event.remove(conn, "before_cursor_execute", listen)


def explain(db, sql: str, params=None) -> list[str]:
    conn = db.connection()
    if is_pg(db):
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # undone with the test's transaction
        rows = conn.exec_driver_sql("EXPLAIN " + sql, params or {}).all()
        return [r[0] for r in rows]
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params or ()).all()
    return [r[-1] for r in rows]


def explain_sent(db, run, must_contain: str) -> list[str]:
    """Run ``run()`` and explain the one statement it sent that contains ``must_contain``."""
    with captured(db) as sent:
        run()
    matching = [(s, p) for s, p in sent if must_contain in s]
    assert len(matching) == 1, [s for s, _ in sent]
    return explain(db, *matching[0])


def assert_uses_index(db, plan: list[str], table: str, indexes: tuple[str, ...], *, ordered: bool) -> None:
    joined = "\n".join(plan)
    assert any(ix in joined for ix in indexes), joined
    if is_pg(db):
        assert f"Seq Scan on {table}" not in joined, joined
        if ordered:
            assert not re.search(r"\bSort\b", joined), joined
    else:
        assert not any(re.fullmatch(rf"SCAN {table}( .*)?", line) and "INDEX" not in line for line in plan), joined
        if ordered:
            assert not any("USE TEMP B-TREE FOR ORDER BY" in line for line in plan), joined


# The hot lists ------------------------------------------------------------------------------


def test_case_list_of_a_region_uses_the_region_index(db):
    plan = explain_sent(db, lambda: events_queries.list_cases(db, actor=region_actor(), count=False), "ORDER BY")
    assert_uses_index(db, plan, "events_cases", ("ix_events_cases_region_code",), ordered=False)
    assert not any("LIKE" in line.upper() for line in plan)


def test_case_list_filtered_by_region_uses_the_region_index(db):
    flt = events_queries.CaseFilter(region_code=TOWN)
    plan = explain_sent(db, lambda: events_queries.list_cases(db, actor=SYSTEM_ACTOR, flt=flt, count=False), "ORDER BY")
    assert_uses_index(db, plan, "events_cases", ("ix_events_cases_region_code",), ordered=False)


def _many_notifications(db) -> tuple[int, int]:
    """A few thousand notices, most of them read, so that the planner estimates as on a real installation."""
    users = db.execute(select(User.id).order_by(User.id)).scalars().all()
    depts = db.execute(select(Department.id).order_by(Department.id)).scalars().all()
    roles = ["dispatcher", "supervisor", "leader", "admin", "town_worker", "grid_worker", "case_handler"]
    rng = random.Random(7)
    now = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
    rows = []
    for i in range(3000):
        branch = i % 3
        rows.append(
            {
                "user_id": rng.choice(users) if branch == 0 else None,
                "department_id": rng.choice(depts) if branch == 1 else None,
                "role": rng.choice(roles) if branch == 2 else None,
                "kind": "dispatch",
                "message": "t",
                "created_at": now,
                "read_at": now if rng.random() < 0.9 else None,
            }
        )
    db.execute(insert(Notification), rows)
    db.execute(text("ANALYZE events_notifications"))
    return users[0], depts[0]


def test_unread_notification_count_uses_an_index_per_branch(db):
    user, dept = _many_notifications(db)
    actor = Actor(
        user_id=user,
        username="t",
        display_name="t",
        roles=frozenset({"dispatcher", "supervisor"}),
        department_ids=frozenset({dept}),
        scopes=frozenset({ScopeKind.DEPARTMENT}),
    )
    plan = explain_sent(db, lambda: events_queries.unread_count(db, actor=actor), "count(")
    joined = "\n".join(plan)
    for ix in (
        "ix_events_notifications_user_unread",
        "ix_events_notifications_department_unread",
        "ix_events_notifications_role_unread",
    ):
        assert ix in joined, joined
    assert_uses_index(db, plan, "events_notifications", ("ix_events_notifications_user_unread",), ordered=False)


@pytest.mark.parametrize("who", ["city", "department", "resource"])
def test_list_loads_reads_the_newest_from_an_index(db, who):
    dept = db.execute(select(Department.id).order_by(Department.id)).scalars().first()
    actor, resource, index = SYSTEM_ACTOR, None, "ix_governance_loads_created"
    if who == "department":
        actor = Actor(
            user_id=None,
            username="t",
            display_name="t",
            permissions=frozenset({"*"}),
            scopes=frozenset({ScopeKind.DEPARTMENT}),
            department_ids=frozenset({dept}),
        )
        index = "ix_governance_loads_department_created"
    if who == "resource":
        resource, index = "volunteers", "ix_governance_loads_resource_created"
    plan = explain_sent(db, lambda: governance_loads.list_loads(db, actor=actor, resource=resource), "governance_loads")
    # by resource the order of equal created_at is left to a small sort (the older index has no id)
    assert_uses_index(db, plan, "governance_loads", (index,), ordered=who != "resource")


# Foreign-key lookups ------------------------------------------------------------------------

FK_LOOKUPS = [  # (table, column, a value of its type, acceptable indexes)
    ("events_notifications", "case_id", 1, ("ix_events_notifications_case_id",)),
    ("events_notifications", "user_id", 1, ("ix_events_notifications_user_unread",)),
    ("events_notifications", "department_id", 1, ("ix_events_notifications_department_unread",)),
    ("events_attachments", "action_id", 1, ("ix_events_attachments_action_id",)),
    ("events_actions", "department_id", 1, ("ix_events_actions_department_id",)),
    ("events_cases", "proposed_department_id", 1, ("ix_events_cases_proposed_department_id",)),
    ("events_dispatch_rules", "department_id", 1, ("ix_events_dispatch_rules_department_id",)),
    ("org_departments", "region_code", "320583", ("ix_org_departments_region_code",)),
    ("catalog_classes", "department_id", 1, ("ix_catalog_classes_department_id",)),
    ("governance_loads", "resource", "volunteers", ("ix_governance_loads_resource_created",)),
    ("governance_loads", "department_id", 1, ("ix_governance_loads_department_created",)),
    ("governance_loads", "actor_id", 1, ("ix_governance_loads_actor_id",)),
    ("governance_loads", "resubmit_of", "0" * 32, ("ix_governance_loads_resubmit_of",)),
    (
        "governance_quarantine_fixes",
        "load_id",
        "0" * 32,
        ("uq_governance_quarantine_fixes_load_line", "sqlite_autoindex_governance_quarantine_fixes_1"),
    ),
    ("governance_quarantine_fixes", "resource", "volunteers", ("ix_governance_quarantine_fixes_resource_status",)),
    ("governance_quarantine_fixes", "resubmit_load_id", "0" * 32, ("ix_governance_quarantine_fixes_resubmit_load_id",)),
    ("governance_lineage_events", "department_id", 1, ("ix_governance_lineage_events_department_id",)),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "indexes"), FK_LOOKUPS, ids=[f"{t}.{c}" for t, c, _v, _i in FK_LOOKUPS]
)
def test_foreign_key_lookup_uses_an_index(db, table, column, value, indexes):
    """What a DELETE of the referenced row (or a join from it) must look up."""
    if is_pg(db):
        plan = explain(db, f"SELECT 1 FROM {table} WHERE {column} = %(v)s", {"v": value})
    else:
        plan = explain(db, f"SELECT 1 FROM {table} WHERE {column} = ?", (value,))
    assert_uses_index(db, plan, table, indexes, ordered=False)


# Region scope by prefix range -------------------------------------------------------------


def test_prefix_upper_bound():
    assert prefix_upper_bound("3205") == "3206"
    assert prefix_upper_bound("32059") == "3205:"  # the character after "9"; no carry into the digits
    assert prefix_upper_bound("ab\U0010ffff") == "ac"  # the last character cannot grow: carry
    assert prefix_upper_bound("\U0010ffff") is None  # nothing above: the range is open
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # surrogates skipped


def test_digit_codes_get_a_bound_of_digits():
    """Division codes: the bound stays in digits, so no collation can order it differently."""
    assert digit_upper_bound("320583109") == "32058311"
    assert digit_upper_bound("3205") == "3206"
    assert digit_upper_bound("399") == "4"
    assert digit_upper_bound("999") is None and digit_upper_bound("") is None
    codes = [f"{n:04d}" for n in range(0, 10000, 7)] + ["3", "39", "399", "3990", "40"]
    for prefix in ["3", "39", "399", "0999", "9", "12"]:
        upper = digit_upper_bound(prefix)
        assert {c for c in codes if c >= prefix and (upper is None or c < upper)} == {
            c for c in codes if c.startswith(prefix)
        }, prefix


def test_prefix_range_agrees_with_startswith_on_general_strings():
    """Code-point order (SQLite's BINARY collation, PostgreSQL's C): the range is exactly the prefix set."""
    rng = random.Random(12)
    alphabet = ["0", "1", "9", ":", "a", "z", "%", "_", "\\", "中", "\U0010ffff", "\ud7ff", "\ue000"]
    words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(3000)}
    for prefix in [w[:k] for w in list(words)[:300] for k in range(len(w) + 1)]:
        upper = prefix_upper_bound(prefix)
        by_range = {w for w in words if w >= prefix and (upper is None or w < upper)}
        assert by_range == {w for w in words if w.startswith(prefix)}, prefix


def _kunshan_prefixes(db) -> list[str]:
    codes = db.execute(select(Region.code, Region.level)).all()
    assert len(codes) > 1000  # the Kunshan pack: city, towns, villages, grids
    upper = [c for c, level in codes if level != "grid"]
    grids = sorted(c for c, level in codes if level == "grid")[::40]
    partial = ["", "3", "3205", "32058", "3205831", "32058310", "320583109", "32058399", "4", "9"]
    return upper + grids + partial + [c[:-1] for c in upper]


def test_region_range_selects_what_like_selected_on_kunshan_codes(db):
    prefixes = _kunshan_prefixes(db)
    for prefix in prefixes:
        old = set(db.execute(select(Region.code).where(Region.code.startswith(prefix, autoescape=True))).scalars())
        new = set(db.execute(select(Region.code).where(prefix_range(Region.code, prefix))).scalars())
        assert new == old, prefix
    assert len(set(db.execute(select(Region.code).where(prefix_range(Region.code, TOWN))).scalars())) > 10


def test_case_scope_selects_what_like_selected(db):
    towns = db.execute(select(Region.code).where(Region.level.in_(("city", "town")))).scalars().all()
    assert len(towns) >= 2
    seen = 0
    for code in towns + ["32058310000", "3205839"]:
        actor = region_actor(code)
        new = set(db.execute(select(Case.id).where(scope_filter(actor, region_col=Case.region_code))).scalars())
        old = set(db.execute(select(Case.id).where(Case.region_code.startswith(code, autoescape=True))).scalars())
        assert new == old, code
        seen += len(new)
    assert seen > 0  # the reference cases lie in these regions
    sql = str(select(Case.id).where(scope_filter(region_actor(), region_col=Case.region_code)))
    assert "LIKE" not in sql.upper() and ">=" in sql and "<" in sql


# Audit time ranges ---------------------------------------------------------------------------


def test_audit_time_range_reads_newest_first_from_an_index(db):
    import datetime as dt

    from yiwang.core import audit

    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    flt = audit.AuditFilter(since=since, until=since + dt.timedelta(days=30))
    plan = explain_sent(db, lambda: audit.search(db, flt, limit=50), "audit_entries")
    assert_uses_index(db, plan, "audit_entries", ("ix_audit_entries_ts_id",), ordered=True)
    first = audit.search(db, audit.AuditFilter(since=since), limit=1)
    if first:  # the keyset page after an entry is read from the same index
        plan = explain_sent(db, lambda: audit.search(db, flt, limit=50, before_id=first[0].id), "ts <")
        assert_uses_index(db, plan, "audit_entries", ("ix_audit_entries_ts_id",), ordered=True)


def test_digit_bound_holds_under_a_language_collation(db):
    """On PostgreSQL with a language collation, ``"32058310:"`` sorts below ``"320583109001"`` (ICU and glibc
    ignore the colon at the first level); the digit bound does not."""
    if not is_pg(db):
        pytest.skip("collations are PostgreSQL's; SQLite compares codes by their bytes")
    collation = db.execute(text("SELECT collname FROM pg_collation WHERE collname = 'en-US-x-icu'")).scalar()
    if collation is None:
        pytest.skip("this PostgreSQL server has no ICU en-US collation to compare under")
    code, prefix = "320583109001", "320583109"
    upper = digit_upper_bound(prefix)
    inside = db.execute(
        text(f'SELECT :c >= :p COLLATE "{collation}" AND :c < :u COLLATE "{collation}"'),
        {"c": code, "p": prefix, "u": upper},
    ).scalar()
    colon = db.execute(text(f'SELECT :c < :u COLLATE "{collation}"'), {"c": code, "u": prefix[:-1] + ":"}).scalar()
    assert inside is True and colon is False
