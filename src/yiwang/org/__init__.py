"""org — regions, departments, users, roles, sign-in and tokens; the lowest domain.

Other domains use: ``CurrentActor`` / ``OptionalActor`` / ``SignedIn`` / ``DbSession`` / ``requires`` /
``requires_step`` (FastAPI dependencies; every route declares its permission with them), the read
services below, and the ``*Public`` schemas.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from yiwang.core import web
from yiwang.core.i18n import N_
from yiwang.org import geo, roles
from yiwang.org.auth import actor_for_username
from yiwang.org.deps import CurrentActor, DbSession, OptionalActor, SignedIn, get_db, requires, requires_step
from yiwang.org.queries import (
    department_subtree_ids,
    get_department,
    get_department_by_key,
    get_region,
    list_departments,
    list_regions,
    region_ancestors,
    region_label,
    region_summary,
    town_of,
    towns_with_counts,
)
from yiwang.org.schemas import DepartmentPublic, RegionPublic, UserCreate, UserPublic
from yiwang.org.service import create_user, import_departments, import_regions

__all__ = [
    "CurrentActor",
    "DbSession",
    "DepartmentPublic",
    "OptionalActor",
    "RegionPublic",
    "SignedIn",
    "UserCreate",
    "UserPublic",
    "actor_for_username",
    "create_user",
    "department_subtree_ids",
    "geo",
    "get_db",
    "get_department",
    "get_department_by_key",
    "get_region",
    "import_departments",
    "import_regions",
    "list_departments",
    "list_regions",
    "region_ancestors",
    "region_label",
    "region_summary",
    "register",
    "requires",
    "requires_step",
    "roles",
    "town_of",
    "towns_with_counts",
]


def register(app: FastAPI) -> None:
    from yiwang.org import api, views

    web.add_template_dir(Path(__file__).parent / "templates")
    app.include_router(api.router)
    app.include_router(views.router)
    nav = web.register_nav
    nav(web.NavItem("workspace", N_("Home"), "/workspace", roles.WORKSPACE, order=0))
    nav(
        web.NavItem(
            "workspace",
            N_("Users"),
            "/workspace/org/users",
            roles.ORG_VIEW,
            order=900,
            description=N_("Accounts in your data scope; personal data masked"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Departments"),
            "/workspace/org/departments",
            roles.ORG_VIEW,
            order=910,
            description=N_("Municipal departments and their credit codes"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Regions"),
            "/workspace/org/regions",
            roles.ORG_VIEW,
            order=920,
            description=N_("Towns, villages and communities, grids"),
        )
    )
    nav(
        web.NavItem(
            "workspace",
            N_("Audit ledger"),
            "/workspace/audit",
            roles.AUDIT_VIEW,
            order=950,
            description=N_("Every write and personal-data read, hash-chained"),
        )
    )
    nav(web.NavItem("portal", N_("Home"), "/portal", "public", order=0))
