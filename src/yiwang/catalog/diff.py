"""Field-by-field differences between two versions of an entry, for the change history.

Lists of named things (items, rule columns) are matched by name, so renaming nothing but
changing one item's sensitivity reads ``items[联系电话].sensitivity: L2 → L3`` instead of a
wall of shifted positions. Other lists (share methods, related resources) compare whole.
"""

from __future__ import annotations

from typing import Any


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(doc, list) and doc and all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in doc):
        out = {}
        for x in doc:
            out.update(
                flatten({k: v for k, v in x.items() if k != "name"} or {"name": x["name"]}, f"{prefix}[{x['name']}]")
            )
        return out
    return {prefix: doc}


def diff(old: dict | None, new: dict | None) -> list[dict[str, Any]]:
    """``[{field, old, new}]`` for every leaf that was added, removed or changed."""
    before, after = flatten(old or {}), flatten(new or {})
    keys = list(after) + [k for k in before if k not in after]
    return [{"field": k, "old": before.get(k), "new": after.get(k)} for k in keys if before.get(k) != after.get(k)]
