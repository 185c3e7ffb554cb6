"""The case workflow: 受理 → 立案 → 派遣 → 处置 → 核查 → 结案 → 评价, with 退回, 延期, 挂账,
督办, joint handling and reopening.

Each step checks the caller's permission and scope, the case's status and, when the
caller sends it, the version they looked at (optimistic locking: the second of two
handlers gets a 409 instead of completing the step twice). Rows are locked on PostgreSQL
(SQLite serialises writers anyway). Every step writes a timeline row and an audit entry in
the same transaction; a refused step is audited too, with outcome ``failed``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Literal, overload

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Conflict, Invalid, NotFound, YiwangError
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.events import photos as photo_store
from yiwang.events import roles, sla
from yiwang.events.models import Action, Attachment, Case, Correction, Task
from yiwang.events.notify import notify, tell_reporter
from yiwang.events.queries import (
    OPEN_STATUSES,
    PUBLIC_NOTE_ACTIONS,
    department_name,
    departments,
    get_case,
    notifications,
    number,
    require_category,
    status_label,
    tasks_of,
)

MAX_NOTE = 2000


@overload
def _note(value: str | None, *, required: Literal[True], what: str = "note") -> str: ...
@overload
def _note(value: str | None, *, required: bool = False, what: str = "note") -> str | None: ...
def _note(value: str | None, *, required: bool = False, what: str = "note") -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(_("The note is too long (limit %(n)s characters).", n=MAX_NOTE), field=what)
    if required and len(text) < 2:
        raise Invalid(_("Give a reason."), field=what)
    return text or None


def step_guard(action: str):
    """Audit refused steps (conflicts, invalid input) and turn lost races into a 409."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(session: Session, *, actor: Actor, case_id: int, origin: Origin, **kw):
            try:
                return fn(session, actor=actor, case_id=case_id, origin=origin, **kw)
            except StaleDataError:
                exc: YiwangError = Conflict(
                    _("Someone else changed this case at the same moment; reload it and try again."),
                    code="version_conflict",
                )
            except (Conflict, Invalid, NotFound) as caught:
                exc = caught
            session.rollback()
            audit.record(
                session,
                actor=actor,
                action=f"events.case.{action}",
                outcome="failed",
                target_type="event_case",
                target_id=case_id,
                origin=origin,
                detail={"code": exc.code, "message": exc.message},
            )
            db.commit(session)
            raise exc

        return wrapper

    return deco


def _load(session: Session, actor: Actor, case_id: int, version: int | None) -> Case:
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    if version is not None and version != case.version:
        raise Conflict(
            _(
                "This case was changed since you opened it (version %(mine)s, now %(now)s); reload it and try again.",
                mine=version,
                now=case.version,
            ),
            code="version_conflict",
        )
    return case


def _need(case: Case, *statuses: str) -> None:
    if case.status not in statuses:
        raise Conflict(
            _('This step is not possible while the case is "%(status)s".', status=status_label(case.status)),
            code="wrong_status",
            case_status=case.status,
        )


def _record(
    session: Session,
    case: Case,
    *,
    actor: Actor,
    action: str,
    origin: Origin,
    to_status: str | None = None,
    note: str | None = None,
    department_id: int | None = None,
    detail: dict | None = None,
    public: bool = False,
) -> Action:
    """One timeline row and its audit entry. ``public``: the recorder ticked "visible to the reporter and
    the public" for the note (only on the steps of ``queries.PUBLIC_NOTE_ACTIONS``; without a note it means
    nothing and is not stored)."""
    if public and action not in PUBLIC_NOTE_ACTIONS:
        raise Invalid(_("The note of this step stays internal; it cannot be made public."), field="public")
    public = bool(public and note)
    now = db.utcnow()
    before = case.status
    if to_status:
        case.status = to_status
    case.updated_at = now
    row = Action(
        case_id=case.id,
        at=now,
        actor_id=actor.user_id,
        actor_name=actor.display_name,
        action=action,
        from_status=before,
        to_status=case.status,
        department_id=department_id,
        note=note,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        public=public,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"events.case.{action}",
        target_type="event_case",
        target_id=case.id,
        origin=origin,
        detail={
            "from": before,
            "to": case.status,
            **({"note": note[:200]} if note else {}),
            **({"public": True} if public else {}),
            **(detail or {}),
        },
    )
    return row


