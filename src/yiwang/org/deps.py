"""FastAPI dependencies every domain uses: the database session and the acting user.

``CurrentActor`` accepts a bearer token (API clients) or the browser session cookie.
Cookie-authenticated unsafe requests to the JSON API must carry the CSRF header too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from yiwang.core import db
from yiwang.core import web
from yiwang.core.web import SESSION_COOKIE
from yiwang.core.errors import NotAuthenticated
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.org.auth import actor_for_bearer, actor_for_session



def get_db(request: Request) -> Iterator[Session]:
    session = request.app.state.sessionmaker()
    request.state.db = session
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_db)]


async def _resolve_actor(request: Request, session: Session) -> Actor | None:
    if getattr(request.state, "actor_resolved", False):
        return request.state.actor
    request.state.actor = None
    actor: Actor | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(_("Use an 'Authorization: Bearer <token>' header."), code="invalid_token")
        actor = actor_for_bearer(session, token.strip())
        db.commit(session)  # records last_used_at
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            actor = actor_for_session(session, cookie)
            # End the transaction before any await: on SQLite a write lock held by a suspended
            # request would stall every writer (and deadlock the event loop if it waits too).
            db.commit(session)
            if actor is not None:
                if request.url.path.startswith("/api/"):
                    await web.verify_csrf(request)
    request.state.actor = actor
    request.state.actor_resolved = True
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
