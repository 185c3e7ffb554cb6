"""Catalog test helpers: a small valid entry, the governance rules validator, actors."""

from __future__ import annotations

import copy

import pytest

from yiwang import catalog, org
from yiwang.core.security import Actor, permissions_for, scopes_for
from yiwang.governance.engine.rules import ResourceRules

SPEC = {
    "name": "community_volunteers",
    "title": "社区志愿者登记信息",
    "classification": "210001",
    "provider": "public_security",
    "abstract": "各村（社区）志愿者的登记信息，用于志愿服务调度和表彰。",
    "format": {"type": "spreadsheet", "detail": "xlsx"},
    "items": [
        {"name": "姓名", "type": "string", "sensitivity": "L3", "personal": True},
        {"name": "公民身份号码", "type": "string", "sensitivity": "L4", "personal": True},
        {"name": "服务时长（小时）", "type": "decimal", "sensitivity": "L1"},
    ],
    "share": {"type": "conditional", "conditions": "用于志愿服务表彰审核。", "methods": ["api"]},
    "open": {"type": "closed"},
    "update_cycle": "monthly",
    "rules": {
        "columns": [
            {"name": "姓名", "kind": "person_name", "required": True, "mask": {"method": "surname"}},
            {
                "name": "公民身份号码",
                "kind": "resident_id",
                "required": True,
                "mask": {"method": "keep_ends", "first": 6, "last": 4},
            },
            {"name": "服务时长（小时）", "dtype": "decimal", "kind": "number", "min": 0},
        ],
        "unique_keys": [["公民身份号码"]],
    },
}


@pytest.fixture
def spec():
    """``spec(title=...)`` → a valid entry of 市公安局 (the demo officer's department), fields replaced."""

    def _spec(**changes) -> dict:
        doc = copy.deepcopy(SPEC)
        doc.update(changes)
        return doc

    return _spec


def governance_validator(rules: dict) -> dict:
    """What the governance domain registers: its ResourceRules model, normalised back to a dict."""
    return ResourceRules.model_validate(rules).to_dict()


@pytest.fixture
def validator():
    """Install the governance validator for one test (governance is above catalog, so tests wire it)."""
    catalog.register_rules_validator(governance_validator)
    yield governance_validator
    catalog.register_rules_validator(None)


@pytest.fixture
def officer(db):
    """``officer("public_security")`` → an actor with the data-officer role in that department."""
    return lambda key: _officer(db, key)


@pytest.fixture
def bureau() -> Actor:
    """A big-data bureau administrator (publishes and rejects)."""
    roles = frozenset({org.roles.ADMIN})
    return Actor(
        user_id=None,
        username="bureau",
        display_name="大数据局",
        roles=roles,
        permissions=permissions_for(roles),
        scopes=scopes_for(roles),
    )


@pytest.fixture
def town_worker() -> Actor:
    roles = frozenset({org.roles.TOWN_WORKER})
    return Actor(
        user_id=None,
        username="town.x",
        display_name="区镇",
        roles=roles,
        permissions=permissions_for(roles),
        scopes=scopes_for(roles),
        region_code="320583100",
    )


def _officer(db, key: str) -> Actor:
    dept = org.get_department_by_key(db, key)
    roles = frozenset({org.roles.DATA_OFFICER})
    return Actor(
        user_id=None,
        username=f"officer.{key}",
        display_name=dept.name,
        roles=roles,
        permissions=permissions_for(roles),
        scopes=scopes_for(roles),
        department_id=dept.id,
        department_name=dept.name,
        department_ids=org.department_subtree_ids(db, dept.id),
    )
