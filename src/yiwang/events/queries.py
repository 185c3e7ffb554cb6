"""Reading cases: numbers, data scope, lists and filters, the timeline, personal data.

Every query goes through ``case_scope``: dispatchers, supervisors and leaders see the whole
city; department handlers the cases their department (or a sub-department) has a task in;
town and grid workers the cases located in their region; citizens their own reports.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Invalid, NotFound
from yiwang.core.i18n import N_, _
from yiwang.core.masking import coarse_address, mask_name, mask_phone, redact
from yiwang.core.security import Actor, ScopeKind, prefix_range, scope_filter
from yiwang.core.web import LOCAL_TZ
from yiwang.events import roles
from yiwang.events.models import Action, Attachment, Case, DispatchRule, Notification, Task
from yiwang.events.triage import Category, load_taxonomy

OPEN_STATUSES = ("accepted", "registered", "dispatched", "handling", "verifying", "verified")
CLOSED_STATUSES = ("closed", "rated", "invalid", "merged")
ALL_STATUSES = OPEN_STATUSES + ("backlog",) + CLOSED_STATUSES
SOURCES = ("passive", "active", "automatic")
CHANNELS = ("portal", "hotline", "open311", "app", "grid", "inspector", "iot", "video", "indicator", "api")


# Numbers ----------------------------------------------------------------------


class Numbered(Protocol):
    """What ``number`` reads of a case: a ``Case``, or a row of one written without the ORM."""

    @property
    def id(self) -> int: ...

    @property
    def created_at(self) -> dt.datetime: ...


def number(case: Numbered) -> str:
    """The case number people quote: local date of intake + 8-digit id (e.g. 2026112800001234)."""
    return f"{case.created_at.astimezone(LOCAL_TZ):%Y%m%d}{case.id:08d}"


def parse_number(value: str) -> int:
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) < 16 or len(value) > 20:
        raise Invalid(_("%(value)s is not a case number (16 digits).", value=value[:40]), field="number")
    return int(value[8:])


def find_by_number(session: Session, value: str) -> Case:
    case = session.get(Case, parse_number(value))
    if case is None or number(case) != value.strip():
        raise NotFound(_("No case with number %(number)s.", number=value.strip()[:40]))
    return case


# Categories and departments --------------------------------------------------------


def category(code: str | None) -> Category | None:
    if not code:
        return None
    try:
        return load_taxonomy().by_code(code)
    except KeyError:
        return None


def require_category(code: str | None) -> Category:
    cat = category(code)
    if cat is None:
        raise Invalid(_("Unknown category %(code)s.", code=str(code)[:20]), field="category_code")
    return cat


_dept_cache: dict[str, tuple[float, dict]] = {}


def departments(session: Session) -> dict[int, org.DepartmentPublic]:
    """Departments by id (cached for a minute: they change rarely), per database — a process that
    opens another database (a command, a test) must not be handed the first one's departments."""
    bind = session.get_bind()
    key = str(bind.engine.url)  # an Engine's .engine is itself
    hit = _dept_cache.get(key)
    if hit and time.monotonic() - hit[0] < 60:
        return hit[1]
    value = {d.id: org.DepartmentPublic.model_validate(d) for d in org.list_departments(session)}
    _dept_cache[key] = (time.monotonic(), value)
    return value


def department_id_by_key(session: Session, key: str) -> int | None:
    for d in departments(session).values():
        if d.key == key:
            return d.id
    return None


def department_name(session: Session, department_id: int | None) -> str:
    d = departments(session).get(department_id) if department_id else None
    return d.name if d else ""


@dataclass(frozen=True)
class Proposal:
    department_id: int | None
    assist_ids: tuple[int, ...] = ()


def dispatch_rules(session: Session) -> dict[tuple[str, str | None], Proposal]:
    rows = session.execute(select(DispatchRule)).scalars()
    return {
        (r.category_code, r.town_code): Proposal(
            r.department_id, tuple(int(x) for x in (r.assist_department_ids or "").split())
        )
        for r in rows
    }