def _set_step(case: Case, name: str | None, step: sla.Step | None) -> None:
    case.step = name
    if step is None:
        case.step_started_at = case.yellow_at = case.due_at = case.next_check_at = None
        case.warn_level, case.escalation_level = "green", 0
        return
    now = db.utcnow()
    case.step_started_at, case.yellow_at, case.due_at = step.started_at, step.yellow_at, step.due_at
    level, escalation = sla.level_at(step, now)
    case.warn_level, case.escalation_level = level, 0 if escalation == 0 else case.escalation_level
    case.next_check_at = now if escalation > case.escalation_level else sla.next_check(step, now)


def attach(
    session: Session, case: Case, action: Action, files: list[photo_store.Photo], *, home: Path, actor: Actor
) -> None:
    for p in files:
        rel = photo_store.store(home, p)
        session.add(
            Attachment(
                case_id=case.id,
                action_id=action.id,
                path=rel,
                original_name=p.name,
                mime=p.mime,
                size=len(p.data),
                width=p.width,
                height=p.height,
                sm3=p.sm3,
                uploaded_by=actor.user_id,
            )
        )
    case.photos = (case.photos or 0) + len(files)


def _my_task(session: Session, actor: Actor, case: Case, *statuses: str) -> Task:
    actor.require(roles.HANDLE)
    mine = [t for t in tasks_of(session, case.id) if t.department_id in actor.department_ids]
    if not mine:
        raise AccessDenied(
            _("Your department has no task in this case."), code="not_your_case", target=f"case:{case.id}"
        )
    open_ = [t for t in mine if t.status in statuses]
    if not open_:
        raise Conflict(
            _('Your department\'s task in this case is already "%(status)s".', status=mine[0].status), code="task_done"
        )
    return open_[0]


# 立案 / 分类 ----------------------------------------------------------------------


def _correct(session: Session, case: Case, code: str, actor: Actor) -> None:
    if case.triage_code and case.triage_code != code:
        session.add(
            Correction(
                case_id=case.id,
                text=case.description,
                predicted_code=case.triage_code,
                corrected_code=code,
                model_version=case.triage_version,
                actor_id=actor.user_id,
            )
        )
    case.category_code, case.category_by = code, "dispatcher"
    case.priority = require_category(code).priority


@step_guard("register")
def register(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    category_code: str | None = None,
    region_code: str | None = None,
    note: str | None = None,
    version: int | None = None,
    public: bool = False,
) -> Case:
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    _need(case, "accepted", "backlog")
    if category_code:
        _correct(session, case, require_category(category_code).code, actor)
    if region_code:
        case.region_code, case.town_code, case.located_by = region_code, region_code[:9], "dispatcher"
    if not case.category_code:
        raise Invalid(_("Choose a category before registering the case."), field="category_code")
    if not case.town_code:
        raise Invalid(_("Locate the case (a point or a region) before registering it."), field="region_code")
    case.registered_at = case.registered_at or db.utcnow()
    case.backlog_reason = None
    _record(
        session,
        case,
        actor=actor,
        action="register",
        to_status="registered",
        origin=origin,
        note=_note(note),
        detail={"category": case.category_code},
        public=public,
    )
    db.commit(session)
    return case


@step_guard("reclassify")
def reclassify(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, category_code: str, version: int | None = None
) -> Case:
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    _need(case, "accepted", "registered", "backlog")
    before = case.category_code
    _correct(session, case, require_category(category_code).code, actor)
    _record(
        session,
        case,
        actor=actor,
        action="reclassify",
        origin=origin,
        detail={"from_category": before, "to_category": case.category_code},
    )
    db.commit(session)
    return case


# 派遣 ----------------------------------------------------------------------------


