"""The entry form: HTML form fields ↔ the entry document, and problems ↔ the fields they concern.

Items arrive as ``items-<i>-<field>`` (rows added by HTMX get a fresh index; blank rows are
dropped and the rest renumbered), the rules as YAML text in a textarea. Problems found in
the rules are given the line inside that textarea.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

from yiwang.catalog import codes, yamlio
from yiwang.catalog.problems import Problem, SpecInvalid
from yiwang.catalog.spec import MAX_ITEMS
from yiwang.core.i18n import _
from yiwang.core.security import Actor

_ITEM_FIELD = re.compile(r"^items-(\d{1,15})-(name|type|description|sensitivity|personal)$")
RULES_SOURCE = "rules"


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def posted_text(form: FormData, key: str) -> str | None:
    """A posted text field as sent (``None`` when absent or sent as a file)."""
    value = form.get(key)
    return value if isinstance(value, str) else None


def items_from(form: FormData) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for key, value in form.multi_items():
        match = _ITEM_FIELD.match(key)
        if match and isinstance(value, str):
            rows.setdefault(int(match[1]), {})[match[2]] = value.strip()
    if len(rows) > MAX_ITEMS:
        raise SpecInvalid([Problem(("items",), _("takes at most %(n)s entries", n=MAX_ITEMS))])
    items = []
    for _i, row in sorted(rows.items()):
        if not row.get("name") and not row.get("description"):
            continue
        items.append(
            {
                "name": row.get("name", ""),
                "type": row.get("type") or "string",
                "description": row.get("description", ""),
                "sensitivity": row.get("sensitivity") or "L1",
                "personal": row.get("personal") == "on",
            }
        )
    return items


def doc_from(form: FormData) -> tuple[dict[str, Any], yamlio.SourceDoc | None]:
    """The entry document the form describes, and the parsed rules (for locating their problems)."""
    doc: dict[str, Any] = {
        "name": _text(form, "name"),
        "title": _text(form, "title"),
        "classification": _text(form, "classification"),
        "provider": _text(form, "provider"),
        "abstract": _text(form, "abstract"),
        "format": {"type": _text(form, "format_type"), "detail": _text(form, "format_detail")},
        "items": items_from(form),
        "share": {
            "type": _text(form, "share_type"),
            "conditions": _text(form, "share_conditions"),
            "methods": [m for m in form.getlist("share_methods") if isinstance(m, str)],
        },
        "open": {"type": _text(form, "open_type") or "closed", "conditions": _text(form, "open_conditions")},
        "update_cycle": _text(form, "update_cycle"),
        "related": [r for r in re.split(r"[\s,，、]+", _text(form, "related")) if r],
    }
    if _text(form, "publish_date"):
        doc["publish_date"] = _text(form, "publish_date")
    rules_text = form.get("rules_yaml")
    rules = None
    if isinstance(rules_text, str) and rules_text.strip():
        try:
            rules = yamlio.load(rules_text, source=RULES_SOURCE)[0]
        except SpecInvalid as exc:
            raise SpecInvalid(
                [Problem(("rules",) + p.path, p.message, source=RULES_SOURCE, line=p.line) for p in exc.problems]
            ) from None
        doc["rules"] = rules.data
    return doc, rules


def locate_rules(exc: SpecInvalid, rules: yamlio.SourceDoc | None) -> SpecInvalid:
    """Problems inside the rules get the line of the rules textarea."""
    if rules is None:
        return exc
    out = []
    for p in exc.problems:
        if p.path[:1] == ("rules",) and p.line is None:
            located = rules.fail([Problem(p.path[1:], p.message)]).problems[0]
            out.append(Problem(p.path, p.message, source=RULES_SOURCE, line=located.line))
        else:
            out.append(p)
    return SpecInvalid(out)


def form_values(doc: dict[str, Any], rules_text: str | None = None) -> dict[str, Any]:
    """What the form shows for a document (the same names the form posts)."""
    return {
        "name": doc.get("name", ""),
        "title": doc.get("title", ""),
        "classification": doc.get("classification", ""),
        "provider": doc.get("provider", ""),
        "abstract": doc.get("abstract", ""),
        "format_type": doc.get("format", {}).get("type", "database"),
        "format_detail": doc.get("format", {}).get("detail", ""),
        "items": doc.get("items")
        or [{"name": "", "type": "string", "description": "", "sensitivity": "L1", "personal": False}],
        "share_type": doc.get("share", {}).get("type", "conditional"),
        "share_conditions": doc.get("share", {}).get("conditions", ""),
        "share_methods": doc.get("share", {}).get("methods", []),
        "open_type": doc.get("open", {}).get("type", "closed"),
        "open_conditions": doc.get("open", {}).get("conditions", ""),
        "update_cycle": doc.get("update_cycle", "daily"),
        "publish_date": doc.get("publish_date") or "",
        "related": " ".join(doc.get("related", [])),
        "rules_yaml": rules_text
        if rules_text is not None
        else (yamlio.dump({k: v for k, v in doc["rules"].items() if k != "resource"}) if doc.get("rules") else ""),
    }


def field_of(problem: Problem) -> str:
    """The form field a problem concerns (``items-2-name``, ``share_conditions``, ``rules_yaml``)."""
    path = problem.path
    if not path:
        return ""
    if path[0] == "items" and len(path) >= 2 and isinstance(path[1], int):
        return f"items-{path[1]}-{path[2]}" if len(path) >= 3 else f"items-{path[1]}"
    if path[0] == "rules":
        return "rules_yaml"
    if path[0] in ("format", "share", "open") and len(path) >= 2:
        return f"{path[0]}_{path[1]}"
    return str(path[0])


def class_groups(nodes: dict[str, codes.ClassNode], actor: Actor) -> list[tuple[str, list[codes.ClassNode]]]:
    """Classes an entry may take (目 and 细目), grouped under their 项; other departments' classes left out."""
    groups: dict[str, list[codes.ClassNode]] = {}
    for node in nodes.values():
        if node.level >= 3 and (
            node.department_id is None or actor.sees_everything or node.department_id in actor.department_ids
        ):
            groups.setdefault(node.code[:3], []).append(node)
    return [
        (" › ".join(f"{n.code} {n.name}" for n in codes.path(nodes, item)), members) for item, members in groups.items()
    ]
