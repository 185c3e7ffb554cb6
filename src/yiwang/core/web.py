"""Web plumbing shared by every domain: templates, i18n, menus, CSRF, errors, metrics, logs.

Domains add their template folder and menu entries in their ``register(app)``; the
layout shows only entries the current actor may use, so modules still to come are
simply absent from the menus.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from hashlib import sha256
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import sqlalchemy.exc
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from prometheus_client import Counter, Histogram
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from yiwang.core import i18n, security, sqlite_tx
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, NotAuthenticated, YiwangError
from yiwang.core.i18n import N_, _

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from yiwang.core.config import Settings

log = structlog.get_logger("yiwang.web")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LANG_COOKIE = "yiwang_lang"
SESSION_COOKIE = "yiwang_session"
CSRF_COOKIE = "yiwang_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIXES = ("/api/", "/open311/", "/healthz", "/metrics")

HTTP_REQUESTS = Counter("yiwang_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "yiwang_http_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Lifespan --------------------------------------------------------------------


def run_with_app(app: FastAPI, start: Callable[[FastAPI], Callable[[], None] | None]) -> None:
    """Run ``start(app)`` as the app starts, before what earlier calls added, and the ``stop``
    it returns (if not None) as the app stops, after them and even when they fail: how a domain
    starts its background threads with the app and ends them with it."""
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:  # yields what ``previous`` yields: None or a state
        stop = start(a)
        try:
            async with previous(a) as state:
                yield state
        finally:
            if stop is not None:
                stop()

    app.router.lifespan_context = lifespan


# Templates -------------------------------------------------------------------

_template_dirs: list[Path] = [Path(str(resources.files("yiwang") / "core" / "templates"))]
_env: Environment | None = None
templates: Jinja2Templates | None = None


def add_template_dir(path: Path | str) -> None:
    """Domains call this with their ``templates`` folder (which holds ``templates/<domain>/``)."""
    p = Path(path)
    if p not in _template_dirs:
        _template_dirs.append(p)
    if _env is not None:
        _env.loader = ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs])


def _local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def get_templates() -> Jinja2Templates:
    global _env, templates
    if templates is None:
        _env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs]),
            autoescape=select_autoescape(["html", "xml"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.install_gettext_callables(  # type: ignore[attr-defined]  # added at runtime by jinja2.ext.i18n
            i18n.gettext, i18n.ngettext, newstyle=True
        )
        _env.globals.update(
            csrf_token=csrf_token,
            nav=nav_for,
            nav_active=nav_active,
            ends=ENDS,
            locale=i18n.get_locale,
            locales=i18n.LOCALE_LABELS,
            static=static_url,
            role_label=security.role_label,
            all_roles=security.roles,
        )
        _env.filters["localtime"] = _local_time
        _env.filters["tojson_zh"] = lambda v: json.dumps(v, ensure_ascii=False)
        templates = Jinja2Templates(env=_env)
    return templates


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    ctx = {"actor": getattr(request.state, "actor", None)}
    ctx.update(context or {})
    return get_templates().TemplateResponse(request, name, ctx, status_code=status_code)


_static_version = secrets.token_hex(4)


def static_url(path: str) -> str:
    return f"/static/{path}?v={_static_version}"


# Menus of the three ends ----------------------------------------------------


@dataclass(frozen=True)
class End:
    key: str
    label: str  # message id
    home: str


ENDS = (
    End("workspace", N_("Staff workspace"), "/workspace"),
    End("portal", N_("Public portal"), "/portal"),
    End("cockpit", N_("City cockpit"), "/cockpit"),
)


@dataclass(frozen=True)
class NavItem:
    end: str
    label: str  # message id
    url: str
    permission: str | None = None  # None: anyone signed in; "public": anyone at all
    order: int = 100
    description: str = ""  # message id, shown on the end's landing page


_nav: list[NavItem] = []


def register_nav(item: NavItem) -> None:
    if item not in _nav:
        _nav.append(item)
        _nav.sort(key=lambda n: (n.order, n.url))


def nav_for(request: Request, end: str) -> list[NavItem]:
    actor = getattr(request.state, "actor", None)
    out = []
    for item in _nav:
        if item.end != end:
            continue
        if item.permission == "public" or (
            actor is not None and (item.permission is None or actor.can(item.permission))
        ):
            out.append(item)
    return out


def nav_active(request: Request, items: list[NavItem]) -> str | None:
    """The menu entry to highlight: the longest URL that the current path starts with."""
    path = request.url.path
    hits = [i.url for i in items if path == i.url or path.startswith(i.url.rstrip("/") + "/")]
    return max(hits, key=len) if hits else None


def end_allowed(request: Request, end: str) -> bool:
    """May the current actor open this end at all (it has at least one menu entry there)?"""
    return any(item.permission != "public" for item in nav_for(request, end))


# CSRF ------------------------------------------------------------------------


def _secret(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    return settings.secret_key.encode()


def csrf_seed(request: Request) -> str:
    """The browser's session cookie when it has one, otherwise the anonymous CSRF cookie.

    Binding the token to the session means a new sign-in invalidates forms of the old one.
    """
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
    if not seed:
        seed = getattr(request.state, "new_csrf_cookie", None)
        if seed is None:
            seed = secrets.token_urlsafe(24)
            request.state.new_csrf_cookie = seed
    return seed


def csrf_token(request: Request) -> str:
    return hmac.new(_secret(request), b"csrf:" + csrf_seed(request).encode(), sha256).hexdigest()


async def _posted_form(request: Request) -> FormData:
    return await request.form()


# The request's form, read on the event loop: a route taking it can be a plain ``def``, which FastAPI
# runs in its thread pool, so the route's database work never blocks the loop (a blocked loop stalls
# every request, up to the SQLite writer lock's 30 s).
PostedForm = Annotated[FormData, Depends(_posted_form)]


async def verify_csrf(request: Request) -> None:
    """Dependency for every HTML route: unsafe methods must echo the page's CSRF token."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise AccessDenied(
            _(
                "The form has expired or did not come from this site (CSRF check failed). "
                "Reload the page and try again."
            ),
            code="csrf_failed",
        )


