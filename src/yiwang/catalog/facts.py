"""Facts the lake and governance report about an entry: is real data mounted, was it governed.

The catalog does not look into the lake (it sits below it); the lake tells it. ``set_mount_state``
records that an entry has (or no longer has) tables behind it — the plan's mount rate counts
these. ``record_load_summary`` records one load: how many rows were read, accepted and
quarantined, and whether the entry's governance rules and its masking were applied — the
cleaning and masking rate counts published entries whose latest load had both.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang.catalog.models import CatalogChange, CatalogEntry, CatalogLoad, CatalogRules
from yiwang.catalog.queries import load_public
from yiwang.catalog.roles import FACTS
from yiwang.catalog.schemas import LoadFactPublic, MountPublic
from yiwang.catalog.service import dumps, get_entry
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Invalid
from yiwang.core.i18n import _
from yiwang.core.security import Actor, in_scope

MAX_TABLES = 10
MAX_DETAIL_BYTES = 20_000


def _entry_for_facts(session: Session, actor: Actor, name: str) -> CatalogEntry:
    actor.require(FACTS)
    entry = get_entry(session, name, lock=True)
    if not in_scope(actor, department_id=entry.department_id):
        raise AccessDenied(
            _("%(name)s belongs to another department.", name=name),
            code="out_of_scope",
            target=f"catalog_resource:{name}",
        )
    return entry


def set_mount_state(
    session: Session, *, name: str, mounted: bool, tables: dict[str, str], actor: Actor, origin: Origin
) -> MountPublic:
    """Record whether the entry has data mounted, and where (``{zone: table}``, e.g. ``{"share": "share.people"}``)."""
    entry = _entry_for_facts(session, actor, name)
    if not isinstance(tables, dict) or len(tables) > MAX_TABLES:
        raise Invalid(_("tables is a mapping of at most %(n)s zone → table names", n=MAX_TABLES), field="tables")
    bad = [
        k
        for k, v in tables.items()
        if not (isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 50 and 0 < len(v) <= 200)
    ]
    if bad:
        raise Invalid(_("tables: zone %(zone)s needs a table name of 1 to 200 characters", zone=bad[0]), field="tables")
    if mounted and not tables:
        raise Invalid(_("name the mounted tables"), field="tables")
    before = {"mounted": entry.mounted, "tables": json.loads(entry.mount_tables)}
    entry.mounted, entry.mount_tables = mounted, dumps(tables if mounted else {})
    entry.mounted_at = db.utcnow() if mounted else None
    after = {"mounted": entry.mounted, "tables": json.loads(entry.mount_tables)}
    if after != before:
        changes = [{"field": k, "old": before[k], "new": after[k]} for k in before if before[k] != after[k]]
        session.add(
            CatalogChange(
                entry_id=entry.id, actor=actor.username, action="mount" if mounted else "unmount", diff=dumps(changes)
            )
        )
        audit.record(
            session,
            actor=actor,
            action="catalog.mount",
            target_type="catalog_resource",
            target_id=name,
            origin=origin,
            detail=after,
        )
    db.commit(session)
    return MountPublic(mounted=entry.mounted, tables=json.loads(entry.mount_tables), mounted_at=entry.mounted_at)


def record_load_summary(
    session: Session,
    *,
    name: str,
    actor: Actor,
    origin: Origin,
    rules_applied: bool,
    masking_applied: bool,
    rules_version: int | None = None,
    rows_read: int = 0,
    rows_accepted: int = 0,
    rows_quarantined: int = 0,
    loaded_at: dt.datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> LoadFactPublic:
    """Record one load of the entry's data (the lake calls this after each governed load)."""
    entry = _entry_for_facts(session, actor, name)
    counts = {"rows_read": rows_read, "rows_accepted": rows_accepted, "rows_quarantined": rows_quarantined}
    for field, value in counts.items():
        if not isinstance(value, int) or value < 0:
            raise Invalid(_("%(field)s must be a whole number ≥ 0", field=field), field=field)
    if rows_accepted + rows_quarantined > rows_read:
        raise Invalid(_("accepted and quarantined rows cannot exceed the rows read"), field="rows_read")
    if (
        rules_version is not None
        and session.execute(
            select(CatalogRules.id).where(CatalogRules.entry_id == entry.id, CatalogRules.version == rules_version)
        ).first()
        is None
    ):
        raise Invalid(_("%(name)s has no rules version %(n)s", name=name, n=rules_version), field="rules_version")
    if rules_applied and rules_version is None:
        raise Invalid(_("name the rules version that was applied"), field="rules_version")
    text = dumps(detail or {})
    if len(text.encode()) > MAX_DETAIL_BYTES:
        raise Invalid(_("detail is larger than %(n)s bytes", n=MAX_DETAIL_BYTES), field="detail")
    if loaded_at is not None and loaded_at.tzinfo is None:
        raise Invalid(_("loaded_at needs a time zone"), field="loaded_at")
    row = CatalogLoad(
        entry_id=entry.id,
        loaded_at=loaded_at or db.utcnow(),
        recorded_by=actor.username,
        rules_version=rules_version,
        rules_applied=rules_applied,
        masking_applied=masking_applied,
        detail=text,
        **counts,
    )
    session.add(row)
    facts = {
        **counts,
        "rules_version": rules_version,
        "rules_applied": rules_applied,
        "masking_applied": masking_applied,
    }
    session.add(
        CatalogChange(
            entry_id=entry.id,
            actor=actor.username,
            action="load",
            diff=dumps([{"field": k, "old": None, "new": v} for k, v in facts.items()]),
        )
    )
    audit.record(
        session,
        actor=actor,
        action="catalog.load",
        target_type="catalog_resource",
        target_id=name,
        origin=origin,
        detail=facts,
    )
    db.commit(session)
    return load_public(row)
