"""Reads of the org domain: lookups and lists in the caller's data scope (writes: ``service.py``)."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Invalid, NotFound
from yiwang.core.i18n import _
from yiwang.core.masking import mask_phone
from yiwang.core.security import Actor, in_scope, prefix_range, scope_filter
from yiwang.org.models import Department, Region, User, UserRole
from yiwang.org.roles import ORG_VIEW, PERSONAL_READ
from yiwang.org.schemas import UserPersonal, UserPublic

REGION_LEVELS = ("city", "town", "village", "grid")


def get_region(session: Session, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise NotFound(_("No region with code %(code)s.", code=code))
    return region


def list_regions(
    session: Session,
    *,
    parent_code: str | None = None,
    level: str | None = None,
    q: str | None = None,
    limit: int = 500,
) -> list[Region]:
    stmt = select(Region)
    if parent_code:
        stmt = stmt.where(Region.parent_code == parent_code)
    if level:
        if level not in REGION_LEVELS:
            raise Invalid(_("Unknown region level %(level)s.", level=level), field="level")
        stmt = stmt.where(Region.level == level)
    if q:
        stmt = stmt.where(Region.name.contains(q, autoescape=True))
    return list(session.execute(stmt.order_by(Region.code).limit(limit)).scalars())


def region_ancestors(session: Session, code: str) -> list[Region]:
    """The region and its ancestors below the city, outermost first."""
    prefixes = {code[:n] for n in (9, 12) if len(code) > n} | {code}
    rows = session.execute(select(Region).where(Region.code.in_(prefixes))).scalars().all()
    return sorted((r for r in rows if r.level != "city" or r.code == code), key=lambda r: len(r.code))


def region_label(session: Session, code: str) -> str:
    return " · ".join(r.name for r in region_ancestors(session, code)) or code


def town_of(code: str | None) -> str | None:
    return code[:9] if code and len(code) >= 9 else None


def regions_geojson(session: Session, *, level: str = "city") -> dict:
    """Regions of one level that have a geometry, as a GeoJSON FeatureCollection (public data)."""
    rows = session.execute(
        select(Region).where(Region.level == level, Region.geometry.is_not(None)).order_by(Region.code)
    ).scalars()
    features = [
        {
            "type": "Feature",
            "id": r.code,
            "properties": {
                "name": r.name,
                "code": r.code,
                "approximate": r.geometry_approximate,
                "cp": [r.lng, r.lat] if r.lng is not None else None,
            },
            "geometry": json.loads(r.geometry),
        }
        for r in rows
        if r.geometry is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def region_summary(session: Session) -> dict[str, int]:
    rows = session.execute(select(Region.level, func.count()).group_by(Region.level)).all()
    return dict(rows)


def towns_with_counts(session: Session) -> list[dict]:
    """Each town with its numbers of villages/communities and grids (for landing pages and maps)."""
    towns = list_regions(session, level="town")
    child_counts = dict(
        session.execute(
            select(Region.parent_code, func.count()).where(Region.level == "village").group_by(Region.parent_code)
        ).all()
    )
    grid_counts: dict[str, int] = {}
    for village, n in session.execute(
        select(Region.parent_code, func.count()).where(Region.level == "grid").group_by(Region.parent_code)
    ):
        if village is None:  # a grid without a parent counts for no town
            continue
        grid_counts[village[:9]] = grid_counts.get(village[:9], 0) + n
    return [
        {
            "code": t.code,
            "name": t.name,
            "lng": t.lng,
            "lat": t.lat,
            "villages": child_counts.get(t.code, 0),
            "grids": grid_counts.get(t.code, 0),
        }
        for t in towns
    ]


def list_departments(session: Session) -> list[Department]:
    return list(session.execute(select(Department).order_by(Department.id)).scalars())


def get_department(session: Session, department_id: int) -> Department:
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound(_("No department with id %(id)s.", id=department_id))
    return dept


def get_department_by_key(session: Session, key: str) -> Department:
    dept = session.execute(select(Department).where(Department.key == key)).scalar_one_or_none()
    if dept is None:
        raise NotFound(_("No department %(key)s.", key=key))
    return dept


def department_subtree_ids(session: Session, department_id: int) -> frozenset[int]:
    pairs = session.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for child, parent in pairs:
        children.setdefault(parent, []).append(child)
    found, stack = {department_id}, [department_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def _user_scope(actor: Actor):
    return scope_filter(actor, region_col=User.region_code, department_col=User.department_id, owner_col=User.id)


def user_in_scope(actor: Actor, user: User) -> bool:
    return in_scope(actor, region_code=user.region_code, department_id=user.department_id, owner_id=user.id)


def list_users(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    role: str | None = None,
    department_id: int | None = None,
    region_code: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[User], int]:
    actor.require(ORG_VIEW)
    stmt = select(User).where(_user_scope(actor))
    if q:
        like = q.strip()
        stmt = stmt.where(
            or_(User.username.contains(like, autoescape=True), User.display_name.contains(like, autoescape=True))
        )
    if role:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if department_id:
        stmt = stmt.where(User.department_id == department_id)
    if region_code:
        stmt = stmt.where(prefix_range(User.region_code, region_code))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(User.id).limit(min(limit, 500)).offset(offset)).scalars().all()
    return list(rows), total


def get_user(session: Session, *, actor: Actor, user_id: int) -> User:
    """One user, if the caller may see them; a user outside the caller's scope is refused."""
    if actor.user_id != user_id:
        actor.require(ORG_VIEW)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("No user with id %(id)s.", id=user_id))
    if not user_in_scope(actor, user):
        raise AccessDenied(_("This record is outside your data scope."), code="out_of_scope", target=f"user:{user_id}")
    return user


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        kind=user.kind,
        roles=user.role_keys,
        department_id=user.department_id,
        department=user.department.name if user.department else None,
        region_code=user.region_code,
        region=user.region.name if user.region else None,
        phone_masked=mask_phone(user.phone),
        is_active=user.is_active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def reveal_personal(session: Session, *, actor: Actor, user_id: int, reason: str, origin: Origin) -> UserPersonal:
    """Unmasked personal data for an entitled caller with a declared reason; every read is audited."""
    user = get_user(session, actor=actor, user_id=user_id)
    own = actor.user_id == user.id
    if not own:
        actor.require(PERSONAL_READ)
    reason = audit.personal_read_reason(reason)
    audit.record(
        session,
        actor=actor,
        action="personal.read",
        target_type="user",
        target_id=user.id,
        origin=origin,
        reason=reason,
        detail={"fields": ["phone", "id_number", "email"]},
    )
    db.commit(session)
    return UserPersonal(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        phone=user.phone,
        id_number=user.id_number,
        email=user.email,
    )


def export_users_csv(session: Session, *, actor: Actor, origin: Origin, **filters) -> str:
    """The user directory as CSV (UTF-8 with BOM so Excel opens it), masked and scoped."""
    rows, total = list_users(session, actor=actor, limit=500, **filters)
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(["id", "username", "display_name", "roles", "department", "region_code", "phone"])
    offset = 0
    while rows:
        for u in rows:
            writer.writerow(
                [
                    u.id,
                    u.username,
                    u.display_name,
                    " ".join(u.role_keys),
                    u.department.name if u.department else "",
                    u.region_code or "",
                    mask_phone(u.phone) or "",
                ]
            )
        offset += len(rows)
        rows = list_users(session, actor=actor, limit=500, offset=offset, **filters)[0] if offset < total else []
    audit.record(
        session,
        actor=actor,
        action="user.export",
        target_type="user",
        origin=origin,
        detail={"rows": total, "filters": {k: v for k, v in filters.items() if v}},
    )
    db.commit(session)
    return buf.getvalue()