# Request helpers ------------------------------------------------------------


@dataclass(frozen=True)
class ClientAddress:
    """Who is at the other end: ``ip`` the client as far as trusted proxies vouch for it, ``peer`` the
    address that connected, ``forwarded`` the ``X-Forwarded-For`` chain as received (a claim, never
    taken as the client's address unless the peer is a trusted proxy)."""

    ip: str | None
    peer: str | None
    forwarded: tuple[str, ...] = ()

    def origin(self) -> Origin:
        """For the audit ledger, which keeps the peer and the chain apart from ``ip``."""
        return Origin(ip=self.ip, peer=self.peer, forwarded_for=self.forwarded)


def _hop(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One ``X-Forwarded-For`` entry as an address (``[v6]:port`` and ``v4:port`` too), None if it is none."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_address(
    scope: Any, trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
) -> ClientAddress:
    """THE client address of an ASGI request (the FastAPI app and the lean intake front both use it).

    ``X-Forwarded-For`` counts only when the direct peer is one of ``YIWANG_TRUSTED_PROXIES``; the
    chain is then walked right to left past trusted hops, and the first address not trusted is the
    client (the leftmost one if every hop is trusted). An entry that is not an address ends the walk
    at the last trusted hop. Uvicorn's own proxy-header handling is off (``core.serve``).
    """
    client = scope.get("client")
    peer = client[0] if client else None
    values = [v.decode("latin-1") for k, v in scope.get("headers") or () if k.lower() == b"x-forwarded-for"]
    chain = tuple(p.strip()[:100] for v in values for p in v.split(",") if p.strip())[-20:]
    if trusted is None:
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        trusted = settings.trusted_networks if settings is not None else ()
    ip = peer
    peer_addr = _hop(peer) if peer else None
    if chain and trusted and peer_addr is not None and any(peer_addr in net for net in trusted):
        for entry in reversed(chain):
            addr = _hop(entry)
            if addr is None:
                break
            ip = str(addr)
            if not any(addr in net for net in trusted):
                break
    return ClientAddress(ip=ip, peer=peer, forwarded=chain)


def origin(request: Request) -> Origin:
    return client_address(request.scope).origin()


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES):
        return True
    if request.headers.get("hx-request"):
        return False
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


# Middleware ------------------------------------------------------------------

_body_limits: list[tuple[re.Pattern[str], Callable[[Any], int]]] = []


def register_body_limit(path_pattern: str, limit_mb: Callable[[Any], int]) -> None:
    """Give routes matching ``path_pattern`` their own body limit (MB, computed from settings).

    Used by upload routes whose files are larger than ordinary requests; those routes must
    still enforce the limit while streaming (a chunked body has no Content-Length).
    """
    compiled = re.compile(path_pattern)
    if all(p.pattern != compiled.pattern for p, _ in _body_limits):
        _body_limits.append((compiled, limit_mb))


def body_limit_bytes(settings: Settings, path: str) -> int:
    for pattern, limit_mb in _body_limits:
        if pattern.match(path):
            return limit_mb(settings) * 1024 * 1024
    return settings.max_body_mb * 1024 * 1024


