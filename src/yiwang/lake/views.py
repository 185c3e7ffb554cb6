"""Staff pages of the lake: mounted resources, time travel per resource, the SQL console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from yiwang.core import db
from yiwang.core.errors import YiwangError
from yiwang.core.lake import ZONES
from yiwang.core.security import Actor
from yiwang.core.web import origin, render, verify_csrf
from yiwang.lake import access, queries, service
from yiwang.lake.roles import SQL, VIEW
from yiwang.org import DbSession, requires

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Viewer = Annotated[Actor, Depends(requires(VIEW))]
Querier = Annotated[Actor, Depends(requires(SQL))]
BASE = "/workspace/lake"


def _ctx(**extra) -> dict:
    return {"current_end": "workspace", "zones": ZONES, "personal_zones": access.PERSONAL_ZONES, **extra}


@router.get(BASE)
def index(request: Request, session: DbSession, actor: Viewer):
    rows = queries.overview(session, actor=actor, settings=request.app.state.settings)
    totals = {z: sum(r.zones[z].rows for r in rows) for z in ZONES}
    return render(
        request,
        "lake/index.html",
        _ctx(rows=rows, totals=totals, mounted=sum(r.mounted for r in rows), can_sql=actor.can(SQL)),
    )


@router.get(BASE + "/sql")
def sql_page(request: Request, actor: Querier, session: DbSession):
    with db.reading():  # the page's lake metadata reads hold no writer lock
        tables = [
            f"{z}.{r.name}"
            for r in queries.overview(session, actor=actor, settings=request.app.state.settings)
            for z in ZONES
            if r.zones[z].exists
        ]
    return render(request, "lake/sql.html", _ctx(sql="", tables=tables, result=None, error=None))


@router.post(BASE + "/sql")
def sql_run(
    request: Request,
    session: DbSession,
    actor: Querier,
    sql: Annotated[str, Form(max_length=20_000)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    as_of: Annotated[str, Form(max_length=40)] = "",
):
    result, error = None, None
    try:
        result = queries.run_sql(
            session,
            actor=actor,
            settings=request.app.state.settings,
            sql=sql,
            reason=reason or None,
            as_of=as_of or None,
            limit=500,
            origin=origin(request),
        )
    except YiwangError as exc:
        if exc.status_code == 403:
            raise
        session.rollback()
        error = {"message": exc.message, **{k: v for k, v in exc.detail.items() if k in ("line", "column", "field")}}
    with db.reading():  # the page's lake metadata reads hold no writer lock
        tables = [
            f"{z}.{r.name}"
            for r in queries.overview(session, actor=actor, settings=request.app.state.settings)
            for z in ZONES
            if r.zones[z].exists
        ]
    return render(
        request,
        "lake/sql.html",
        _ctx(sql=sql, reason=reason, as_of=as_of, tables=tables, result=result, error=error),
        status_code=422 if error else 200,
    )


@router.get(BASE + "/{name}")
def resource_page(
    request: Request,
    session: DbSession,
    actor: Viewer,
    name: str,
    zone: Annotated[str, Query(max_length=20)] = "share",
    as_of: Annotated[str, Query(max_length=40)] = "",
    snapshot_id: Annotated[str, Query(pattern=r"^[0-9]{0,20}$")] = "",
    reason: Annotated[str, Query(max_length=500)] = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    settings = request.app.state.settings
    res = access.resource(session, actor=actor, name=name)
    history = queries.history(session, actor=actor, settings=settings, name=name)
    states = queries.zone_states(service.lake_for(settings), name)
    rows, error, need_reason = None, None, False
    if zone in access.PERSONAL_ZONES and not reason:
        need_reason = True
    elif states.get(zone) is not None and states[zone].exists:
        try:
            rows = queries.read_rows(
                session,
                actor=actor,
                settings=settings,
                table=f"{zone}.{name}",
                as_of=as_of or None,
                snapshot_id=int(snapshot_id) if snapshot_id else None,
                limit=50,
                offset=offset,
                reason=reason or None,
                origin=origin(request),
            )
        except YiwangError as exc:
            if exc.status_code == 403:
                raise
            session.rollback()
            error = exc.message
    return render(
        request,
        "lake/resource.html",
        _ctx(
            r=res,
            history=history,
            states=states,
            zone=zone,
            as_of=as_of,
            snapshot_id=snapshot_id,
            reason=reason,
            offset=offset,
            rows=rows,
            error=error,
            need_reason=need_reason,
            can_personal=actor.can(access.PERSONAL),
        ),
    )
