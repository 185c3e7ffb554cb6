"""JSON API of governance: uploads and pulls, loads, quality, quarantine, k-anonymity, lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from yiwang import lake
from yiwang.core.params import IdQuery, Offset
from yiwang.core.security import Actor
from yiwang.core.web import origin
from yiwang.governance import lineage, privacy, quarantine, queries, service, uploads
from yiwang.governance.roles import DECRYPT, QUARANTINE
from yiwang.governance.schemas import (
    DecryptCreate,
    FixCreate,
    KAnonymityCreate,
    KAnonymityPublic,
    LoadPublic,
    ResubmitCreate,
    SqlPullCreate,
)
from yiwang.governance.settings import get_governance_settings
from yiwang.org import DbSession, requires

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])
lineage_router = APIRouter(prefix="/api/v1/lineage", tags=["lineage"])
Viewer = Annotated[Actor, Depends(requires(lake.VIEW))]
Loader = Annotated[Actor, Depends(requires(lake.LOAD))]
Fixer = Annotated[Actor, Depends(requires(QUARANTINE))]
Decrypter = Annotated[Actor, Depends(requires(DECRYPT))]
Reason = Annotated[str | None, Query(max_length=500)]
LoadId = Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")]
Status = Literal["open", "closed", "all"]


UPLOAD_PATH = r"^/api/v1/governance/resources/[^/]+/loads$"  # its own limit, YIWANG_GOVERNANCE_MAX_FILE_MB


def upload_limit(request: Request) -> int:
    return get_governance_settings().max_file_mb << 20


@router.post(
    "/resources/{name}/loads",
    response_model=LoadPublic,
    status_code=202,
    summary="Upload a file (the request body) to load in the background",
    description="Send the file as the raw body (`curl --data-binary @人口.csv`), name it with `filename`. "
    "The load is queued; poll `GET /loads/{id}` for progress. Larger than "
    "`YIWANG_GOVERNANCE_MAX_FILE_MB`: 413 before a byte is stored.",
)
async def upload(
    request: Request,
    session: DbSession,
    actor: Loader,
    name: str,
    filename: Annotated[str, Query(min_length=1, max_length=300)],
    mode: Annotated[Literal["replace", "append", "upsert"], Query()] = "append",
    encoding: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    sheet: Annotated[str | None, Query(max_length=100)] = None,
):
    settings = request.app.state.settings
    shown = uploads.clean_filename(filename)
    await run_in_threadpool(service.resource_and_rules, session, actor=actor, name=name)  # refuse before reading
    session.rollback()
    path, size, sm3 = await uploads.receive(
        request,
        folder=settings.home_path / "uploads",
        limit_bytes=upload_limit(request),
        suffix=Path(shown).suffix.lower(),
    )
    options = {k: v for k, v in (("encoding", encoding), ("sheet", sheet)) if v}
    try:
        row = await run_in_threadpool(
            service.create_load,
            session,
            actor=actor,
            name=name,
            mode=mode,
            source_name=shown,
            origin_kind="upload",
            options=options,
            status="queued",
            upload_path=str(path),
            source_sm3=sm3,
            source_bytes=size,
            origin=origin(request),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return queries.public(row)


@router.post(
    "/resources/{name}/pulls",
    response_model=LoadPublic,
    status_code=201,
    summary="Pull a table or query from a SQLAlchemy database URL into the resource (waits for the load)",
)
def pull(request: Request, session: DbSession, actor: Loader, name: str, body: SqlPullCreate):
    session.commit()  # release the request's transaction: on SQLite the lake commits through the same file
    options = {k: v for k, v in (("table", body.table), ("query", body.query)) if v}
    return service.ingest_file(
        request.app.state.sessionmaker,
        settings=request.app.state.settings,
        actor=actor,
        name=name,
        path=body.url,
        mode=body.mode,
        options=options,
        origin=origin(request),
        origin_kind="pull",
    )


@router.get("/loads", response_model=list[LoadPublic], summary="Loads of your data scope, newest first")
def list_loads(
    session: DbSession,
    actor: Viewer,
    resource: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[Literal["queued", "running", "committed", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
):
    return [
        queries.public(r)
        for r in queries.list_loads(session, actor=actor, resource=resource, status=status, limit=limit, offset=offset)
    ]


@router.get("/loads/{load_id}", response_model=LoadPublic, summary="One load: progress, counts, quality, snapshots")
def get_load(session: DbSession, actor: Viewer, load_id: str):
    return queries.public(queries.get_load(session, actor=actor, load_id=load_id))


@router.get("/resources/{name}/quality", summary="Quality scores of the resource's committed loads, oldest first")
def quality(session: DbSession, actor: Viewer, name: str):
    lake.resource(session, actor=actor, name=name)
    return queries.quality_trend(session, actor=actor, resource=name)


@router.get("/resources/{name}/quarantine", summary="Quarantined rows (personal data: needs a reason; audited)")
def quarantine_rows(
    request: Request,
    session: DbSession,
    actor: Viewer,
    name: str,
    reason: Reason = None,
    load_id: LoadId = None,
    rule: Annotated[str | None, Query(max_length=50)] = None,
    column: Annotated[str | None, Query(max_length=100)] = None,
    status: Status = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
):
    rows, total = quarantine.list_rows(
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        reason=reason,
        origin=origin(request),
        load_id=load_id,
        rule=rule,
        column=column,
        status=status,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "rows": [r.model_dump(mode="json") for r in rows]}


@router.get("/resources/{name}/quarantine.csv", summary="Quarantined rows as CSV to fix and import back (audited)")
def quarantine_csv(
    request: Request,
    session: DbSession,
    actor: Viewer,
    name: str,
    reason: Reason = None,
    load_id: LoadId = None,
    rule: Annotated[str | None, Query(max_length=50)] = None,
    column: Annotated[str | None, Query(max_length=100)] = None,
    status: Status = "open",
):
    body = quarantine.export_csv(
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        reason=reason,
        origin=origin(request),
        load_id=load_id,
        rule=rule,
        column=column,
        status=status,
    )
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="quarantine-{name}.csv"'},
    )


@router.post("/resources/{name}/quarantine/fixes", summary="Correct one quarantined row (values by column)")
def fix(request: Request, session: DbSession, actor: Fixer, name: str, body: FixCreate):
    row = quarantine.save_fix(
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        load_id=body.load_id,
        line=body.line,
        values=body.values,
        reason=body.reason,
        origin=origin(request),
    )
    return {"load_id": row.load_id, "line": row.line, "status": row.status}


@router.post("/resources/{name}/quarantine/import", summary="Import a corrected quarantine CSV as fixes (all or none)")
async def import_fixes(
    request: Request,
    session: DbSession,
    actor: Fixer,
    name: str,
    reason: Annotated[str, Query(min_length=4, max_length=500)],
    filename: Annotated[str, Query(max_length=300)] = "quarantine.csv",
):
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > quarantine.MAX_IMPORT_BYTES:
            break
    count = await run_in_threadpool(
        quarantine.import_fixes,
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        data=bytes(data),
        filename=uploads.clean_filename(filename),
        reason=reason,
        origin=origin(request),
    )
    return {"fixed": count}


@router.post(
    "/resources/{name}/quarantine/resubmit",
    response_model=LoadPublic,
    status_code=202,
    summary="Queue a load of every fixed row through the same rules",
)
def resubmit(request: Request, session: DbSession, actor: Fixer, name: str, body: ResubmitCreate):
    return queries.public(quarantine.resubmit(session, actor=actor, name=name, mode=body.mode, origin=origin(request)))


@router.post(
    "/resources/{name}/k-anonymity",
    response_model=KAnonymityPublic,
    summary="Smallest equivalence class of the share zone over chosen quasi-identifiers",
)
def k_anonymity(request: Request, session: DbSession, actor: Viewer, name: str, body: KAnonymityCreate):
    return privacy.k_anonymity_report(
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        quasi_identifiers=body.quasi_identifiers,
        k=body.k,
        as_of=body.as_of,
    )


@router.post("/resources/{name}/decrypt", summary="Decrypt SM4-encrypted share values (entitled, audited read)")
def decrypt(request: Request, session: DbSession, actor: Decrypter, name: str, body: DecryptCreate):
    values = privacy.decrypt(
        session,
        actor=actor,
        settings=request.app.state.settings,
        name=name,
        column=body.column,
        values=body.values,
        reason=body.reason,
        origin=origin(request),
    )
    return {"column": body.column, "values": values}


@lineage_router.get("/events", summary="Stored OpenLineage RunEvents (START, COMPLETE, FAIL), newest first")
def lineage_events(
    session: DbSession,
    actor: Viewer,
    resource: Annotated[str | None, Query(max_length=50)] = None,
    run_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    before_id: IdQuery = None,
):
    import json

    rows = lineage.events(session, actor=actor, resource=resource, run_id=run_id, limit=limit, before_id=before_id)
    return {"events": [json.loads(r.payload) for r in rows], "next_before_id": rows[-1].id if rows else None}


@lineage_router.get("/graph", summary="Datasets and jobs of the stored events as a graph")
def lineage_graph(session: DbSession, actor: Viewer, resource: Annotated[str | None, Query(max_length=50)] = None):
    return lineage.graph(lineage.events(session, actor=actor, resource=resource, limit=1000))
