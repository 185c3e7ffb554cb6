"""Residents as received (raw, clean, quarantine) need the lake's own personal-data permission."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from yiwang import lake
from yiwang.core.errors import AccessDenied
from yiwang.core.security import Actor, ScopeKind, permissions_for

POPULATION = SimpleNamespace(name="population", provider=SimpleNamespace(id=7), spec={"share": {"type": "conditional"}})


def _actor(*perms: str) -> Actor:
    return Actor(
        user_id=1,
        username="u",
        display_name="u",
        permissions=frozenset({lake.VIEW, *perms}),
        scopes=frozenset({ScopeKind.ALL}),
    )


@pytest.mark.parametrize("zone", ["raw", "clean", "quarantine"])
def test_personal_zones_need_lake_personal_read(zone):
    other_kinds = _actor("org.personal.read", "events.reporter.read")  # directory and reporters: not the lake
    with pytest.raises(AccessDenied) as denied:
        lake.require_zone(other_kinds, POPULATION, zone, "核对人口基础数据")
    assert denied.value.detail["permission"] == lake.PERSONAL_READ == "lake.personal.read"
    assert lake.require_zone(_actor(lake.PERSONAL_READ), POPULATION, zone, "核对人口基础数据") == "核对人口基础数据"
    assert lake.require_zone(other_kinds, POPULATION, "share", None) is None  # masked rows: lake.view is enough


def test_who_holds_lake_personal_read():
    assert lake.PERSONAL_READ in permissions_for(["data_officer"]) and lake.PERSONAL_READ in permissions_for(["admin"])
    for role in ("dispatcher", "town_worker", "leader", "auditor"):
        assert lake.PERSONAL_READ not in permissions_for([role]), role
