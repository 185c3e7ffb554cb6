"""Open311 GeoReport v2 (JSON) at ``/open311/v2/``.

services.json, services/{code}.json, requests.json (GET and POST), requests/{id}.json,
tokens/{token}.json. Errors are arrays of ``{code, description}`` with 400 / 403 / 404, as
the specification says, and every refused request is audited. POST takes form fields
(``api_key`` required; location by ``lat``/``long`` or ``address_string``), goes through the
group-commit batcher, and answers ``[{service_request_id, token, service_notice}]``: 201 for
a new case, 200 with the same case when an ``Idempotency-Key`` (header or field) is repeated.
Service request ids are case numbers; ``jurisdiction_id`` is accepted (320583 or kunshan).

Every GET answers a signed-out caller, so it carries only what staff decided is public (issue 14,
item 2): ``status_notes`` from notes marked public, free text redacted, the address without the door,
the point to about 100 m, ``media_url`` only for a publishable photo (``media/<public_id>``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from yiwang.core import audit, db
from yiwang.core.errors import AccessDenied, NotFound, YiwangError
from yiwang.core.i18n import _
from yiwang.core.masking import coarse_address, redact
from yiwang.core.params import check_moment
from yiwang.core.web import LOCAL_TZ, ClientAddress, client_address, origin
from yiwang.events import apikeys, intake, queries
from yiwang.events.batcher import app_batcher
from yiwang.events.models import Case
from yiwang.events.settings import get_events_settings
from yiwang.events.triage import load_taxonomy

router = APIRouter(prefix="/open311/v2", tags=["open311"])
JURISDICTIONS = {"320583", "kunshan", "kunshan.gov.cn"}
MAX_RESULTS = 1000
CLOSED = ("closed", "rated", "invalid", "merged")
ATTRIBUTES: list[dict[str, Any]] = [  # Open311 attribute definitions, served as JSON
    {
        "variable": True,
        "code": "hazard",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": None,
        "order": 1,
        "description": "是否存在安全隐患 / Is anyone at risk?",
        "values": [{"key": "yes", "name": "是 / yes"}, {"key": "no", "name": "否 / no"}],
    },
    {
        "variable": True,
        "code": "landmark",
        "datatype": "string",
        "required": False,
        "datatype_description": "附近的标志物 / a landmark nearby",
        "order": 2,
        "description": "附近标志物 / Landmark",
    },
]


class Open311Error(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        self.status, self.code, self.description = status, code, description


def audit_error(factory, exc: Open311Error, method: str, path: str, client: ClientAddress) -> None:
    """Every refused Open311 request is written to the audit ledger (the forwarded chain apart from the ip)."""
    with factory() as session:
        audit.record(
            session,
            actor=None,
            action="access.denied" if exc.status == 403 else "events.open311.rejected",
            outcome="denied" if exc.status == 403 else "failed",
            target_type="route",
            target_id=f"{method} {path}",
            origin=client.origin(),  # audit.record fits it to the column
            detail={"code": exc.code, "status": exc.status, "message": exc.description[:300]},
        )
        session.commit()


def error_body(exc: Open311Error) -> list[dict]:
    return [{"code": exc.status, "description": exc.description}]


def _error(request: Request, exc: Open311Error) -> JSONResponse:
    audit_error(request.app.state.sessionmaker, exc, request.method, request.url.path, client_address(request.scope))
    return JSONResponse(error_body(exc), status_code=exc.status)


def from_error(exc: YiwangError) -> Open311Error:
    status = 403 if isinstance(exc, AccessDenied) else 404 if isinstance(exc, NotFound) else 400
    if exc.status_code == 413:
        status = 400
    return Open311Error(status, exc.code, exc.message)


def _jurisdiction(value: str | None) -> None:
    if value and value.strip().lower() not in JURISDICTIONS:
        raise Open311Error(404, "jurisdiction_not_found", _("Unknown jurisdiction_id %(j)s.", j=value[:40]))


def _service(cat) -> dict:
    return {
        "service_code": cat.code,
        "service_name": cat.name,
        "description": f"{cat.kind} · {cat.major_name} · {cat.name}",
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(filter(None, [cat.kind, cat.major_name, cat.component])),
        "group": f"{cat.kind}/{cat.major_name}",
    }


@router.get("/services.json", summary="Service list: the case categories")
def services(request: Request, jurisdiction_id: str | None = None):
    try:
        _jurisdiction(jurisdiction_id)
    except Open311Error as exc:
        return _error(request, exc)
    return [_service(c) for c in load_taxonomy()]


@router.get("/services/{code}.json", summary="Service definition (attributes)")
def service_definition(request: Request, code: str, jurisdiction_id: str | None = None):
    try:
        _jurisdiction(jurisdiction_id)
        if queries.category(code) is None:
            raise Open311Error(404, "service_not_found", _("Unknown service_code %(code)s.", code=code[:20]))
    except Open311Error as exc:
        return _error(request, exc)
    return {"service_code": code, "attributes": ATTRIBUTES}


def _attributes(items: list) -> dict:
    out = {}
    for key, value in items:
        m = re.fullmatch(r"attribute\[(\w{1,40})\]", key)
        if m and isinstance(value, str):
            code = m.group(1)
            known = {a["code"]: a for a in ATTRIBUTES}
            if code not in known:
                raise Open311Error(400, "unknown_attribute", _("Unknown attribute %(a)s.", a=code))
            if known[code]["datatype"] == "singlevaluelist" and value not in {v["key"] for v in known[code]["values"]}:
                raise Open311Error(400, "bad_attribute", _("Attribute %(a)s takes yes or no.", a=code))
            out[code] = value[:200]
    return out


def validate_in_session(factory, fields: dict, form_items: list, headers) -> tuple:
    """``validate_request`` in a deferred (reading) session of its own; call it off the event loop."""
    with db.reading(), factory() as session:
        return validate_request(session, fields, form_items, headers)


def validate_request(session, fields: dict, form_items: list, headers) -> tuple:
    """Check a POST requests.json form; returns (report, actor) or raises Open311Error / YiwangError."""
    _jurisdiction(fields.get("jurisdiction_id"))
    actor = apikeys.actor_for_key(session, fields.get("api_key"))
    code = (fields.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code_required", _("service_code is required."))
    if queries.category(code) is None:
        raise Open311Error(404, "service_not_found", _("Unknown service_code %(code)s.", code=code[:20]))
    if not (fields.get("lat") or fields.get("long") or fields.get("address_string") or fields.get("address_id")):
        raise Open311Error(400, "location_required", _("A location is required: lat and long, or address_string."))
    key = headers.get("idempotency-key") or fields.get("idempotency_key")
    name = " ".join(filter(None, [fields.get("last_name"), fields.get("first_name")])) or None
    report = intake.build(
        session,
        channel="open311",
        description=fields.get("description"),
        category_code=code,
        lng=fields.get("long"),
        lat=fields.get("lat"),
        address=fields.get("address_string") or fields.get("address_id"),
        reporter_name=name,
        reporter_phone=fields.get("phone"),
        client=actor.display_name,
        external_id=(fields.get("device_id") or "")[:100] or None,
        idem_key=f"{actor.display_name}:{key[:100]}" if key else None,
        attributes=_attributes(form_items) or None,
        defer_locate=True,
    )
    return report, actor


def accepted_body(accepted) -> list[dict]:
    return [
        {
            "service_request_id": accepted.number,
            "token": accepted.token,
            "service_notice": "已受理，将在工作时间内派遣处置。",
            "account_id": None,
        }
    ]


@router.post("/requests.json", summary="Create a service request (form-encoded; api_key required)")
async def create_request(request: Request):
    """Served by ``lean.LeanIntake`` in front of the app; this route documents it and serves when it is off."""
    limit = get_events_settings().max_body_kb
    length = request.headers.get("content-length")
    try:
        if length and length.isdigit() and int(length) > limit * 1024:
            raise Open311Error(400, "too_large", _("The request body is larger than %(kb)s KB.", kb=limit))
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            raise Open311Error(400, "bad_content_type", _("Send the request form-encoded."))
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        report, actor = await asyncio.to_thread(
            validate_in_session, request.app.state.sessionmaker, fields, list(form.multi_items()), request.headers
        )
        batcher = app_batcher(request.app)
        accepted = await batcher.submit(report, actor, origin(request))
    except Open311Error as exc:
        return _error(request, exc)
    except YiwangError as exc:
        return _error(request, from_error(exc))
    return JSONResponse(accepted_body(accepted), status_code=201 if accepted.created else 200)


# Public answers give the point to about 100 m (``queries.coarse_point``, shared with the reporter's view).
COORD_DECIMALS, coarse_point = queries.COORD_DECIMALS, queries.coarse_point


def _public(request: Request, session, case: Case, notes: dict, media: dict) -> dict:
    """A case as anyone may read it: ``status_notes`` only from the notes staff made public
    (``queries.public_notes``), free text through the one redactor, the address down to the community or
    road and the point to about 100 m (``coarse_point``), ``media_url`` only for a photo staff marked
    publishable, under its unguessable ``public_id``."""
    cat = queries.category(case.category_code)
    photo = media.get(case.id)
    return {
        "service_request_id": queries.number(case),
        "status": "closed" if case.status in CLOSED else "open",
        "status_notes": notes.get(case.id) or None,
        "service_name": cat.name if cat else None,
        "service_code": case.category_code,
        "description": redact(case.description),
        "agency_responsible": queries.department_name(session, case.department_id) or None,
        "service_notice": None,
        "requested_datetime": case.created_at.astimezone(LOCAL_TZ).isoformat(),
        "updated_datetime": case.updated_at.astimezone(LOCAL_TZ).isoformat(),
        "expected_datetime": case.handle_due_at.astimezone(LOCAL_TZ).isoformat() if case.handle_due_at else None,
        "address": coarse_address(case.address),
        "address_id": None,
        "zipcode": None,
        "lat": coarse_point(case.lat),
        "long": coarse_point(case.lng),
        "media_url": str(request.url_for("public_media", public_id=photo)) if photo else None,
    }


def _date(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, "bad_date", _("%(name)s is not a W3C date-time.", name=name)) from None
    parsed = parsed.replace(tzinfo=LOCAL_TZ) if parsed.tzinfo is None else parsed
    try:
        return check_moment(parsed, name)
    except YiwangError as exc:  # 400, as the specification answers bad input
        raise Open311Error(400, "bad_date", exc.message) from None


@router.get("/requests.json", summary="Service requests (filters; at most 1,000; default the last 90 days)")
def list_requests(
    request: Request,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
):
    try:
        _jurisdiction(jurisdiction_id)
        stmt = select(Case)
        if service_request_id:
            ids = []
            for number in service_request_id.split(",")[:MAX_RESULTS]:
                try:
                    ids.append(queries.parse_number(number))
                except YiwangError as exc:
                    raise Open311Error(400, "bad_service_request_id", exc.message) from None
            stmt = stmt.where(Case.id.in_(ids))
        else:
            start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
            if start and end and end < start:
                raise Open311Error(400, "bad_date", _("end_date is before start_date."))
            if not start and not end:
                start = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
            if start:
                stmt = stmt.where(Case.created_at >= start)
            if end:
                stmt = stmt.where(Case.created_at <= end)
            if service_code:
                codes = service_code.split(",")
                if any(queries.category(c) is None for c in codes):
                    raise Open311Error(
                        404, "service_not_found", _("Unknown service_code %(code)s.", code=service_code[:40])
                    )
                stmt = stmt.where(Case.category_code.in_(codes))
            if status:
                wanted = set(status.split(","))
                if not wanted <= {"open", "closed"}:
                    raise Open311Error(400, "bad_status", _("status is open or closed."))
                if wanted == {"open"}:
                    stmt = stmt.where(Case.status.not_in(CLOSED))
                elif wanted == {"closed"}:
                    stmt = stmt.where(Case.status.in_(CLOSED))
    except Open311Error as exc:
        return _error(request, exc)
    with request.app.state.sessionmaker() as session:
        rows = session.execute(stmt.order_by(Case.id.desc()).limit(MAX_RESULTS)).scalars().all()
        ids = [c.id for c in rows]
        notes, media = queries.public_notes(session, ids), queries.public_media(session, ids)
        return [_public(request, session, c, notes, media) for c in rows]


@router.get("/requests/{number}.json", summary="One service request")
def get_request(request: Request, number: str, jurisdiction_id: str | None = None):
    try:
        _jurisdiction(jurisdiction_id)
        with request.app.state.sessionmaker() as session:
            try:
                case = queries.find_by_number(session, number)
            except YiwangError as exc:
                raise from_error(exc) from None
            return [
                _public(
                    request,
                    session,
                    case,
                    queries.public_notes(session, [case.id]),
                    queries.public_media(session, [case.id]),
                )
            ]
    except Open311Error as exc:
        return _error(request, exc)


@router.get("/tokens/{token}.json", summary="The service request id behind a token")
def get_token(request: Request, token: str, jurisdiction_id: str | None = None):
    try:
        _jurisdiction(jurisdiction_id)
        if not re.fullmatch(r"[0-9a-f]{32}", token):
            raise Open311Error(404, "token_not_found", _("Unknown token."))
        with request.app.state.sessionmaker() as session:
            case = session.execute(select(Case).where(Case.token == token)).scalar_one_or_none()
            if case is None:
                raise Open311Error(404, "token_not_found", _("Unknown token."))
            return [{"service_request_id": queries.number(case), "token": token}]
    except Open311Error as exc:
        return _error(request, exc)


@router.get(
    "/media/{public_id}",
    summary="A request's photo, when staff marked it publishable: by its unguessable "
    "id (the media_url of a request), without the file's metadata; anything else is 404",
)
def public_media(request: Request, public_id: str):
    """Never by the photo's sequential id, and the same 404 for an unknown id and an unpublished photo.
    Staff open every photo in their scope by id at ``/workspace/events/photos/<id>``."""
    from yiwang.events.photos import path_of, without_metadata

    try:
        with request.app.state.sessionmaker() as session:
            try:
                att = queries.public_photo(session, public_id)
            except YiwangError as exc:
                raise Open311Error(404, "media_not_found", exc.message) from None
            rel, mime = att.path, att.mime
    except Open311Error as exc:
        return _error(request, exc)
    data = without_metadata(path_of(request.app.state.settings.home_path, rel).read_bytes())
    # a short public cache: a photo staff withdraw stops being served here at once, from caches within a minute
    return Response(data, media_type=mime, headers={"cache-control": "public, max-age=60"})
