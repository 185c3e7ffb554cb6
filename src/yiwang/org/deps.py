"""FastAPI dependencies every domain uses: the database session and the acting user.

``CurrentActor`` accepts a bearer token (API clients) or the browser session cookie.
Cookie-authenticated unsafe requests to the JSON API must carry the CSRF header too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from yiwang.core import db
from yiwang.core import web
from yiwang.core.web import SESSION_COOKIE
from yiwang.core.errors import NotAuthenticated
from yiwang.core.i18n import _
from yiwang.core.security import Actor
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


def requires(permission: str) -> Callable[..., Actor]:
    """Dependency factory: the signed-in actor, who must hold ``permission``."""

    async def _dep(actor: CurrentActor) -> Actor:
        actor.require(permission)
        return actor

    return _dep
