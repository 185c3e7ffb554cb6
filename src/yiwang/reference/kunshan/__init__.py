"""The Kunshan reference city: real divisions and departments, generated grids, demo accounts.

``seed`` is idempotent per part: each part records its version in ``yiwang_meta`` and is
loaded once, so a second start neither re-seeds nor loses data, and parts added in a
later release load on existing installations.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session

from yiwang.core import audit
from yiwang.core.config import Settings
from yiwang.core.db import get_meta, set_meta, unit_of_work
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.reference.kunshan import catalog_pack, events_pack, lake_pack, org_pack

log = structlog.get_logger("yiwang.reference")

Part = tuple[str, str, bool, Callable[[Session, Settings], dict]]  # name, version, demo only, loader


def _org(session: Session, settings: Settings) -> dict:
    counts = org_pack.load_regions(session)
    counts["departments"] = org_pack.load_departments(session)
    return counts


def _demo_accounts(session: Session, settings: Settings) -> dict:
    return {"accounts": org_pack.load_demo_accounts(session, settings.demo_password)}


PARTS: list[Part] = [
    ("org", "1", False, _org),
    ("demo_accounts", "1", True, _demo_accounts),
    ("catalog_classification", "1", False, catalog_pack.seed_classification),
    ("catalog_resources", "1", False, catalog_pack.seed_resources),
    ("lake_demo_loads", "1", True, lake_pack.queue_demo_loads),
    ("events", "1", False, events_pack.seed_events),
    ("events_history", "1", True, events_pack.seed_history),
]


def seed(session: Session, settings: Settings) -> dict[str, dict]:
    """Load every part not loaded yet; each part commits on its own, atomically."""
    loaded: dict[str, dict] = {}
    for name, version, demo_only, loader in PARTS:
        key = f"reference:kunshan:{name}"
        if demo_only and not settings.is_demo:
            continue
        if get_meta(session, key) is not None:
            continue
        with unit_of_work(session):
            counts = loader(session, settings)
            set_meta(session, key, version)
            audit.record(
                session,
                actor=SYSTEM_ACTOR,
                action="reference.seed",
                target_type="reference_pack",
                target_id=f"kunshan:{name}",
                detail=counts,
            )
        log.info("reference pack loaded", part=name, **{k: v for k, v in counts.items() if isinstance(v, int)})
        loaded[name] = counts
    return loaded