@step_guard("dispatch")
def dispatch(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    department_id: int | None = None,
    assist_ids: list[int] | None = None,
    note: str | None = None,
    version: int | None = None,
    force: bool = False,
    public: bool = False,
) -> Case:
    """Send the case to a lead department (default: the proposal) and any assisting departments."""
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    _need(case, "accepted", "registered")
    if not case.category_code or not case.town_code:
        raise Invalid(_("Choose a category and locate the case before dispatching it."), field="category_code")
    if case.duplicate_of_id and not force:
        original = session.get(Case, case.duplicate_of_id)
        if original is not None and original.status in OPEN_STATUSES:
            raise Conflict(
                _(
                    "This looks like a duplicate of case %(number)s, which is still open: merge it, "
                    "or dispatch it anyway.",
                    number=number(original),
                ),
                code="probable_duplicate",
            )
    lead = department_id or case.proposed_department_id
    known = departments(session)
    assists = sorted({a for a in (assist_ids or []) if a != lead})
    if lead not in known or any(a not in known for a in assists):
        raise Invalid(_("Choose existing departments."), field="department_id")
    now = db.utcnow()
    for t in tasks_of(session, case.id):
        if t.status in ("pending", "accepted"):
            t.status = "cancelled"
    cat = require_category(case.category_code)
    respond = sla.response_step(now, cat)
    for dept, role in [(lead, "lead")] + [(a, "assist") for a in assists]:
        session.add(
            Task(
                case_id=case.id, department_id=dept, role=role, status="pending", created_at=now, due_at=respond.due_at
            )
        )
        notify(
            session,
            case_id=case.id,
            department_id=dept,
            kind="dispatch",
            message=_(
                "New case %(number)s (%(category)s) for your department.", number=number(case), category=cat.name
            ),
        )
    case.registered_at = case.registered_at or now
    case.dispatched_at, case.department_id, case.is_joint = now, lead, bool(assists)
    case.handle_due_at = sla.handling_step(now, cat).due_at
    _set_step(case, "respond", respond)
    _record(
        session,
        case,
        actor=actor,
        action="dispatch",
        to_status="dispatched",
        origin=origin,
        note=_note(note),
        department_id=lead,
        detail={"assist": [department_name(session, a) for a in assists]} if assists else None,
        public=public,
    )
    db.commit(session)
    return case


# 处置 ----------------------------------------------------------------------------


@step_guard("take")
def take(session: Session, *, actor: Actor, case_id: int, origin: Origin, version: int | None = None) -> Case:
    """A department signs for its task (签收): its first response."""
    case = _load(session, actor, case_id, version)
    _need(case, "dispatched", "handling")
    task = _my_task(session, actor, case, "pending")
    _take(session, case, task, actor=actor, origin=origin)
    db.commit(session)
    return case


def _take(session: Session, case: Case, task: Task, *, actor: Actor, origin: Origin) -> None:
    now = db.utcnow()
    task.status, task.accepted_at = "accepted", now
    case.first_response_at = case.first_response_at or now
    to_status = None
    if task.role == "lead" and case.status == "dispatched":
        to_status = "handling"
        cat = require_category(case.category_code)
        _set_step(case, "handle", sla.handling_step(case.dispatched_at or now, cat))
    _record(
        session,
        case,
        actor=actor,
        action="take",
        to_status=to_status,
        origin=origin,
        department_id=task.department_id,
        detail={"role": task.role},
    )


@step_guard("return")
def return_case(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, reason: str, version: int | None = None
) -> Case:
    """退回: the department says the case is not theirs; the dispatcher re-dispatches it."""
    reason = _note(reason, required=True, what="reason")
    case = _load(session, actor, case_id, version)
    _need(case, "dispatched", "handling")
    task = _my_task(session, actor, case, "pending", "accepted")
    task.status, task.note = "returned", reason
    to_status = None
    if task.role == "lead":
        for t in tasks_of(session, case.id):
            if t.status in ("pending", "accepted"):
                t.status = "cancelled"
        to_status = "registered"
        case.return_count += 1
        _set_step(case, "dispatch", sla.dispatch_step(db.utcnow()))
    notify(
        session,
        case_id=case.id,
        role=roles.DISPATCHER,
        kind="return",
        message=_(
            "Case %(number)s was returned by %(dept)s: %(reason)s",
            number=number(case),
            dept=department_name(session, task.department_id),
            reason=reason[:100],
        ),
    )
    _record(
        session,
        case,
        actor=actor,
        action="return",
        to_status=to_status,
        origin=origin,
        note=reason,
        department_id=task.department_id,
    )
    db.commit(session)
    return case


