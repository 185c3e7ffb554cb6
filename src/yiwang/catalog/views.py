"""Staff pages of the resource catalog: search, entry, register/edit, review queue, dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from yiwang import org
from yiwang.catalog import codes, dashboard, forms, labels, queries, service, workflow, yamlio
from yiwang.catalog.diff import diff
from yiwang.catalog.problems import SpecInvalid
from yiwang.catalog.roles import EDIT, REVIEW, VIEW
from yiwang.catalog.spec import DATA_TYPES, SENSITIVITIES
from yiwang.core.errors import Conflict, NotFound
from yiwang.core.i18n import _
from yiwang.core.params import MAX_ID
from yiwang.core.security import Actor
from yiwang.core.web import PostedForm, origin, render, verify_csrf
from yiwang.org import DbSession, requires, requires_step

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
Viewer = Annotated[Actor, Depends(requires(VIEW))]
Editor = Annotated[Actor, Depends(requires(EDIT))]
Reviewer = Annotated[Actor, Depends(requires(REVIEW))]
PER_PAGE = 30
BASE = "/workspace/catalog"


def _ctx(**extra) -> dict:
    return {"current_end": "workspace", "L": labels, **extra}


def _departments(session, actor: Actor) -> list:
    return [d for d in org.list_departments(session) if actor.sees_everything or d.id in actor.department_ids]


@router.get(BASE)
def list_page(
    request: Request,
    session: DbSession,
    actor: Viewer,
    q: str | None = Query(None, max_length=100),
    status: str | None = Query(None, max_length=20),
    department_id: str | None = Query(None, pattern=r"^[0-9]{0,9}$"),
    share_type: str | None = Query(None, max_length=20),
    open_type: str | None = Query(None, max_length=20),
    classification: str | None = Query(None, max_length=12, pattern=r"^[0-9]*$"),
    page: int = Query(1, ge=1, le=10000),
):
    dept = int(department_id) if department_id else None  # the filter form sends "" for "all departments"
    rows, total = queries.list_resources(
        session,
        actor=actor,
        q=q,
        status=status or None,
        department_id=dept,
        share_type=share_type or None,
        open_type=open_type or None,
        classification=classification or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    nodes = codes.classes(session)
    return render(
        request,
        "catalog/list.html",
        _ctx(
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // PER_PAGE)),
            f={
                "q": q or "",
                "status": status or "",
                "department_id": dept or "",
                "share_type": share_type or "",
                "open_type": open_type or "",
                "classification": classification or "",
            },
            departments=org.list_departments(session),
            top_classes=[n for n in nodes.values() if n.level <= 2],
            can_edit=actor.can(EDIT),
        ),
    )


@router.get(BASE + "/resources/{name}")
def entry_page(
    request: Request, session: DbSession, actor: Viewer, name: str, version: int | None = Query(None, ge=1, le=MAX_ID)
):
    entry = queries.get_visible_entry(session, actor=actor, name=name)
    mine = queries.sees_working(actor, entry.department_id)
    resource = queries.get_resource(session, actor=actor, name=name, version=version, working=mine and version is None)
    nodes = codes.classes(session)
    rules = resource.spec.get("rules") or {}
    return render(
        request,
        "catalog/entry.html",
        _ctx(
            r=resource,
            spec=resource.spec,
            rules=rules,
            rule_by_name={c["name"]: c for c in rules.get("columns", [])},
            class_path=codes.path(nodes, resource.spec["classification"]),
            versions=queries.list_versions(session, actor=actor, name=name),
            changes=queries.history(session, actor=actor, name=name),
            can_edit=mine and actor.can(EDIT),
            can_review=actor.can(REVIEW),
            related=queries.titles(session, actor=actor, names=resource.spec.get("related", [])),
            rules_yaml=yamlio.dump(rules) if rules else "",
        ),
    )


@router.get(BASE + "/resources/{name}/entry.yaml")
def entry_yaml(session: DbSession, actor: Viewer, name: str, version: int | None = Query(None, ge=1, le=MAX_ID)):
    entry = queries.get_visible_entry(session, actor=actor, name=name)
    working = queries.sees_working(actor, entry.department_id) and version is None
    spec = queries.get_resource(session, actor=actor, name=name, version=version, working=working).spec
    return Response(
        yamlio.dump(spec),
        media_type="application/yaml; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}.yaml"'},
    )


def _form(
    request: Request,
    session,
    actor: Actor,
    *,
    values: dict,
    entry=None,
    error: SpecInvalid | None = None,
    status_code: int = 200,
    message: str | None = None,
):
    nodes = codes.classes(session)
    problems = error.problems if error else []
    return render(
        request,
        "catalog/form.html",
        _ctx(
            v=values,
            entry=entry,
            departments=_departments(session, actor),
            class_groups=forms.class_groups(nodes, actor),
            data_types=DATA_TYPES,
            sensitivities=SENSITIVITIES,
            problems=problems,
            bad_fields={forms.field_of(p) for p in problems},
            message=message,
        ),
        status_code=status_code,
    )


@router.get(BASE + "/new")
def new_page(request: Request, session: DbSession, actor: Editor):
    values = forms.form_values(
        {"provider": org.get_department(session, actor.department_id).key if actor.department_id else ""}
    )
    return _form(request, session, actor, values=values)


@router.post(BASE + "/new")
def new_submit(request: Request, session: DbSession, actor: Editor, form: PostedForm):
    doc: dict = {}
    rules = None
    try:
        doc, rules = forms.doc_from(form)
        entry = service.create_resource(session, actor=actor, data=doc, origin=origin(request))
    except SpecInvalid as exc:
        return _form(
            request,
            session,
            actor,
            values=forms.form_values(doc, forms.posted_text(form, "rules_yaml")),
            error=forms.locate_rules(exc, rules),
            status_code=422,
        )
    return RedirectResponse(f"{BASE}/resources/{entry.name}", status_code=303)


@router.get(BASE + "/resources/{name}/edit")
def edit_page(request: Request, session: DbSession, actor: Editor, name: str):
    entry = service.get_entry(session, name)
    dept = org.get_department(session, entry.department_id)
    service.require_edit(actor, name=name, department_id=dept.id, department_name=dept.name)
    resource = queries.get_resource(session, actor=actor, name=name, working=True)
    return _form(request, session, actor, values=forms.form_values(resource.spec), entry=resource)


@router.post(BASE + "/resources/{name}/edit")
def edit_submit(request: Request, session: DbSession, actor: Editor, name: str, form: PostedForm):
    revision = form.get("revision")
    expected = int(revision) if isinstance(revision, str) and revision.isdigit() else None
    doc: dict = {}
    rules = None
    try:
        doc, rules = forms.doc_from(form)
        doc["name"] = name
        service.update_resource(
            session, actor=actor, name=name, data=doc, origin=origin(request), expected_revision=expected
        )
    except (SpecInvalid, Conflict) as exc:
        resource = queries.get_resource(session, actor=actor, name=name, working=True)
        values = forms.form_values(doc or resource.spec, forms.posted_text(form, "rules_yaml"))
        if isinstance(exc, SpecInvalid):
            return _form(
                request,
                session,
                actor,
                values=values,
                entry=resource,
                error=forms.locate_rules(exc, rules),
                status_code=422,
            )
        return _form(request, session, actor, values=values, entry=resource, message=exc.message, status_code=409)
    return RedirectResponse(f"{BASE}/resources/{name}", status_code=303)


@router.get(BASE + "/_item-row")
def item_row(request: Request, actor: Editor, i: int = Query(..., ge=0, le=10**15)):
    return render(
        request,
        "catalog/_item_row.html",
        {
            "i": i,
            "item": {"name": "", "type": "string", "description": "", "sensitivity": "L1", "personal": False},
            "data_types": DATA_TYPES,
            "sensitivities": SENSITIVITIES,
            "L": labels,
            "bad_fields": set(),
        },
    )


STEP_PERMISSIONS = {"submit": EDIT, "withdraw": EDIT, "publish": REVIEW, "reject": REVIEW}


@router.post(BASE + "/resources/{name}/{step}")
def workflow_step(
    request: Request,
    session: DbSession,
    actor: Annotated[Actor, Depends(requires_step(STEP_PERMISSIONS))],
    name: str,
    step: str,
    note: Annotated[str, Form(max_length=1000)] = "",
):
    steps = {
        "submit": lambda: workflow.submit_resource(session, actor=actor, name=name, origin=origin(request)),
        "withdraw": lambda: workflow.withdraw_resource(session, actor=actor, name=name, origin=origin(request)),
        "publish": lambda: workflow.publish_resource(
            session, actor=actor, name=name, origin=origin(request), note=note
        ),
        "reject": lambda: workflow.reject_resource(
            session, actor=actor, name=name, reason=note, origin=origin(request)
        ),
    }
    if step not in steps:
        raise NotFound(_("This page or resource does not exist."))
    steps[step]()
    back = (
        f"{BASE}/review"
        if step in ("publish", "reject") and request.query_params.get("from") == "review"
        else (f"{BASE}/resources/{name}")
    )
    return RedirectResponse(back, status_code=303)


@router.get(BASE + "/review")
def review_page(request: Request, session: DbSession, actor: Reviewer):
    queue = queries.review_queue(session, actor=actor)
    diffs, specs = {}, {}
    for row in queue:
        specs[row.name] = queries.get_resource(session, actor=actor, name=row.name, working=True).spec
        published = queries.get_resource(session, actor=actor, name=row.name).spec if row.published_version else None
        diffs[row.name] = diff(published, specs[row.name])
    return render(request, "catalog/review.html", _ctx(queue=queue, diffs=diffs, specs=specs))


@router.get(BASE + "/dashboard")
def dashboard_page(request: Request, session: DbSession, actor: Viewer):
    s = dashboard.stats(session, actor=actor)
    pies = {
        key: [{"name": _(names.get(k, k)), "value": n} for k, n in counts.items()]
        for key, counts, names in (
            ("share", s.by_share_type, labels.SHARE),
            ("open", s.by_open_type, labels.OPEN),
            ("cycle", s.by_update_cycle, labels.CYCLE),
        )
    }
    return render(request, "catalog/dashboard.html", _ctx(s=s, pies=pies))
