"""FastAPI dependencies every domain uses: the database session and the acting user.

``CurrentActor`` accepts a bearer token (API clients) or the browser session cookie.
Cookie-authenticated unsafe requests to the JSON API must carry the CSRF header too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from yiwang.core import db, web
from yiwang.core.errors import NotAuthenticated
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.core.web import SESSION_COOKIE
from yiwang.org.auth import actor_for_bearer, actor_for_session


def get_db(request: Request) -> Iterator[Session]:
    """The request's session, closed as soon as the route has built its response (``scope="function"``),
    before a byte is sent: a transaction left open by a read after the last commit would otherwise
    hold SQLite's writer lock for as long as a slow client takes to receive the page."""
    session = request.app.state.sessionmaker()
    request.state.db = session
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db, scope="function")]


async def _resolve_actor(request: Request, session: Session) -> Actor | None:
    if getattr(request.state, "actor_resolved", False):
        return request.state.actor
    request.state.actor = None
    header = request.headers.get("authorization")
    token, cookie = None, None
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(_("Use an 'Authorization: Bearer <token>' header."), code="invalid_token")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
    actor = await run_in_threadpool(_actor_for, session, token, cookie) if (token or cookie) else None
    if actor is not None and cookie and request.url.path.startswith("/api/"):
        await web.verify_csrf(request)
    request.state.actor = actor
    request.state.actor_resolved = True
    return actor


def _actor_for(session: Session, token: str | None, cookie: str | None) -> Actor | None:
    """Look up the caller and record the token's or session's use, in the thread pool: on SQLite that
    commit may wait for the writer lock, which must never happen on the event loop. The transaction
    ends here, so no request holds it across an ``await``."""
    actor = actor_for_bearer(session, token.strip()) if token else actor_for_session(session, cookie or "")
    db.commit(session)
    return actor


async def optional_actor(request: Request, session: DbSession) -> Actor | None:
    return await _resolve_actor(request, session)


async def current_actor(request: Request, session: DbSession) -> Actor:
    actor = await _resolve_actor(request, session)
    if actor is None:
        raise NotAuthenticated(_("Sign in first."), code="not_authenticated")
    return actor


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


def requires(*permissions: str) -> Callable[..., Awaitable[Actor]]:
    """Dependency factory declaring a route's permission: the signed-in actor, who must hold one of
    ``permissions``. With none, any signed-in user passes (routes on one's own records: the service limits
    the rows to the actor's own). Every route declares its permission this way, or is listed as public in
    ``tests/test_permissions.py``; the declared permissions are on the dependency as ``.permissions``."""

    async def _dep(actor: CurrentActor) -> Actor:
        if permissions and not any(actor.can(p) for p in permissions):
            actor.require(permissions[0])
        return actor

    _dep.permissions = permissions  # type: ignore[attr-defined]
    return _dep


def requires_step(
    table: Mapping[str, str | tuple[str, ...]], *, param: str = "step"
) -> Callable[..., Awaitable[Actor]]:
    """``requires`` for a route whose path parameter ``param`` names the action: ``table`` maps each action to
    its permission, or to a tuple of which one suffices (an action not in ``table`` passes here and is refused
    by the route as unknown)."""
    options = {step: (p,) if isinstance(p, str) else tuple(p) for step, p in table.items()}

    async def _dep(request: Request, actor: CurrentActor) -> Actor:
        needed = options.get(request.path_params.get(param, ""), ())
        if needed and not any(actor.can(p) for p in needed):
            actor.require(needed[0])
        return actor

    _dep.permissions = tuple(sorted({p for ps in options.values() for p in ps}))  # type: ignore[attr-defined]
    return _dep


SignedIn = Annotated[Actor, Depends(requires())]
"""Any signed-in user, declared: for routes on one's own records (tokens, one's own profile)."""
