"""HTML pages of identity and organisation: sign-in, the staff and public landing pages,
the user directory, API tokens and the audit ledger browser."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from yiwang.core import audit, i18n
from yiwang.core.errors import AccessDenied, Invalid, NotAuthenticated, TooManyRequests
from yiwang.core.i18n import _
from yiwang.core.params import DayQuery, Id, IdQuery
from yiwang.core.security import Actor
from yiwang.core.web import LANG_COOKIE, nav_for, origin, render, safe_next, verify_csrf
from yiwang.org import auth, queries
from yiwang.org.deps import SESSION_COOKIE, DbSession, OptionalActor, SignedIn, requires
from yiwang.org.roles import AUDIT_VIEW, ORG_VIEW, PORTAL, TOKENS_USE, WORKSPACE

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


def home_for(actor: Actor | None) -> str:
    if actor is None or actor.kind in ("citizen", "enterprise"):
        return "/portal"
    if actor.can("cockpit.view") and not actor.can("org.manage"):
        return "/cockpit"
    return "/workspace"


@router.get("/")
def root(actor: OptionalActor):
    return RedirectResponse(home_for(actor), status_code=303)


@router.get("/login")
def login_page(request: Request, actor: OptionalActor, next: str | None = Query(None, max_length=500)):
    if actor is not None:
        return RedirectResponse(safe_next(next, home_for(actor)), status_code=303)
    return render(
        request,
        "org/login.html",
        {"next": safe_next(next, ""), "current_end": "portal", "demo": request.app.state.settings.is_demo},
    )


@router.post("/login")
def login_submit(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
):
    settings = request.app.state.settings
    ctx = {"next": safe_next(next, ""), "username": username, "current_end": "portal", "demo": settings.is_demo}
    try:
        user = auth.authenticate(
            session, username=username, password=password, origin=origin(request), settings=settings
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 401
        return render(request, "org/login.html", {**ctx, "error": exc.message}, status_code=status)
    token = auth.open_web_session(
        session, user=user, origin=origin(request), user_agent=request.headers.get("user-agent"), settings=settings
    )
    actor = auth.build_actor(session, user, auth_method="session")
    response = RedirectResponse(safe_next(next, home_for(actor)), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, actor: OptionalActor):
    token = request.cookies.get(SESSION_COOKIE)
    if actor is not None and token:
        auth.close_web_session(session, token=token, actor=actor, origin=origin(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = Query(None, max_length=500)):
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.LOCALES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


# The ends' landing pages ---------------------------------------------------


@router.get("/workspace")
def workspace(request: Request, session: DbSession, actor: SignedIn):  # citizens are sent to the portal
    if not actor.can(WORKSPACE):
        if actor.can(PORTAL):
            return RedirectResponse("/portal", status_code=303)
        raise AccessDenied(_("The staff workspace is for government staff."))
    ancestors = queries.region_ancestors(session, actor.region_code) if actor.region_code else []
    users_in_scope = queries.list_users(session, actor=actor, limit=1)[1] if actor.can(ORG_VIEW) else None
    return render(
        request,
        "org/workspace.html",
        {
            "current_end": "workspace",
            "ancestors": ancestors,
            "users_in_scope": users_in_scope,
            "actions": [i for i in nav_for(request, "workspace") if i.url != "/workspace"],
            "summary": queries.region_summary(session),
        },
    )


@router.get("/portal")
def portal(request: Request, session: DbSession, actor: OptionalActor):
    me = queries.get_user(session, actor=actor, user_id=actor.user_id) if actor and actor.user_id else None
    return render(
        request,
        "org/portal.html",
        {
            "current_end": "portal",
            "me": me,
            "region": queries.region_label(session, actor.region_code) if actor and actor.region_code else None,
            "actions": [i for i in nav_for(request, "portal") if i.url != "/portal"],
            "towns": queries.towns_with_counts(session),
            "summary": queries.region_summary(session),
            "departments": len(queries.list_departments(session)),
        },
    )


# User directory ---------------------------------------------------------------


@router.get("/workspace/org/users")
def users_page(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires(ORG_VIEW))],
    q: str | None = Query(None, max_length=100),
    role: str | None = Query(None, max_length=50),
    page: int = Query(1, ge=1, le=100000),
):
    per_page = 50
    rows, total = queries.list_users(
        session, actor=actor, q=q, role=role or None, limit=per_page, offset=(page - 1) * per_page
    )
    return render(
        request,
        "org/users.html",
        {
            "current_end": "workspace",
            "users": [queries.user_public(u) for u in rows],
            "total": total,
            "q": q or "",
            "role": role or "",
            "page": page,
            "pages": max(1, -(-total // per_page)),
        },
    )


@router.get("/workspace/org/users/export.csv")
def users_export(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires(ORG_VIEW))],
    role: str | None = Query(None, max_length=50),
):
    body = queries.export_users_csv(session, actor=actor, origin=origin(request), role=role or None)
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"content-disposition": 'attachment; filename="users.csv"'}
    )


@router.get("/workspace/org/users/{user_id}")
def user_page(request: Request, session: DbSession, actor: SignedIn, user_id: Id):
    user = queries.get_user(session, actor=actor, user_id=user_id)
    return render(
        request,
        "org/user.html",
        {
            "current_end": "workspace",
            "user": queries.user_public(user),
            "region": queries.region_label(session, user.region_code) if user.region_code else None,
        },
    )


@router.post("/workspace/org/users/{user_id}/personal")
def user_personal(
    request: Request,
    session: DbSession,
    actor: SignedIn,
    user_id: Id,
    reason: Annotated[str, Form(max_length=500)] = "",
):
    user = queries.get_user(session, actor=actor, user_id=user_id)
    ctx = {
        "current_end": "workspace",
        "user": queries.user_public(user),
        "region": queries.region_label(session, user.region_code) if user.region_code else None,
    }
    try:
        ctx["personal"] = queries.reveal_personal(
            session, actor=actor, user_id=user_id, reason=reason, origin=origin(request)
        )
    except Invalid as exc:
        return render(request, "org/user.html", {**ctx, "error": exc.message}, status_code=422)
    return render(request, "org/user.html", ctx)


@router.get("/workspace/org/departments")
def departments_page(request: Request, session: DbSession, actor: Annotated[Actor, Depends(requires(ORG_VIEW))]):
    return render(
        request, "org/departments.html", {"current_end": "workspace", "departments": queries.list_departments(session)}
    )


@router.get("/workspace/org/regions")
def regions_page(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires(ORG_VIEW))],
    parent: str | None = Query(None, max_length=20),
):
    parent_region = queries.get_region(session, parent) if parent else None
    children = queries.list_regions(session, parent_code=parent or "320583")
    return render(
        request,
        "org/regions.html",
        {
            "current_end": "workspace",
            "parent": parent_region,
            "children": children,
            "ancestors": queries.region_ancestors(session, parent) if parent else [],
        },
    )


# API tokens -----------------------------------------------------------------


@router.get("/account/tokens")
def tokens_page(request: Request, session: DbSession, actor: Annotated[Actor, Depends(requires(TOKENS_USE))]):
    return render(
        request,
        "org/tokens.html",
        {
            "current_end": "workspace" if actor.can(WORKSPACE) else "portal",
            "tokens": auth.list_named_tokens(session, actor=actor),
        },
    )


@router.post("/account/tokens")
def tokens_create(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires(TOKENS_USE))],
    name: Annotated[str, Form(min_length=1, max_length=100)],
    expires_in_days: Annotated[int, Form(ge=1, le=3650)] = 90,
):
    row, value = auth.create_named_token(
        session, actor=actor, name=name, scopes=["*"], expires_in_days=expires_in_days, origin=origin(request)
    )
    return render(
        request,
        "org/tokens.html",
        {
            "current_end": "workspace" if actor.can(WORKSPACE) else "portal",
            "tokens": auth.list_named_tokens(session, actor=actor),
            "new_token": value,
            "new_name": row.name,
        },
    )


@router.post("/account/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request, session: DbSession, actor: Annotated[Actor, Depends(requires(TOKENS_USE))], token_id: Id
):
    auth.revoke_token(session, actor=actor, token_id=token_id, origin=origin(request))
    return RedirectResponse("/account/tokens", status_code=303)


# Audit ledger ----------------------------------------------------------------


@router.get("/workspace/audit")
def audit_page(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires(AUDIT_VIEW))],
    who: str | None = Query(None, max_length=150),
    action: str | None = Query(None, max_length=100),
    outcome: str | None = Query(None, max_length=10),
    target: str | None = Query(None, max_length=200),
    day: DayQuery = None,
    before_id: IdQuery = None,
):
    since = until = None
    if day:
        since = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8)))
        until = since + dt.timedelta(days=1)
    target_type, _sep, target_id = (target or "").partition(":")
    flt = audit.AuditFilter(
        actor=who or None,
        action=action or None,
        outcome=outcome if outcome in ("ok", "denied", "failed") else None,
        target_type=target_type or None,
        target_id=target_id or None,
        since=since,
        until=until,
    )
    entries = audit.search(session, flt, limit=100, before_id=before_id)
    return render(
        request,
        "org/audit.html",
        {
            "current_end": "workspace",
            "entries": entries,
            "total": audit.count(session),
            "f": {
                "who": who or "",
                "action": action or "",
                "outcome": outcome or "",
                "target": target or "",
                "day": day.isoformat() if day else "",
            },
            "next_before": entries[-1].id if len(entries) == 100 else None,
        },
    )


@router.post("/workspace/audit/verify")
def audit_verify(request: Request, session: DbSession, actor: Annotated[Actor, Depends(requires(AUDIT_VIEW))]):
    result = audit.verify_snapshot(request.app.state.sessionmaker)  # one snapshot; writers never wait
    entries = audit.search(session, audit.AuditFilter(), limit=100)
    return render(
        request,
        "org/audit.html",
        {
            "current_end": "workspace",
            "entries": entries,
            "total": audit.count(session),
            "verify": result,
            "f": {"who": "", "action": "", "outcome": "", "target": "", "day": ""},
            "next_before": entries[-1].id if len(entries) == 100 else None,
        },
    )