def propose(session: Session, code: str | None, town_code: str | None, rules: dict | None = None) -> Proposal:
    """Handling department by rule: category × town first, then the category's rule, then its default."""
    if not code:
        return Proposal(None)
    rules = dispatch_rules(session) if rules is None else rules
    hit = rules.get((code, town_code)) or rules.get((code, None))
    if hit:
        return hit
    cat = category(code)
    return Proposal(department_id_by_key(session, cat.department_key) if cat else None)


# Scope -------------------------------------------------------------------------


def case_scope(actor: Actor) -> ColumnElement[bool]:
    base = scope_filter(
        actor, region_col=Case.region_code, department_col=Case.department_id, owner_col=Case.reporter_user_id
    )
    if ScopeKind.DEPARTMENT in actor.scopes and actor.department_ids and not actor.sees_everything:
        tasks = select(Task.case_id).where(Task.department_id.in_(sorted(actor.department_ids)))
        return or_(base, Case.id.in_(tasks))
    return base


def _may_view(actor: Actor) -> bool:
    return actor.can(roles.VIEW) or actor.can(roles.REPORT_PUBLIC)


def get_case(session: Session, *, actor: Actor, case_id: int, for_update: bool = False) -> Case:
    """One case in the caller's scope; outside it: 403 (audited by the web layer)."""
    if not _may_view(actor):
        actor.require(roles.VIEW)
    stmt = select(Case).where(Case.id == case_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if case is None:
        raise NotFound(_("No case %(id)s.", id=case_id))
    visible = session.execute(select(Case.id).where(Case.id == case_id, case_scope(actor))).first()
    if not visible:
        raise AccessDenied(_("This case is outside your data scope."), code="out_of_scope", target=f"case:{case_id}")
    return case


@dataclass
class CaseFilter:
    status: str | None = None
    category_code: str | None = None
    town_code: str | None = None
    region_code: str | None = None
    source: str | None = None
    channel: str | None = None
    department_id: int | None = None
    warn_level: str | None = None
    q: str | None = None
    open_only: bool = False
    overdue: bool = False
    needs_human: bool | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _filtered(actor: Actor, f: CaseFilter):
    stmt = select(Case).where(case_scope(actor))
    if f.status:
        if f.status not in ALL_STATUSES:
            raise Invalid(_("Unknown status %(s)s.", s=f.status[:20]), field="status")
        stmt = stmt.where(Case.status == f.status)
    if f.open_only:
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    if f.category_code:
        stmt = stmt.where(Case.category_code == f.category_code)
    if f.town_code:
        stmt = stmt.where(Case.town_code == f.town_code)
    if f.region_code:
        stmt = stmt.where(prefix_range(Case.region_code, f.region_code))
    if f.source:
        stmt = stmt.where(Case.source == f.source)
    if f.channel:
        stmt = stmt.where(Case.channel == f.channel)
    if f.department_id:
        stmt = stmt.where(Case.department_id == f.department_id)
    if f.warn_level:
        stmt = stmt.where(Case.warn_level == f.warn_level)
    if f.overdue:
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES), Case.warn_level == "red")
    if f.needs_human is not None:
        stmt = stmt.where(Case.needs_human == f.needs_human)
    if f.q:
        q = f.q.strip()
        if q.isdigit() and len(q) >= 16:
            stmt = stmt.where(Case.id == int(q[8:]))
        else:
            stmt = stmt.where(
                or_(Case.description.contains(q, autoescape=True), Case.address.contains(q, autoescape=True))
            )
    if f.since:
        stmt = stmt.where(Case.created_at >= f.since)
    if f.until:
        stmt = stmt.where(Case.created_at < f.until)
    return stmt


def list_cases(
    session: Session,
    *,
    actor: Actor,
    flt: CaseFilter | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
) -> tuple[list[Case], int | None]:
    actor.require(roles.VIEW) if not actor.can(roles.REPORT_PUBLIC) else None
    flt = flt or CaseFilter()
    if not actor.can(roles.VIEW):  # a reporter lists their own reports: no filtering by the internal fields
        flt = replace(flt, warn_level=None, overdue=False, needs_human=None, department_id=None)
    stmt = _filtered(actor, flt)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one() if count else None
    rows = session.execute(stmt.order_by(Case.id.desc()).limit(min(limit, 1000)).offset(offset)).scalars().all()
    return list(rows), total


