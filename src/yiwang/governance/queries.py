"""Load records: reading them (in the actor's scope) and turning them into ``LoadPublic``."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang import lake
from yiwang.core.errors import AccessDenied, NotFound
from yiwang.core.i18n import _
from yiwang.core.security import Actor, in_scope, scope_filter
from yiwang.core.web import LOCAL_TZ
from yiwang.governance.models import Load

STATUSES = ("queued", "running", "committed", "failed")


def public(row: Load):
    from yiwang.governance.schemas import LoadPublic

    snapshots = json.loads(row.snapshots or "{}")
    return LoadPublic(
        id=row.id,
        resource=row.resource,
        mode=row.mode,
        status=row.status,
        origin=row.origin,
        source_name=row.source_name,
        source_sm3=row.source_sm3,
        source_bytes=row.source_bytes,
        actor=row.actor_username,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        progress_rows=row.progress_rows or 0,
        rows_read=row.rows_read or 0,
        rows_accepted=row.rows_accepted or 0,
        rows_quarantined=row.rows_quarantined or 0,
        quarantine_by_rule=json.loads(row.by_rule or "{}"),
        quality=json.loads(row.quality or "{}"),
        quality_score=row.quality_score,
        k_anonymity=json.loads(row.k_anonymity or "{}"),
        snapshots=snapshots,
        snapshot_id=snapshots.get(f"clean.{row.resource}"),
        rules_version=row.rules_version,
        run_id=row.run_id,
        error=json.loads(row.error) if row.error else None,
        resubmit_of=row.resubmit_of,
        seconds=row.seconds,
    )


def get_load(session: Session, *, actor: Actor, load_id: str) -> Load:
    actor.require(lake.VIEW)
    row = session.get(Load, load_id)
    if row is None:
        raise NotFound(_("No load %(id)s.", id=load_id[:40]), field="load_id")
    if not in_scope(actor, department_id=row.department_id):
        raise AccessDenied(
            _("This load belongs to another department's resource."),
            code="out_of_scope",
            target=f"governance_load:{load_id}",
        )
    return row


def list_loads(
    session: Session,
    *,
    actor: Actor,
    resource: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Load]:
    """Loads of the actor's departments' resources, newest first."""
    actor.require(lake.VIEW)
    stmt = select(Load).where(scope_filter(actor, department_col=Load.department_id))
    if resource:
        stmt = stmt.where(Load.resource == resource)
    if status:
        stmt = stmt.where(Load.status == status)
    stmt = stmt.order_by(Load.created_at.desc(), Load.id).limit(min(limit, 1000)).offset(offset)
    return list(session.execute(stmt).scalars())


def quality_trend(session: Session, *, actor: Actor, resource: str, limit: int = 60) -> list[dict]:
    """Committed loads' quality scores, oldest first (the trend chart)."""
    rows = list(list_loads(session, actor=actor, resource=resource, status="committed", limit=limit))
    out = []
    for r in reversed(rows):
        q = json.loads(r.quality or "{}")
        at = r.finished_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if r.finished_at else None
        out.append(
            {
                "load_id": r.id,
                "at": at,
                "overall": q.get("overall"),
                **{k: q.get(k) for k in ("completeness", "validity", "uniqueness", "consistency", "timeliness")},
                "rows_read": r.rows_read,
                "rows_quarantined": r.rows_quarantined,
            }
        )
    return out
