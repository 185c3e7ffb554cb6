"""cockpit — the leaders' end (决策端): the city on one screen. The top layer."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from yiwang.cockpit.roles import VIEW
from yiwang.core import web
from yiwang.core.i18n import N_

__all__ = ["VIEW", "register"]


def register(app: FastAPI) -> None:
    from yiwang.cockpit import views

    web.add_template_dir(Path(__file__).parent / "templates")
    app.include_router(views.router)
    web.register_nav(web.NavItem("cockpit", N_("City overview"), "/cockpit", VIEW, order=0))
