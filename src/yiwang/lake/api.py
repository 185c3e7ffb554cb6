"""JSON API of the lake (thin: rules live in ``service`` and ``access``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Query, Request

from yiwang.core.params import MAX_ID
from yiwang.core.security import Actor
from yiwang.core.web import origin
from yiwang.lake import queries
from yiwang.lake.roles import SQL, VIEW
from yiwang.lake.schemas import LakeResourcePublic, RowsPublic, SnapshotPublic, SqlRequest, SqlResultPublic
from yiwang.org import DbSession, requires

router = APIRouter(prefix="/api/v1/lake", tags=["lake"])
Viewer = Annotated[Actor, Depends(requires(VIEW))]
Querier = Annotated[Actor, Depends(requires(SQL))]
NAME = r"^[a-z][a-z0-9_]{0,49}$"


@router.get(
    "/resources",
    response_model=list[LakeResourcePublic],
    summary="Published resources of your data scope with their mount state and zone tables",
)
def resources(request: Request, session: DbSession, actor: Viewer):
    return queries.overview(session, actor=actor, settings=request.app.state.settings)


@router.get(
    "/resources/{name}/history",
    response_model=dict[str, list[SnapshotPublic]],
    summary="Snapshots of the resource's raw, clean, share and quarantine tables, newest first",
)
def history(request: Request, session: DbSession, actor: Viewer, name: str):
    return queries.history(session, actor=actor, settings=request.app.state.settings, name=name)


@router.get(
    "/tables/{table}",
    response_model=RowsPublic,
    summary="Rows of zone.name as of a date, a date-time or a snapshot (time travel)",
    description="`as_of=2026-11-01` reads the table as it was at the end of that day. Raw, clean and "
    "quarantine rows need `lake.personal.read` and a `reason` (query, or a percent-encoded `X-Yiwang-Reason` "
    "header); "
    "the read is audited.",
)
def table_rows(
    request: Request,
    session: DbSession,
    actor: Viewer,
    table: str,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
    snapshot_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    x_yiwang_reason: Annotated[str | None, Header(max_length=500)] = None,
):
    return queries.read_rows(
        session,
        actor=actor,
        settings=request.app.state.settings,
        table=table,
        as_of=as_of,
        snapshot_id=snapshot_id,
        limit=limit,
        offset=offset,
        reason=reason or (unquote(x_yiwang_reason) if x_yiwang_reason else None),
        origin=origin(request),
    )


@router.post(
    "/sql",
    response_model=SqlResultPublic,
    summary="One read-only SELECT over raw.<name>, clean.<name>, share.<name> (DuckDB); audited",
)
def sql(request: Request, session: DbSession, actor: Querier, body: SqlRequest):
    return queries.run_sql(
        session,
        actor=actor,
        settings=request.app.state.settings,
        sql=body.sql,
        reason=body.reason,
        as_of=body.as_of,
        limit=body.limit,
        origin=origin(request),
    )