@step_guard("extend_request")
def request_extension(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, days: int, reason: str, version: int | None = None
) -> Case:
    """延期申请: more working days for the handling, approved by the dispatcher."""
    reason = _note(reason, required=True, what="reason")
    if not 1 <= int(days) <= 30:
        raise Invalid(_("Ask for 1 to 30 working days."), field="days")
    case = _load(session, actor, case_id, version)
    _need(case, "handling")
    task = _my_task(session, actor, case, "accepted")
    if task.ext_status == "requested":
        raise Conflict(_("An extension is already waiting for approval."), code="extension_pending")
    from yiwang.events.workcal import Duration, TimeUnit

    task.ext_status, task.ext_reason = "requested", reason
    task.ext_until = (
        sla.calendar()
        .add(case.handle_due_at or db.utcnow(), Duration(int(days), TimeUnit.WORKING_DAYS))
        .astimezone(dt.UTC)
    )
    notify(
        session,
        case_id=case.id,
        role=roles.DISPATCHER,
        kind="extension",
        message=_(
            "%(dept)s asks for more time on case %(number)s.",
            dept=department_name(session, task.department_id),
            number=number(case),
        ),
    )
    _record(
        session,
        case,
        actor=actor,
        action="extend_request",
        origin=origin,
        note=reason,
        department_id=task.department_id,
        detail={"until": task.ext_until.isoformat()},
    )
    db.commit(session)
    return case


@step_guard("extend_decide")
def decide_extension(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    approve: bool,
    note: str | None = None,
    version: int | None = None,
) -> Case:
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    pending = [t for t in tasks_of(session, case.id) if t.ext_status == "requested"]
    if not pending:
        raise Conflict(_("No extension is waiting for a decision."), code="no_extension")
    task = pending[0]
    task.ext_status = "approved" if approve else "rejected"
    if approve and case.status == "handling":
        start = case.step_started_at or case.dispatched_at or db.utcnow()
        until = task.ext_until
        assert until is not None  # set with the request
        case.handle_due_at = until
        _set_step(case, "handle", sla.Step(start, start + (until - start) * sla.YELLOW_SHARE, until))
        case.escalation_level = 0
    notify(
        session,
        case_id=case.id,
        department_id=task.department_id,
        kind="extension",
        message=_(
            "Extension for case %(number)s: %(decision)s",
            number=number(case),
            decision=_("approved") if approve else _("refused"),
        ),
    )
    _record(
        session,
        case,
        actor=actor,
        action="extend_approve" if approve else "extend_reject",
        origin=origin,
        note=_note(note),
        department_id=task.department_id,
    )
    db.commit(session)
    return case


@step_guard("complete")
def complete(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    note: str | None,
    files: list | None = None,
    home: Path | None = None,
    version: int | None = None,
    public: bool = False,
) -> Case:
    """处置完成: a department reports its task done; the lead's completion sends the case to verification."""
    note = _note(note, required=True, what="note")
    case = _load(session, actor, case_id, version)
    _need(case, "dispatched", "handling")
    task = _my_task(session, actor, case, "pending", "accepted")
    if task.status == "pending":
        _take(session, case, task, actor=actor, origin=origin)
    if task.role == "lead":
        waiting = [t for t in tasks_of(session, case.id) if t.role == "assist" and t.status in ("pending", "accepted")]
        if waiting:
            raise Conflict(
                _(
                    "Assisting departments have not finished: %(depts)s.",
                    depts="、".join(department_name(session, t.department_id) for t in waiting),
                ),
                code="assists_pending",
            )
    now = db.utcnow()
    task.status, task.done_at, task.note = "done", now, note
    to_status = None
    if task.role == "lead":
        to_status = "verifying"
        case.handled_at = now
        _set_step(case, "verify", sla.verify_step(now))
        notify(
            session,
            case_id=case.id,
            role=roles.DISPATCHER,
            kind="handled",
            message=_("Case %(number)s was handled; verify it on site.", number=number(case)),
        )
    row = _record(
        session,
        case,
        actor=actor,
        action="complete",
        to_status=to_status,
        origin=origin,
        note=note,
        department_id=task.department_id,
        detail={"role": task.role},
        public=public,
    )
    if files:
        assert home is not None  # whoever passes files passes the home folder they are stored under
        attach(session, case, row, files, home=home, actor=actor)
    db.commit(session)
    return case


