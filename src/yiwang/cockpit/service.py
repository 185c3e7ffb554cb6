"""What the cockpit shows, computed from the domains below it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiwang import org
from yiwang.cockpit.roles import VIEW
from yiwang.core.security import Actor


def overview(session: Session, *, actor: Actor) -> dict:
    actor.require(VIEW)
    towns = org.towns_with_counts(session)
    return {
        "summary": org.region_summary(session),
        "departments": len(org.list_departments(session)),
        "towns": towns,
    }
