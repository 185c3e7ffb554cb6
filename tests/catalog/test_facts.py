"""Mounting and load facts from the lake, and the two plan indicators computed from them."""

import datetime as dt

import pytest

from yiwang import catalog
from yiwang.catalog import queries
from yiwang.core import audit
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Invalid
from yiwang.core.security import SYSTEM_ACTOR

ORIGIN = Origin(ip="lake")


def _indicators(db):
    return {i.key: i for i in catalog.indicators(db)}


def test_indicators_start_at_zero_and_count_only_published_entries(db):
    ind = _indicators(db)
    published = catalog.list_resources(db, actor=SYSTEM_ACTOR, status="published")[1]
    assert ind["mount_rate"].denominator == published == ind["cleaning_masking_rate"].denominator
    assert (ind["mount_rate"].numerator, ind["mount_rate"].value, ind["mount_rate"].target) == (0, 0.0, 95.0)
    assert (ind["cleaning_masking_rate"].value, ind["cleaning_masking_rate"].target) == (0.0, 100.0)
    catalog.set_mount_state(
        db, name="gas_accounts", mounted=True, tables={"raw": "raw.gas_accounts"}, actor=SYSTEM_ACTOR, origin=ORIGIN
    )  # not published: does not count
    assert _indicators(db)["mount_rate"].numerator == 0


def test_mount_rate_follows_mount_state(db):
    denominator = _indicators(db)["mount_rate"].denominator
    for name in ("population", "enterprise"):
        catalog.set_mount_state(
            db,
            name=name,
            mounted=True,
            actor=SYSTEM_ACTOR,
            origin=ORIGIN,
            tables={"clean": f"clean.{name}", "share": f"share.{name}"},
        )
    ind = _indicators(db)["mount_rate"]
    assert ind.numerator == 2 and ind.value == round(200 / denominator, 1)
    state = catalog.set_mount_state(db, name="enterprise", mounted=False, tables={}, actor=SYSTEM_ACTOR, origin=ORIGIN)
    assert state.mounted is False and state.tables == {}
    assert _indicators(db)["mount_rate"].numerator == 1
    entry = catalog.get_resource(db, actor=SYSTEM_ACTOR, name="population")
    assert entry.mount.tables == {"clean": "clean.population", "share": "share.population"}
    history = queries.history(db, actor=SYSTEM_ACTOR, name="enterprise")
    assert [h.action for h in history[:2]] == ["unmount", "mount"]
    assert audit.search(db, audit.AuditFilter(action="catalog.mount", target_id="population"), limit=1)


def test_cleaning_and_masking_rate_uses_the_latest_load(db):
    rules = catalog.resource_rules(db, "population")
    t0 = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
    catalog.record_load_summary(
        db,
        name="population",
        actor=SYSTEM_ACTOR,
        origin=ORIGIN,
        rules_applied=True,
        masking_applied=True,
        rules_version=rules.version,
        rows_read=1000,
        rows_accepted=990,
        rows_quarantined=10,
        loaded_at=t0,
        detail={"quarantine_by_rule": {"resident_id": 10}},
    )
    assert _indicators(db)["cleaning_masking_rate"].numerator == 1
    catalog.record_load_summary(
        db,
        name="population",
        actor=SYSTEM_ACTOR,
        origin=ORIGIN,
        rules_applied=False,
        masking_applied=False,
        rows_read=5,
        rows_accepted=5,
        loaded_at=t0 + dt.timedelta(days=1),
    )
    assert _indicators(db)["cleaning_masking_rate"].numerator == 0  # the latest load was not governed
    catalog.record_load_summary(
        db,
        name="enterprise",
        actor=SYSTEM_ACTOR,
        origin=ORIGIN,
        rules_applied=True,
        masking_applied=True,
        rules_version=1,
        rows_read=3,
        rows_accepted=3,
        loaded_at=t0 - dt.timedelta(days=30),
    )
    assert _indicators(db)["cleaning_masking_rate"].numerator == 1
    latest = catalog.get_resource(db, actor=SYSTEM_ACTOR, name="population").latest_load
    assert latest.rows_read == 5 and latest.rules_applied is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rows_read": -1}, "rows_read"),
        ({"rows_read": 1, "rows_accepted": 2}, "rows_read"),
        ({"rules_version": 99}, "rules_version"),
        ({"rules_version": None}, "rules_version"),
        ({"loaded_at": dt.datetime(2026, 1, 1)}, "loaded_at"),
        ({"detail": {"x": "y" * 30000}}, "detail"),
    ],
)
def test_bad_load_facts_are_named(db, kwargs, field):
    args = {"rules_applied": True, "masking_applied": True, "rules_version": 1, "rows_read": 10, "rows_accepted": 10}
    args.update(kwargs)
    with pytest.raises(Invalid) as exc:
        catalog.record_load_summary(db, name="population", actor=SYSTEM_ACTOR, origin=ORIGIN, **args)
    assert exc.value.detail["field"] == field


def test_facts_need_the_permission_and_the_department(db, officer, town_worker):
    with pytest.raises(AccessDenied):
        catalog.set_mount_state(
            db, name="population", mounted=True, tables={"raw": "raw.p"}, actor=town_worker, origin=ORIGIN
        )
    with pytest.raises(AccessDenied):  # 市场监管局's officer, 市公安局's resource
        catalog.set_mount_state(
            db,
            name="population",
            mounted=True,
            tables={"raw": "raw.p"},
            actor=officer("market_regulation"),
            origin=ORIGIN,
        )
    state = catalog.set_mount_state(
        db, name="population", mounted=True, tables={"raw": "raw.p"}, actor=officer("public_security"), origin=ORIGIN
    )
    assert state.mounted
    with pytest.raises(Invalid):
        catalog.set_mount_state(db, name="population", mounted=True, tables={}, actor=SYSTEM_ACTOR, origin=ORIGIN)
    with pytest.raises(Invalid):
        catalog.set_mount_state(
            db, name="population", mounted=True, tables={"raw": "x" * 201}, actor=SYSTEM_ACTOR, origin=ORIGIN
        )
