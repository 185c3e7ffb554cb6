"""Writes of the org domain: users, and the region and department tables the reference pack loads.

Each write checks its input, commits itself together with its audit entry (``db.commit``), and
leaves reads to ``queries.py``, where every query that returns users is filtered by the caller's
data scope, so pages, API and exports share one rule.
"""

from __future__ import annotations

import re

import stdnum.cn.ric
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.crypto import blind_index
from yiwang.core.errors import Invalid
from yiwang.core.i18n import _
from yiwang.core.security import Actor, hash_password, roles
from yiwang.org.models import Department, Region, User, UserRole
from yiwang.org.queries import get_department_by_key, get_region, get_user
from yiwang.org.roles import ORG_MANAGE
from yiwang.org.schemas import UserCreate, UserUpdate

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


# Users -------------------------------------------------------------------------


def _check_roles(role_keys: list[str]) -> list[str]:
    known = roles()
    unknown = [r for r in role_keys if r not in known]
    if unknown:
        raise Invalid(_("Unknown role: %(roles)s", roles=", ".join(unknown)), field="roles")
    return sorted(set(role_keys))


def _check_phone(phone: str | None) -> str | None:
    if phone is None or phone == "":
        return None
    phone = re.sub(r"[\s-]", "", phone)
    if not MOBILE_RE.match(phone):
        raise Invalid(_("%(value)s is not a mainland mobile number.", value=phone), field="phone")
    return phone


def _check_id_number(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().upper()
    if not stdnum.cn.ric.is_valid(value):
        raise Invalid(_("%(value)s is not a valid resident ID number (GB 11643).", value=value), field="id_number")
    return value


def _set_personal(user: User, *, phone: str | None, id_number: str | None) -> None:
    user.phone = phone
    user.phone_index = blind_index(phone) if phone else None
    user.id_number = id_number
    user.id_number_index = blind_index(id_number) if id_number else None


def create_user(session: Session, *, actor: Actor, data: UserCreate, origin: Origin, is_demo: bool = False) -> User:
    actor.require(ORG_MANAGE)
    if session.execute(select(User.id).where(User.username == data.username)).first():
        raise Invalid(_("The username %(name)s is taken.", name=data.username), field="username")
    role_keys = _check_roles(data.roles)
    dept = get_department_by_key(session, data.department_key) if data.department_key else None
    region = get_region(session, data.region_code) if data.region_code else None
    user = User(
        username=data.username,
        display_name=data.display_name.strip(),
        kind=data.kind,
        password_hash=hash_password(data.password),
        department_id=dept.id if dept else None,
        region_code=region.code if region else None,
        credit_code=data.credit_code,
        email=data.email,
        is_demo=is_demo,
    )
    _set_personal(user, phone=_check_phone(data.phone), id_number=_check_id_number(data.id_number))
    user.roles = [UserRole(role=r) for r in role_keys]
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        origin=origin,
        detail={
            "username": user.username,
            "roles": role_keys,
            "department": data.department_key,
            "region": user.region_code,
        },
    )
    db.commit(session)
    return user


def update_user(session: Session, *, actor: Actor, user_id: int, data: UserUpdate, origin: Origin) -> User:
    actor.require(ORG_MANAGE)
    user = get_user(session, actor=actor, user_id=user_id)
    changed = data.model_dump(exclude_unset=True)
    if "display_name" in changed and data.display_name:
        user.display_name = data.display_name.strip()
    if "roles" in changed and data.roles is not None:
        user.roles = [UserRole(role=r) for r in _check_roles(data.roles)]
    if "department_key" in changed:
        user.department_id = get_department_by_key(session, data.department_key).id if data.department_key else None
    if "region_code" in changed:
        user.region_code = get_region(session, data.region_code).code if data.region_code else None
    if "phone" in changed:
        _set_personal(user, phone=_check_phone(data.phone), id_number=user.id_number)
    if "email" in changed:
        user.email = data.email
    if "is_active" in changed and data.is_active is not None:
        if user.id == actor.user_id and not data.is_active:
            raise Invalid(_("You cannot disable your own account."), field="is_active")
        user.is_active = data.is_active
    audit.record(
        session,
        actor=actor,
        action="user.update",
        target_type="user",
        target_id=user.id,
        origin=origin,
        detail={"fields": sorted(changed)},
    )
    db.commit(session)
    return user


# Reference data import (used by reference packs; runs as the system) -----------


def import_regions(session: Session, rows: list[dict]) -> dict[str, int]:
    """Bulk-insert regions (dicts with code, name, level, parent_code, sort, lng, lat), parents first."""
    rows = sorted(rows, key=lambda r: len(r["code"]))
    session.execute(insert(Region), rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["level"]] = counts.get(r["level"], 0) + 1
    return counts


def import_departments(session: Session, rows: list[dict]) -> int:
    """Insert departments (dicts with key, name, short_name, credit_code, kind, parent_key, region_code)."""
    ids: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: bool(r.get("parent_key"))):
        dept = Department(
            key=r["key"],
            name=r["name"],
            short_name=r["short_name"],
            credit_code=r["credit_code"],
            kind=r["kind"],
            parent_id=ids.get(r["parent_key"]) if r.get("parent_key") else None,
            region_code=r["region_code"],
        )
        session.add(dept)
        session.flush()
        ids[r["key"]] = dept.id
    return len(rows)