def map_points(session: Session, *, actor: Actor, flt: CaseFilter, limit: int = 5000) -> list[dict]:
    """Open cases with a point, for the dispatcher's map (light rows, no ORM objects)."""
    actor.require(roles.VIEW)
    stmt = (
        _filtered(actor, flt)
        .with_only_columns(
            Case.id, Case.lng, Case.lat, Case.category_code, Case.warn_level, Case.status, Case.created_at
        )
        .where(Case.lng.is_not(None))
        .order_by(Case.id.desc())
        .limit(limit)
    )
    out = []
    for cid, lng, lat, code, warn, status, created in session.execute(stmt):
        cat = category(code)
        out.append(
            {
                "id": cid,
                "value": [round(lng, 5), round(lat, 5)],
                "warn": warn,
                "status": status,
                "category": cat.name if cat else "",
                "number": f"{created.astimezone(LOCAL_TZ):%Y%m%d}{cid:08d}",
            }
        )
    return out


# Presentation -------------------------------------------------------------------

STATUS_LABELS = {
    "accepted": N_("Accepted"),
    "registered": N_("Case registered"),
    "dispatched": N_("Dispatched"),
    "handling": N_("Handling"),
    "verifying": N_("To verify"),
    "verified": N_("Verified"),
    "closed": N_("Closed"),
    "rated": N_("Rated"),
    "backlog": N_("Backlog"),
    "invalid": N_("Not registered"),
    "merged": N_("Merged as duplicate"),
}
ACTION_LABELS = {
    "accept": N_("Accepted"),
    "triage": N_("Triaged automatically"),
    "register": N_("Case registered"),
    "reclassify": N_("Category changed"),
    "dispatch": N_("Dispatched"),
    "take": N_("Signed for by the department"),
    "return": N_("Returned by the department"),
    "extend_request": N_("Extension requested"),
    "extend_approve": N_("Extension approved"),
    "extend_reject": N_("Extension refused"),
    "complete": N_("Handling reported done"),
    "verify_pass": N_("Verified on site"),
    "verify_fail": N_("Failed on-site verification"),
    "close": N_("Closed"),
    "rate": N_("Rated by the reporter"),
    "reopen": N_("Reopened by the reporter"),
    "backlog": N_("Put on backlog"),
    "supervise": N_("Supervision note"),
    "invalidate": N_("Not registered"),
    "merge": N_("Merged as duplicate"),
    "escalate": N_("Escalated (overdue)"),
    "clear": N_("Closed: the source cleared"),
}
STEP_LABELS = {
    "dispatch": N_("Dispatching"),
    "respond": N_("Signing for"),
    "handle": N_("Handling"),
    "verify": N_("On-site verification"),
}
SOURCE_LABELS = {
    "passive": N_("Passive (citizens, hotline)"),
    "active": N_("Active (inspectors, grid workers)"),
    "automatic": N_("Automatic (sensors, video AI)"),
}
CHANNEL_LABELS = {
    "portal": N_("Public portal"),
    "hotline": N_("12345 hotline"),
    "open311": N_("Open311 client"),
    "app": N_("Mobile app"),
    "grid": N_("Grid worker"),
    "inspector": N_("Inspector"),
    "iot": N_("IoT alarm"),
    "video": N_("Video AI"),
    "indicator": N_("Indicator warning"),
    "api": N_("API"),
}


