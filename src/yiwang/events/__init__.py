"""events — the city event center (一网统管): three-source intake, Open311, triage, dispatch
workflow with SLA and escalation, workbenches, statistics and the plan's indicators.

Higher domains (indicators, cockpit, scenarios) use: ``kpis`` / ``period`` (statistics in the
caller's scope), ``list_cases`` / ``CaseFilter`` / ``case_public``, ``open_machine_case`` and
``clear_machine_source`` (what an IoT alarm or an indicator warning turns into), and the bus
events ``CaseOpened`` / ``CaseClosed`` published here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from yiwang.core import bus, db, web
from yiwang.core.audit import Origin
from yiwang.core.i18n import N_
from yiwang.events import roles
from yiwang.events.locate import locator
from yiwang.events.queries import CaseFilter, case_public, dispatch_rules, get_case, list_cases, number, propose
from yiwang.events.seeding import (
    add_dispatch_rules,
    bulk_insert_cases,
    bulk_insert_timeline,
    history_size,
    synthetic_report,
)
from yiwang.events.stats import kpis, period
from yiwang.events.triage import load_taxonomy as triage_taxonomy
from yiwang.events.triage_versions import train_version as train_model

__all__ = [
    "CaseClosed",
    "CaseFilter",
    "CaseOpened",
    "add_dispatch_rules",
    "bulk_insert_cases",
    "bulk_insert_timeline",
    "case_public",
    "clear_machine_source",
    "dispatch_rules",
    "get_case",
    "history_size",
    "kpis",
    "list_cases",
    "locator",
    "number",
    "open_machine_case",
    "period",
    "propose",
    "register",
    "roles",
    "synthetic_report",
    "train_model",
    "triage_taxonomy",
]

EVENT_PATHS = ("/api/v1/events", "/open311/", "/workspace/events", "/portal/events")


@dataclass(frozen=True)
class CaseOpened(bus.Event):
    case_id: int
    channel: str


@dataclass(frozen=True)
class CaseClosed(bus.Event):
    case_id: int


def open_machine_case(
    session,
    *,
    actor,
    channel: str,
    source_ref: str,
    description: str,
    lng: float | None = None,
    lat: float | None = None,
    address: str | None = None,
    category_code: str | None = None,
    origin: Origin | None = None,
):
    """Open (or find, by ``source_ref``) the case of a machine alarm; returns ``intake.Accepted``."""
    from yiwang.events import intake

    report = intake.build(
        session,
        channel=channel,
        description=description,
        category_code=category_code,
        lng=lng,
        lat=lat,
        address=address,
        client=getattr(actor, "display_name", None),
        source_ref=source_ref,
        idem_key=f"{channel}:{source_ref}"[:200],
    )
    accepted = intake.accept(session, report, actor=actor, origin=origin or Origin(ip=channel))
    if accepted.created:
        bus.publish(CaseOpened(accepted.id, channel))
    return accepted


def clear_machine_source(session, *, actor, source_ref: str, origin: Origin | None = None) -> list[int]:
    from yiwang.events import service

    ids = service.clear_source(session, actor=actor, source_ref=source_ref, origin=origin or Origin(ip="source"))
    for cid in ids:
        bus.publish(CaseClosed(cid))
    return ids


def _audit_validation_errors(app: FastAPI) -> None:
    """Malformed input to the event center is audited too (the core handler answers it)."""
    previous = app.exception_handlers.get(RequestValidationError)
    assert previous is not None  # FastAPI always has one (core.web's replaces its default)

    @app.exception_handler(RequestValidationError)
    async def handler(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(EVENT_PATHS):
            from yiwang.core import audit

            with request.app.state.sessionmaker() as session:
                first = (exc.errors() or [{}])[0]
                audit.record(
                    session,
                    actor=getattr(request.state, "actor", None),
                    action="events.input_rejected",
                    outcome="failed",
                    target_type="route",
                    target_id=f"{request.method} {request.url.path}",
                    origin=web.origin(request),
                    detail={
                        "loc": [str(p) for p in first.get("loc", ())][:5],
                        "type": first.get("type"),
                        "errors": len(exc.errors()),
                    },
                )
                session.commit()
        response = previous(request, exc)  # a handler may be sync or async
        return await response if inspect.isawaitable(response) else response


def _background(app: FastAPI) -> None:
    """Start the triage worker and SLA timers with the app — only when it owns its engine."""
    from yiwang.events.settings import get_events_settings

    def start(a):
        if a.state.engine is None or not get_events_settings().background:
            return None
        from yiwang.events.timers import Background

        runner = Background(a.state.sessionmaker, a.state.settings.home_path, db.sqlite_file(a.state.engine))
        runner.start()
        return runner.close

    web.run_with_app(app, start)


def register(app: FastAPI) -> None:
    from yiwang.events import api, open311, views
    from yiwang.events.settings import get_events_settings

    web.add_template_dir(Path(__file__).parent / "templates")
    app.include_router(api.router)
    app.include_router(open311.router)
    app.include_router(views.router)
    if get_events_settings().bench_routes:
        from yiwang.events import bench_routes

        app.include_router(bench_routes.router)
    _audit_validation_errors(app)
    _background(app)
    from yiwang.events.lean import LeanIntake

    app.add_middleware(LeanIntake)
    nav = web.register_nav
    nav(
        web.NavItem(
            "workspace",
            N_("Dispatch center"),
            "/workspace/events",
            roles.DISPATCH,
            order=100,
            description=N_("Intake queue, map of open cases, bulk dispatch"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Case list"),
            "/workspace/events/cases",
            roles.VIEW,
            order=105,
            description=N_("Cases in your data scope: your town, grid or department"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("My department's tasks"),
            "/workspace/events/tasks",
            roles.HANDLE,
            order=110,
            description=N_("Take, handle, return or ask for more time"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Report a case"),
            "/workspace/events/report",
            roles.REPORT,
            order=115,
            description=N_("Mobile-friendly report with photo and point"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Overdue cases"),
            "/workspace/events/overdue",
            roles.SUPERVISE,
            order=120,
            description=N_("Red lights and escalations; press departments (督办)"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Case statistics"),
            "/workspace/events/stats",
            roles.STATS,
            order=125,
            description=N_("Volumes, on-time rate, satisfaction, plan indicators, XLSX export"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Notifications"),
            "/workspace/events/notifications",
            roles.VIEW,
            order=130,
            description=N_("Dispatches, returns, escalations and supervision notes"),
        )
    )
    nav(
        web.NavItem(
            "portal",
            N_("Report a problem"),
            "/portal/events/report",
            "public",
            order=20,
            description=N_("Tell the city about a blocked drain, a broken light, litter..."),
        )
    )
    nav(
        web.NavItem(
            "portal",
            N_("Track my report"),
            "/portal/events/status",
            "public",
            order=25,
            description=N_("Follow every step with your case number and phone"),
        )
    )
