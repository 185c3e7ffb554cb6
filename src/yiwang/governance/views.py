"""Staff pages of governance: loads with upload and progress, quality trend, quarantine workbench,
k-anonymity tool, lineage graph. Thin: every rule is in the services."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request

from yiwang import lake
from yiwang.core.errors import YiwangError
from yiwang.core.security import Actor
from yiwang.core.web import PostedForm, origin, render, verify_csrf
from yiwang.governance import lineage, privacy, quarantine, queries
from yiwang.governance.engine import RULE_NAMES
from yiwang.governance.roles import QUARANTINE
from yiwang.governance.schemas import QuarantineRowPublic
from yiwang.governance.settings import get_governance_settings
from yiwang.org import DbSession, requires

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Viewer = Annotated[Actor, Depends(requires(lake.VIEW))]
Loader = Annotated[Actor, Depends(requires(lake.LOAD))]
BASE = "/workspace/governance"
Text = Annotated[str, Query(max_length=500)]


def _ctx(**extra) -> dict:
    return {"current_end": "workspace", "rule_names": RULE_NAMES, **extra}


def _limit_mb(request: Request) -> int:
    return get_governance_settings().max_file_mb


@router.get(BASE)
def index(request: Request, session: DbSession, actor: Loader, resource: Annotated[str, Query(max_length=50)] = ""):
    resources = lake.overview(session, actor=actor, settings=request.app.state.settings)
    recent = [queries.public(r) for r in queries.list_loads(session, actor=actor, limit=30)]
    return render(
        request,
        "governance/index.html",
        _ctx(resources=resources, recent=recent, selected=resource, limit_mb=_limit_mb(request)),
    )


@router.get(BASE + "/lineage")
def lineage_page(
    request: Request, session: DbSession, actor: Viewer, resource: Annotated[str, Query(max_length=50)] = ""
):
    rows = lineage.events(session, actor=actor, resource=resource or None, limit=500)
    return render(
        request,
        "governance/lineage.html",
        _ctx(
            graph=lineage.graph(rows),
            events=[
                json.loads(r.payload) | {"_id": r.id, "_forwarded": r.forwarded_at, "_forward_error": r.forward_error}
                for r in rows[:50]
            ],
            resource=resource,
        ),
    )


@router.get(BASE + "/loads/{load_id}")
def load_page(request: Request, session: DbSession, actor: Viewer, load_id: str):
    row = queries.public(queries.get_load(session, actor=actor, load_id=load_id))
    return render(request, "governance/load.html", _ctx(load=row))


@router.get(BASE + "/loads/{load_id}/progress")
def load_progress(request: Request, session: DbSession, actor: Viewer, load_id: str):
    row = queries.public(queries.get_load(session, actor=actor, load_id=load_id))
    return render(request, "governance/_progress.html", _ctx(load=row))


@router.get(BASE + "/{name}")
def resource_page(request: Request, session: DbSession, actor: Viewer, name: str):
    res = lake.resource(session, actor=actor, name=name)
    lake.require_zone(actor, res, "share", None)
    rows = [queries.public(r) for r in queries.list_loads(session, actor=actor, resource=name, limit=100)]
    return render(
        request,
        "governance/resource.html",
        _ctx(
            r=res,
            loads=rows,
            trend=queries.quality_trend(session, actor=actor, resource=name),
            can_load=actor.can(lake.LOAD) and lake.in_department(actor, res),
            limit_mb=_limit_mb(request),
        ),
    )


@router.get(BASE + "/{name}/quarantine")
def quarantine_page(
    request: Request,
    session: DbSession,
    actor: Viewer,
    name: str,
    reason: Text = "",
    load_id: Annotated[str, Query(pattern=r"^([0-9a-f]{32})?$")] = "",
    rule: Annotated[str, Query(max_length=50)] = "",
    column: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(pattern=r"^(open|closed|all)$")] = "open",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    res = lake.resource(session, actor=actor, name=name)
    rows: list[QuarantineRowPublic] = []
    total, error = 0, None
    columns = [c["name"] for c in (res.spec.get("rules") or {}).get("columns", [])]
    if reason:
        try:
            rows, total = quarantine.list_rows(
                session,
                actor=actor,
                settings=request.app.state.settings,
                name=name,
                reason=reason,
                origin=origin(request),
                load_id=load_id or None,
                rule=rule or None,
                column=column or None,
                status=status,
                limit=50,
                offset=offset,
            )
        except YiwangError as exc:
            if exc.status_code == 403:
                raise
            session.rollback()
            error = exc.message
    recent = [queries.public(r) for r in queries.list_loads(session, actor=actor, resource=name, limit=20)]
    return render(
        request,
        "governance/quarantine.html",
        _ctx(
            r=res,
            rows=rows,
            total=total,
            error=error,
            columns=columns,
            recent=recent,
            f={
                "reason": reason,
                "load_id": load_id,
                "rule": rule,
                "column": column,
                "status": status,
                "offset": offset,
            },
            can_fix=actor.can(QUARANTINE) and lake.in_department(actor, res),
            can_personal=actor.can(lake.PERSONAL_READ),
        ),
    )


@router.post(BASE + "/{name}/quarantine/fix")
def quarantine_fix(request: Request, session: DbSession, actor: Viewer, name: str, form: PostedForm):
    load_id, line = str(form.get("load_id", ""))[:32], str(form.get("line", ""))[:12]
    reason, action = str(form.get("reason", ""))[:500], str(form.get("action", "fix"))
    values = {k[2:]: (str(v) if str(v) != "" else None) for k, v in form.items() if k.startswith("v:")}
    message, ok = None, True
    try:
        if not line.isdigit():
            raise lake_invalid()
        quarantine.save_fix(
            session,
            actor=actor,
            settings=request.app.state.settings,
            name=name,
            load_id=load_id,
            line=int(line),
            values=values,
            reason=reason,
            origin=origin(request),
            status="discarded" if action == "discard" else "fixed",
        )
    except YiwangError as exc:
        if exc.status_code == 403:
            raise
        session.rollback()
        message, ok = exc.message, False
    return render(
        request,
        "governance/_fix_result.html",
        _ctx(ok=ok, message=message, action=action, line=line),
        status_code=200 if ok else 422,
    )


def lake_invalid():
    from yiwang.core.errors import Invalid
    from yiwang.core.i18n import _

    return Invalid(_("The line number is missing."), field="line")


@router.post(BASE + "/{name}/quarantine/resubmit")
def quarantine_resubmit(
    request: Request, session: DbSession, actor: Viewer, name: str, mode: Annotated[str, Form(max_length=10)] = ""
):
    from fastapi.responses import RedirectResponse

    row = quarantine.resubmit(session, actor=actor, name=name, mode=mode or None, origin=origin(request))
    return RedirectResponse(f"{BASE}/loads/{row.id}", status_code=303)


@router.get(BASE + "/{name}/privacy")
def privacy_page(
    request: Request,
    session: DbSession,
    actor: Viewer,
    name: str,
    qi: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006 - FastAPI copies defaults per request
    k: Annotated[int, Query(ge=2, le=1000)] = 5,
):
    settings = request.app.state.settings
    res = lake.resource(session, actor=actor, name=name)
    lake.require_zone(actor, res, "share", None)
    the_lake = lake.lake_for(settings)
    columns = (
        [f.name for f in the_lake.schema(f"share.{name}") if not f.name.startswith("_")]
        if the_lake.exists(f"share.{name}")
        else []
    )
    declared = (res.spec.get("rules") or {}).get("quasi_identifiers", [])
    report, error = None, None
    if qi:
        try:
            report = privacy.k_anonymity_report(
                session, actor=actor, settings=settings, name=name, quasi_identifiers=qi, k=k
            )
        except YiwangError as exc:
            if exc.status_code == 403:
                raise
            error = exc.message
    return render(
        request,
        "governance/privacy.html",
        _ctx(r=res, columns=columns, chosen=qi or declared, k=k, report=report, error=error),
    )
