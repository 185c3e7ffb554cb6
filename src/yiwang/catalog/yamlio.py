"""Entry files in YAML: parsed safely, with the line of every key kept for error messages.

A file holds one entry, or several separated by ``---``. PyYAML's safe loader builds the
data; walking its node tree gives the line of each field, so a problem found later (unknown
field, wrong value, rule that does not validate) is reported as ``file:line: field: message``.
Duplicate keys (which YAML would silently let win) and aliases (which can blow a small file up
into a huge document) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from yiwang.catalog.problems import Path, Problem, SpecInvalid
from yiwang.core.i18n import _

MAX_FILE_BYTES = 1_000_000
MAX_DOCUMENTS = 200


@dataclass
class SourceDoc:
    """One entry read from a file: its data, the line of each path, and readable item labels."""

    data: Any
    source: str
    line: int
    lines: dict[Path, int] = field(default_factory=dict)

    @property
    def labels(self) -> dict[Path, str]:
        items = self.data.get("items") if isinstance(self.data, dict) else None
        if not isinstance(items, list):
            return {}
        return {
            ("items", i): str(item["name"])
            for i, item in enumerate(items)
            if isinstance(item, dict) and item.get("name") is not None
        }

    def fail(self, problems: list[Problem]) -> SpecInvalid:
        return SpecInvalid(problems).located(self.source, self.lines, self.labels)


def load(text: str | bytes, *, source: str) -> list[SourceDoc]:
    """Every document of an entry file, or ``SpecInvalid`` naming file and line."""

    def fail(message: str, line: int | None = None) -> SpecInvalid:
        return SpecInvalid([Problem((), message, source=source, line=line)])

    if len(text) > MAX_FILE_BYTES:
        raise fail(_("the file is larger than %(n)s bytes", n=MAX_FILE_BYTES))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise fail(_("the file is not UTF-8 text (byte %(pos)s)", pos=exc.start)) from None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise fail(_("aliases (*name) are not allowed in entry files"), mark.line + 1 if mark else None)
        loader = yaml.SafeLoader(text)
        docs: list[SourceDoc] = []
        try:
            while loader.check_node():
                node = loader.get_node()
                assert node is not None  # check_node() said a document follows
                if len(docs) >= MAX_DOCUMENTS:
                    raise fail(_("a file holds at most %(n)s entries", n=MAX_DOCUMENTS), node.start_mark.line + 1)
                docs.append(_document(loader, node, source))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise fail(
            _("not valid YAML: %(problem)s", problem=" ".join(p for p in (exc.context, exc.problem) if p)),
            mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise fail(_("not valid YAML: %(problem)s", problem=str(exc))) from None
    if not docs:
        raise fail(_("the file holds no entry"))
    return docs


def _document(loader: yaml.SafeLoader, node: yaml.Node, source: str) -> SourceDoc:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise SpecInvalid(
            [Problem((), _("an entry is a mapping of fields (name, title, items, ...)"), source=source, line=line)]
        )
    lines: dict[Path, int] = {(): line}
    duplicates: list[Problem] = []
    _walk(node, (), lines, duplicates)
    if duplicates:
        raise SpecInvalid([Problem(p.path, p.message, source=source, line=p.line) for p in duplicates])
    return SourceDoc(data=loader.construct_document(node), source=source, line=line, lines=lines)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[Problem]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            here = path + (key,)
            if key in seen:
                duplicates.append(
                    Problem(here, _("the key %(key)s appears twice", key=key), line=key_node.start_mark.line + 1)
                )
            seen.add(key)
            lines[here] = key_node.start_mark.line + 1
            _walk(value_node, here, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            lines[path + (i,)] = child.start_mark.line + 1
            _walk(child, path + (i,), lines, duplicates)


def dump(doc: dict[str, Any]) -> str:
    """An entry as YAML that ``load`` (and ``yiwang catalog apply``) reads back."""
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)
