"""Entry files: every document checked first, then all written in one transaction, or none."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog.models import CatalogEntry
from yiwang.catalog.problems import Problem, SpecInvalid
from yiwang.catalog.roles import EDIT
from yiwang.catalog.schemas import ApplyResult
from yiwang.catalog.service import create_entry, require_edit, update_entry
from yiwang.catalog.validation import prepare
from yiwang.catalog.workflow import submit_resource
from yiwang.catalog.yamlio import SourceDoc
from yiwang.core import db
from yiwang.core.audit import Origin
from yiwang.core.i18n import _
from yiwang.core.security import Actor


def apply_documents(
    session: Session, *, actor: Actor, docs: list[SourceDoc], origin: Origin, submit: bool = False
) -> list[ApplyResult]:
    """Create or update the entries of a file, all or none: every document is checked first."""
    actor.require(EDIT)
    problems: list[Problem] = []
    seen: dict[str, SourceDoc] = {}
    names = frozenset(d.data.get("name") for d in docs if isinstance(d.data.get("name"), str))
    prepared: list[tuple[SourceDoc, dict, Any, CatalogEntry | None]] = []
    for doc in docs:
        name = doc.data.get("name")
        where = f"{doc.source}:{doc.lines.get(('name',), doc.line)}: "
        if isinstance(name, str) and name in seen:
            problems.append(
                doc.fail(
                    [
                        Problem(
                            ("name",),
                            _(
                                "%(name)s is already defined in this file at line %(line)s",
                                name=name,
                                line=seen[name].line,
                            ),
                        )
                    ]
                ).problems[0]
            )
            continue
        seen[name] = doc
        entry = None
        if isinstance(name, str):
            entry = session.execute(select(CatalogEntry).where(CatalogEntry.name == name)).scalar_one_or_none()
        if entry is not None:
            owner = org.get_department(session, entry.department_id)
            require_edit(actor, name=name, department_id=owner.id, department_name=owner.name, where=where)
        try:
            data, dept = prepare(session, doc.data, entry=entry, pending=names)
        except SpecInvalid as exc:
            problems += exc.located(doc.source, doc.lines, doc.labels).problems
            continue
        require_edit(actor, name=data["name"], department_id=dept.id, department_name=dept.name, where=where)
        prepared.append((doc, data, dept, entry))
    if problems:
        raise SpecInvalid(problems)
    results = []
    with db.unit_of_work(session):
        for doc, data, dept, entry in prepared:
            source = f"{doc.source}:{doc.line}"
            if entry is None:
                entry = create_entry(session, actor=actor, doc=data, dept=dept, origin=origin, source=source)
                action = "created"
            else:
                action = (
                    "updated"
                    if update_entry(session, actor=actor, entry=entry, doc=data, origin=origin, source=source)
                    else "unchanged"
                )
            if submit and entry.status in ("draft", "rejected"):
                submit_resource(session, actor=actor, name=entry.name, origin=origin)
            results.append(ApplyResult(name=entry.name, action=action, status=entry.status, revision=entry.revision))
    return results
