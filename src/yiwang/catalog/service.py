"""Registering and changing entries, and the helpers every write shares.

Department data officers draft and edit the entries of their own department (and its
sub-departments); the big-data bureau may edit all. Every save writes the change history
(with its field-by-field diff), the search index and the audit ledger in the same transaction,
so a failed write leaves none of them. The review steps are in ``workflow``, files in ``apply``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog import codes, search
from yiwang.catalog.diff import diff
from yiwang.catalog.models import CatalogChange, CatalogEntry
from yiwang.catalog.problems import Problem, SpecInvalid
from yiwang.catalog.roles import EDIT
from yiwang.catalog.spec import EntrySpec
from yiwang.catalog.validation import prepare
from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import AccessDenied, Conflict, NotFound
from yiwang.core.i18n import _
from yiwang.core.security import Actor, in_scope


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


# Loading -------------------------------------------------------------------------------


def get_entry(session: Session, name: str, *, lock: bool = False) -> CatalogEntry:
    stmt = select(CatalogEntry).where(CatalogEntry.name == name)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    entry = session.execute(stmt).scalar_one_or_none()
    if entry is None:
        raise NotFound(_("No catalog entry named %(name)s.", name=name), field="name")
    return entry


def require_edit(actor: Actor, *, name: str, department_id: int, department_name: str, where: str = "") -> None:
    """Officers edit only their own department's entries (the bureau edits all)."""
    actor.require(EDIT)
    if not in_scope(actor, department_id=department_id):
        raise AccessDenied(
            where
            + _(
                "%(name)s is an entry of %(dept)s; you may edit only your own department's entries.",
                name=name,
                dept=department_name,
            ),
            code="out_of_scope",
            target=f"catalog_resource:{name}",
        )


# Saving --------------------------------------------------------------------------------


def listed_columns(doc: dict) -> dict[str, Any]:
    return {
        "title": doc["title"],
        "classification": doc["classification"],
        "share_type": doc["share"]["type"],
        "open_type": doc.get("open", {}).get("type", "closed"),
        "update_cycle": doc["update_cycle"],
        "items_count": len(doc["items"]),
    }


def record_change(
    session: Session,
    entry: CatalogEntry,
    actor: Actor,
    action: str,
    *,
    changes: list | None = None,
    version: int | None = None,
    note: str | None = None,
) -> None:
    session.add(
        CatalogChange(
            entry_id=entry.id,
            actor=actor.username,
            action=action,
            version=version,
            diff=dumps(changes or []),
            note=note,
        )
    )


def audit_entry(session: Session, actor: Actor, action: str, entry: CatalogEntry, origin: Origin, **detail) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"catalog.{action}",
        target_type="catalog_resource",
        target_id=entry.name,
        origin=origin,
        detail={"status": entry.status, **detail},
    )


def reindex(session: Session, entry: CatalogEntry, *, layer: str, doc: dict | None) -> None:
    terms = None
    if doc is not None:
        dept = org.get_department(session, entry.department_id)
        nodes = codes.classes(session)
        terms = search.document_terms(
            search.entry_fields(
                doc,
                code=entry.code,
                provider_name=f"{dept.name} {dept.short_name}",
                class_names=[n.name for n in codes.path(nodes, doc["classification"])],
            )
        )
    search.reindex(session, entry_id=entry.id, layer=layer, terms=terms)


def create_entry(
    session: Session, *, actor: Actor, doc: dict, dept, origin: Origin, source: str | None
) -> CatalogEntry:
    now = db.utcnow()
    entry = CatalogEntry(
        name=doc["name"],
        department_id=dept.id,
        status="draft",
        spec=dumps(doc),
        revision=1,
        created_at=now,
        created_by=actor.username,
        updated_at=now,
        updated_by=actor.username,
        **listed_columns(doc),
    )
    session.add(entry)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(_("An entry named %(name)s already exists.", name=doc["name"]), field="name") from None
    record_change(session, entry, actor, "create", changes=diff(None, doc), note=source)
    reindex(session, entry, layer="working", doc=doc)
    audit_entry(session, actor, "create", entry, origin, source=source)
    return entry


def update_entry(
    session: Session, *, actor: Actor, entry: CatalogEntry, doc: dict, origin: Origin, source: str | None
) -> bool:
    """Save a new working copy; False when nothing changed."""
    changes = diff(json.loads(entry.spec), doc)
    if not changes:
        return False
    if entry.status == "submitted":
        raise Conflict(_("%(name)s is under review; withdraw it before editing.", name=entry.name), field="status")
    entry.spec = dumps(doc)
    for key, value in listed_columns(doc).items():
        setattr(entry, key, value)
    entry.revision += 1
    entry.status = "draft"
    entry.updated_at, entry.updated_by = db.utcnow(), actor.username
    record_change(session, entry, actor, "update", changes=changes, note=source)
    reindex(session, entry, layer="working", doc=doc)
    audit_entry(session, actor, "update", entry, origin, fields=[c["field"] for c in changes][:50], source=source)
    return True


def create_resource(session: Session, *, actor: Actor, data: EntrySpec | dict, origin: Origin) -> CatalogEntry:
    """Register a new entry as a draft of the provider department."""
    actor.require(EDIT)
    doc, dept = prepare(session, data, entry=None)
    require_edit(actor, name=doc["name"], department_id=dept.id, department_name=dept.name)
    entry = create_entry(session, actor=actor, doc=doc, dept=dept, origin=origin, source=None)
    db.commit(session)
    return entry


def update_resource(
    session: Session,
    *,
    actor: Actor,
    name: str,
    data: EntrySpec | dict,
    origin: Origin,
    expected_revision: int | None = None,
) -> CatalogEntry:
    """Save the working copy; ``expected_revision`` refuses to overwrite someone else's newer save."""
    actor.require(EDIT)
    entry = get_entry(session, name, lock=True)
    dept = org.get_department(session, entry.department_id)
    require_edit(actor, name=name, department_id=entry.department_id, department_name=dept.name)
    if expected_revision is not None and expected_revision != entry.revision:
        raise Conflict(
            _(
                "%(name)s was changed by %(who)s since you opened it (revision %(now)s, yours %(yours)s); "
                "reload and apply your changes again.",
                name=name,
                who=entry.updated_by,
                now=entry.revision,
                yours=expected_revision,
            ),
            field="revision",
        )
    doc, _dept = prepare(session, data, entry=entry)
    if doc["name"] != name:
        raise SpecInvalid([Problem(("name",), _("the name of an entry does not change"))])
    update_entry(session, actor=actor, entry=entry, doc=doc, origin=origin, source=None)
    db.commit(session)
    return entry