def case_public(session: Session, case: Case) -> dict:
    """A case as staff and API clients see it: reporter data masked. Staff only (``events.view``): the
    reporter of a case reads ``case_for_reporter`` instead (``case_view`` decides)."""
    cat = category(case.category_code)
    return {
        "id": case.id,
        "number": number(case),
        "token": case.token,
        "status": case.status,
        "source": case.source,
        "channel": case.channel,
        "client": case.client,
        "category_code": case.category_code,
        "category_name": cat.name if cat else None,
        "major_category": cat.major_name if cat else None,
        "kind": cat.kind if cat else None,
        "description": case.description,
        "address": case.address,
        "lng": case.lng,
        "lat": case.lat,
        "region_code": case.region_code,
        "town_code": case.town_code,
        "located_by": case.located_by,
        "department_id": case.department_id,
        "department": department_name(session, case.department_id) or None,
        "proposed_department_id": case.proposed_department_id,
        "proposed_department": department_name(session, case.proposed_department_id) or None,
        "priority": case.priority,
        "triage_status": case.triage_status,
        "triage_code": case.triage_code,
        "triage_confidence": case.triage_confidence,
        "triage_version": case.triage_version,
        "needs_human": case.needs_human,
        "duplicate_of": case.duplicate_of_id,
        "is_joint": case.is_joint,
        "reporter_name": mask_name(case.reporter_name),
        "reporter_phone": mask_phone(case.reporter_phone),
        "photos": case.photos,
        "created_at": case.created_at,
        "registered_at": case.registered_at,
        "dispatched_at": case.dispatched_at,
        "first_response_at": case.first_response_at,
        "handled_at": case.handled_at,
        "verified_at": case.verified_at,
        "closed_at": case.closed_at,
        "step": case.step,
        "due_at": case.due_at,
        "handle_due_at": case.handle_due_at,
        "warn_level": case.warn_level,
        "escalation_level": case.escalation_level,
        "closed_on_time": case.closed_on_time,
        "backlog_reason": case.backlog_reason,
        "reopen_count": case.reopen_count,
        "return_count": case.return_count,
        "supervise_count": case.supervise_count,
        "rating": case.rating,
        "rating_comment": case.rating_comment,
        "version": case.version,
    }


def timeline(session: Session, case_id: int) -> list[dict]:
    photos: dict[int, list[int]] = {}
    for att_id, action_id in session.execute(
        select(Attachment.id, Attachment.action_id).where(Attachment.case_id == case_id).order_by(Attachment.id)
    ):
        photos.setdefault(action_id or 0, []).append(att_id)
    rows = session.execute(select(Action).where(Action.case_id == case_id).order_by(Action.at, Action.id)).scalars()
    out = []
    for a in rows:
        out.append(
            {
                "id": a.id,
                "at": a.at,
                "action": a.action,
                "actor": a.actor_name,
                "from_status": a.from_status,
                "to_status": a.to_status,
                "department": department_name(session, a.department_id) or None,
                "note": a.note,
                "public": bool(a.public),
                "detail": json.loads(a.detail) if a.detail else {},
                "photos": photos.get(a.id, []) + (photos.get(0, []) if a.action == "accept" else []),
            }
        )
    return out


# What the public may read of a case (Open311, the portal's status page, open data later) is decided by
# staff, not inferred from the step: a note is public only when whoever recorded the step ticked "visible
# to the reporter and the public" (``Action.public``), or a dispatcher marked it so later (audited,
# ``service.set_note_public``). Only the steps that answer the citizen may carry a public note; a
# supervision (督办) note, a return, an extension request or decision stay internal whatever is ticked.
# A photo is public only when marked publishable (``service.set_photo_publishable``), and then only by its
# unguessable ``public_id``. Every public note goes through the one redactor (``core.masking.redact``).
PUBLIC_NOTE_ACTIONS = frozenset(
    {"register", "dispatch", "complete", "verify_pass", "verify_fail", "close", "backlog", "invalidate", "clear"}
)
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # models.new_public_id: token_urlsafe(16); never a bare number


def note_is_public(action: str, public: bool) -> bool:
    """Staff made the note public, on a step that may answer the citizen (checked again on every read)."""
    return bool(public) and action in PUBLIC_NOTE_ACTIONS


def public_notes(session: Session, case_ids: list[int]) -> dict[int, str]:
    """The latest note staff made public, per case, redacted (``core.masking.redact``)."""
    notes: dict[int, str] = {}
    if case_ids:
        rows = session.execute(
            select(Action.case_id, Action.note)
            .where(
                Action.case_id.in_(case_ids),
                Action.public.is_(True),
                Action.action.in_(PUBLIC_NOTE_ACTIONS),
                Action.note.is_not(None),
            )
            .order_by(Action.at, Action.id)
        )
        for cid, note in rows:
            assert note is not None  # NULL notes are filtered out above
            if note.strip():
                notes[cid] = redact(note)
    return notes


