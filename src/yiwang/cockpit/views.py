"""HTML of the cockpit end."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from yiwang.cockpit import VIEW, service
from yiwang.core.web import nav_for, render, verify_csrf
from yiwang.org import DbSession, requires

router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


@router.get("/cockpit")
def home(request: Request, session: DbSession, actor=Depends(requires(VIEW))):
    data = service.overview(session, actor=actor)
    return render(
        request,
        "cockpit/home.html",
        {
            "current_end": "cockpit",
            **data,
            "actions": [i for i in nav_for(request, "cockpit") if i.url != "/cockpit"],
        },
    )