# 核查 / 结案 ---------------------------------------------------------------------


@step_guard("verify")
def verify(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    passed: bool,
    note: str | None = None,
    files: list | None = None,
    home: Path | None = None,
    version: int | None = None,
    public: bool = False,
) -> Case:
    actor.require(roles.VERIFY)
    note = _note(note, required=not passed, what="note")
    case = _load(session, actor, case_id, version)
    _need(case, "verifying")
    if passed:
        case.verified_at = db.utcnow()
        to_status = "verified"
        _set_step(case, None, None)
    else:
        to_status = "handling"
        for t in tasks_of(session, case.id):
            if t.role == "lead" and t.status == "done":
                t.status, t.done_at = "accepted", None
        cat = require_category(case.category_code)
        start = case.dispatched_at or db.utcnow()
        handle = sla.handling_step(start, cat)
        _set_step(case, "handle", sla.Step(start, handle.yellow_at, case.handle_due_at or handle.due_at))
        notify(
            session,
            case_id=case.id,
            department_id=case.department_id,
            kind="verify_failed",
            message=_(
                "Case %(number)s failed on-site verification: %(note)s", number=number(case), note=(note or "")[:100]
            ),
        )
    row = _record(
        session,
        case,
        actor=actor,
        action="verify_pass" if passed else "verify_fail",
        to_status=to_status,
        origin=origin,
        note=note,
        public=public,
    )
    if files:
        assert home is not None  # whoever passes files passes the home folder they are stored under
        attach(session, case, row, files, home=home, actor=actor)
    db.commit(session)
    return case


@step_guard("close")
def close(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    note: str | None = None,
    version: int | None = None,
    public: bool = False,
) -> Case:
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    _need(case, "verified")
    now = db.utcnow()
    case.closed_at = now
    case.closed_on_time = bool(case.handled_at and case.handle_due_at and case.handled_at <= case.handle_due_at)
    _set_step(case, None, None)
    _record(
        session, case, actor=actor, action="close", to_status="closed", origin=origin, note=_note(note), public=public
    )
    if case.reporter_user_id:
        notify(
            session,
            case_id=case.id,
            user_id=case.reporter_user_id,
            kind="closed",
            message=_("Your report %(number)s is closed. Please rate how it was handled.", number=number(case)),
        )
    phone, num = case.reporter_phone, number(case)
    db.commit(session)
    tell_reporter(
        phone, _("Case closed"), _("Your report %(number)s is closed. Please rate how it was handled.", number=num)
    )
    return case


# 评价 / 重办 ---------------------------------------------------------------------


def _reporter_may(actor: Actor | None, case: Case, phone_ok: bool) -> None:
    if phone_ok:
        return
    if actor is None or actor.user_id is None or actor.user_id != case.reporter_user_id:
        raise AccessDenied(
            _("Only the reporter may rate or reopen this case."), code="not_reporter", target=f"case:{case.id}"
        )


@step_guard("rate")
def rate(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    rating: int,
    comment: str | None = None,
    phone_ok: bool = False,
) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(_("No case %(id)s.", id=case_id))
    _reporter_may(actor, case, phone_ok)
    if not 1 <= int(rating) <= 5:
        raise Invalid(_("Rate from 1 to 5."), field="rating")
    _need(case, "closed")
    case.rating, case.rating_comment, case.rated_at = int(rating), (_note(comment) or "")[:500] or None, db.utcnow()
    _record(
        session,
        case,
        actor=actor,
        action="rate",
        to_status="rated",
        origin=origin,
        note=case.rating_comment,
        detail={"rating": case.rating},
    )
    db.commit(session)
    return case