def public_media(session: Session, case_ids: list[int]) -> dict[int, str]:
    """The ``public_id`` of each case's first publishable photo (none: the case has no public photo)."""
    media: dict[int, str] = {}
    if case_ids:
        rows = session.execute(
            select(Attachment.case_id, Attachment.public_id)
            .where(Attachment.case_id.in_(case_ids), Attachment.publishable.is_(True))
            .order_by(Attachment.id.desc())
        )
        media = dict(rows.all())  # newest first: each case's first photo wins
    return media


def public_photo(session: Session, public_id: str) -> Attachment:
    """A photo anyone may see: found by its unguessable id and marked publishable, else ``NotFound``."""
    att = None
    if PUBLIC_ID.fullmatch(public_id or ""):
        att = session.execute(
            select(Attachment).where(Attachment.public_id == public_id, Attachment.publishable.is_(True))
        ).scalar_one_or_none()
    if att is None:
        raise NotFound(_("No such photo."))
    return att


# Steps the reporter and the public do not see at all, not even without their note: how staff work the case
# inside — the automatic triage (shown as the registration it made, when it made one), a category change,
# supervision (督办), escalation, an extension asked for or refused.
HIDDEN_STEPS = frozenset({"triage", "reclassify", "supervise", "escalate", "extend_request", "extend_reject"})


def public_timeline(session: Session, case_id: int) -> list[dict]:
    """A case's steps as the reporter sees them: no staff names, no internal steps (``HIDDEN_STEPS``), notes
    only where staff made them public (redacted), photos only those marked publishable (by ``public_id``)."""
    public_photos: dict[int, list[str]] = {}
    for action_id, public_id in session.execute(
        select(Attachment.action_id, Attachment.public_id)
        .where(Attachment.case_id == case_id, Attachment.publishable.is_(True))
        .order_by(Attachment.id)
    ):
        public_photos.setdefault(action_id or 0, []).append(public_id)
    out = []
    for a in timeline(session, case_id):
        action = a["action"]
        if action == "triage" and a["to_status"] == "registered":
            action = "register"  # registered by the triage: the reporter sees the registration, not the model
        elif action in HIDDEN_STEPS:
            continue
        photos = public_photos.get(a["id"], []) + (public_photos.get(0, []) if action == "accept" else [])
        out.append(
            {
                "at": a["at"],
                "action": action,
                "to_status": a["to_status"],
                "department": a["department"],
                "note": redact(a["note"]) if a["note"] and note_is_public(a["action"], a["public"]) else None,
                "photos": photos,
            }
        )
    return out


# Public answers give the point to 3 decimals of a degree: about 110 m north-south and 95 m east-west at
# Kunshan's latitude, the scale of a block or a stretch of road. Most reports are made from the door of the
# reporter's home or shop; an exact point would give back the door that ``coarse_address`` takes out of the
# address. Staff, the API and the map keep the exact point.
COORD_DECIMALS = 3


def coarse_point(value: float | None) -> float | None:
    return None if value is None else round(value, COORD_DECIMALS)


