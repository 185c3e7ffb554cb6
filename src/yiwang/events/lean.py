"""A lean ASGI front for the two intake routes that take bursts: Open311 ``POST requests.json``
and the machine intake ``POST /api/v1/events/intake``.

It sits outside the app's HTTP middleware (which logs a line per request through a
``BaseHTTPMiddleware``, the costliest part of a small request) and answers these two
routes itself: read the body (bounded), parse it (``urllib`` form parsing / pydantic JSON),
validate exactly as the documented routes do, hand the report to the group-commit batcher
and answer with orjson. Refusals are audited like everywhere else; Prometheus still counts
every request. Everything else passes through untouched.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qsl

import orjson
import structlog
from pydantic import ValidationError

from yiwang.core import db, i18n
from yiwang.core.errors import YiwangError
from yiwang.core.i18n import _
from yiwang.core.web import HTTP_LATENCY, HTTP_REQUESTS, LANG_COOKIE, client_address
from yiwang.events import apikeys, intake, open311
from yiwang.events.batcher import app_batcher
from yiwang.events.schemas import MachineIntake
from yiwang.events.settings import get_events_settings

log = structlog.get_logger("yiwang.events.lean")
OPEN311 = "/open311/v2/requests.json"
MACHINE = "/api/v1/events/intake"
BARE = "/open311/v2/_bare.json"


class TooLarge(Exception):
    pass


async def _body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, payload, request_id: bytes) -> None:
    body = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LeanIntake:
    def __init__(self, app) -> None:
        self.app = app
        self.bare = get_events_settings().bench_routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in (OPEN311, MACHINE, BARE):
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == BARE and not self.bare:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookie_lang = next(
            (c.split("=", 1)[1] for c in headers.get("cookie", "").split("; ") if c.startswith(LANG_COOKIE + "=")), None
        )
        token = i18n.set_locale(i18n.pick_locale(cookie_lang))
        request_id = (headers.get("x-request-id") or f"lean-{id(scope):x}").encode("latin-1")[:64]  # the bytes received
        status = 500
        try:
            status = await self._handle(scope, receive, send, path, headers, request_id)
        finally:
            i18n._current.reset(token)
            HTTP_REQUESTS.labels("POST", path, str(status)).inc()
            HTTP_LATENCY.labels(path).observe(time.perf_counter() - started)

    async def _handle(self, scope, receive, send, path, headers, request_id) -> int:
        app = scope["app"]
        factory = app.state.sessionmaker
        client = client_address(scope)  # the same rule as the app's: X-Forwarded-For only from trusted proxies
        limit = get_events_settings().max_body_kb * 1024
        try:
            body = await _body(receive, limit)
        except TooLarge:
            exc = open311.Open311Error(
                400 if path != MACHINE else 413,
                "too_large",
                _("The request body is larger than %(kb)s KB.", kb=limit // 1024),
            )
            return await self._refuse(factory, send, exc, path, client, request_id, machine=path == MACHINE)
        if path == BARE:
            pairs = parse_qsl(body.decode("utf-8", "replace"))
            await _send(send, 201, [{"service_request_id": "0", "token": str(len(pairs))}], request_id)
            return 201
        try:
            if path == OPEN311:
                if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                    return await self.app(scope, _replay(body), send) or 0
                items = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                fields = dict(items)
                report, actor = await _off_loop(
                    apikeys.needs_lookup(fields.get("api_key")), _validate_open311, factory, fields, items, headers
                )
            else:
                try:
                    data = MachineIntake.model_validate_json(body)
                except ValidationError as err:
                    first = err.errors()[0]
                    exc = open311.Open311Error(
                        422,
                        "invalid",
                        _(
                            "Invalid input at %(where)s: %(msg)s",
                            where=".".join(str(p) for p in first.get("loc", ())),
                            msg=first.get("msg"),
                        ),
                    )
                    return await self._refuse(factory, send, exc, path, client, request_id, machine=True)
                report, actor = await _off_loop(
                    apikeys.needs_lookup(headers.get("x-api-key")), validate_machine, factory, data, headers
                )
        except open311.Open311Error as exc:
            return await self._refuse(factory, send, exc, path, client, request_id, machine=path == MACHINE)
        except YiwangError as exc:
            mapped = (
                open311.from_error(exc)
                if path == OPEN311
                else open311.Open311Error(exc.status_code, exc.code, exc.message)
            )
            return await self._refuse(factory, send, mapped, path, client, request_id, machine=path == MACHINE)
        try:
            batcher = app_batcher(app)
            accepted = await batcher.submit(report, actor, client.origin())
        except Exception as exc:
            log.error("intake batch failed", error=str(exc)[:300])
            await _send(
                send,
                503,
                {
                    "detail": _(
                        "The case could not be stored just now; send it again (with the same idempotency key)."
                    ),
                    "code": "unavailable",
                }
                if path == MACHINE
                else [{"code": 503, "description": _("The case could not be stored just now; send it again.")}],
                request_id,
            )
            return 503
        status = 201 if accepted.created else 200
        if path == OPEN311:
            await _send(send, status, open311.accepted_body(accepted), request_id)
        else:
            await _send(
                send,
                status,
                {"id": accepted.id, "number": accepted.number, "token": accepted.token, "created": accepted.created},
                request_id,
            )
        return status

    async def _refuse(self, factory, send, exc, path, client, request_id, *, machine: bool) -> int:
        await asyncio.to_thread(open311.audit_error, factory, exc, "POST", path, client)
        payload = {"detail": exc.description, "code": exc.code} if machine else open311.error_body(exc)
        await _send(send, exc.status, payload, request_id)
        return exc.status


async def _off_loop(needs_database: bool, fn, *args):
    """Run a validation inline when it will not touch the database (a cached key), else in a thread.

    Never on the event loop and never across an ``await`` with a session open: a loop blocked on
    the database while a suspended request holds a transaction is a deadlock.
    """
    return await asyncio.to_thread(fn, *args) if needs_database else fn(*args)


def _validate_open311(factory, fields: dict, items: list, headers: dict):
    return open311.validate_in_session(factory, fields, items, headers)


def validate_machine(factory, data: MachineIntake, headers) -> tuple:
    """Check a machine intake and build its report (the lean front and the documented route both call this)."""
    with db.reading(), factory() as session:
        actor = apikeys.actor_for_key(session, headers.get("x-api-key"))
        key = headers.get("idempotency-key") or data.idempotency_key or f"ref:{data.source_ref}"
        report = intake.build(
            session,
            channel=data.channel,
            description=data.description,
            category_code=data.category_code,
            lng=data.long,
            lat=data.lat,
            address=data.address,
            client=actor.display_name,
            source_ref=data.source_ref,
            idem_key=f"{actor.display_name}:{key}"[:200],
            defer_locate=True,
        )
        return report, actor


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
