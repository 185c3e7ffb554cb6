"""Problems found in an entry: where (file, line, field path) and which rule, in words.

Checks collect ``Problem``s instead of stopping at the first, so an officer or a file author
sees every problem of a stage at once: first the fields one by one, then (once the fields are
valid) the rules across fields, the governance rules and the database checks. ``SpecInvalid``
carries them to the web layer (422 with a ``problems`` list) and to the command line (one
``file:line: field: message`` per problem). Pydantic's errors are reworded here so the
messages are translated too.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yiwang.core.errors import Invalid
from yiwang.core.i18n import _

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    source: str | None = None  # file name, when the entry came from a file
    line: int | None = None  # 1-based line in that file, when YAML gives it
    label: str | None = None  # e.g. the item's name, to make "items[3]" readable
    label_depth: int = 0  # the label names path[:label_depth]

    @property
    def field(self) -> str:
        return format_path(self.path)

    def where(self) -> str:
        spot = ":".join(str(p) for p in (self.source, self.line) if p is not None)
        field = self.field
        if self.label:
            head, rest = format_path(self.path[: self.label_depth]), format_path(self.path[self.label_depth :])
            field = f"{head} ({self.label})" + (
                "" if rest == _("entry") else rest if rest.startswith("[") else f".{rest}"
            )
        return f"{spot}: {field}" if spot else field

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "message": self.message,
            "source": self.source,
            "line": self.line,
            "label": self.label,
        }


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or _("entry")


class SpecInvalid(Invalid):
    """One or more problems in an entry (422); the first names the ``field``."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = len(problems) - 1
        message = str(first) if not more else _("%(first)s (and %(n)s more problems)", first=str(first), n=more)
        super().__init__(message, field=first.field, problems=[p.as_dict() for p in problems])
        self.problems = problems

    def located(self, source: str | None, lines: dict[Path, int], labels: dict[Path, str]) -> SpecInvalid:
        """The same problems with file, line and item labels filled in."""
        return SpecInvalid([locate(p, source, lines, labels) for p in self.problems])


def locate(problem: Problem, source: str | None, lines: dict[Path, int], labels: dict[Path, str]) -> Problem:
    line = None
    for n in range(len(problem.path), -1, -1):
        if problem.path[:n] in lines:
            line = lines[problem.path[:n]]
            break
    depth = next((n for n in range(len(problem.path), 0, -1) if problem.path[:n] in labels), 0)
    return replace(
        problem,
        source=source,
        line=line if line is not None else problem.line,
        label=labels[problem.path[:depth]] if depth else None,
        label_depth=depth,
    )


# Pydantic errors, reworded ----------------------------------------------------------


def from_validation_error(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: Path = ()
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "union_tag_invalid":  # the wrong value is the discriminator's: point at it
            loc += (str((err.get("ctx") or {}).get("discriminator", "")).strip("'\""),)
        problems.append(Problem(prefix + loc, _describe(err, model, loc)))
    return problems


def _describe(err: ErrorDetails, model: type[BaseModel] | None, loc: Path) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    got = err.get("input")
    if kind == "missing":
        return _("is required")
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1]) if model else []
        return (
            _("unknown field; allowed fields: %(allowed)s", allowed=", ".join(allowed))
            if allowed
            else _("unknown field")
        )
    if kind == "union_tag_invalid":
        return _("must be one of %(expected)s, not %(got)r", expected=ctx.get("expected_tags", ""), got=ctx.get("tag"))
    if kind == "literal_error":
        return _("must be one of %(expected)s, not %(got)r", expected=ctx.get("expected", ""), got=got)
    if kind == "string_too_short":
        return _("must have at least %(n)s characters", n=ctx.get("min_length"))
    if kind == "string_too_long":
        return _("must have at most %(n)s characters", n=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return _("%(got)r does not have the required form %(pattern)s", got=got, pattern=ctx.get("pattern"))
    if kind == "too_short":
        return _("needs at least %(n)s entries", n=ctx.get("min_length"))
    if kind == "too_long":
        return _("takes at most %(n)s entries", n=ctx.get("max_length"))
    if kind in (
        "string_type",
        "bool_type",
        "bool_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "int_type",
        "int_parsing",
        "float_type",
    ):
        return _("has the wrong type (%(detail)s)", detail=err.get("msg", kind))
    return err.get("msg", kind)


def _allowed_fields(model: type[BaseModel], loc: Path) -> list[str]:
    """The field names a model allows at ``loc`` (walking nested models and lists)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
            members = [a for a in typing.get_args(current) if a is not type(None)]
            if typing.get_origin(current) is not list and len(members) == 1:
                current = members[0]
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