def install_middleware(app: FastAPI) -> None:

    @app.middleware("http")
    async def context_middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = i18n.set_locale(i18n.pick_locale(request.cookies.get(LANG_COOKIE)))
        reads = sqlite_tx.mostly_reading(request.method in ("GET", "HEAD"))
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        started = time.perf_counter()
        length = request.headers.get("content-length")
        try:
            limit = body_limit_bytes(app.state.settings, request.url.path)
            if length and length.isdigit() and int(length) > limit:
                response = error_response(
                    request, 413, "payload_too_large", _("The request is too large (limit %(mb)s MB).", mb=limit >> 20)
                )
            else:
                response = await call_next(request)
            new_cookie = getattr(request.state, "new_csrf_cookie", None)
            if new_cookie and not request.cookies.get(CSRF_COOKIE):
                response.set_cookie(
                    CSRF_COOKIE,
                    new_cookie,
                    httponly=True,
                    samesite="lax",
                    secure=app.state.settings.secure_cookies,
                    path="/",
                )
            response.headers["x-request-id"] = request.state.request_id
            response.headers.setdefault("x-content-type-options", "nosniff")
            response.headers.setdefault("referrer-policy", "same-origin")
            if response.headers.get("content-type", "").startswith("text/html"):
                response.headers.setdefault("x-frame-options", "DENY")
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = request.scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            status = getattr(locals().get("response"), "status_code", 500)
            HTTP_REQUESTS.labels(request.method, route_path, str(status)).inc()
            HTTP_LATENCY.labels(route_path).observe(elapsed)
            actor = getattr(request.state, "actor", None)
            if not request.url.path.startswith("/static/"):
                log.info(
                    "request",
                    method=request.method,
                    path=request.url.path,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    request_id=request.state.request_id,
                    user=getattr(actor, "username", None),
                )
            i18n._current.reset(token)
            sqlite_tx.end_marking(reads)


# Errors ----------------------------------------------------------------------


def error_response(request: Request, status: int, code: str, message: str, **extra: Any) -> Response:
    if wants_json(request):
        body = {"detail": message, "code": code}
        body.update(extra)
        return JSONResponse(body, status_code=status)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return render(request, "core/error.html", {"status": status, "message": message, "code": code}, status_code=status)


def _record_denial(request: Request, exc: YiwangError) -> None:
    """Write the denial to the audit ledger even though the request's own work is rolled back."""
    from yiwang.core import audit

    factory = request.app.state.sessionmaker
    session: Session | None = getattr(request.state, "db", None)
    own = session is None
    if session is None:
        session = factory()
    try:
        session.rollback()
        actor = getattr(request.state, "actor", None)
        audit.record(
            session,
            actor=actor,
            action="access.denied",
            outcome="denied",
            target_type="route",
            target_id=f"{request.method} {request.url.path}",
            origin=origin(request),
            detail={
                "code": exc.code,
                "status": exc.status_code,
                "message": exc.message,
                **{k: v for k, v in exc.detail.items() if isinstance(v, str | int | float | bool)},
            },
        )
        session.commit()
    finally:
        if own:
            session.close()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(YiwangError)
    async def _yiwang_error(request: Request, exc: YiwangError) -> Response:
        if isinstance(exc, AccessDenied | NotAuthenticated) and not exc.detail.get("audited"):
            _record_denial(request, exc)
        else:
            db = getattr(request.state, "db", None)
            if db is not None:
                db.rollback()
        response = error_response(
            request, exc.status_code, exc.code, exc.message, **{k: v for k, v in exc.detail.items() if k != "audited"}
        )
        if exc.status_code == 401 and wants_json(request):
            response.headers["www-authenticate"] = "Bearer"
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            response.headers["retry-after"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            entry = {"loc": loc, "msg": err.get("msg"), "type": err.get("type")}
            if err.get("type") == "json_invalid":
                ctx = err.get("ctx") or {}
                entry["msg"] = _("The body is not valid JSON: %(error)s", error=ctx.get("error", ""))
            errors.append(entry)
        first = errors[0] if errors else {"loc": [], "msg": ""}
        where = ".".join(p for p in first["loc"] if p not in ("body",)) or _("request")
        message = _("Invalid input at %(where)s: %(msg)s", where=where, msg=first["msg"])
        if wants_json(request):
            return JSONResponse({"detail": errors, "code": "invalid", "message": message}, status_code=422)
        return render(
            request, "core/error.html", {"status": 422, "message": message, "code": "invalid"}, status_code=422
        )

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _data_error(request: Request, exc: sqlalchemy.exc.DataError) -> Response:
        # PostgreSQL's side of the same net: numeric or date/time value out of range (SQLSTATE 22003, 22008)
        if getattr(exc.orig, "sqlstate", None) not in ("22003", "22008"):
            raise exc
        return await _overflow(request, exc)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: Exception) -> Response:
        # The safety net behind ``core.params``: a number or date too large for the database or the
        # calendar, met while binding a parameter, is the caller's input, not a server error.
        session = getattr(request.state, "db", None)
        if session is not None:
            session.rollback()
        log.warning("input out of range", path=request.url.path, error=str(exc)[:200])
        message = _("A number or date in the request is out of range.")
        if wants_json(request):  # shaped like FastAPI's own 422, as the OpenAPI document declares
            return JSONResponse(
                {
                    "detail": [{"loc": ["request"], "msg": message, "type": "out_of_range"}],
                    "code": "out_of_range",
                    "message": message,
                },
                status_code=422,
            )
        return error_response(request, 422, "out_of_range", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: _("This page or resource does not exist."),
            405: _("This method is not allowed here."),
        }
        message = messages.get(exc.status_code) or (exc.detail if isinstance(exc.detail, str) else str(exc.detail))
        return error_response(
            request,
            exc.status_code,
            {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error"),
            message,
        )
