"""JSON API of the event center under ``/api/v1/events`` (thin: rules live in the services)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from yiwang import org
from yiwang.core.errors import AccessDenied, Conflict, Invalid, NotFound, PayloadTooLarge
from yiwang.core.i18n import _
from yiwang.core.params import DayQuery, Id, Offset
from yiwang.core.security import Actor
from yiwang.core.web import origin
from yiwang.events import apikeys, hotline, intake, lean, queries, roles, service, stats
from yiwang.events.batcher import app_batcher
from yiwang.events.schemas import BulkDispatch, CaseCreate, HotlineBatch, MachineClear, MachineIntake, Step, Visibility
from yiwang.events.settings import get_events_settings

router = APIRouter(prefix="/api/v1/events", tags=["events"])
# every route declares its permission (tests/test_permissions.py); the services limit rows to the data scope
# citizens: their own reports, in the reporter's view (``queries.case_view`` decides by events.view and the data)
CaseReader = Annotated[Actor, Depends(org.requires(roles.VIEW, roles.REPORT_PUBLIC))]
Dispatcher = Annotated[Actor, Depends(org.requires(roles.DISPATCH))]
Statistician = Annotated[Actor, Depends(org.requires(roles.STATS))]


def limit_body(request: Request) -> None:
    """Refuse oversized intake bodies before parsing them (413 with the limit)."""
    length = request.headers.get("content-length")
    limit = get_events_settings().max_body_kb
    if length and length.isdigit() and int(length) > limit * 1024:
        raise PayloadTooLarge(_("The request body is larger than %(kb)s KB.", kb=limit), field="body")


def _accepted(result, status_created: int = 201) -> JSONResponse:
    body = {"id": result.id, "number": result.number, "token": result.token, "created": result.created}
    return JSONResponse(body, status_code=status_created if result.created else 200)


def _report_actor_region(actor: Actor) -> str | None:
    """Grid and town workers report only inside their own region."""
    if actor.sees_everything or not actor.region_code:
        return None
    return actor.region_code if actor.can(roles.REPORT) else None


@router.post(
    "/cases",
    status_code=201,
    summary="Report a case (staff: active source; citizens: portal)",
    dependencies=[Depends(limit_body)],
)
def create_case(
    request: Request,
    session: org.DbSession,
    body: CaseCreate,
    actor: Annotated[Actor, Depends(org.requires(roles.REPORT, roles.REPORT_PUBLIC))],
):
    # the source follows from a permission, never from a role's name
    channel = "grid" if actor.can(roles.REPORT_GRID) else "inspector" if actor.can(roles.REPORT) else "app"
    report = intake.build(
        session,
        channel=channel,
        description=body.description,
        category_code=body.category_code,
        lng=body.long,
        lat=body.lat,
        address=body.address,
        within_region=_report_actor_region(actor) if channel == "grid" else None,
        reporter_user_id=actor.user_id,
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
        idem_key=f"user:{actor.user_id}:{body.idempotency_key}" if body.idempotency_key else None,
    )
    return _accepted(intake.accept(session, report, actor=actor, origin=origin(request)))


def api_key_actor(request: Request, session: org.DbSession) -> Actor:
    return apikeys.actor_for_key(session, request.headers.get("x-api-key"))


api_key_actor.permissions = (roles.INTAKE,)  # type: ignore[attr-defined]  # the route's declared permission


@router.post(
    "/intake",
    status_code=201,
    dependencies=[Depends(limit_body)],
    summary="Machine intake (IoT alarm, indicator warning, video AI); header X-API-Key",
)
async def machine_intake(request: Request, body: MachineIntake):
    # the lean front (events.lean) serves this path; its validator is the one implementation, run off the loop
    report, actor = await asyncio.to_thread(
        lean.validate_machine, request.app.state.sessionmaker, body, request.headers
    )
    batcher = app_batcher(request.app)
    return _accepted(await batcher.submit(report, actor, origin(request)))


@router.post("/intake/clear", summary="A machine source cleared: close its open cases")
def machine_clear(
    request: Request, session: org.DbSession, body: MachineClear, actor: Annotated[Actor, Depends(api_key_actor)]
):
    ids = service.clear_source(session, actor=actor, source_ref=body.source_ref, origin=origin(request), note=body.note)
    return {"closed": ids}


@router.post("/hotline/records", summary="12345 hotline records (JSON batch)")
def hotline_records(request: Request, session: org.DbSession, actor: Dispatcher, body: HotlineBatch):
    result = hotline.import_records(
        session, actor=actor, records=[r.model_dump() for r in body.records], origin=origin(request)
    )
    return result.__dict__


@router.post("/hotline/import", summary="12345 hotline export file (CSV or XLSX)")
def hotline_import(request: Request, session: org.DbSession, actor: Dispatcher, file: Annotated[UploadFile, File()]):
    data = file.file.read(hotline.MAX_BYTES + 1)  # a plain def: the import runs in the thread pool, off the loop
    result = hotline.import_file(session, actor=actor, data=data, filename=file.filename or "", origin=origin(request))
    return result.__dict__


@router.get(
    "/cases",
    summary="Cases in the caller's data scope (reporter data masked; a reporter without "
    "events.view: their own reports, in the reporter's view)",
)
def list_cases(
    session: org.DbSession,
    actor: CaseReader,
    status: str | None = Query(None, max_length=12),
    category: str | None = Query(None, max_length=6),
    town: str | None = Query(None, max_length=9),
    region: str | None = Query(None, max_length=20),
    source: str | None = Query(None, max_length=12),
    warn: str | None = Query(None, pattern="^(green|yellow|red)$"),
    overdue: bool = False,
    q: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
):
    flt = queries.CaseFilter(
        status=status,
        category_code=category,
        town_code=town,
        region_code=region,
        source=source,
        warn_level=warn,
        overdue=overdue,
        q=q,
    )
    rows, total = queries.list_cases(session, actor=actor, flt=flt, limit=limit, offset=offset)
    return {"total": total, "items": [queries.case_view(session, actor=actor, case=c) for c in rows]}


@router.get(
    "/cases/{case_id}",
    summary="One case: the staff view with events.view (whole timeline, tasks); "
    "its reporter without it: the reporter's view (public steps, coarse address)",
)
def get_case(session: org.DbSession, actor: CaseReader, case_id: Id):
    case = queries.get_case(session, actor=actor, case_id=case_id)
    return queries.case_view(session, actor=actor, case=case, detail=True)


@router.get("/cases/{case_id}/personal", summary="Reporter's name and phone; needs a reason; audited")
def reporter_personal(
    request: Request,
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires(roles.REPORTER_READ, roles.REPORT_PUBLIC, roles.REPORT))],
    case_id: Id,
    reason: str = Query(..., max_length=500),
):
    return queries.reveal_reporter(session, actor=actor, case_id=case_id, reason=reason, origin=origin(request))


def _into(session, value: str | None) -> int:
    if not value:
        raise Invalid(_("Give the case number to merge into."), field="into")
    return queries.find_by_number(session, value).id


STEPS = {
    "register": lambda s, b: dict(
        category_code=b.category_code, region_code=b.region_code, note=b.note, version=b.version, public=b.public
    ),
    "reclassify": lambda s, b: dict(category_code=b.category_code or "", version=b.version),
    "dispatch": lambda s, b: dict(
        department_id=b.department_id,
        assist_ids=b.assist_ids,
        note=b.note,
        version=b.version,
        force=b.force,
        public=b.public,
    ),
    "take": lambda s, b: dict(version=b.version),
    "return": lambda s, b: dict(reason=b.reason or "", version=b.version),
    "extend": lambda s, b: dict(days=b.days or 0, reason=b.reason or "", version=b.version),
    "extend-decision": lambda s, b: dict(approve=bool(b.approve), note=b.note, version=b.version),
    "complete": lambda s, b: dict(note=b.note, version=b.version, public=b.public),
    "verify": lambda s, b: dict(passed=bool(b.passed), note=b.note, version=b.version, public=b.public),
    "close": lambda s, b: dict(note=b.note, version=b.version, public=b.public),
    "backlog": lambda s, b: dict(reason=b.reason or "", version=b.version, public=b.public),
    "supervise": lambda s, b: dict(note=b.note or ""),
    "invalidate": lambda s, b: dict(reason=b.reason or "", version=b.version, public=b.public),
    "merge": lambda s, b: dict(into_id=_into(s, b.into), version=b.version),
    "rate": lambda s, b: dict(rating=b.rating or 0, comment=b.comment),
    "reopen": lambda s, b: dict(reason=b.reason or ""),
}


@router.post(
    "/cases/{case_id}/{step}",
    summary="A workflow step: register, dispatch, take, return, extend, "
    "extend-decision, complete, verify, close, backlog, supervise, invalidate, merge, rate, reopen",
)
def case_step(
    request: Request,
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires_step(roles.STEP_PERMISSIONS))],
    case_id: Id,
    step: str,
    body: Step,
):
    if step not in service.STEP_FUNCTIONS:
        raise Invalid(_("Unknown step %(step)s.", step=step[:30]), field="step")
    kwargs = STEPS[step](session, body)
    if body.public and "public" not in kwargs:  # 退回, 延期, 督办, ...: their notes are internal
        raise Invalid(_("The note of this step stays internal; it cannot be made public."), field="public")
    case = service.STEP_FUNCTIONS[step](session, actor=actor, case_id=case_id, origin=origin(request), **kwargs)
    return queries.case_view(session, actor=actor, case=case)  # the reporter who rates: the reporter's view


@router.post(
    "/cases/{case_id}/notes/{action_id}/visibility",
    summary="Make a step's note visible to the reporter and the public, or internal again (audited)",
)
def note_visibility(
    request: Request, session: org.DbSession, actor: Dispatcher, case_id: Id, action_id: Id, body: Visibility
):
    row = service.set_note_public(
        session, actor=actor, case_id=case_id, origin=origin(request), action_id=action_id, public=body.public
    )
    return {"id": row.id, "action": row.action, "public": row.public}


@router.post(
    "/cases/{case_id}/photos/{attachment_id}/visibility",
    summary="Mark a photo publishable (served at /open311/v2/media/<public_id>) or not (audited)",
)
def photo_visibility(
    request: Request, session: org.DbSession, actor: Dispatcher, case_id: Id, attachment_id: Id, body: Visibility
):
    att = service.set_photo_publishable(
        session,
        actor=actor,
        case_id=case_id,
        origin=origin(request),
        attachment_id=attachment_id,
        publishable=body.public,
    )
    return {"id": att.id, "publishable": att.publishable, "public_id": att.public_id if att.publishable else None}


@router.post("/bulk-dispatch", summary="Dispatch several cases to their proposed departments")
def bulk_dispatch(request: Request, session: org.DbSession, actor: Dispatcher, body: BulkDispatch):
    return bulk(session, actor, body.ids, origin(request))


def bulk(session, actor: Actor, ids: list[int], org_origin) -> dict:
    actor.require(roles.DISPATCH)
    done, failed = [], []
    for cid in ids:
        try:
            service.dispatch(session, actor=actor, case_id=cid, origin=org_origin)
            done.append(cid)
        except (Invalid, Conflict, NotFound, AccessDenied) as exc:
            failed.append({"id": cid, "code": exc.code, "message": exc.message})
    return {"dispatched": done, "failed": failed}


@router.get("/map", summary="Open cases with a point (for the map)")
def map_points(
    session: org.DbSession,
    actor: Annotated[Actor, Depends(org.requires(roles.VIEW))],
    town: str | None = Query(None, max_length=9),
    category: str | None = Query(None, max_length=6),
):
    return queries.map_points(
        session, actor=actor, flt=queries.CaseFilter(open_only=True, town_code=town, category_code=category)
    )


@router.get("/stats", summary="Statistics and plan indicators for a period")
def kpis(
    session: org.DbSession,
    actor: Statistician,
    period: str = Query("year", max_length=10),
    start: DayQuery = None,
    end: DayQuery = None,
):
    return stats.kpis(session, actor=actor, p=stats.period(period, start, end))


@router.get("/stats.xlsx", summary="Statistics as an XLSX workbook (audited)")
def kpis_xlsx(
    request: Request,
    session: org.DbSession,
    actor: Statistician,
    period: str = Query("year", max_length=10),
    start: DayQuery = None,
    end: DayQuery = None,
):
    body = stats.export_xlsx(session, actor=actor, p=stats.period(period, start, end), origin=origin(request))
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": 'attachment; filename="events-stats.xlsx"'},
    )


@router.get("/notifications")
def my_notifications(
    session: org.DbSession, actor: org.SignedIn, unread: bool = False
):  # the query keeps each caller to their own notices (a reporter's "your case is closed" included)
    return [
        {
            "id": n.id,
            "case_id": n.case_id,
            "kind": n.kind,
            "message": n.message,
            "created_at": n.created_at,
            "read": n.read_at is not None,
        }
        for n in queries.notifications(session, actor=actor, unread_only=unread)
    ]
