"""CHECK constraints on the closed value sets, and the governance tables' foreign keys (issue 12, finding 8).

Each table family: a valid row is accepted, the same row with one value outside its set raises
IntegrityError naming the constraint. Also: the sets in the schema are the sets the code writes, the
migrations created every CHECK the models declare, and governance references never cascade.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from importlib import resources
from typing import get_args

import pytest
from sqlalchemy import CheckConstraint, delete, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from yiwang.app import load_models
from yiwang.catalog import spec as catalog_spec
from yiwang.catalog.models import CatalogClass, CatalogEntry, CatalogSearchTerm, CatalogVersion
from yiwang.core.db import Base
from yiwang.events import queries as events_queries
from yiwang.events.models import CASE_STATUSES, Action, Case, Task
from yiwang.events.triage.taxonomy import PRIORITY_LABELS
from yiwang.events.workcal import WarningLevel
from yiwang.governance.models import LineageEvent, Load, QuarantineFix
from yiwang.governance.schemas import Mode
from yiwang.org import queries as org_queries
from yiwang.org.models import ApiToken, Department, Region, User

NOW = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def _insert(db, table, row: dict):
    """Insert in a savepoint; on failure only the savepoint is rolled back and the error re-raised."""
    with db.begin_nested():
        return db.execute(insert(table).values(row))


def assert_rejected(db, table, good: dict, column: str, bad, constraint: str) -> None:
    """``good`` is accepted (then rolled back); with ``column=bad`` the constraint ``constraint`` refuses it."""
    sp = db.begin_nested()
    db.execute(insert(table).values(good))
    sp.rollback()
    with pytest.raises(IntegrityError) as caught:
        _insert(db, table, {**good, column: bad})
    message = str(caught.value.orig)
    assert constraint.lower() in message.lower(), message


# Rows ---------------------------------------------------------------------------------


def region_row(**kw) -> dict:
    return {
        "code": "9" + str(uuid.uuid4().int)[:11],
        "name": "测试",
        "level": "town",
        "parent_code": None,
        "sort": 0,
        "geometry_approximate": False,
        **kw,
    }


def new_region(db) -> str:
    row = region_row()
    _insert(db, Region, row)
    return row["code"]


def department_row(db, **kw) -> dict:
    u = _uid()
    return {
        "key": f"t_{u}",
        "name": f"测试部门{u}",
        "short_name": "测试",
        "credit_code": ("1" + u + "0" * 18)[:18],
        "kind": "organ",
        "region_code": new_region(db),
        **kw,
    }


def new_department(db) -> int:
    return _insert(db, Department, department_row(db)).inserted_primary_key[0]


def user_row(**kw) -> dict:
    return {"username": f"t_{_uid()}", "display_name": "测试", "kind": "staff", "password_hash": "x", **kw}


def new_user(db) -> int:
    return _insert(db, User, user_row()).inserted_primary_key[0]


LISTED = {
    "title": "测试",
    "classification": "101001",
    "share_type": "conditional",
    "open_type": "closed",
    "update_cycle": "monthly",
    "items_count": 1,
}


def entry_row(db, **kw) -> dict:
    return {
        "name": f"t_{_uid()}",
        "department_id": new_department(db),
        "status": "draft",
        "spec": "{}",
        "created_by": "t",
        "updated_by": "t",
        **LISTED,
        **kw,
    }


def new_entry(db) -> tuple[int, str, int]:
    row = entry_row(db)
    entry_id = _insert(db, CatalogEntry, row).inserted_primary_key[0]
    return entry_id, row["name"], row["department_id"]


def load_row(resource: str, department_id: int, **kw) -> dict:
    return {
        "id": uuid.uuid4().hex,
        "resource": resource,
        "department_id": department_id,
        "mode": "append",
        "status": "queued",
        "origin": "upload",
        "source_name": "t.csv",
        "actor_username": "t",
        "run_id": str(uuid.uuid4()),
        **kw,
    }


def new_load(db, **kw) -> tuple[str, str, int]:
    _entry_id, name, dept = new_entry(db)
    row = load_row(name, dept, **kw)
    _insert(db, Load, row)
    return row["id"], name, dept


def case_row(**kw) -> dict:
    return {
        "token": uuid.uuid4().hex,
        "source": "passive",
        "channel": "portal",
        "status": "accepted",
        "description": "测试",
        **kw,
    }


def new_case(db) -> int:
    return _insert(db, Case, case_row()).inserted_primary_key[0]


# The sets in the schema are the sets the code uses ---------------------------------------


def _values(table, name: str) -> set[str]:
    """The quoted values of the CHECK ``ck_<table>_<name>`` declared on the model."""
    [ck] = [
        c for c in table.constraints if isinstance(c, CheckConstraint) and c.name in (name, f"ck_{table.name}_{name}")
    ]
    text = str(ck.sqltext)
    return {part.strip().strip("'") for part in text[text.index("(") + 1 : text.rindex(")")].split(",")}


def test_schema_value_sets_are_the_code_sets():
    c = Case.__table__
    assert _values(c, "status") == set(events_queries.ALL_STATUSES) == set(CASE_STATUSES)
    assert _values(c, "source") == set(events_queries.SOURCES)
    assert _values(c, "channel") == set(events_queries.CHANNELS)
    assert _values(c, "warn_level") == {w.value for w in WarningLevel}
    assert set(events_queries.STATUS_LABELS) == set(CASE_STATUSES)
    assert set(PRIORITY_LABELS) == {1, 2, 3, 4}
    for t in (CatalogEntry.__table__, CatalogVersion.__table__):
        assert _values(t, "share_type") == set(get_args(catalog_spec.ShareType))
        assert _values(t, "open_type") == set(get_args(catalog_spec.OpenType))
        assert _values(t, "update_cycle") == set(get_args(catalog_spec.UpdateCycle))
    assert _values(Load.__table__, "mode") == set(get_args(Mode))
    assert _values(Region.__table__, "level") == set(org_queries.REGION_LEVELS)
    schema = json.loads((resources.files("yiwang.governance") / "openlineage_runevent.schema.json").read_text())
    event_types = schema["$defs"]["RunEvent"]["properties"]["eventType"]["enum"]
    assert _values(LineageEvent.__table__, "event_type") == set(event_types)


def test_migrations_created_every_check_the_models_declare(engine):
    """Autogenerate does not compare CHECK constraints: compare their names here, table by table."""
    load_models()
    insp = inspect(engine)
    declared = {
        t.name: {c.name for c in t.constraints if isinstance(c, CheckConstraint)} for t in Base.metadata.sorted_tables
    }
    declared = {name: cks for name, cks in declared.items() if cks}
    assert set(declared) >= {
        "org_regions",
        "org_departments",
        "org_users",
        "org_api_tokens",
        "catalog_classes",
        "catalog_entries",
        "catalog_versions",
        "catalog_search_terms",
        "governance_loads",
        "governance_quarantine_fixes",
        "governance_lineage_events",
        "events_cases",
        "events_tasks",
        "events_actions",
    }
    for table, names in declared.items():
        assert {c["name"] for c in insp.get_check_constraints(table)} >= names, table


# org ------------------------------------------------------------------------------------


def test_org_checks(db):
    assert_rejected(db, Region, region_row(), "level", "province", "ck_org_regions_level")
    assert_rejected(db, Department, department_row(db), "kind", "company", "ck_org_departments_kind")
    assert_rejected(db, User, user_row(), "kind", "system", "ck_org_users_kind")
    token = {"user_id": new_user(db), "kind": "access", "token_digest": uuid.uuid4().hex, "prefix": "yw_x"}
    assert_rejected(db, ApiToken, token, "kind", "session", "ck_org_api_tokens_kind")


# catalog ----------------------------------------------------------------------------------


def test_catalog_checks(db):
    cls = {"code": "9" + _uid()[:8], "name": "测试", "level": 4, "sort": 0}
    assert_rejected(db, CatalogClass, cls, "level", 5, "ck_catalog_classes_level")
    assert_rejected(db, CatalogClass, cls, "level", 0, "ck_catalog_classes_level")
    assert_rejected(db, CatalogEntry, entry_row(db), "status", "archived", "ck_catalog_entries_status")
    for column, bad in (("share_type", "always"), ("open_type", "public"), ("update_cycle", "never")):
        assert_rejected(db, CatalogEntry, entry_row(db), column, bad, f"ck_catalog_entries_{column}")
    entry_id, _name, _dept = new_entry(db)
    version = {"entry_id": entry_id, "number": 1, "spec": "{}", "published_by": "t", **LISTED}
    for column, bad in (("share_type", "always"), ("open_type", "public"), ("update_cycle", "never")):
        assert_rejected(db, CatalogVersion, version, column, bad, f"ck_catalog_versions_{column}")
    term = {"entry_id": entry_id, "layer": "working", "term": "测试", "weight": 1}
    assert_rejected(db, CatalogSearchTerm, term, "layer", "draft", "ck_catalog_search_terms_layer")


# governance ------------------------------------------------------------------------------


def test_governance_checks(db):
    _entry_id, name, dept = new_entry(db)
    assert_rejected(db, Load, load_row(name, dept), "mode", "merge", "ck_governance_loads_mode")
    assert_rejected(db, Load, load_row(name, dept), "status", "cancelled", "ck_governance_loads_status")
    assert_rejected(db, Load, load_row(name, dept), "origin", "ftp", "ck_governance_loads_origin")
    for origin in ("cli", "upload", "pull", "resubmit", "reference"):  # every origin the code writes
        _insert(db, Load, load_row(name, dept, origin=origin))
    load_id, name, _dept = new_load(db)
    fix = {"load_id": load_id, "line": 1, "resource": name, "status": "fixed", "fixed_by": "t"}
    assert_rejected(db, QuarantineFix, fix, "status", "open", "ck_governance_quarantine_fixes_status")
    event = {"run_id": str(uuid.uuid4()), "event_type": "START", "event_time": NOW, "job_name": "t", "payload": "{}"}
    assert_rejected(db, LineageEvent, event, "event_type", "STOP", "ck_governance_lineage_events_event_type")


def test_governance_foreign_keys_refuse_unknown_references(db):
    _entry_id, name, dept = new_entry(db)
    assert_rejected(db, Load, load_row(name, dept), "resource", "no_such_entry", "foreign key")
    assert_rejected(db, Load, load_row(name, dept), "department_id", 10**9, "foreign key")
    assert_rejected(db, Load, load_row(name, dept), "actor_id", 10**9, "foreign key")
    assert_rejected(db, Load, load_row(name, dept), "resubmit_of", "0" * 32, "foreign key")
    load_id, name, _dept = new_load(db)
    fix = {"load_id": load_id, "line": 1, "resource": name, "status": "fixed", "fixed_by": "t"}
    assert_rejected(db, QuarantineFix, fix, "load_id", "0" * 32, "foreign key")
    assert_rejected(db, QuarantineFix, fix, "resource", "no_such_entry", "foreign key")
    assert_rejected(db, QuarantineFix, fix, "resubmit_load_id", "0" * 32, "foreign key")
    event = {
        "run_id": str(uuid.uuid4()),
        "event_type": "START",
        "event_time": NOW,
        "job_name": "t",
        "payload": "{}",
        "department_id": dept,
    }
    assert_rejected(db, LineageEvent, event, "department_id", 10**9, "foreign key")


def test_governance_history_is_never_deleted_through_a_reference(db):
    """Deleting what a load points to is refused (RESTRICT); a deleted user only loses the link (SET NULL)."""
    user_id = new_user(db)
    load_id, name, dept = new_load(db, actor_id=user_id)
    _insert(db, QuarantineFix, {"load_id": load_id, "line": 7, "resource": name, "status": "fixed", "fixed_by": "t"})
    _insert(
        db,
        LineageEvent,
        {
            "run_id": str(uuid.uuid4()),
            "event_type": "START",
            "event_time": NOW,
            "job_name": "t",
            "payload": "{}",
            "department_id": dept,
        },
    )
    for stmt in (
        delete(CatalogEntry).where(CatalogEntry.name == name),
        delete(Department).where(Department.id == dept),
        delete(Load).where(Load.id == load_id),
    ):
        with pytest.raises(IntegrityError), db.begin_nested():
            db.execute(stmt)
    with db.begin_nested():
        db.execute(delete(User).where(User.id == user_id))
    assert db.execute(select(Load.actor_id, Load.actor_username).where(Load.id == load_id)).one() == (None, "t")
    assert db.execute(select(QuarantineFix.line).where(QuarantineFix.load_id == load_id)).scalar_one() == 7


# events -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("status", "open"),
        ("source", "manual"),
        ("channel", "fax"),
        ("category_by", "model"),
        ("located_by", "gps"),
        ("triage_status", "failed"),
        ("step", "close"),
        ("warn_level", "orange"),
        ("priority", 0),
        ("priority", 5),
        ("rating", 0),
        ("rating", 6),
    ],
)
def test_case_checks(db, column, bad):
    assert_rejected(db, Case, case_row(), column, bad, f"ck_events_cases_{column}")


def test_case_rating_one_to_five_and_none_accepted(db):
    for rating in (None, 1, 2, 3, 4, 5):
        _insert(db, Case, case_row(rating=rating, status="rated" if rating else "closed"))
    case_id = new_case(db)
    with pytest.raises(IntegrityError), db.begin_nested():  # an UPDATE is checked as well as an INSERT
        db.execute(update(Case).where(Case.id == case_id).values(rating=9))


def test_task_and_action_checks(db):
    case_id = new_case(db)
    task = {"case_id": case_id, "department_id": new_department(db), "role": "lead", "status": "pending"}
    assert_rejected(db, Task, task, "role", "owner", "ck_events_tasks_role")
    assert_rejected(db, Task, task, "status", "open", "ck_events_tasks_status")
    assert_rejected(db, Task, task, "ext_status", "pending", "ck_events_tasks_ext_status")
    action = {"case_id": case_id, "action": "accept", "from_status": None, "to_status": "accepted"}
    assert_rejected(db, Action, action, "from_status", "new", "ck_events_actions_from_status")
    assert_rejected(db, Action, action, "to_status", "done", "ck_events_actions_to_status")
