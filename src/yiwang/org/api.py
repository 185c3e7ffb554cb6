"""JSON API of identity and organisation (thin: every rule is in service/auth)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from yiwang.core import audit
from yiwang.core.params import Id, IdQuery, MomentQuery, Offset
from yiwang.core.security import Actor
from yiwang.core.web import origin
from yiwang.org import auth, queries, service
from yiwang.org.deps import DbSession, SignedIn, requires
from yiwang.org.roles import AUDIT_VIEW, ORG_MANAGE, ORG_VIEW, TOKENS_USE
from yiwang.org.schemas import (
    AuditEntryPublic,
    DepartmentPublic,
    MePublic,
    NamedTokenCreate,
    NamedTokenCreated,
    NamedTokenPublic,
    RegionPublic,
    TokenResponse,
    UserCreate,
    UserPersonal,
    UserPublic,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1")

Tokens = Annotated[Actor, Depends(requires(TOKENS_USE))]
Viewer = Annotated[Actor, Depends(requires(ORG_VIEW))]
Manager = Annotated[Actor, Depends(requires(ORG_MANAGE))]
# one user's record and its personal data: any signed-in user for their own (the service asks org.view /
# org.personal.read for anyone else's), hence SignedIn


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
    summary="OAuth2 password flow: exchange a username and password for a bearer token",
)
def token(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=200)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    settings = request.app.state.settings
    user = auth.authenticate(session, username=username, password=password, origin=origin(request), settings=settings)
    value, lifetime = auth.issue_access_token(session, user=user, origin=origin(request), settings=settings)
    return TokenResponse(access_token=value, expires_in=lifetime)


def _me(session, actor) -> MePublic:
    dept = queries.get_department(session, actor.department_id) if actor.department_id else None
    region = queries.get_region(session, actor.region_code) if actor.region_code else None
    return MePublic(
        username=actor.username,
        display_name=actor.display_name,
        kind=actor.kind,
        roles=sorted(actor.roles),
        role_labels=actor.role_labels,
        permissions=sorted(actor.permissions),
        department=DepartmentPublic.model_validate(dept) if dept else None,
        region=RegionPublic.model_validate(region) if region else None,
        scope=actor.scope_label,
        auth_method=actor.auth_method,
    )


@router.get("/me", response_model=MePublic, tags=["auth"], summary="Who the caller is: roles, department, region")
def me(session: DbSession, actor: SignedIn) -> MePublic:
    return _me(session, actor)


def _token_public(row) -> NamedTokenPublic:
    return NamedTokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scope_list,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.get("/me/tokens", response_model=list[NamedTokenPublic], tags=["auth"])
def list_tokens(session: DbSession, actor: Tokens) -> list[NamedTokenPublic]:
    return [_token_public(t) for t in auth.list_named_tokens(session, actor=actor)]


@router.post(
    "/me/tokens",
    response_model=NamedTokenCreated,
    status_code=201,
    tags=["auth"],
    summary="Create a long-lived named token (shown once)",
)
def create_token(request: Request, session: DbSession, actor: Tokens, body: NamedTokenCreate) -> NamedTokenCreated:
    row, value = auth.create_named_token(
        session,
        actor=actor,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        origin=origin(request),
    )
    return NamedTokenCreated(token=value, **_token_public(row).model_dump())


@router.delete("/me/tokens/{token_id}", response_model=NamedTokenPublic, tags=["auth"])
def revoke_token(request: Request, session: DbSession, actor: Tokens, token_id: Id) -> NamedTokenPublic:
    return _token_public(auth.revoke_token(session, actor=actor, token_id=token_id, origin=origin(request)))


# Organisation ------------------------------------------------------------------


@router.get("/org/regions", response_model=list[RegionPublic], tags=["org"])
def regions(
    session: DbSession,
    actor: SignedIn,
    parent: str | None = Query(None, max_length=20),
    level: str | None = Query(None, max_length=10),
    q: str | None = Query(None, max_length=50),
):
    return queries.list_regions(session, parent_code=parent, level=level, q=q)


@router.get("/org/geo/outline", tags=["org"], summary="GeoJSON FeatureCollection of the city and town areas")
def geo_outline(session: DbSession, level: str = Query("city", pattern="^(city|town)$")):
    return queries.regions_geojson(session, level=level)


@router.get("/org/regions/{code}", response_model=RegionPublic, tags=["org"])
def region(session: DbSession, actor: SignedIn, code: str):
    return queries.get_region(session, code)


@router.get("/org/departments", response_model=list[DepartmentPublic], tags=["org"])
def departments(session: DbSession, actor: SignedIn):
    return queries.list_departments(session)


@router.get("/org/departments/{department_id}", response_model=DepartmentPublic, tags=["org"])
def department(session: DbSession, actor: SignedIn, department_id: Id):
    return queries.get_department(session, department_id)


@router.get("/org/users", tags=["org"], summary="Users in the caller's data scope (personal data masked)")
def users(
    session: DbSession,
    actor: Viewer,
    q: str | None = Query(None, max_length=100),
    role: str | None = Query(None, max_length=50),
    department_id: IdQuery = None,
    region: str | None = Query(None, max_length=20),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
):
    rows, total = queries.list_users(
        session,
        actor=actor,
        q=q,
        role=role,
        department_id=department_id,
        region_code=region,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "items": [queries.user_public(u) for u in rows]}


@router.get(
    "/org/users/export.csv", tags=["org"], response_class=Response, summary="Export the users in scope as CSV (masked)"
)
def export_users(
    request: Request,
    session: DbSession,
    actor: Viewer,
    region: str | None = Query(None, max_length=20),
    role: str | None = Query(None, max_length=50),
):
    body = queries.export_users_csv(session, actor=actor, origin=origin(request), region_code=region, role=role)
    stamp = dt.datetime.now().strftime("%Y%m%d")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="users-{stamp}.csv"'},
    )


@router.get("/org/users/{user_id}", response_model=UserPublic, tags=["org"])
def user(session: DbSession, actor: SignedIn, user_id: Id):
    return queries.user_public(queries.get_user(session, actor=actor, user_id=user_id))


@router.get(
    "/org/users/{user_id}/personal",
    response_model=UserPersonal,
    tags=["org"],
    summary="Unmasked personal data; needs a declared reason and is audited",
)
def user_personal(
    request: Request, session: DbSession, actor: SignedIn, user_id: Id, reason: str = Query(..., max_length=500)
):
    return queries.reveal_personal(session, actor=actor, user_id=user_id, reason=reason, origin=origin(request))


@router.post("/org/users", response_model=UserPublic, status_code=201, tags=["org"])
def create_user(request: Request, session: DbSession, actor: Manager, body: UserCreate):
    return queries.user_public(service.create_user(session, actor=actor, data=body, origin=origin(request)))


@router.patch("/org/users/{user_id}", response_model=UserPublic, tags=["org"])
def update_user(request: Request, session: DbSession, actor: Manager, user_id: Id, body: UserUpdate):
    return queries.user_public(
        service.update_user(session, actor=actor, user_id=user_id, data=body, origin=origin(request))
    )


# Audit ledger ------------------------------------------------------------------


@router.get(
    "/audit/entries",
    response_model=list[AuditEntryPublic],
    tags=["audit"],
    summary="Browse the audit ledger, newest first (keyset pagination with before_id)",
)
def audit_entries(
    session: DbSession,
    actor: Annotated[object, Depends(requires(AUDIT_VIEW))],
    actor_name: str | None = Query(None, alias="actor", max_length=150),
    action: str | None = Query(None, max_length=100),
    target_type: str | None = Query(None, max_length=100),
    target_id: str | None = Query(None, max_length=200),
    outcome: str | None = Query(None, pattern="^(ok|denied|failed)$"),
    since: MomentQuery = None,
    until: MomentQuery = None,
    before_id: IdQuery = None,
    limit: int = Query(100, ge=1, le=1000),
):
    flt = audit.AuditFilter(
        actor=actor_name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        since=_aware(since),
        until=_aware(until),
    )
    return audit.search(session, flt, limit=limit, before_id=before_id)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # naive input is Beijing time
