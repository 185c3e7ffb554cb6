"""Writes of the lake domain: recording a resource's mount state, and compacting its zone tables.

The loads that write zone tables are governance's; the lake records, through the catalog, which
zone tables hold a resource's data. Reads are in ``queries.py``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiwang import catalog
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.lake import ZONES, Lake
from yiwang.core.security import Actor
from yiwang.lake import access
from yiwang.lake.handle import lake_for


def mount(session: Session, *, actor: Actor, settings: Settings, name: str, origin: Origin) -> catalog.MountPublic:
    """Tell the catalog which zone tables now hold ``name``'s data (its mount state)."""
    tables = _zone_tables(lake_for(settings), name)
    return catalog.set_mount_state(session, name=name, mounted=bool(tables), tables=tables, actor=actor, origin=origin)


def _zone_tables(lake: Lake, name: str) -> dict[str, str]:
    """``{zone: table}`` for the zone tables of ``name`` that exist."""
    existing = set(lake.tables())
    return {zone: f"{zone}.{name}" for zone in ZONES if f"{zone}.{name}" in existing}


def compact(session: Session, *, actor: Actor, settings: Settings, name: str, origin: Origin) -> dict[str, int | None]:
    """Re-encode ``name``'s zone tables with the lake's codec (loads write the big zones uncompressed).

    For the resource's own department (its officers, the bureau): ``lake.load`` in scope. One new
    snapshot per zone with the same rows; time travel to earlier snapshots keeps working. Returns
    the new snapshot per zone table (``None``: the table was empty). Audited.
    """
    res = access.resource_to_load(session, actor=actor, name=name)
    lake = lake_for(settings)
    tables = list(_zone_tables(lake, res.name).values())
    audit.record(
        session,
        actor=actor,
        action="lake.compact",
        target_type="catalog_resource",
        target_id=res.name,
        origin=origin,
        detail={"tables": tables},
    )
    db.commit(session)  # the entry stands even if the rewrite fails; and the catalog's commits need the writer
    done: dict[str, int | None] = {}
    for table in tables:
        result = lake.compact(table)
        done[table] = result.snapshots.get(table) if result is not None else None
    return done
