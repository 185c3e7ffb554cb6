"""Rule names, the ``Check`` every rule yields, and the declared-expression checks.

Every check yields a boolean "fails" array over the batch plus a reason (a constant or a
per-row code). The kind and cross-field checks are computed in ``fastpath`` (kernels); the
declared range / length / pattern checks are Polars expressions (``expression_checks``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from .normalise import TYPED_SUFFIX
from .rules import ColumnRule

# Stable rule names (the UI translates them; quarantine reports them).
RULE_NAMES = (
    "required",
    "type",
    "date",
    "range",
    "length",
    "pattern",
    "enum",
    "resident_id",
    "uscc",
    "phone",
    "mobile",
    "landline",
    "gender",
    "division_code",
    "ethnic_group",
    "person_name",
    "email",
    "postal_code",
    "unique",
    "id_birthdate_match",
    "id_gender_match",
    "not_after",
    "not_before",
    "required_with",
)

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_NAME = r"^[\p{Han}\p{Latin}·][\p{Han}\p{Latin}· ]{0,39}$"


@dataclass
class Check:
    """One rule applied to one column: where it fails and why."""

    rule: str
    column: str
    fails: np.ndarray
    reason: str | None = None
    reason_codes: np.ndarray | None = None  # int index into reason_names, per row
    reason_names: tuple[str, ...] = ()

    def reasons_at(self, rows: np.ndarray) -> np.ndarray:
        if self.reason_codes is not None:
            return np.array(self.reason_names, dtype=object)[self.reason_codes[rows]]
        return np.full(len(rows), self.reason or self.rule, dtype=object)


def expression_checks(rule: ColumnRule) -> list[tuple[str, pl.Expr]]:
    """The declared range, length and pattern checks as Polars expressions over the normalised
    column ``rule.name`` and its typed form ``<name>\x1ftyped``: their one implementation
    (Polars' regex engine runs a declared pattern; no kernel duplicates these)."""
    col = pl.col(rule.name)
    present = ~(col.is_null() | (col.str.len_bytes() == 0))
    typed = pl.col(rule.name + TYPED_SUFFIX)
    out: list[tuple[str, pl.Expr]] = []
    if rule.min is not None or rule.max is not None:
        value = typed if rule.dtype != "string" else col.str.len_chars()
        low, high = _bound(rule, rule.min), _bound(rule, rule.max)
        bad = pl.lit(False)
        if low is not None:
            bad = bad | (value < low)
        if high is not None:
            bad = bad | (value > high)
        out.append(("range", present & value.is_not_null() & bad.fill_null(False)))
    if rule.min_length is not None or rule.max_length is not None:
        length = col.str.len_chars()
        bad = pl.lit(False)
        if rule.min_length is not None:
            bad = bad | (length < rule.min_length)
        if rule.max_length is not None:
            bad = bad | (length > rule.max_length)
        out.append(("length", present & bad))
    if rule.pattern:
        out.append(("pattern", present & ~col.str.contains(f"^(?:{rule.pattern})$")))
    return out


def _bound(rule: ColumnRule, value: float | str | None):
    if value is None:
        return None
    if rule.dtype == "date":
        return pl.lit(dt.date.fromisoformat(str(value)))
    return pl.lit(value)
