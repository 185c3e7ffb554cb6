"""Classification (类/项/目/细目) and resource codes, after the 2017 guide.

The classification code is the 类 (1 digit: 1 基础, 2 主题, 3 部门), 项 (2 digits), 目
(3 digits) and an optional 细目; entries are classified at 目 or 细目. Under 部门信息资源 each
目 belongs to one department, and only that department's resources go there.

A resource code is ``<classification>/<provider code>-<sequence>``: the provider code is the
organisation code inside the department's unified social credit code (characters 9–17, the
GB 11714 part), the sequence counts that provider's resources in that class (4 digits). Codes
are given at first publication and never change, so the classification is fixed from then on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from yiwang.catalog.models import CatalogClass, CatalogEntry
from yiwang.catalog.problems import Problem
from yiwang.core.i18n import _

LEVEL_NAMES = {1: "类", 2: "项", 3: "目", 4: "细目"}


@dataclass(frozen=True)
class ClassNode:
    code: str
    name: str
    level: int
    parent_code: str | None
    department_id: int | None


def classes(session: Session) -> dict[str, ClassNode]:
    """The whole classification (a few hundred rows at most), keyed by code."""
    rows = session.execute(select(CatalogClass).order_by(CatalogClass.sort, CatalogClass.code)).scalars()
    return {r.code: ClassNode(r.code, r.name, r.level, r.parent_code, r.department_id) for r in rows}


def path(nodes: dict[str, ClassNode], code: str) -> list[ClassNode]:
    """The node and its ancestors, 类 first."""
    out, node = [], nodes.get(code)
    while node is not None:
        out.append(node)
        node = nodes.get(node.parent_code) if node.parent_code else None
    return out[::-1]


def path_label(nodes: dict[str, ClassNode], code: str) -> str:
    return " › ".join(n.name for n in path(nodes, code)) or code


def check_classification(nodes: dict[str, ClassNode], code: str, *, department_id: int) -> list[Problem]:
    at = ("classification",)
    node = nodes.get(code)
    if node is None:
        return [Problem(at, _("%(code)s is not a code of the classification", code=code))]
    if node.level < 3:
        return [
            Problem(
                at,
                _(
                    "classify at 目 or 细目 level (6 digits or more), not at %(level)s %(name)s",
                    level=LEVEL_NAMES[node.level],
                    name=node.name,
                ),
            )
        ]
    owner = next((n.department_id for n in reversed(path(nodes, code)) if n.department_id is not None), None)
    if owner is not None and owner != department_id:
        return [Problem(at, _("%(name)s is the class of another department's resources", name=node.name))]
    return []


def provider_code(credit_code: str) -> str:
    """The organisation code part (characters 9–17) of a unified social credit code."""
    return credit_code[8:17]


def next_code(session: Session, *, classification: str, credit_code: str) -> str:
    prefix = f"{classification}/{provider_code(credit_code)}-"
    last = session.execute(
        select(func.max(CatalogEntry.code)).where(CatalogEntry.code.startswith(prefix, autoescape=True))
    ).scalar_one()
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{sequence:04d}"


def import_classes(session: Session, rows: list[dict]) -> int:
    """Insert nodes (dicts with code, name, level, parent_code, department_id, sort), parents first."""
    rows = sorted(rows, key=lambda r: r["level"])
    session.execute(insert(CatalogClass), rows)
    return len(rows)
