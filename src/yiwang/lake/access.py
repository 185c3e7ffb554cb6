"""Who may read which zone of a resource's tables.

The data scope follows the catalog entry's provider department: its officers and the
city-wide roles see the resource. ``share`` holds masked data: anyone with ``lake.view`` in
scope reads it, and so does every staff member for a resource shared unconditionally
(无条件共享). ``raw``, ``clean`` and ``quarantine`` hold personal data as received: reading
their rows also needs ``lake.personal.read`` and a declared reason, and the read is audited.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiwang import catalog
from yiwang.core import audit
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Invalid
from yiwang.core.i18n import _
from yiwang.core.lake import ZONES
from yiwang.core.security import Actor, in_scope
from yiwang.lake.roles import LOAD, PERSONAL_READ, VIEW

PERSONAL = PERSONAL_READ
PERSONAL_ZONES = ("raw", "clean", "quarantine")


def resource(session: Session, *, actor: Actor, name: str) -> catalog.ResourcePublic:
    """The catalog entry behind ``name`` (its published version), if the actor may see it."""
    actor.require(VIEW)
    return catalog.get_resource(session, actor=actor, name=name)


def in_department(actor: Actor, res: catalog.ResourcePublic) -> bool:
    return in_scope(actor, department_id=res.provider.id)


def resource_to_load(session: Session, *, actor: Actor, name: str) -> catalog.ResourcePublic:
    """The catalog entry behind ``name`` if the actor may write its data: ``lake.load``, own department."""
    res = resource(session, actor=actor, name=name)
    actor.require(LOAD)
    if not in_department(actor, res):
        raise AccessDenied(
            _("Only %(name)s's department and the big-data bureau load its data.", name=name),
            code="out_of_scope",
            target=f"catalog_resource:{name}",
        )
    return res


def shared_openly(res: catalog.ResourcePublic) -> bool:
    return (res.spec.get("share") or {}).get("type") == "unconditional"


def require_zone(actor: Actor, res: catalog.ResourcePublic, zone: str, reason: str | None) -> str | None:
    """Raise unless the actor may read ``zone`` rows of ``res``; returns the checked reason for personal zones."""
    if zone not in ZONES:
        raise Invalid(_("Unknown zone %(zone)s: use raw, clean, share or quarantine.", zone=zone), field="zone")
    actor.require(VIEW)
    if zone == "share":
        if in_department(actor, res) or shared_openly(res):
            return None
        raise AccessDenied(
            _("%(name)s belongs to another department and is not shared unconditionally.", name=res.name),
            code="out_of_scope",
            target=f"lake:{zone}.{res.name}",
        )
    if not in_department(actor, res):
        raise AccessDenied(
            _("Only %(name)s's department and the big-data bureau read its %(zone)s zone.", name=res.name, zone=zone),
            code="out_of_scope",
            target=f"lake:{zone}.{res.name}",
        )
    actor.require(PERSONAL)
    return audit.personal_read_reason(reason)


def record_personal_read(
    session: Session, *, actor: Actor, tables: list[str], reason: str, origin: Origin, detail: dict | None = None
) -> None:
    """Audit one read of personal rows (in the caller's transaction)."""
    audit.record(
        session,
        actor=actor,
        action="personal.read",
        target_type="lake_table",
        target_id=",".join(tables)[:200],
        origin=origin,
        reason=reason,
        detail=detail or {},
    )
