"""lake — the data lake's face to the platform: mounted resources, history, time travel, staff SQL.

Each mounted catalog resource has Apache Iceberg tables (``yiwang.core.lake``) in the zones
``raw`` (as received), ``clean`` (normalised, valid rows), ``share`` (masked) and
``quarantine`` (rejected rows). Loads are governance's; the lake reads, checks who may read,
and tells the catalog what is mounted.

What governance and higher domains may use:

``lake_for(settings) -> core.lake.Lake``
    the installation's lake (one per process).
``mount(session, *, actor, settings, name, origin)``
    record in the catalog which zone tables hold ``name``'s data.
``resource(session, *, actor, name)`` / ``resource_to_load(...)`` / ``require_zone(actor, resource, zone, reason)`` /
``record_personal_read(...)``
    the access rules (department scope, personal zones need ``lake.personal.read`` and a reason).
``read_rows(...)`` / ``run_sql(...)`` / ``history(...)`` / ``overview(...)`` / ``zone_states(...)``
    the read services behind the pages, the API and ``yiwang lake sql``.
``TablesRead``
    bus event after every staff query (governance records it as lineage).
``VIEW`` / ``LOAD`` / ``SQL`` / ``PERSONAL_READ``
    the permissions.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yiwang.core import web
from yiwang.core.i18n import N_
from yiwang.lake import roles  # noqa: F401  (declares the permissions at import)
from yiwang.lake.access import (
    PERSONAL_ZONES,
    in_department,
    record_personal_read,
    require_zone,
    resource,
    resource_to_load,
)
from yiwang.lake.bus_events import TablesRead
from yiwang.lake.handle import close_all, lake_for
from yiwang.lake.queries import history, jsonable, overview, parse_as_of, read_rows, run_sql, zone_states
from yiwang.lake.roles import LOAD, PERSONAL_READ, SQL, VIEW
from yiwang.lake.schemas import LakeResourcePublic, RowsPublic, SnapshotPublic, SqlResultPublic, ZoneStatePublic
from yiwang.lake.service import mount

__all__ = [
    "LOAD",
    "PERSONAL_READ",
    "PERSONAL_ZONES",
    "SQL",
    "VIEW",
    "LakeResourcePublic",
    "RowsPublic",
    "SnapshotPublic",
    "SqlResultPublic",
    "TablesRead",
    "ZoneStatePublic",
    "close_all",
    "history",
    "in_department",
    "jsonable",
    "lake_for",
    "mount",
    "overview",
    "parse_as_of",
    "read_rows",
    "record_personal_read",
    "register",
    "require_zone",
    "resource",
    "resource_to_load",
    "run_sql",
    "zone_states",
]


def register(app: FastAPI) -> None:
    from yiwang.lake import api, views

    here = Path(__file__).parent
    web.add_template_dir(here / "templates")
    app.include_router(api.router)
    app.include_router(views.router)
    app.mount("/assets/lake", StaticFiles(directory=here / "static"), name="lake-assets")
    _close_on_shutdown(app)
    nav = web.register_nav
    nav(
        web.NavItem(
            "workspace",
            N_("Data lake"),
            "/workspace/lake",
            VIEW,
            order=300,
            description=N_("Mounted resources, snapshots and time travel"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Lake SQL"),
            "/workspace/lake/sql",
            SQL,
            order=330,
            description=N_("Read-only SQL over the lake tables, audited"),
        )
    )


def _close_on_shutdown(app: FastAPI) -> None:
    web.run_with_app(app, lambda a: close_all if a.state.engine is not None else None)
