"""JSON API of the resource catalog under ``/api/v1/catalog`` (thin: the rules are in the services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from yiwang.catalog import apply as files
from yiwang.catalog import codes, dashboard, queries, service, workflow, yamlio
from yiwang.catalog.datapackage import data_package
from yiwang.catalog.roles import EDIT, REVIEW, VIEW
from yiwang.catalog.schemas import (
    ApplyResult,
    ChangePublic,
    RejectBody,
    ResourcePublic,
    ReviewBody,
    RulesPublic,
    StatsPublic,
    VersionPublic,
)
from yiwang.catalog.spec import NAME_PATTERN, EntrySpec
from yiwang.core.errors import BadRequest, PayloadTooLarge
from yiwang.core.i18n import _
from yiwang.core.params import MAX_ID
from yiwang.core.security import Actor
from yiwang.core.web import origin
from yiwang.org import DbSession, requires

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
Name = Annotated[str, Path(max_length=50, pattern=NAME_PATTERN, description="the entry's name slug")]
Viewer = Annotated[Actor, Depends(requires(VIEW))]
Editor = Annotated[Actor, Depends(requires(EDIT))]
Reviewer = Annotated[Actor, Depends(requires(REVIEW))]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


@router.get("/resources", summary="Search and list entries (Chinese full text; drafts only for their department)")
def list_resources(
    session: DbSession,
    actor: Viewer,
    q: str | None = Query(None, max_length=100),
    status: str | None = Query(None, max_length=20),
    department_id: int | None = Query(None, ge=1, le=MAX_ID),
    share_type: str | None = Query(None, max_length=20),
    open_type: str | None = Query(None, max_length=20),
    classification: str | None = Query(None, max_length=12, pattern=r"^[0-9]+$"),
    sort: str = Query("relevance", max_length=20),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    rows, total = queries.list_resources(
        session,
        actor=actor,
        q=q,
        status=status,
        department_id=department_id,
        share_type=share_type,
        open_type=open_type,
        classification=classification,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "items": rows}


@router.post("/resources", response_model=ResourcePublic, status_code=201, summary="Register an entry as a draft")
def create_resource(request: Request, session: DbSession, actor: Editor, body: EntrySpec):
    entry = service.create_resource(session, actor=actor, data=body, origin=origin(request))
    return queries.get_resource(session, actor=actor, name=entry.name, working=True)


@router.get(
    "/resources/{name}",
    response_model=ResourcePublic,
    summary="An entry: latest published version, version N, or (working=true) the draft",
)
def get_resource(
    session: DbSession,
    actor: Viewer,
    name: Name,
    version: int | None = Query(None, ge=1, le=MAX_ID),
    working: bool = False,
):
    return queries.get_resource(session, actor=actor, name=name, version=version, working=working)


@router.put("/resources/{name}", response_model=ResourcePublic, summary="Save the working copy of an entry")
def update_resource(
    request: Request,
    session: DbSession,
    actor: Editor,
    name: Name,
    body: EntrySpec,
    expected_revision: int | None = Query(None, ge=1, le=MAX_ID),
):
    service.update_resource(
        session, actor=actor, name=name, data=body, origin=origin(request), expected_revision=expected_revision
    )
    return queries.get_resource(session, actor=actor, name=name, working=True)


@router.post("/resources/{name}/submit", response_model=ResourcePublic, summary="Submit a draft for review")
def submit(request: Request, session: DbSession, actor: Editor, name: Name):
    workflow.submit_resource(session, actor=actor, name=name, origin=origin(request))
    return queries.get_resource(session, actor=actor, name=name, working=True)


@router.post("/resources/{name}/withdraw", response_model=ResourcePublic, summary="Take a submission back")
def withdraw(request: Request, session: DbSession, actor: Editor, name: Name):
    workflow.withdraw_resource(session, actor=actor, name=name, origin=origin(request))
    return queries.get_resource(session, actor=actor, name=name, working=True)


@router.post(
    "/resources/{name}/publish",
    response_model=ResourcePublic,
    summary="Publish a submitted entry as its next version (big-data bureau)",
)
def publish(request: Request, session: DbSession, actor: Reviewer, name: Name, body: ReviewBody | None = None):
    workflow.publish_resource(session, actor=actor, name=name, origin=origin(request), note=body.note if body else None)
    return queries.get_resource(session, actor=actor, name=name)


@router.post(
    "/resources/{name}/reject",
    response_model=ResourcePublic,
    summary="Return a submitted entry with a reason (big-data bureau)",
)
def reject(request: Request, session: DbSession, actor: Reviewer, name: Name, body: RejectBody):
    workflow.reject_resource(session, actor=actor, name=name, reason=body.reason, origin=origin(request))
    return queries.get_resource(session, actor=actor, name=name, working=True)


@router.get("/resources/{name}/versions", response_model=list[VersionPublic])
def versions(session: DbSession, actor: Viewer, name: Name):
    return queries.list_versions(session, actor=actor, name=name)


@router.get("/resources/{name}/history", response_model=list[ChangePublic])
def history(session: DbSession, actor: Viewer, name: Name):
    return queries.history(session, actor=actor, name=name)


@router.get("/resources/{name}/rules", response_model=RulesPublic, summary="Published governance rules")
def rules(session: DbSession, actor: Viewer, name: Name, version: int | None = Query(None, ge=1, le=MAX_ID)):
    queries.get_visible_entry(session, actor=actor, name=name)
    return queries.resource_rules(session, name, version)


@router.get(
    "/resources/{name}/datapackage.json", summary="The entry as a Frictionless Data Package with a Table Schema"
)
def datapackage(session: DbSession, actor: Viewer, name: Name, version: int | None = Query(None, ge=1, le=MAX_ID)):
    return data_package(queries.get_resource(session, actor=actor, name=name, version=version))


@router.post(
    "/apply", response_model=list[ApplyResult], summary="Create or update entries from a YAML file (body), all or none"
)
async def apply(
    request: Request,
    session: DbSession,
    actor: Editor,
    filename: str = Query("request.yaml", max_length=200),
    submit: bool = False,
):
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype not in YAML_TYPES:
        raise BadRequest(
            _("Send the entry file as application/yaml (got %(type)s).", type=ctype or "-"), field="content-type"
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > yamlio.MAX_FILE_BYTES:
            raise PayloadTooLarge(_("An entry file is at most %(n)s bytes.", n=yamlio.MAX_FILE_BYTES))
    docs = await run_in_threadpool(yamlio.load, body, source=filename)
    return await run_in_threadpool(
        files.apply_documents, session, actor=actor, docs=docs, origin=origin(request), submit=submit
    )


@router.get("/stats", response_model=StatsPublic, summary="Catalog statistics and the two plan indicators")
def stats(session: DbSession, actor: Viewer):
    return dashboard.stats(session, actor=actor)


@router.get("/classification", summary="The classification tree (类/项/目/细目)")
def classification(session: DbSession, actor: Viewer):
    return [node.__dict__ for node in codes.classes(session).values()]
