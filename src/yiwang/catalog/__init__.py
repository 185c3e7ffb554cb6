"""catalog — the government information resource catalog (政务信息资源目录).

Entries carry the core metadata of the 2017 《政务信息资源目录编制指南（试行）》 (classification
类/项/目/细目, resource code, provider and its code, abstract, format, information items with
sensitivity, share and open attributes, update cycle, publish date, related resources) plus a
short ``name`` slug and the resource's governance rules, stored as JSON and versioned.
Officers of the provider department draft; the big-data bureau publishes (see ``service``).

What lake, governance and higher domains may use (nothing else in this package):

``register_rules_validator(fn)``
    governance installs ``fn(rules: dict) -> dict`` returning normalised rules or raising
    ``ValueError`` / Pydantic ``ValidationError`` naming the field and rule. Entry forms, the API
    and ``yiwang catalog apply`` call it whenever rules are saved. ``None`` removes it.
``get_resource(session, *, actor, name, version=None, working=False) -> ResourcePublic``
    the latest published version (or version ``N``; ``working=True`` gives the department's
    working copy); ``.spec`` is the entry document, ``.mount`` and ``.latest_load`` the facts.
``resource_rules(session, name, version=None) -> RulesPublic``
    the published governance rules (latest rules version, or ``version``); ``.rules`` is the
    dict for ``ResourceRules.from_dict`` with ``version`` set to the rules version as text.
``list_resources(session, *, actor, q=None, status=None, department_id=None, share_type=None,
open_type=None, classification=None, sort="relevance", limit=50, offset=0) -> (rows, total)``
``set_mount_state(session, *, name, mounted, tables, actor, origin) -> MountPublic``
    record that real data (``tables``: zone → table, e.g. ``{"share": "share.population"}``) is
    mounted behind an entry, or no longer is.
``record_load_summary(session, *, name, actor, origin, rules_applied, masking_applied,
rules_version=None, rows_read=0, rows_accepted=0, rows_quarantined=0, loaded_at=None,
detail=None) -> LoadFactPublic``
    record one load: whether rules version ``rules_version`` and masking were applied.
``indicators(session) -> list[IndicatorPublic]``
    the plan's mount rate and cleaning-and-masking rate.
``data_package(resource) -> dict``
    a ``ResourcePublic`` as a Frictionless Data Package with a Table Schema.
``ResourcePublished``
    bus event after every publication (name, version, rules_version).

Registering and reviewing (used by pages, API, commands and reference packs):
``load_entry_file(text, *, source)``, ``apply_documents(session, *, actor, docs, origin, submit=False)``,
``create_resource`` / ``update_resource`` / ``submit_resource`` / ``withdraw_resource`` /
``publish_resource`` / ``reject_resource`` and ``import_classes(session, rows)``.

Writes need ``catalog.facts`` (department data officers for their own department, the
bureau for all; ``SYSTEM_ACTOR`` may do anything) and are audited.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yiwang.catalog import roles
from yiwang.catalog.apply import apply_documents
from yiwang.catalog.bus_events import ResourcePublished
from yiwang.catalog.codes import import_classes
from yiwang.catalog.dashboard import indicators
from yiwang.catalog.datapackage import data_package
from yiwang.catalog.facts import record_load_summary, set_mount_state
from yiwang.catalog.queries import get_resource, list_resources, resource_rules
from yiwang.catalog.rules import register_rules_validator
from yiwang.catalog.schemas import (
    IndicatorPublic,
    LoadFactPublic,
    MountPublic,
    ResourcePublic,
    ResourceSummary,
    RulesPublic,
)
from yiwang.catalog.service import create_resource, update_resource
from yiwang.catalog.workflow import (
    publish_resource,
    reject_resource,
    submit_resource,
    withdraw_resource,
)
from yiwang.catalog.yamlio import load as load_entry_file
from yiwang.core import web
from yiwang.core.i18n import N_

__all__ = [
    "IndicatorPublic",
    "LoadFactPublic",
    "MountPublic",
    "ResourcePublic",
    "ResourcePublished",
    "ResourceSummary",
    "RulesPublic",
    "apply_documents",
    "create_resource",
    "data_package",
    "get_resource",
    "import_classes",
    "indicators",
    "list_resources",
    "load_entry_file",
    "publish_resource",
    "record_load_summary",
    "register",
    "register_rules_validator",
    "reject_resource",
    "resource_rules",
    "set_mount_state",
    "submit_resource",
    "update_resource",
    "withdraw_resource",
]


def register(app: FastAPI) -> None:
    from yiwang.catalog import api, views

    here = Path(__file__).parent
    web.add_template_dir(here / "templates")
    app.include_router(api.router)
    app.include_router(views.router)
    app.mount("/assets/catalog", StaticFiles(directory=here / "static"), name="catalog-assets")
    nav = web.register_nav
    nav(
        web.NavItem(
            "workspace",
            N_("Resource catalog"),
            "/workspace/catalog",
            roles.VIEW,
            order=200,
            description=N_("Government information resources: search, register, publish"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Catalog review"),
            "/workspace/catalog/review",
            roles.REVIEW,
            order=210,
            description=N_("Entries submitted by departments, awaiting publication"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Catalog dashboard"),
            "/workspace/catalog/dashboard",
            roles.VIEW,
            order=220,
            description=N_("Catalog statistics and the plan's mount and masking rates"),
        )
    )
