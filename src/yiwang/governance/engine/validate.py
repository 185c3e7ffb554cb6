"""Column and cross-field checks, each under a stable rule name.

Every check yields a boolean "fails" array over the batch plus a reason (a constant or a
per-row code). Polars expressions for all columns are evaluated in one ``select`` so Polars
runs them in parallel; the two 18-character codes are checked with numpy (see ``idcodes``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from . import idcodes
from .normalise import FEMALE, MALE, TYPED_SUFFIX
from .refdata import ethnic_groups, region_codes
from .rules import ColumnRule, CrossFieldRule, ResourceRules

# Stable rule names (the UI translates them; quarantine reports them).
RULE_NAMES = (
    "required", "type", "date", "range", "length", "pattern", "enum", "resident_id", "uscc", "phone",
    "mobile", "landline", "gender", "division_code", "ethnic_group", "person_name", "email",
    "postal_code", "unique", "id_birthdate_match", "id_gender_match", "not_after", "not_before",
    "required_with",
)

_MOBILE = r"^1[3-9]\d{9}$"
_LANDLINE = r"^0\d{9,11}$"  # area code (2-3 digits after 0) + 7-8 digit number
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_NAME = r"^[\p{Han}\p{Latin}·][\p{Han}\p{Latin}· ]{0,39}$"
_DIVISION_FORMAT = r"^\d{6}(?:\d{3}(?:\d{3})?)?$"


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


@dataclass
class Derived:
    """Facts extracted while checking, reused by cross-field rules (birth dates, sex digits)."""

    resident_ids: dict[str, idcodes.ResidentIds] = field(default_factory=dict)


class Validator:
    """Builds and runs the checks of one resource's rules on normalised batches."""

    def __init__(self, rules: ResourceRules, *, today: dt.date | None = None, id_regions: np.ndarray | None = None):
        self.rules = rules
        self.today = today or dt.date.today()
        self.id_regions = region_codes() if id_regions is None else id_regions
        for cross in rules.cross_field:
            if cross.rule in ("id_birthdate_match", "id_gender_match") and rules.column(cross.columns[0]).kind != "resident_id":
                raise ValueError(f"{cross.rule}: the first column must be a resident_id column")

    def run(self, norm: pl.DataFrame) -> tuple[list[Check], np.ndarray, Derived]:
        """All column and cross-field checks; returns checks, the per-row "empty" matrix and facts."""
        exprs: dict[str, pl.Expr] = {}
        plan: list[tuple[str, str, str]] = []  # (rule, column, expr key)
        for rule in self.rules.columns:
            for name, expr in self._column_exprs(rule):
                key = f"{name}\x00{rule.name}"
                exprs[key] = expr
                plan.append((name, rule.name, key))
        for rule in self.rules.columns:
            exprs[f"empty\x00{rule.name}"] = _empty(rule.name)
        evaluated = norm.select([e.alias(k) for k, e in exprs.items()])
        empty = {r.name: evaluated[f"empty\x00{r.name}"].to_numpy() for r in self.rules.columns}
        checks = [Check(rule=name, column=col, fails=evaluated[key].to_numpy()) for name, col, key in plan]
        derived = Derived()
        for rule in self.rules.columns:
            if rule.kind == "resident_id":
                info = idcodes.inspect_resident_ids(norm[rule.name].to_arrow(), region_codes=self.id_regions, today=self.today)
                derived.resident_ids[rule.name] = info
                checks.append(Check("resident_id", rule.name, info.reason != 0, reason_codes=info.reason,
                                    reason_names=idcodes.RID_REASONS))
            elif rule.kind == "uscc":
                codes = idcodes.inspect_uscc(norm[rule.name].to_arrow())
                checks.append(Check("uscc", rule.name, codes != 0, reason_codes=codes, reason_names=idcodes.USCC_REASONS))
        checks.extend(self._cross_checks(norm, derived, empty, checks))
        return checks, empty, derived

    def _column_exprs(self, rule: ColumnRule) -> list[tuple[str, pl.Expr]]:
        col = pl.col(rule.name)
        present = ~_empty(rule.name)
        typed = pl.col(rule.name + TYPED_SUFFIX)
        out: list[tuple[str, pl.Expr]] = []
        if rule.required:
            out.append(("required", ~present))
        if rule.dtype == "date":
            out.append(("date", present & typed.is_null()))
        elif rule.dtype in ("int", "decimal", "bool"):
            out.append(("type", present & typed.is_null()))
        kind_expr = self._kind_expr(rule, col)
        if kind_expr is not None:
            out.append((kind_expr[0], present & kind_expr[1]))
        if rule.enum and rule.kind != "enum":
            out.append(("enum", present & ~col.is_in(rule.enum)))
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

    def _kind_expr(self, rule: ColumnRule, col: pl.Expr) -> tuple[str, pl.Expr] | None:
        kind = rule.kind
        if kind == "mobile":
            return "mobile", ~col.str.contains(_MOBILE)
        if kind == "landline":
            return "landline", ~col.str.contains(_LANDLINE)
        if kind == "phone":
            return "phone", ~(col.str.contains(_MOBILE) | col.str.contains(_LANDLINE))
        if kind == "gender":
            return "gender", ~col.is_in([MALE, FEMALE])
        if kind == "enum":
            return "enum", ~col.is_in(rule.enum or [])
        if kind == "ethnic_group":
            return "ethnic_group", ~col.is_in(ethnic_groups())
        if kind == "person_name":
            return "person_name", ~col.str.contains(_NAME)
        if kind == "email":
            return "email", ~col.str.contains(_EMAIL)
        if kind == "postal_code":
            return "postal_code", ~col.str.contains(r"^\d{6}$")
        if kind == "division_code":
            bad = ~col.str.contains(_DIVISION_FORMAT)
            if rule.code_levels:
                bad = bad | ~col.str.len_chars().is_in(rule.code_levels)
            if rule.allowed_codes is not None:
                bad = bad | ~col.is_in(rule.allowed_codes)
            return "division_code", bad
        return None

    def _cross_checks(self, norm: pl.DataFrame, derived: Derived, empty: dict[str, np.ndarray],
                      checks: list[Check]) -> list[Check]:
        out = []
        failing_cells: dict[str, np.ndarray] = {}
        for c in checks:
            failing_cells[c.column] = failing_cells.get(c.column, np.zeros(len(c.fails), bool)) | c.fails
        n = norm.height
        for cross in self.rules.cross_field:
            a, b = cross.columns
            usable = ~empty[a] & ~empty[b] & ~failing_cells.get(a, np.zeros(n, bool)) & ~failing_cells.get(b, np.zeros(n, bool))
            fails = self._cross_fails(cross, norm, derived, a, b)
            reported = b if cross.rule in ("id_birthdate_match", "id_gender_match", "required_with") else a
            if cross.rule == "required_with":
                fails = ~empty[a] & empty[b]
                usable = np.ones(n, bool)
            out.append(Check(cross.rule, reported, fails & usable))
        return out

    def _cross_fails(self, cross: CrossFieldRule, norm: pl.DataFrame, derived: Derived, a: str, b: str) -> np.ndarray:
        if cross.rule == "id_birthdate_match":
            birth = norm[b + TYPED_SUFFIX] if b + TYPED_SUFFIX in norm.columns else norm[b].str.strptime(pl.Date, strict=False)
            days = birth.cast(pl.Int32).fill_null(-(10**6)).to_numpy()
            return days != derived.resident_ids[a].birth_days
        if cross.rule == "id_gender_match":
            male = derived.resident_ids[a].male
            gender = norm[b].to_numpy()
            return np.where(male, gender != MALE, gender != FEMALE)
        if cross.rule in ("not_after", "not_before"):
            left = _typed(norm, a)
            right = _typed(norm, b)
            bad = (left > right) if cross.rule == "not_after" else (left < right)
            return bad.fill_null(False).to_numpy()
        return np.zeros(norm.height, bool)


def _typed(norm: pl.DataFrame, name: str) -> pl.Series:
    return norm[name + TYPED_SUFFIX] if name + TYPED_SUFFIX in norm.columns else norm[name]


def _empty(name: str) -> pl.Expr:
    col = pl.col(name)
    return (col.is_null() | (col.str.len_bytes() == 0)).alias(f"empty\x00{name}")


def _bound(rule: ColumnRule, value: float | str | None):
    if value is None:
        return None
    if rule.dtype == "date":
        return pl.lit(dt.date.fromisoformat(str(value)))
    return pl.lit(value)
