"""The review workflow: draft → submitted → published (or returned with a reason).

Each publication freezes the working copy as the next immutable version, gives the resource
code at the first one, numbers the governance rules anew only when they changed, and announces
``ResourcePublished`` on the bus.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog import codes
from yiwang.catalog.bus_events import ResourcePublished
from yiwang.catalog.diff import diff
from yiwang.catalog.models import CatalogEntry, CatalogRules, CatalogVersion
from yiwang.catalog.roles import REVIEW
from yiwang.catalog.service import audit_entry, dumps, get_entry, listed_columns, record_change, reindex, require_edit
from yiwang.core import bus, db
from yiwang.core.audit import Origin
from yiwang.core.crypto import sm3_hex
from yiwang.core.errors import Conflict, Invalid
from yiwang.core.i18n import _
from yiwang.core.security import Actor

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # publish dates are Beijing dates


def submit_resource(session: Session, *, actor: Actor, name: str, origin: Origin) -> CatalogEntry:
    entry = get_entry(session, name, lock=True)
    dept = org.get_department(session, entry.department_id)
    require_edit(actor, name=name, department_id=entry.department_id, department_name=dept.name)
    if entry.status not in ("draft", "rejected"):
        raise Conflict(
            _(
                "Only a draft or a rejected entry can be submitted; %(name)s is %(status)s.",
                name=name,
                status=entry.status,
            ),
            field="status",
        )
    entry.status, entry.submitted_at = "submitted", db.utcnow()
    record_change(session, entry, actor, "submit")
    audit_entry(session, actor, "submit", entry, origin)
    db.commit(session)
    return entry


def withdraw_resource(session: Session, *, actor: Actor, name: str, origin: Origin) -> CatalogEntry:
    entry = get_entry(session, name, lock=True)
    dept = org.get_department(session, entry.department_id)
    require_edit(actor, name=name, department_id=entry.department_id, department_name=dept.name)
    if entry.status != "submitted":
        raise Conflict(_("%(name)s is not under review.", name=name), field="status")
    entry.status = "draft"
    record_change(session, entry, actor, "withdraw")
    audit_entry(session, actor, "withdraw", entry, origin)
    db.commit(session)
    return entry


def reject_resource(session: Session, *, actor: Actor, name: str, reason: str, origin: Origin) -> CatalogEntry:
    actor.require(REVIEW)
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise Invalid(_("State the reason for rejecting (at least 4 characters)."), field="reason")
    entry = get_entry(session, name, lock=True)
    if entry.status != "submitted":
        raise Conflict(_("%(name)s is not under review.", name=name), field="status")
    entry.status, entry.review_note = "rejected", reason
    record_change(session, entry, actor, "reject", note=reason)
    audit_entry(session, actor, "reject", entry, origin, reason=reason)
    db.commit(session)
    return entry


def publish_resource(
    session: Session, *, actor: Actor, name: str, origin: Origin, note: str | None = None
) -> CatalogVersion:
    """Freeze the submitted working copy as the next version; give the code at first publication."""
    actor.require(REVIEW)
    entry = get_entry(session, name, lock=True)
    if entry.status != "submitted":
        raise Conflict(
            _("Only a submitted entry can be published; %(name)s is %(status)s.", name=name, status=entry.status),
            field="status",
        )
    doc = json.loads(entry.spec)
    previous = _published_doc(session, entry)
    if entry.code is None:
        dept = org.get_department(session, entry.department_id)
        entry.code = codes.next_code(session, classification=doc["classification"], credit_code=dept.credit_code)
    doc.setdefault("publish_date", dt.datetime.now(LOCAL_TZ).date().isoformat())
    rules_version = _rules_version(session, entry, doc.get("rules"), actor)
    number = (entry.published_version or 0) + 1
    version = CatalogVersion(
        entry_id=entry.id,
        number=number,
        spec=dumps(doc),
        rules_version=rules_version,
        published_by=actor.username,
        note=(note or "").strip()[:1000] or None,
        **listed_columns(doc),
    )
    session.add(version)
    entry.spec, entry.published_version, entry.status, entry.review_note = dumps(doc), number, "published", None
    record_change(session, entry, actor, "publish", changes=diff(previous, doc), version=number, note=version.note)
    reindex(session, entry, layer="working", doc=doc)
    reindex(session, entry, layer="published", doc=doc)
    audit_entry(session, actor, "publish", entry, origin, version=number, code=entry.code, rules_version=rules_version)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # a concurrent publication took the same code or version number
        raise Conflict(
            _("%(name)s was published by someone else at the same moment; reload and try again.", name=name)
        ) from None
    bus.publish(ResourcePublished(name=entry.name, version=number, rules_version=rules_version))
    db.commit(session)
    return version


def _published_doc(session: Session, entry: CatalogEntry) -> dict | None:
    if entry.published_version is None:
        return None
    spec = session.execute(
        select(CatalogVersion.spec).where(
            CatalogVersion.entry_id == entry.id, CatalogVersion.number == entry.published_version
        )
    ).scalar_one()
    return json.loads(spec)


def _rules_version(session: Session, entry: CatalogEntry, rules: dict | None, actor: Actor) -> int | None:
    """The rules version this publication carries: the latest, or a new one when the rules changed."""
    if rules is None:
        return None
    text = json.dumps(rules, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = sm3_hex(text)
    latest = session.execute(
        select(CatalogRules).where(CatalogRules.entry_id == entry.id).order_by(CatalogRules.version.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.digest == digest:
        return latest.version
    number = (latest.version if latest else 0) + 1
    session.add(
        CatalogRules(entry_id=entry.id, version=number, rules=dumps(rules), digest=digest, created_by=actor.username)
    )
    return number