@step_guard("reopen")
def reopen(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, reason: str, phone_ok: bool = False
) -> Case:
    """The reporter is not satisfied: the case goes back to the dispatcher."""
    reason = _note(reason, required=True, what="reason")
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(_("No case %(id)s.", id=case_id))
    _reporter_may(actor, case, phone_ok)
    _need(case, "closed", "rated")
    case.reopen_count += 1
    case.closed_at = case.verified_at = case.handled_at = None
    case.closed_on_time = None
    _set_step(case, "dispatch", sla.dispatch_step(db.utcnow()))
    notify(
        session,
        case_id=case.id,
        role=roles.DISPATCHER,
        kind="reopen",
        message=_("The reporter reopened case %(number)s: %(reason)s", number=number(case), reason=reason[:100]),
    )
    _record(session, case, actor=actor, action="reopen", to_status="registered", origin=origin, note=reason)
    db.commit(session)
    return case


# 挂账 / 督办 / 不予立案 / 合并 -----------------------------------------------------------


@step_guard("backlog")
def backlog(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    reason: str,
    version: int | None = None,
    public: bool = False,
) -> Case:
    """挂账: the case cannot be solved now (budget, planning); its clock stops."""
    actor.require(roles.DISPATCH)
    reason = _note(reason, required=True, what="reason")
    case = _load(session, actor, case_id, version)
    _need(case, "registered", "dispatched", "handling")
    case.backlog_reason = reason
    _set_step(case, None, None)
    _record(
        session, case, actor=actor, action="backlog", to_status="backlog", origin=origin, note=reason, public=public
    )
    db.commit(session)
    return case


@step_guard("supervise")
def supervise(session: Session, *, actor: Actor, case_id: int, origin: Origin, note: str) -> Case:
    """督办: a note pressing the handling department(s); it reaches them as a notification."""
    actor.require(roles.SUPERVISE)
    note = _note(note, required=True)
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    _need(case, *OPEN_STATUSES, "backlog")
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(supervise_count=Case.supervise_count + 1)
        .execution_options(synchronize_session=False)
    )
    for t in tasks_of(session, case.id):
        if t.status in ("pending", "accepted"):
            notify(
                session,
                case_id=case.id,
                department_id=t.department_id,
                kind="supervise",
                message=_("Supervision on case %(number)s: %(note)s", number=number(case), note=note[:150]),
            )
    row = Action(
        case_id=case.id,
        actor_id=actor.user_id,
        actor_name=actor.display_name,
        action="supervise",
        from_status=case.status,
        to_status=case.status,
        note=note,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="events.case.supervise",
        target_type="event_case",
        target_id=case.id,
        origin=origin,
        detail={"note": note[:200]},
    )
    db.commit(session)
    return case


@step_guard("invalidate")
def invalidate(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    origin: Origin,
    reason: str,
    version: int | None = None,
    public: bool = False,
) -> Case:
    actor.require(roles.DISPATCH)
    reason = _note(reason, required=True, what="reason")
    case = _load(session, actor, case_id, version)
    _need(case, "accepted", "registered")
    case.closed_at = db.utcnow()
    _set_step(case, None, None)
    _record(
        session, case, actor=actor, action="invalidate", to_status="invalid", origin=origin, note=reason, public=public
    )
    db.commit(session)
    return case


@step_guard("merge")
def merge(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, into_id: int, version: int | None = None
) -> Case:
    actor.require(roles.DISPATCH)
    case = _load(session, actor, case_id, version)
    _need(case, "accepted", "registered")
    target = session.get(Case, into_id)
    if target is None or target.id == case.id:
        raise Invalid(_("Choose another existing case to merge into."), field="into")
    case.duplicate_of_id, case.closed_at = target.id, db.utcnow()
    _set_step(case, None, None)
    _record(
        session, case, actor=actor, action="merge", to_status="merged", origin=origin, detail={"into": number(target)}
    )
    db.commit(session)
    return case


# 公开 --------------------------------------------------------------------------------


def _touch(session: Session, case: Case) -> None:
    """What the public reads of the case changed: move ``updated_at`` (Open311 ``updated_datetime``) without
    bumping the case's version, so no handler's open form is refused for it."""
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(updated_at=db.utcnow())
        .execution_options(synchronize_session=False)
    )


