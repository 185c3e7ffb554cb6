"""Checking an entry against everything the catalog knows: fields, rules, the database.

``prepare`` turns a submitted entry (form, JSON or file) into the normalised document that is
stored, or raises ``SpecInvalid`` with the problems of the first stage that has any.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog import codes
from yiwang.catalog.checks import check_spec
from yiwang.catalog.models import CatalogEntry
from yiwang.catalog.problems import Problem, SpecInvalid, from_validation_error
from yiwang.catalog.rules import check_rules
from yiwang.catalog.spec import EntrySpec
from yiwang.core.errors import NotFound
from yiwang.core.i18n import _


def prepare(
    session: Session, data: EntrySpec | dict, *, entry: CatalogEntry | None, pending: frozenset[str] = frozenset()
) -> tuple[dict, Any]:
    """The normalised document and its provider department, or ``SpecInvalid`` with every problem.

    ``pending`` names entries created in the same batch (they may relate to each other).
    """
    try:
        spec = data if isinstance(data, EntrySpec) else EntrySpec.model_validate(data)
    except ValidationError as exc:
        raise SpecInvalid(from_validation_error(exc, EntrySpec)) from None
    problems = check_spec(spec)
    doc = spec.to_doc()
    if spec.rules is not None:
        rules, found = check_rules(spec.rules, name=spec.name, items=spec.items, update_cycle=spec.update_cycle)
        problems += found
        doc["rules"] = rules
    dept = None
    try:
        dept = org.get_department_by_key(session, spec.provider)
    except NotFound:
        problems.append(Problem(("provider",), _("no department with the key %(key)s", key=spec.provider)))
    if dept is not None:
        problems += codes.check_classification(codes.classes(session), spec.classification, department_id=dept.id)
    problems += _check_related(session, spec, pending)
    if entry is not None:
        problems += _check_fixed(entry, spec, dept)
    if dept is not None:
        problems += _check_title(session, spec, dept.id, entry)
    if problems:
        raise SpecInvalid(problems)
    return doc, dept


def _check_related(session: Session, spec: EntrySpec, pending: frozenset[str]) -> list[Problem]:
    if not spec.related:
        return []
    known = set(session.execute(select(CatalogEntry.name).where(CatalogEntry.name.in_(spec.related))).scalars())
    return [
        Problem(("related", i), _("no catalog entry named %(name)s", name=name))
        for i, name in enumerate(spec.related)
        if name not in known | pending and name != spec.name
    ]


def _check_fixed(entry: CatalogEntry, spec: EntrySpec, dept) -> list[Problem]:
    problems = []
    if dept is not None and dept.id != entry.department_id:
        problems.append(Problem(("provider",), _("the provider of an entry does not change; register a new entry")))
    if entry.code and spec.classification != entry.code.split("/")[0]:
        problems.append(
            Problem(
                ("classification",), _("the classification is fixed since the code %(code)s was given", code=entry.code)
            )
        )
    return problems


def _check_title(session: Session, spec: EntrySpec, department_id: int, entry: CatalogEntry | None) -> list[Problem]:
    other = session.execute(
        select(CatalogEntry.name).where(
            CatalogEntry.title == spec.title,
            CatalogEntry.department_id == department_id,
            CatalogEntry.name != spec.name,
        )
    ).scalar_one_or_none()
    if other is None:
        return []
    return [
        Problem(
            ("title",),
            _("%(title)s is already registered by this department as %(other)s", title=spec.title, other=other),
        )
    ]
