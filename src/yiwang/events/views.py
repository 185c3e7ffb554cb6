"""HTML pages of the event center: the dispatcher's workbench, queues, the case page, the
mobile report page, statistics, and the citizen's report and status pages (thin: every
rule is in the services)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from yiwang import org
from yiwang.core import audit
from yiwang.core.errors import Conflict, Invalid, PayloadTooLarge, YiwangError
from yiwang.core.i18n import _
from yiwang.core.masking import redact
from yiwang.core.params import Id
from yiwang.core.security import Actor
from yiwang.core.web import PostedForm, origin, render, verify_csrf
from yiwang.events import intake, photos, queries, roles, service, stats
from yiwang.events.api import bulk
from yiwang.events.models import Action, Attachment, Case
from yiwang.events.service import attach
from yiwang.events.settings import get_events_settings
from yiwang.events.triage import load_taxonomy

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
CaseViewer = Annotated[Actor, Depends(org.requires(roles.VIEW))]
Dispatcher = Annotated[Actor, Depends(org.requires(roles.DISPATCH))]
ReporterReader = Annotated[Actor, Depends(org.requires(roles.REPORTER_READ))]
StepActor = Annotated[Actor, Depends(org.requires_step(roles.STEP_PERMISSIONS))]  # the step's permission
PER_PAGE = 30


def _categories() -> list:
    return list(load_taxonomy())


def _towns() -> list:
    return list(org.geo.towns())


def _rejected(request: Request, exc: YiwangError, action: str, actor: Actor | None) -> None:
    """Audit a refused form (the page shows the message; nothing is stored)."""
    with request.app.state.sessionmaker() as session:
        audit.record(
            session,
            actor=actor,
            action=action,
            outcome="failed",
            target_type="route",
            target_id=f"{request.method} {request.url.path}",
            origin=origin(request),
            detail={"code": exc.code, "status": exc.status_code, "message": exc.message[:300]},
        )
        session.commit()


def _filter_from(q: dict) -> queries.CaseFilter:
    return queries.CaseFilter(
        status=q.get("status") or None,
        category_code=q.get("category") or None,
        town_code=q.get("town") or None,
        source=q.get("source") or None,
        warn_level=q.get("warn") or None,
        q=q.get("q") or None,
        needs_human=True if q.get("human") == "1" else None,
        open_only=q.get("open") == "1",
    )


def _query(request: Request) -> dict:
    allowed = ("status", "category", "town", "source", "warn", "q", "human", "open", "page")
    return {k: request.query_params.get(k, "")[:100] for k in allowed}


def _queue(request: Request, session, actor: Actor, *, title: str, workbench: bool):
    q = _query(request)
    if workbench and not any(q[k] for k in ("status", "q", "open", "category", "town", "warn", "human", "source")):
        q["open"] = "1"
    page = int(q["page"]) if q["page"].isdigit() and 0 < int(q["page"]) < 100000 else 1
    rows, total = queries.list_cases(
        session, actor=actor, flt=_filter_from(q), limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    counters = None
    if workbench:
        count = lambda **kw: queries.list_cases(session, actor=actor, flt=queries.CaseFilter(**kw), limit=1)[1]  # noqa: E731
        counters = {
            "accepted": count(status="accepted"),
            "human": count(status="accepted", needs_human=True),
            "registered": count(status="registered"),
            "handling": count(status="handling"),
            "verifying": count(status="verifying"),
            "overdue": count(overdue=True),
        }
    return render(
        request,
        "events/queue.html",
        {
            "current_end": "workspace",
            "title": title,
            "workbench": workbench,
            "q": q,
            "page": page,
            "pages": max(1, -(-(total or 0) // PER_PAGE)),
            "total": total,
            "counters": counters,
            "cases": [queries.case_public(session, c) for c in rows],
            "categories": _categories(),
            "towns": _towns(),
            "statuses": queries.STATUS_LABELS,
            "sources": queries.SOURCE_LABELS,
            "departments": queries.departments(session),
        },
    )


@router.get("/workspace/events")
def workbench(request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.DISPATCH))]):
    return _queue(request, session, actor, title=_("Dispatch center"), workbench=True)


@router.get("/workspace/events/cases")
def case_list(request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.VIEW))]):
    return _queue(request, session, actor, title=_("Case list"), workbench=False)


@router.post("/workspace/events/bulk-dispatch")
def bulk_dispatch(
    request: Request,
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires(roles.DISPATCH))],
    form: PostedForm,
):
    ids = [int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit()][:500]
    if not ids:
        return RedirectResponse("/workspace/events?msg=none", status_code=303)
    result = bulk(session, actor, ids, origin(request))
    return RedirectResponse(
        f"/workspace/events?msg=bulk&ok={len(result['dispatched'])}&failed={len(result['failed'])}", status_code=303
    )


@router.get("/workspace/events/tasks")
def task_queue(request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.HANDLE))]):
    from sqlalchemy import select

    from yiwang.events.models import Case, Task

    show = request.query_params.get("show", "open")
    statuses = ("pending", "accepted") if show == "open" else ("done", "returned")
    rows = session.execute(
        select(Task, Case)
        .join(Case, Case.id == Task.case_id)
        .where(Task.department_id.in_(sorted(actor.department_ids) or [-1]), Task.status.in_(statuses))
        .order_by(Case.due_at.is_(None), Case.due_at, Task.id.desc())
        .limit(200)
    ).all()
    items = [{"task": t, "case": queries.case_public(session, c)} for t, c in rows]
    return render(request, "events/tasks.html", {"current_end": "workspace", "rows": items, "show": show})


@router.get("/workspace/events/overdue")
def overdue(request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.SUPERVISE))]):
    rows, total = queries.list_cases(session, actor=actor, flt=queries.CaseFilter(overdue=True), limit=200)
    yellow = queries.list_cases(
        session, actor=actor, flt=queries.CaseFilter(open_only=True, warn_level="yellow"), limit=1
    )[1]
    return render(
        request,
        "events/overdue.html",
        {
            "current_end": "workspace",
            "total": total,
            "yellow": yellow,
            "statuses": queries.STATUS_LABELS,
            "cases": [queries.case_public(session, c) for c in rows],
        },
    )


def _case_page(
    request: Request,
    session,
    actor: Actor,
    case_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    personal: dict | None = None,
):
    case = queries.get_case(session, actor=actor, case_id=case_id)
    tasks = queries.tasks_of(session, case.id)
    mine = [t for t in tasks if t.department_id in actor.department_ids]
    atts = session.query(Attachment).filter(Attachment.case_id == case.id).all()
    return render(
        request,
        "events/case.html",
        {
            "current_end": "workspace",
            "c": queries.case_public(session, case),
            "tasks": tasks,
            "mine": mine,
            "timeline": queries.timeline(session, case.id),
            "photos": atts,
            "error": error,
            "personal": personal,
            "msg": request.query_params.get("msg", "")[:40],
            "categories": _categories(),
            "departments": queries.departments(session),
            "statuses": queries.STATUS_LABELS,
            "original": session.get(type(case), case.duplicate_of_id) if case.duplicate_of_id else None,
            "number_of": queries.number,
            "labels": queries.ACTION_LABELS,
            "sources": queries.SOURCE_LABELS,
            "channels": queries.CHANNEL_LABELS,
            "steps": queries.STEP_LABELS,
            "region_label": org.region_label(session, case.region_code) if case.region_code else None,
            "can_publish": actor.can(roles.DISPATCH),
            "public_steps": queries.PUBLIC_NOTE_ACTIONS,
        },
        status_code=status_code,
    )


@router.get("/workspace/events/cases/{case_id}")
def case_page(request: Request, session: org.DbSession, actor: CaseViewer, case_id: Id):
    return _case_page(request, session, actor, case_id)


def _public(f) -> bool:
    return f.get("public") == "1"  # the "visible to the reporter and the public" box


STEP_FORMS = {
    "register": lambda f: dict(category_code=f.get("category_code") or None, note=f.get("note"), public=_public(f)),
    "reclassify": lambda f: dict(category_code=f.get("category_code") or ""),
    "dispatch": lambda f: dict(
        department_id=_int(f.get("department_id")),
        assist_ids=[int(x) for x in f.getlist("assist_ids") if str(x).isdigit()][:10],
        note=f.get("note"),
        force=f.get("force") == "1",
        public=_public(f),
    ),
    "take": lambda f: {},
    "return": lambda f: dict(reason=f.get("reason") or ""),
    "extend": lambda f: dict(days=_int(f.get("days")) or 0, reason=f.get("reason") or ""),
    "extend-decision": lambda f: dict(approve=f.get("approve") == "1", note=f.get("note")),
    "complete": lambda f: dict(note=f.get("note"), public=_public(f)),
    "verify": lambda f: dict(passed=f.get("passed") == "1", note=f.get("note"), public=_public(f)),
    "close": lambda f: dict(note=f.get("note"), public=_public(f)),
    "backlog": lambda f: dict(reason=f.get("reason") or "", public=_public(f)),
    "supervise": lambda f: dict(note=f.get("note") or ""),
    "invalidate": lambda f: dict(reason=f.get("reason") or "", public=_public(f)),
}
FORM_STEPS = set(service.STEP_FUNCTIONS) - {"merge", "rate", "reopen"}  # those three have pages of their own
VERSIONED = {
    "register",
    "reclassify",
    "dispatch",
    "take",
    "return",
    "extend",
    "extend-decision",
    "complete",
    "verify",
    "close",
    "backlog",
    "invalidate",
}


def _int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def _files(form) -> list[photos.Photo]:
    items = [v for v in form.getlist("photos") if hasattr(v, "read") and getattr(v, "filename", None)]
    limit = get_events_settings().max_photo_mb * 1024 * 1024
    out = []
    for up in items:
        data = up.file.read(limit + 1)
        out.append((data, up.filename))
    return photos.check_all(out)


@router.post("/workspace/events/cases/{case_id}/step/{step}")
def case_step(request: Request, session: org.DbSession, actor: StepActor, case_id: Id, step: str, form: PostedForm):
    if step not in FORM_STEPS:
        raise Invalid(_("Unknown step %(step)s.", step=step[:30]), field="step")
    kwargs = STEP_FORMS[step](form)
    if step in VERSIONED:
        kwargs["version"] = _int(form.get("version"))
    try:
        if _public(form) and "public" not in kwargs:  # 退回, 延期, 督办: their notes are internal
            raise Invalid(_("The note of this step stays internal; it cannot be made public."), field="public")
        if step in ("complete", "verify"):
            kwargs["files"] = _files(form)
            kwargs["home"] = request.app.state.settings.home_path
        service.STEP_FUNCTIONS[step](session, actor=actor, case_id=case_id, origin=origin(request), **kwargs)
    except (Invalid, Conflict, PayloadTooLarge, photos.UnsupportedMedia) as exc:
        if isinstance(exc, PayloadTooLarge | photos.UnsupportedMedia):
            _rejected(request, exc, f"events.case.{step}", actor)
        return _case_page(request, session, actor, case_id, error=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/workspace/events/cases/{case_id}?msg={step}", status_code=303)


@router.post("/workspace/events/cases/{case_id}/notes/{action_id}/visibility")
def note_visibility(
    request: Request, session: org.DbSession, actor: Dispatcher, case_id: Id, action_id: Id, form: PostedForm
):
    try:
        service.set_note_public(
            session, actor=actor, case_id=case_id, origin=origin(request), action_id=action_id, public=_public(form)
        )
    except (Invalid, Conflict) as exc:
        return _case_page(request, session, actor, case_id, error=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/workspace/events/cases/{case_id}?msg=visibility", status_code=303)


@router.post("/workspace/events/cases/{case_id}/photos/{attachment_id}/visibility")
def photo_visibility(
    request: Request, session: org.DbSession, actor: Dispatcher, case_id: Id, attachment_id: Id, form: PostedForm
):
    try:
        service.set_photo_publishable(
            session,
            actor=actor,
            case_id=case_id,
            origin=origin(request),
            attachment_id=attachment_id,
            publishable=_public(form),
        )
    except (Invalid, Conflict) as exc:
        return _case_page(request, session, actor, case_id, error=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/workspace/events/cases/{case_id}?msg=visibility", status_code=303)


@router.post("/workspace/events/cases/{case_id}/personal")
def case_personal(request: Request, session: org.DbSession, actor: ReporterReader, case_id: Id, form: PostedForm):
    try:
        personal = queries.reveal_reporter(
            session, actor=actor, case_id=case_id, reason=str(form.get("reason") or ""), origin=origin(request)
        )
    except Invalid as exc:
        return _case_page(request, session, actor, case_id, error=exc.message, status_code=422)
    return _case_page(request, session, actor, case_id, personal=personal)


@router.get("/workspace/events/photos/{attachment_id}")
def photo(request: Request, session: org.DbSession, actor: CaseViewer, attachment_id: Id):
    att = queries.attachment(session, actor=actor, attachment_id=attachment_id)
    path = photos.path_of(request.app.state.settings.home_path, att.path)
    return Response(path.read_bytes(), media_type=att.mime, headers={"cache-control": "private, max-age=3600"})


# Reporting -------------------------------------------------------------------------


def _report_ctx(request: Request, end: str, **extra) -> dict:
    return {
        "current_end": end,
        "categories": _categories(),
        "form_key": secrets.token_urlsafe(16),
        "max_photos": get_events_settings().max_photos,
        "max_mb": get_events_settings().max_photo_mb,
        "values": {},
        **extra,
    }


@router.get("/workspace/events/report")
def staff_report_page(request: Request, actor: Annotated[Actor, Depends(org.requires(roles.REPORT))]):
    return render(request, "events/report.html", _report_ctx(request, "workspace", staff=True))


@router.get("/portal/events/report")
def public_report_page(request: Request, actor: org.OptionalActor):
    return render(request, "events/report.html", _report_ctx(request, "portal", staff=False))


def _submit(request: Request, session, actor: Actor | None, form, *, staff: bool):
    values = {k: str(form.get(k) or "")[:300] for k in ("category_code", "lat", "long", "address", "name", "phone")}
    end = "workspace" if staff else "portal"
    try:
        files = _files(form)
        if staff:
            assert actor is not None  # the staff route requires a signed-in reporter
            channel = "grid" if actor.can(roles.REPORT_GRID) else "inspector"  # a permission, not a role name
            region = actor.region_code if channel == "grid" and not actor.sees_everything else None
        else:
            channel, region = "portal", None
            if actor is None and not values["phone"]:
                raise Invalid(_("Leave your mobile number so that you can follow your report."), field="phone")
        key = str(form.get("form_key") or "")[:64]
        report = intake.build(
            session,
            channel=channel,
            description=str(form.get("description") or ""),
            category_code=values["category_code"] or None,
            lng=values["long"] or None,
            lat=values["lat"] or None,
            address=values["address"] or None,
            within_region=region,
            reporter_user_id=actor.user_id if actor else None,
            reporter_name=values["name"] or (actor.display_name if actor and not staff else None),
            reporter_phone=values["phone"] or None,
            idem_key=f"form:{key}" if key else None,
        )
        accepted = intake.accept(session, report, actor=actor, origin=origin(request))
        if not accepted.created:
            raise Conflict(
                _("This form was already submitted: your report is case %(number)s.", number=accepted.number),
                code="duplicate_submission",
                number=accepted.number,
            )
        if files:
            case = session.get(Case, accepted.id)
            first = session.query(Action).filter_by(case_id=case.id, action="accept").first()
            attach(
                session,
                case,
                first,
                files,
                home=request.app.state.settings.home_path,
                actor=actor or Actor(user_id=None, username="public", display_name="public"),
            )
            session.commit()
    except YiwangError as exc:
        _rejected(request, exc, "events.report_rejected", actor)
        return render(
            request,
            "events/report.html",
            _report_ctx(
                request,
                end,
                staff=staff,
                error=exc.message,
                values=values,
                description=str(form.get("description") or "")[:5000],
            ),
            status_code=exc.status_code,
        )
    return render(
        request,
        "events/reported.html",
        {"current_end": end, "number": accepted.number, "staff": staff, "case_id": accepted.id},
        status_code=201,
    )


@router.post("/workspace/events/report")
def staff_report(
    request: Request,
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires(roles.REPORT))],
    form: PostedForm,
):
    return _submit(request, session, actor, form, staff=True)


@router.post("/portal/events/report")
def public_report(request: Request, session: org.DbSession, actor: org.OptionalActor, form: PostedForm):
    return _submit(request, session, actor, form, staff=False)


# Citizen status page -------------------------------------------------------------

REPORTER = Actor(user_id=None, username="reporter", display_name="reporter", kind="citizen")


def _lookup(request: Request, session, number: str, phone: str):
    from yiwang.core.crypto import blind_index

    case = queries.find_by_number(session, number)
    phone = intake.clean_phone(phone) or ""
    if not phone or case.reporter_phone_index != blind_index(phone):
        audit.record(
            session,
            actor=None,
            action="events.status_lookup",
            outcome="denied",
            target_type="event_case",
            target_id=case.id,
            origin=origin(request),
            detail={"reason": "phone_mismatch"},
        )
        session.commit()
        raise Invalid(_("The case number and the phone number do not match."), field="phone", code="no_match")
    audit.record(
        session,
        actor=None,
        action="events.status_lookup",
        target_type="event_case",
        target_id=case.id,
        origin=origin(request),
    )
    session.commit()
    return case


def _status_ctx(session, case) -> dict:
    """What the status page shows to whoever knows the number and the phone: the reporter's own text and the
    notes staff made public, redacted; photos only those marked publishable (by ``public_id``)."""
    cat = queries.category(case.category_code)  # not case_public: that is the staff view (backlog reason, ...)
    c = {"category_name": cat.name if cat else None, "status": case.status, "description": redact(case.description)}
    return {"c": c, "timeline": queries.public_timeline(session, case.id), "labels": queries.ACTION_LABELS}


@router.get("/portal/events/status")
def status_page(request: Request, number: str | None = Query(None, max_length=20)):
    return render(request, "events/status.html", {"current_end": "portal", "number": number or "", "phone": ""})


@router.post("/portal/events/status")
def status_lookup(request: Request, session: org.DbSession, form: PostedForm):
    number, phone = str(form.get("number") or "")[:20], str(form.get("phone") or "")[:20]
    what = str(form.get("do") or "")
    ctx = {"current_end": "portal", "number": number, "phone": phone}
    try:
        case = _lookup(request, session, number, phone)
        if what == "rate":
            service.rate(
                session,
                actor=REPORTER,
                case_id=case.id,
                origin=origin(request),
                phone_ok=True,
                rating=_int(str(form.get("rating") or "")) or 0,
                comment=str(form.get("comment") or ""),
            )
            ctx["msg"] = _("Thank you for your rating.")
        elif what == "reopen":
            service.reopen(
                session,
                actor=REPORTER,
                case_id=case.id,
                origin=origin(request),
                phone_ok=True,
                reason=str(form.get("reason") or ""),
            )
            ctx["msg"] = _("Your case is open again; the command center will re-dispatch it.")
        session.refresh(case)
    except YiwangError as exc:
        return render(request, "events/status.html", {**ctx, "error": exc.message}, status_code=exc.status_code)
    return render(request, "events/status.html", {**ctx, **_status_ctx(session, case)})


# Statistics and notifications -------------------------------------------------------


@router.get("/workspace/events/stats")
def stats_page(
    request: Request,
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires(roles.STATS))],
    period: str = Query("year", max_length=10),
):
    data = stats.kpis(session, actor=actor, p=stats.period(period))
    return render(
        request,
        "events/stats.html",
        {
            "current_end": "workspace",
            "k": data,
            "period": period,
            "periods": list(stats.PERIODS),
            "channels": {k: _(v) for k, v in queries.CHANNEL_LABELS.items()},
        },
    )


@router.get("/workspace/events/notifications")
def notifications_page(
    request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.VIEW))]
):
    return render(
        request,
        "events/notifications.html",
        {
            "current_end": "workspace",
            "notes": queries.notifications(session, actor=actor, limit=100),
            "unread": queries.unread_count(session, actor=actor),
        },
    )


@router.post("/workspace/events/notifications/read")
def notifications_read(
    request: Request, session: org.DbSession, actor: Annotated[Actor, Depends(org.requires(roles.VIEW))]
):
    service.mark_read(session, actor=actor, origin=origin(request))
    return RedirectResponse("/workspace/events/notifications", status_code=303)