def case_for_reporter(session: Session, case: Case, *, with_timeline: bool = True) -> dict:
    """A case as its reporter reads it when signed in without ``events.view`` (the API's case and list).

    Built like the portal's status page, from what staff decided is public: the steps of ``public_timeline``
    (no staff names, no internal steps, notes only where staff made them public, redacted), the handling
    department's name, the address down to the community or road and the point to about 100 m. Nothing of the
    staff view: no backlog reason, triage, priority, warning level, escalation, supervision, return or reopen
    counts, department ids, deadlines of the steps or versions.

    The report text is the reporter's own, given back as they wrote it (unredacted: it is their data, and a
    masked copy of one's own words only confuses); so are their rating and its comment. Their name and phone
    stay masked as in every view of a case: the reporter reads them whole through
    ``/api/v1/events/cases/{id}/personal`` (``reveal_reporter``), with a reason, audited like anyone's.
    """
    cat = category(case.category_code)
    out = {
        "view": "reporter",
        "id": case.id,
        "number": number(case),
        "status": case.status,
        "channel": case.channel,
        "category_code": case.category_code,
        "category_name": cat.name if cat else None,
        "major_category": cat.major_name if cat else None,
        "description": case.description,
        "address": coarse_address(case.address),
        "lng": coarse_point(case.lng),
        "lat": coarse_point(case.lat),
        "reporter_name": mask_name(case.reporter_name),
        "reporter_phone": mask_phone(case.reporter_phone),
        "department": department_name(session, case.department_id) or None,
        "created_at": case.created_at,
        "closed_at": case.closed_at,
        "expected_at": case.handle_due_at,
        "rating": case.rating,
        "rating_comment": case.rating_comment,
    }
    if with_timeline:
        out["timeline"] = public_timeline(session, case.id)
    return out


def case_view(session: Session, *, actor: Actor, case: Case, detail: bool = False) -> dict:
    """``case`` as ``actor`` may read it, decided by permission and data, never by role: the staff view
    (``case_public``; with ``detail`` the whole timeline and the tasks) needs ``events.view``; the case's own
    reporter without it gets ``case_for_reporter``; anyone else nothing."""
    if actor.can(roles.VIEW):
        if not detail:
            return case_public(session, case)
        return {
            **case_public(session, case),
            "timeline": timeline(session, case.id),
            "tasks": [
                {
                    "department_id": t.department_id,
                    "department": department_name(session, t.department_id),
                    "role": t.role,
                    "status": t.status,
                    "due_at": t.due_at,
                    "accepted_at": t.accepted_at,
                    "done_at": t.done_at,
                    "extension": t.ext_status,
                }
                for t in tasks_of(session, case.id)
            ],
        }
    if actor.user_id is not None and case.reporter_user_id == actor.user_id:
        return case_for_reporter(session, case, with_timeline=detail)
    raise AccessDenied(_("This case is outside your data scope."), code="out_of_scope", target=f"case:{case.id}")


def tasks_of(session: Session, case_id: int) -> list[Task]:
    return list(session.execute(select(Task).where(Task.case_id == case_id).order_by(Task.id)).scalars())


def attachment(session: Session, *, actor: Actor, attachment_id: int) -> Attachment:
    att = session.get(Attachment, attachment_id)
    if att is None:
        raise NotFound(_("No such photo."))
    get_case(session, actor=actor, case_id=att.case_id)
    return att


def reveal_reporter(session: Session, *, actor: Actor, case_id: int, reason: str, origin: Origin) -> dict:
    """The reporter's name and phone, for an entitled caller who states why; audited."""
    case = get_case(session, actor=actor, case_id=case_id)
    if case.reporter_user_id != actor.user_id:
        actor.require(roles.REPORTER_READ)
    reason = audit.personal_read_reason(reason)
    audit.record(
        session,
        actor=actor,
        action="personal.read",
        target_type="event_case",
        target_id=case.id,
        origin=origin,
        reason=reason,
        detail={"fields": ["reporter_name", "reporter_phone"]},
    )
    db.commit(session)
    return {"reporter_name": case.reporter_name, "reporter_phone": case.reporter_phone}


# Notifications --------------------------------------------------------------------


def _notice_scope(actor: Actor):
    clauses = [Notification.user_id == actor.user_id] if actor.user_id else []
    if actor.department_ids:
        clauses.append(Notification.department_id.in_(sorted(actor.department_ids)))
    if actor.roles:
        clauses.append(Notification.role.in_(sorted(actor.roles)))
    return or_(*clauses) if clauses else false()


def unread_count(session: Session, *, actor: Actor) -> int:
    return session.execute(
        select(func.count()).select_from(Notification).where(_notice_scope(actor), Notification.read_at.is_(None))
    ).scalar_one()


def status_label(status: str) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def notifications(session: Session, *, actor: Actor, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    stmt = select(Notification).where(_notice_scope(actor))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars())