@step_guard("note_public")
def set_note_public(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, action_id: int, public: bool
) -> Action:
    """A dispatcher makes a step's note visible to the reporter and the public, or takes it back (audited)."""
    actor.require(roles.DISPATCH)
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    row = session.get(Action, action_id)
    if row is None or row.case_id != case.id:
        raise NotFound(_("No such step in this case."))
    if public and row.action not in PUBLIC_NOTE_ACTIONS:
        raise Invalid(_("The note of this step stays internal; it cannot be made public."), field="public")
    if public and not (row.note or "").strip():
        raise Invalid(_("This step has no note to make public."), field="public")
    before, row.public = bool(row.public), bool(public)
    _touch(session, case)
    audit.record(
        session,
        actor=actor,
        action="events.case.note_public",
        target_type="event_case",
        target_id=case.id,
        origin=origin,
        detail={"action_id": row.id, "step": row.action, "from": before, "public": row.public},
    )
    db.commit(session)
    return row


@step_guard("photo_public")
def set_photo_publishable(
    session: Session, *, actor: Actor, case_id: int, origin: Origin, attachment_id: int, publishable: bool
) -> Attachment:
    """A dispatcher marks a photo of the case publishable (then served by its ``public_id``), or not (audited)."""
    actor.require(roles.DISPATCH)
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    att = session.get(Attachment, attachment_id)
    if att is None or att.case_id != case.id:
        raise NotFound(_("No such photo."))
    before, att.publishable = bool(att.publishable), bool(publishable)
    _touch(session, case)
    audit.record(
        session,
        actor=actor,
        action="events.case.photo_public",
        target_type="event_case",
        target_id=case.id,
        origin=origin,
        detail={"attachment_id": att.id, "from": before, "publishable": att.publishable},
    )
    db.commit(session)
    return att


def clear_source(session: Session, *, actor, source_ref: str, origin: Origin, note: str | None = None) -> list[int]:
    """A machine source reports it cleared: close its open cases (audited per case)."""
    rows = (
        session.execute(
            select(Case).where(Case.source_ref == source_ref, Case.status.in_(OPEN_STATUSES + ("backlog",)))
        )
        .scalars()
        .all()
    )
    for case in rows:
        for t in tasks_of(session, case.id):
            if t.status in ("pending", "accepted"):
                t.status = "cancelled"
                notify(
                    session,
                    case_id=case.id,
                    department_id=t.department_id,
                    kind="cleared",
                    message=_("Case %(number)s closed: its source reported the alarm cleared.", number=number(case)),
                )
        case.closed_at = db.utcnow()
        case.closed_on_time = True
        _set_step(case, None, None)
        _record(
            session,
            case,
            actor=actor,
            action="clear",
            to_status="closed",
            origin=origin,
            note=_note(note) or _("The source reported the alarm cleared."),
            detail={"source_ref": source_ref},
        )
    db.commit(session)
    return [c.id for c in rows]


def mark_read(session: Session, *, actor: Actor, origin: Origin) -> int:
    rows = notifications(session, actor=actor, unread_only=True, limit=1000)
    now = db.utcnow()
    for n in rows:
        n.read_at = now
    if rows:
        audit.record(
            session,
            actor=actor,
            action="events.notifications_read",
            target_type="user",
            target_id=actor.user_id,
            origin=origin,
            detail={"count": len(rows)},
        )
    db.commit(session)
    return len(rows)


# One table of the workflow's steps, for the JSON API and the HTML forms alike (their permissions:
# ``roles.STEP_PERMISSIONS``, same keys; a test checks they agree).
STEP_FUNCTIONS = {
    "register": register,
    "reclassify": reclassify,
    "dispatch": dispatch,
    "take": take,
    "return": return_case,
    "extend": request_extension,
    "extend-decision": decide_extension,
    "complete": complete,
    "verify": verify,
    "close": close,
    "backlog": backlog,
    "supervise": supervise,
    "invalidate": invalidate,
    "merge": merge,
    "rate": rate,
    "reopen": reopen,
}
