"""An entry's governance rules: stored as JSON here, understood by the governance domain.

The catalog sits below governance and may not import it, so governance lends its judgement
through a hook: ``register_rules_validator(fn)`` where ``fn(rules: dict) -> dict`` returns the
normalised rules or raises ``ValueError`` (a Pydantic ``ValidationError`` is one) naming the
field and rule. Without a registered validator the catalog still checks what it can itself:
the shape, that the columns are exactly the entry's items, and that column types fit the items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from yiwang.catalog.problems import Problem, from_validation_error
from yiwang.catalog.spec import ItemSpec
from yiwang.core.i18n import _

RulesValidator = Callable[[dict[str, Any]], dict[str, Any]]

_validator: RulesValidator | None = None

# Which governance column types (``dtype``) fit each item data type.
DTYPES_FOR_ITEM = {
    "string": {"string"},
    "text": {"string"},
    "binary": {"string"},
    "datetime": {"string"},
    "integer": {"int"},
    "decimal": {"decimal", "int"},
    "date": {"date"},
    "boolean": {"bool"},
}


def register_rules_validator(fn: RulesValidator | None) -> None:
    """Install (or with ``None`` remove) the validator the governance domain provides."""
    global _validator
    _validator = fn


def rules_validator() -> RulesValidator | None:
    return _validator


def check_rules(
    rules: Any, *, name: str, items: list[ItemSpec], update_cycle: str
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Normalised rules and the problems found.

    The rules' ``resource`` is the entry's name and their ``update_cycle`` the entry's (filled
    in when absent, so timeliness checks use the declared cycle).
    """
    at = ("rules",)
    if not isinstance(rules, dict):
        return None, [Problem(at, _("rules must be a mapping with a 'columns' list"))]
    if rules.get("resource") not in (None, name):
        return None, [
            Problem(
                at + ("resource",),
                _("rules belong to %(other)s, not to %(name)s", other=rules.get("resource"), name=name),
            )
        ]
    if rules.get("update_cycle") not in (None, update_cycle):
        return None, [
            Problem(
                at + ("update_cycle",),
                _(
                    "the rules say %(rules)s but the entry's update cycle is %(entry)s",
                    rules=rules.get("update_cycle"),
                    entry=update_cycle,
                ),
            )
        ]
    rules = {k: v for k, v in rules.items() if k != "version"}  # the catalog numbers rule versions
    rules["resource"], rules["update_cycle"] = name, update_cycle
    columns = rules.get("columns")
    if not isinstance(columns, list) or not columns:
        return None, [Problem(at + ("columns",), _("rules need a non-empty list of columns"))]
    bad = [
        Problem(at + ("columns", i), _("each column is a mapping with a 'name'"))
        for i, c in enumerate(columns)
        if not isinstance(c, dict) or not isinstance(c.get("name"), str)
    ]
    if bad:
        return None, bad
    if _validator is not None:
        try:
            rules = _validator(rules)
        except ValidationError as exc:
            return None, from_validation_error(exc, prefix=at)
        except (ValueError, TypeError) as exc:
            return None, [Problem(at, _("the governance rules do not validate: %(error)s", error=str(exc)))]
    return rules, _fit_items(rules["columns"], items)


def _fit_items(columns: list[dict], items: list[ItemSpec]) -> list[Problem]:
    at = ("rules", "columns")
    by_name = {item.name: item for item in items}
    problems = []
    for i, column in enumerate(columns):
        item = by_name.get(column["name"])
        if item is None:
            problems.append(
                Problem(
                    at + (i, "name"),
                    _("column %(column)s is not an information item of this entry", column=column["name"]),
                )
            )
            continue
        dtype = column.get("dtype")
        if dtype is not None and dtype not in DTYPES_FOR_ITEM[item.type]:
            problems.append(
                Problem(
                    at + (i, "dtype"),
                    _("type %(dtype)s does not fit the item's data type %(type)s", dtype=dtype, type=item.type),
                )
            )
    missing = [name for name in by_name if name not in {c["name"] for c in columns}]
    if missing:
        problems.append(Problem(at, _("items without a column rule: %(names)s", names="、".join(missing))))
    return problems
