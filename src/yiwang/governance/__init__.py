"""governance — ingestion, governance rules, quarantine, quality, masking, lineage, k-anonymity.

A load reads a source (CSV/TSV in UTF-8, BOM, GBK or GB18030, XLSX, JSON, NDJSON, or a database
URL), governs it with the catalog entry's versioned rules through the vectorised ``engine``, and
writes raw, clean, share (masked) and quarantine as one atomic lake load. Every load is
recorded (``models.Load``), audited, reported to the catalog (mount state, rules and masking
applied) and emitted as OpenLineage events.

What higher domains may use:

``ingest_file(factory, *, settings, actor, name, path, mode="append", options=None, origin)``
    load now, in the calling thread; returns ``LoadPublic`` or raises ``LoadFailed`` (422) /
    ``PayloadTooLarge`` (413) naming code, file, line and column. The lake keeps its previous
    snapshots on failure.
``queue_file(session, *, actor, name, path, mode, origin)``
    queue a file already under ``YIWANG_HOME`` for the background load worker.
``list_loads`` / ``get_load`` / ``LoadPublic``
    load records in the actor's scope.
``k_anonymity_report(session, *, actor, settings, name, quasi_identifiers, k)``
    the smallest equivalence class of the share zone over chosen quasi-identifiers.
``validate_rules(rules: dict) -> dict``
    the rules validator registered with the catalog.
``demo_files(folder) -> {name: path}``
    synthetic population and enterprise files for the reference city's first start.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yiwang import catalog, lake
from yiwang.core import bus, web
from yiwang.core.i18n import N_
from yiwang.governance import roles  # noqa: F401  (declares the permissions at import)
from yiwang.governance.demo import demo_files
from yiwang.governance.privacy import k_anonymity_report
from yiwang.governance.queries import get_load, list_loads, public
from yiwang.governance.rules_check import validate_rules
from yiwang.governance.schemas import KAnonymityPublic, LoadPublic
from yiwang.governance.service import LoadFailed, ingest_file, queue_file
from yiwang.governance.settings import get_governance_settings

__all__ = [
    "KAnonymityPublic",
    "LoadFailed",
    "LoadPublic",
    "demo_files",
    "get_load",
    "ingest_file",
    "k_anonymity_report",
    "list_loads",
    "public",
    "queue_file",
    "register",
    "validate_rules",
]

catalog.register_rules_validator(validate_rules)


def register(app: FastAPI) -> None:
    from yiwang.governance import api, lineage_hooks, views

    catalog.register_rules_validator(validate_rules)
    bus.subscribe(lake.TablesRead, lineage_hooks.on_tables_read)
    here = Path(__file__).parent
    web.add_template_dir(here / "templates")
    app.include_router(api.router)
    app.include_router(api.lineage_router)
    web.register_body_limit(api.UPLOAD_PATH, lambda _settings: get_governance_settings().max_file_mb)
    app.include_router(views.router)
    app.mount("/assets/governance", StaticFiles(directory=here / "static"), name="governance-assets")
    _background(app)
    nav = web.register_nav
    nav(
        web.NavItem(
            "workspace",
            N_("Data loads"),
            "/workspace/governance",
            lake.LOAD,
            order=310,
            description=N_("Upload department data; governance rules, quarantine and quality"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Data lineage"),
            "/workspace/governance/lineage",
            lake.VIEW,
            order=320,
            description=N_("From source file to raw, clean, share and whoever reads them"),
        )
    )


def _background(app: FastAPI) -> None:
    """Start the load worker with the app — only when it owns its database engine."""
    from yiwang.governance.settings import get_governance_settings

    def start(a):
        if a.state.engine is None or not get_governance_settings().background:
            return None
        from yiwang.governance.jobs import Worker

        worker = Worker(a.state.sessionmaker, a.state.settings)
        worker.start()
        return worker.close

    web.run_with_app(app, start)
