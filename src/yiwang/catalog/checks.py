"""Rules across the fields of one entry (no database needed).

- item names are unique (they become column names);
- conditional sharing states its conditions; not sharing states its basis and offers no method;
  sharing offers at least one method;
- conditional opening states its conditions; a resource that is not shared is not opened;
- a resource with sensitive items (L3, L4) is not opened without conditions;
- an entry is not related to itself, and names each related resource once.
"""

from __future__ import annotations

from yiwang.catalog.problems import Problem
from yiwang.catalog.spec import EntrySpec
from yiwang.core.i18n import _

SENSITIVE = ("L3", "L4")


def check_spec(spec: EntrySpec) -> list[Problem]:
    return _items(spec) + _share(spec) + _open(spec) + _related(spec)


def _items(spec: EntrySpec) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for i, item in enumerate(spec.items):
        if item.name in seen:
            problems.append(
                Problem(
                    ("items", i, "name"),
                    _("duplicate item name %(name)s (already items[%(first)s])", name=item.name, first=seen[item.name]),
                )
            )
        seen.setdefault(item.name, i)
    return problems


def _share(spec: EntrySpec) -> list[Problem]:
    share, problems = spec.share, []
    if share.type == "conditional" and not share.conditions:
        problems.append(Problem(("share", "conditions"), _("conditional sharing needs its conditions")))
    if share.type == "none":
        if not share.conditions:
            problems.append(
                Problem(
                    ("share", "conditions"), _("a resource that is not shared needs the legal or policy basis for it")
                )
            )
        if share.methods:
            problems.append(Problem(("share", "methods"), _("a resource that is not shared has no share method")))
    elif not share.methods:
        problems.append(Problem(("share", "methods"), _("name at least one share method")))
    if len(set(share.methods)) != len(share.methods):
        problems.append(Problem(("share", "methods"), _("each share method only once")))
    return problems


def _open(spec: EntrySpec) -> list[Problem]:
    problems = []
    if spec.open.type == "conditional" and not spec.open.conditions:
        problems.append(Problem(("open", "conditions"), _("conditional opening needs its conditions")))
    if spec.open.type != "closed" and spec.share.type == "none":
        problems.append(Problem(("open", "type"), _("a resource that is not shared cannot be opened to the public")))
    sensitive = [item.name for item in spec.items if item.sensitivity in SENSITIVE]
    if spec.open.type == "open" and sensitive:
        problems.append(
            Problem(
                ("open", "type"),
                _(
                    "items %(items)s are sensitive (L3/L4): open the resource only on conditions, or not at all",
                    items="、".join(sensitive[:5]),
                ),
            )
        )
    return problems


def _related(spec: EntrySpec) -> list[Problem]:
    problems = []
    for i, name in enumerate(spec.related):
        if name == spec.name:
            problems.append(Problem(("related", i), _("an entry cannot be related to itself")))
        elif name in spec.related[:i]:
            problems.append(Problem(("related", i), _("%(name)s is listed twice", name=name)))
    return problems
