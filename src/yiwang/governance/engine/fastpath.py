"""The rules of the engine: normalise, type, check and mask, with kernels over Arrow buffers.

Each rule is implemented here once. Per batch and column: one kernel pass finds the rows
normalisation could change (usually a few: full-width digits, "+86 ", "M"), a second kernel
rewrites just those; checks are kernels (resident IDs, phone numbers, names, division codes, ISO
dates), Arrow's hash kernels (set membership) or Polars expressions (e-mail, declared range /
length / pattern); the share zone's masks are kernels over the accepted rows. Where a kernel
cannot decide a row exactly (characters that need Unicode tables, a date spelling other than
``YYYY-MM-DD``, a null or empty value for a text mask) the rule's Polars definition computes
those rows only and they are spliced in. ``KIND_CHECKS`` and ``CROSS_CHECKS`` list every kind
and cross-field rule; the engine README says how to add one.

Everything runs on whole columns; nothing loops over rows in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import get_args

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from . import idcodes
from .kernels import masks as mk
from .kernels import sm3
from .kernels import text as tk
from .kernels.arrow import Strings
from .kernels.strings import gather, large_string, splice
from .kernels.unique import CodeSet
from .masking import (
    _LEVEL_MARKERS,
    COMPOUND_SURNAMES,
    generalise_date,
    keep_ends,
    surname,
)
from .normalise import (
    _ID_LIKE,
    FEMALE,
    MALE,
    TYPED_SUFFIX,
    normalised_text,
    parse_date_series,
    typed_series,
)
from .refdata import ethnic_groups
from .rules import (
    CROSS_FIELD_RULES,
    AddressMask,
    AgeBandMask,
    ColumnRule,
    DateMask,
    EncryptMask,
    KeepEndsMask,
    KeepMask,
    Kind,
    PseudonymMask,
    ResourceRules,
    SuppressMask,
    SurnameMask,
)
from .smcrypto import pseudonyms, sm4_encrypt_column
from .validate import _EMAIL, _NAME, Check, expression_checks

_EPOCH = dt.date(1970, 1, 1)
_COMPAT = pl.CompatLevel.oldest()
# masking._county: the head of an address ends at a digit, one of 路街巷道镇乡村, or 社区; it is cut
# after its last 县区市旗
_COUNTY_STOPS = np.array([int.from_bytes(c.encode(), "big") for c in "路街巷道镇乡村"], np.int64)
_COUNTY_SUFFIXES = np.array([int.from_bytes(c.encode(), "big") for c in "县区市旗"], np.int64)
_PATTERNS = {"mobile": tk.P_MOBILE, "landline": tk.P_LANDLINE, "phone": tk.P_PHONE, "postal_code": tk.P_POSTAL}


def _u8(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _numpy_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


@dataclass
class Column:
    """One rule column of a batch: normalised text (Arrow + numpy views) and its typed form."""

    rule: ColumnRule
    text: pa.Array
    view: Strings
    empty: np.ndarray
    days: np.ndarray | None = None  # date columns: int32 days since epoch
    days_valid: np.ndarray | None = None
    typed: pl.Series | None = None  # int / decimal / bool columns (``normalise.typed_series``)
    member: np.ndarray | None = None  # ethnic_group: the value is a known group
    _series: pl.Series | None = None
    _genders: np.ndarray | None = None

    def date_days(self) -> tuple[np.ndarray, np.ndarray]:
        """``days`` and ``days_valid`` of a date column (``FastPath.column`` sets both together)."""
        assert self.days is not None and self.days_valid is not None, f"{self.rule.name} is not a date column"
        return self.days, self.days_valid

    def genders(self) -> np.ndarray:
        """1 男, 2 女, 0 other (computed once, used by the gender check and id_gender_match)."""
        if self._genders is None:
            v = self.view
            self._genders = tk.genders(v.offsets, v.data, v.valid)
        return self._genders

    def series(self) -> pl.Series:
        """The normalised text as a Polars Series (for the rules written as Polars expressions)."""
        if self._series is None:
            self._series = pl.Series(self.rule.name, self.text)
        return self._series


@dataclass
class CleanRows:
    """The accepted rows of a batch, for the share zone's masks (computed on another thread)."""

    columns: dict[str, Column]
    rows: np.ndarray  # accepted row indices (sorted)
    lines: pa.Array
    _frame: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    def frame(self) -> pl.DataFrame:
        """``BatchResult.clean_frame``: normalised strings, ``<name>\\x1ftyped`` columns, ``_line``."""
        if self._frame is None:
            take = pa.array(self.rows, pa.int64())
            out = []
            for name, col in self.columns.items():
                out.append(pl.Series(name, col.text.take(take)))
                typed = _typed_series(col)
                if typed is not None:
                    out.append(typed.gather(self.rows).alias(name + TYPED_SUFFIX))
            out.append(pl.Series("_line", self.lines))
            self._frame = pl.DataFrame(out)
        return self._frame


def _typed_series(col: Column) -> pl.Series | None:
    if col.days is not None:
        days = pa.Array.from_buffers(pa.date32(), len(col.days), [_validity(col.days_valid), pa.py_buffer(col.days)])
        return pl.Series(col.rule.name, days)
    return col.typed


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


class FastPath:
    """Per-load state of the compiled path for one resource's rules."""

    def __init__(self, rules: ResourceRules, *, today: dt.date, region_codes: np.ndarray) -> None:
        self.rules = rules
        self.today = today
        self.region_ok = idcodes.region_bitmap(region_codes)
        self.today_days = (today - _EPOCH).days
        self.ethnic = _u8(ethnic_groups())
        self.codesets: dict[int, CodeSet] = {}
        check_supported(rules)
        self._exprs: dict[str, list[tuple[str, pl.Expr]]] = {}

    # -- normalise -------------------------------------------------------------------------
    def column(self, rule: ColumnRule, raw: pa.Array) -> Column:
        view = Strings(raw)
        text = view.array
        needs = tk.needs_normalising(view.offsets, view.data, view.valid, tk.BYTE_CLASS, *_needs_masks(rule))
        known = None
        if rule.kind == "ethnic_group":
            known = _numpy_bool(pc.is_in(text, value_set=self.ethnic))
            needs |= ~known & (view.valid if view.has_nulls else True)
        rows = np.flatnonzero(needs)
        if rows.size:
            fixed = self._normalised(rule, view, rows)
            text = splice(view.offsets, view.data, view.valid if view.has_nulls else None, rows, fixed)
            view = Strings(text)
            if known is not None:
                known[rows] = _numpy_bool(pc.is_in(fixed, value_set=self.ethnic))
        lengths = np.diff(view.offsets)
        empty = lengths == 0
        if view.has_nulls:
            empty |= ~view.valid
        col = Column(rule, text, view, empty, member=known)
        if rule.dtype == "date":
            days, decided = tk.iso_dates(view.offsets, view.data, view.valid)
            valid = decided.copy()
            rest = np.flatnonzero(~decided & ~empty)
            if rest.size:
                parsed = parse_date_series(pl.Series(rule.name, text.take(pa.array(rest, pa.int64()))))
                got = parsed.is_not_null().to_numpy()
                days[rest[got]] = parsed.drop_nulls().cast(pl.Int32).to_numpy()
                valid[rest[got]] = True
            col.days, col.days_valid = days, valid
        elif rule.dtype in ("int", "decimal", "bool"):
            col.typed = typed_series(col.series(), rule)
        return col

    def _normalised(self, rule: ColumnRule, view: Strings, rows: np.ndarray) -> pa.Array:
        """``normalised_text`` of rows ``rows``: the kernel, and Polars for the rows it leaves."""
        offsets, data, undecided = tk.normalise_rows(view.offsets, view.data, rows, _norm_mode(rule), *_GENDER_TABLES)
        at = np.flatnonzero(undecided)
        if at.size:
            subset = pl.Series(rule.name, view.array.take(pa.array(rows[at], pa.int64())))
            fixed = splice(offsets, data, None, at, normalised_text(subset, rule).to_arrow(compat_level=_COMPAT))
        else:
            fixed = large_string(offsets, data)
        if rule.kind == "ethnic_group":  # normalise._ethnic_suffix, with Arrow's hash kernels
            suffixed = pc.binary_join_element_wise(
                fixed, pa.scalar("族", pa.large_string()), pa.scalar("", pa.large_string())
            )
            use = pc.and_(pc.invert(pc.is_in(fixed, value_set=self.ethnic)), pc.is_in(suffixed, value_set=self.ethnic))
            fixed = pc.if_else(use, suffixed, fixed)
        return fixed

    # -- validate --------------------------------------------------------------------------
    def checks(self, cols: dict[str, Column]) -> tuple[list[Check], dict[str, idcodes.ResidentIds]]:
        """Every check of the rules, in a fixed order (the order decides a quarantined row's first
        failure): per column required, date / type, its kind's check, enum, range, length,
        pattern; then the 18-character codes; then the cross-field rules."""
        checks: list[Check] = []
        for rule in self.rules.columns:
            col = cols[rule.name]
            present = ~col.empty
            if rule.required:
                checks.append(Check("required", rule.name, col.empty.copy()))
            if rule.dtype == "date":
                checks.append(Check("date", rule.name, present & ~col.date_days()[1]))
            elif rule.dtype in ("int", "decimal", "bool"):
                assert col.typed is not None  # FastPath.column types int / decimal / bool columns
                checks.append(Check("type", rule.name, present & col.typed.is_null().to_numpy()))
            kind_check = KIND_CHECKS[rule.kind]
            if kind_check is not None:
                checks.append(Check(rule.kind, rule.name, present & kind_check(self, rule, col)))
            if rule.enum and rule.kind != "enum":
                checks.append(
                    Check("enum", rule.name, present & ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.enum))))
                )
            for name, expr in self._expressions(rule):
                checks.append(Check(name, rule.name, self._evaluate(expr, cols, rule)))
        derived: dict[str, idcodes.ResidentIds] = {}
        for rule in self.rules.columns:
            col = cols[rule.name]
            if rule.kind == "resident_id":
                ids = derived[rule.name] = idcodes.resident_ids(col.view, self.region_ok, self.today_days)
                checks.append(
                    Check(
                        "resident_id",
                        rule.name,
                        ids.reason != 0,
                        reason_codes=ids.reason,
                        reason_names=idcodes.RID_REASONS,
                    )
                )
            elif rule.kind == "uscc":
                codes = idcodes.inspect_uscc(col.text)
                checks.append(
                    Check("uscc", rule.name, codes != 0, reason_codes=codes, reason_names=idcodes.USCC_REASONS)
                )
        checks.extend(self._cross_checks(cols, derived, checks))
        return checks, derived

    # One function per kind that has a check of its own: (FastPath, rule, column) -> "fails" per
    # row (emptiness is ``required``'s business; the caller masks empty rows out).
    def _pattern(self, rule: ColumnRule, col: Column) -> np.ndarray:
        """mobile ``1[3-9]`` + 9 digits, landline ``0`` + 9-11 digits, phone either, postal code 6
        digits. Digits are ASCII 0-9 (full-width ones were normalised): the kernel's "non-ASCII"
        verdict (2) fails too."""
        v = col.view
        return tk.match_pattern(v.offsets, v.data, v.valid, _PATTERNS[rule.kind]) != 0

    def _gender(self, rule: ColumnRule, col: Column) -> np.ndarray:
        return col.genders() == 0

    def _enum(self, rule: ColumnRule, col: Column) -> np.ndarray:
        return ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.enum or [])))

    def _ethnic_group(self, rule: ColumnRule, col: Column) -> np.ndarray:
        assert col.member is not None  # FastPath.column looks ethnic_group values up
        return ~col.member

    def _person_name(self, rule: ColumnRule, col: Column) -> np.ndarray:
        v = col.view
        return self._resolve(tk.person_names(v.offsets, v.data, v.valid), col, [_NAME])

    def _email(self, rule: ColumnRule, col: Column) -> np.ndarray:
        return ~_numpy_bool(pc.fill_null(pl.Series(col.text).str.contains(_EMAIL).to_arrow(), False))

    def _division_code(self, rule: ColumnRule, col: Column) -> np.ndarray:
        v = col.view
        bad = tk.match_pattern(v.offsets, v.data, v.valid, tk.P_DIVISION) != 0  # 6, 9 or 12 ASCII digits
        if rule.code_levels:
            bad = bad | ~np.isin(tk.char_lengths(v.offsets, v.data), rule.code_levels)
        if rule.allowed_codes is not None:
            bad = bad | ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.allowed_codes)))
        return bad

    @staticmethod
    def _resolve(verdict: np.ndarray, col: Column, patterns: list[str]) -> np.ndarray:
        """Kernel verdicts (0 match, 1 no match, 2 undetermined) → "fails"; undetermined rows
        (characters outside the kernel's tables) are matched with the rule's regex (Unicode
        scripts: person names)."""
        bad = verdict == 1
        rest = np.flatnonzero(verdict == 2)
        if rest.size:
            values = pl.Series(col.text.take(pa.array(rest, pa.int64())))
            matched = np.zeros(rest.size, np.bool_)
            for pattern in patterns:
                matched |= values.str.contains(pattern).fill_null(False).to_numpy()
            bad[rest] = ~matched
        return bad

    def _expressions(self, rule: ColumnRule) -> list[tuple[str, pl.Expr]]:
        got = self._exprs.get(rule.name)
        if got is None:
            got = self._exprs[rule.name] = expression_checks(rule)
        return got

    def _evaluate(self, expr: pl.Expr, cols: dict[str, Column], rule: ColumnRule) -> np.ndarray:
        frame = [cols[rule.name].series()]
        typed = _typed_series(cols[rule.name])
        if typed is not None:
            frame.append(typed.alias(rule.name + TYPED_SUFFIX))
        return pl.DataFrame(frame).select(expr).to_series().fill_null(False).to_numpy()

    def _cross_checks(
        self, cols: dict[str, Column], derived: dict[str, idcodes.ResidentIds], checks: list[Check]
    ) -> list[Check]:
        out = []
        failing_cells: dict[str, np.ndarray] = {}
        for c in checks:
            failing_cells[c.column] = failing_cells.get(c.column, np.zeros(len(c.fails), bool)) | c.fails
        n = len(next(iter(cols.values())).empty) if cols else 0
        none = np.zeros(n, bool)
        for cross in self.rules.cross_field:
            a, b = cross.columns
            check, reported_col = CROSS_CHECKS[cross.rule]
            if cross.rule == "required_with":  # applies whatever else fails
                usable = np.ones(n, bool)
            else:  # both cells present and valid on their own
                usable = ~cols[a].empty & ~cols[b].empty & ~failing_cells.get(a, none) & ~failing_cells.get(b, none)
            fails = check(cols[a], cols[b], derived.get(a))
            out.append(Check(cross.rule, cross.columns[reported_col], fails & usable))
        return out

    # -- uniqueness ------------------------------------------------------------------------
    def duplicates(self, index: int, codes: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        codeset = self.codesets.setdefault(index, CodeSet())
        return codeset.duplicates(codes, eligible)

    # -- clean zone ------------------------------------------------------------------------
    def clean_batch(self, cols: dict[str, Column], rows: np.ndarray, lines: pa.Array) -> pa.RecordBatch:
        arrays, names = [], []
        for rule in self.rules.columns:
            col = cols[rule.name]
            names.append(rule.name)
            if col.days is not None:
                arrays.append(_dates(*col.date_days(), rows))
            elif col.typed is not None:
                arrays.append(col.typed.gather(rows).to_arrow(compat_level=_COMPAT))
            else:
                arrays.append(gather(col.view, rows))
        return pa.RecordBatch.from_arrays([*arrays, lines], names=[*names, "_line"])


def _typed_or_text(col: Column) -> pl.Series:
    typed = _typed_series(col)
    return typed if typed is not None else col.series()


# Cross-field rules: rule name -> (function of (column a, column b, a's resident IDs or None) ->
# "fails" per row, index of the column the failure is reported on).
def _required_with(a: Column, b: Column, ids) -> np.ndarray:
    return ~a.empty & b.empty


def _id_birthdate_match(a: Column, b: Column, ids: idcodes.ResidentIds) -> np.ndarray:
    if b.days is not None:
        b_days, b_valid = b.date_days()
        days = np.where(b_valid, b_days, -(10**6))
    else:
        days = b.series().str.strptime(pl.Date, strict=False).cast(pl.Int32).fill_null(-(10**6)).to_numpy()
    return days != ids.birth_days


def _id_gender_match(a: Column, b: Column, ids: idcodes.ResidentIds) -> np.ndarray:
    codes = b.genders()
    return np.where(ids.male, codes != 1, codes != 2)


def _not_after(a: Column, b: Column, ids) -> np.ndarray:
    return (_typed_or_text(a) > _typed_or_text(b)).fill_null(False).to_numpy()


def _not_before(a: Column, b: Column, ids) -> np.ndarray:
    return (_typed_or_text(a) < _typed_or_text(b)).fill_null(False).to_numpy()


CROSS_CHECKS = {
    "required_with": (_required_with, 1),
    "id_birthdate_match": (_id_birthdate_match, 1),
    "id_gender_match": (_id_gender_match, 1),
    "not_after": (_not_after, 0),
    "not_before": (_not_before, 0),
}

# Column kinds -> their check (None: a kind with no check of its own — free text, numbers and
# addresses are checked by dtype, range, length and pattern only; resident IDs and credit codes
# by ``idcodes`` after the column checks). Every ``rules.Kind`` must be listed: a kind missing
# here is refused when a Governor is built, never skipped.
KIND_CHECKS = {
    "text": None,
    "number": None,
    "date": None,
    "address": None,
    "resident_id": None,
    "uscc": None,
    "mobile": FastPath._pattern,
    "landline": FastPath._pattern,
    "phone": FastPath._pattern,
    "postal_code": FastPath._pattern,
    "gender": FastPath._gender,
    "enum": FastPath._enum,
    "ethnic_group": FastPath._ethnic_group,
    "person_name": FastPath._person_name,
    "email": FastPath._email,
    "division_code": FastPath._division_code,
}
if set(KIND_CHECKS) != set(get_args(Kind)):
    raise RuntimeError(f"fastpath.KIND_CHECKS must list every rules.Kind: {set(get_args(Kind)) ^ set(KIND_CHECKS)}")
if set(CROSS_CHECKS) != CROSS_FIELD_RULES:
    raise RuntimeError("fastpath.CROSS_CHECKS must list every cross-field rule")


def check_supported(rules: ResourceRules) -> None:
    """Refuse, when a load is set up, rules the engine has no implementation for."""
    for rule in rules.columns:
        if rule.kind not in KIND_CHECKS:
            raise ValueError(f"column {rule.name!r}: kind {rule.kind!r} has no check (fastpath.KIND_CHECKS)")
    for cross in rules.cross_field:
        if cross.rule not in CROSS_CHECKS:
            raise ValueError(f"cross-field rule {cross.rule!r} has no implementation (fastpath.CROSS_CHECKS)")
        if (
            cross.rule in ("id_birthdate_match", "id_gender_match")
            and rules.column(cross.columns[0]).kind != "resident_id"
        ):
            raise ValueError(f"{cross.rule}: the first column must be a resident_id column")


def _dates(days: np.ndarray, valid: np.ndarray, rows: np.ndarray) -> pa.Array:
    picked = np.ascontiguousarray(days[rows])
    ok = valid[rows]
    return pa.Array.from_buffers(
        pa.date32(), len(rows), [_validity(ok), pa.py_buffer(picked)], null_count=int(len(rows) - np.count_nonzero(ok))
    )


def _norm_mode(rule: ColumnRule) -> int:
    kind = rule.kind
    if kind in ("resident_id", "uscc"):
        mode = tk.N_ID_UPPER
    elif kind in ("phone", "mobile", "landline"):
        mode = tk.N_PHONE
    elif kind in _ID_LIKE:
        mode = tk.N_IDLIKE
    elif kind == "gender":
        mode = tk.N_GENDER
    elif kind == "email":
        mode = tk.N_EMAIL
    elif kind == "person_name":
        mode = tk.N_NAME
    elif kind == "address":
        mode = tk.N_ADDRESS
    else:
        mode = tk.N_TEXT
    if rule.dtype in ("int", "decimal"):
        mode |= tk.N_THOUSANDS
    return mode


def _gender_tables() -> tuple[np.ndarray, ...]:
    from .normalise import _GENDER

    targets = [MALE, FEMALE]
    keys = list(_GENDER)
    key_cps = np.array([ord(c) for k in keys for c in k], np.int64)
    key_off = np.cumsum([0] + [len(k) for k in keys]).astype(np.int64)
    key_target = np.array([targets.index(_GENDER[k]) for k in keys], np.int64)
    target_cps = np.array([ord(c) for t in targets for c in t], np.int64)
    target_off = np.cumsum([0] + [len(t) for t in targets]).astype(np.int64)
    return key_cps, key_off, key_target, target_cps, target_off


_GENDER_TABLES = _gender_tables()


def _needs_masks(rule: ColumnRule) -> tuple[int, int]:
    """(byte classes that flag a row, extra kind tests) for ``needs_normalising``."""
    classes, tests = tk.B_WIDE, 0
    kind = rule.kind
    if kind in _ID_LIKE:
        classes |= tk.B_SPACE | tk.B_SEP
    if kind in ("resident_id", "uscc"):
        classes |= tk.B_LOWER
    elif kind in ("phone", "mobile", "landline"):
        tests |= tk.K_PHONE
    elif kind == "gender":
        tests |= tk.K_GENDER
    elif kind == "email":
        classes |= tk.B_UPPER | tk.B_HIGH
    elif kind in ("person_name", "address"):
        classes |= tk.B_SPACE
    if rule.dtype in ("int", "decimal"):
        classes |= tk.B_COMMA | tk.B_SPACE
    return classes, tests


# -- share zone -------------------------------------------------------------------------------
class FastMasker:
    """The share zone from ``CleanRows``: the ``Masker``'s plan, computed by kernels."""

    def __init__(self, masker) -> None:
        self.masker = masker
        self.today = masker.today
        self._keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._stars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._compounds = np.array(sorted((ord(s[0]) << 21) | ord(s[1]) for s in COMPOUND_SURNAMES), np.int64)
        # markers -> (blob, offsets, lead, second, firsts or None); see ``_markers``
        self._marker_tables: dict[
            tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
        ] = {}
        self._hits: np.ndarray | None = None  # scratch for the marker scan (masks run on one thread)

    def apply(self, clean: CleanRows) -> pa.RecordBatch:
        arrays, names = [], []
        for out, src, policy in self.masker.plan:
            if isinstance(policy, SuppressMask):
                if policy.drop:
                    continue
                arrays.append(pa.nulls(clean.num_rows, pa.large_string()))
            else:
                arrays.append(self._column(clean, clean.columns[src], policy))
            names.append(out)
        return pa.RecordBatch.from_arrays([*arrays, clean.lines], names=[*names, "_line"])

    def _column(self, clean: CleanRows, col: Column, policy) -> pa.Array:
        rows, v = clean.rows, col.view
        name = col.rule.name
        if isinstance(policy, KeepMask):
            if col.days is not None:
                return _dates(*col.date_days(), rows)
            if col.typed is not None:
                return col.typed.gather(rows).to_arrow(compat_level=_COMPAT)
            return gather(v, rows)
        if isinstance(policy, KeepEndsMask):
            stars, pos = self._star_table(policy.char)
            out = mk.keep_ends(v.offsets, v.data, v.valid, rows, policy.first, policy.last, stars, pos)
            return self._finish(out, col, rows, lambda e: keep_ends(e, policy.first, policy.last, policy.char))
        if isinstance(policy, SurnameMask):
            stars, pos = self._star_table(policy.char)
            out = mk.surname(v.offsets, v.data, v.valid, rows, self._compounds, stars, pos)
            return self._finish(out, col, rows, lambda e: surname(e, policy.char))
        if isinstance(policy, DateMask) and col.days is not None:
            out = mk.year_text(col.days, col.days_valid, rows, policy.to != "year")
            return self._finish_dates(out, col, rows, lambda e: generalise_date(e, policy.to))
        if isinstance(policy, AgeBandMask) and col.days is not None:
            return self._age_bands(col, rows, policy)
        if isinstance(policy, AddressMask):
            return self._address(col, rows, policy)
        if isinstance(policy, PseudonymMask):
            return self._pseudonyms(col, rows, policy)
        if isinstance(policy, EncryptMask):
            return sm4_encrypt_column(gather(v, rows), self.masker.keys[policy.key_id])
        # a date mask on a column not typed as a date: the Polars expression, which parses the text
        frame = clean.frame()
        return (
            frame.select(self.masker._expr(name, policy, frame).alias(name)).to_series().to_arrow(compat_level=_COMPAT)
        )

    def _finish(self, out, col: Column, rows: np.ndarray, expression) -> pa.Array:
        offsets, data, undecided = out
        at = np.flatnonzero(undecided)
        if at.size == 0:
            return large_string(offsets, data)
        name = col.rule.name
        subset = pl.DataFrame([pl.Series(name, col.text.take(pa.array(rows[at], pa.int64())))])
        fixed = subset.select(expression(pl.col(name)).alias(name)).to_series().to_arrow(compat_level=_COMPAT)
        return splice(offsets, data, None, at, fixed)

    def _finish_dates(self, out, col: Column, rows: np.ndarray, expression) -> pa.Array:
        offsets, data, undecided = out
        at = np.flatnonzero(undecided)
        if at.size == 0:
            return large_string(offsets, data)
        name = col.rule.name
        days = _dates(*col.date_days(), rows[at])
        subset = pl.DataFrame([pl.Series(name, days)])
        fixed = subset.select(expression(pl.col(name)).alias(name)).to_series().to_arrow(compat_level=_COMPAT)
        return splice(offsets, data, None, at, fixed)

    def _age_bands(self, col: Column, rows: np.ndarray, policy: AgeBandMask) -> pa.Array:
        """``masking.age_band``: completed years at the reference date, banded (one kernel)."""
        ref = dt.date.fromisoformat(policy.reference_date) if policy.reference_date else self.today
        lows = list(range(0, policy.top + policy.width, policy.width))
        labels = [
            f"{lo}-{lo + policy.width - 1}" if lo + policy.width <= policy.top else f"{policy.top}+" for lo in lows
        ]
        band_label = np.full(max(lows + [policy.top]) + 1, -1, np.int64)
        for k, lo in enumerate(lows):
            band_label[lo] = k
        encoded = [label.encode() for label in labels]
        blob = np.frombuffer(b"".join(encoded) or b"\0", np.uint8).copy()
        label_off = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
        offsets, data, ok = mk.age_bands(
            col.days,
            col.days_valid,
            rows,
            ref.year * 10000 + ref.month * 100 + ref.day,
            policy.top,
            policy.width,
            band_label,
            blob,
            label_off,
        )
        return large_string(offsets, data, ok)

    def _address(self, col: Column, rows: np.ndarray, policy: AddressMask) -> pa.Array:
        """``masking.truncate_address``: marker prefix, then the policy's fallback, as kernels."""
        v = col.view
        if policy.keywords:
            ends = self._markers(v, rows, policy.keywords)
        elif policy.level in ("community", "town"):
            ends = self._markers(v, rows, _LEVEL_MARKERS[policy.level])
        else:
            ends = mk.county_cut(v.offsets, v.data, v.valid, rows, _COUNTY_STOPS, _COUNTY_SUFFIXES)
        if not (policy.fallback == "suppress" or policy.level == "county"):
            missing = ends < 0
            if v.has_nulls:
                missing &= v.valid[rows]
            at = np.flatnonzero(missing)
            if at.size:
                sub = rows[at]
                if policy.fallback == "keep":
                    ends[at] = v.offsets[sub + 1] - v.offsets[sub]
                else:
                    if policy.level != "town":
                        town = self._markers(v, sub, _LEVEL_MARKERS["town"])
                    else:
                        town = np.full(len(sub), -1, np.int64)
                    if policy.fallback == "keep_town":
                        ends[at] = town
                    else:
                        county = mk.county_cut(v.offsets, v.data, v.valid, sub, _COUNTY_STOPS, _COUNTY_SUFFIXES)
                        ends[at] = np.where(town >= 0, town, county)
        offsets, data = mk.prefixes(v.offsets, v.data, rows, ends)
        return large_string(offsets, data, ends >= 0)

    def _markers(self, v: Strings, rows: np.ndarray, markers: list[str]) -> np.ndarray:
        """Byte length of the prefix up to the earliest marker in each row (-1: none)."""
        key = tuple(markers)
        table = self._marker_tables.get(key)
        if table is None:
            ordered = sorted(set(markers), key=lambda m: len(m.encode()), reverse=True)
            encoded = [m.encode() for m in ordered]
            blob = np.frombuffer(b"".join(encoded), np.uint8).copy()
            offs = np.cumsum([0] + [len(m) for m in encoded]).astype(np.int64)
            lead = np.zeros(256, np.uint64)
            second = np.zeros(256, np.uint64)
            for k, m in enumerate(encoded):
                bit = np.uint64(1) << np.uint64(k)
                lead[m[0]] |= bit
                if len(m) > 1:
                    second[m[1]] |= bit
                else:
                    second[:] |= bit
            # markers that start with a three-byte character, at most four distinct ones (every
            # level's markers, most keyword lists): a vectorised scan for those characters first
            starts = sorted({int.from_bytes(m[:3], "big") for m in encoded})
            firsts: np.ndarray | None
            if len(starts) > 4 or any(len(m) < 3 or not 0xE0 <= m[0] <= 0xEF for m in encoded):
                firsts = None  # the table-driven scan handles any marker set
            else:
                firsts = np.array([b for x in (starts + starts[:1] * 4)[:4] for b in x.to_bytes(3, "big")], np.uint8)
            table = self._marker_tables[key] = (blob, offs, lead, second, firsts)
        blob, offs, lead, second, firsts = table
        if firsts is None or not len(rows):
            return mk.cut_at_marker(v.offsets, v.data, v.valid, rows, blob, offs, lead, second)
        lo, hi = int(v.offsets[rows[0]]), int(v.offsets[rows[-1] + 1])
        size = (hi - lo + 16) & ~7
        if self._hits is None or len(self._hits) < size:
            self._hits = np.empty(size + size // 4, np.uint8)
        hits = self._hits[:size]
        mk.triple_hits(v.data, lo, hi, firsts, hits)
        return mk.cut_at_hits(v.offsets, v.data, v.valid, rows, blob, offs, hits, lo)

    def _pseudonyms(self, col: Column, rows: np.ndarray, policy: PseudonymMask) -> pa.Array:
        states = self._keys.get(policy.key_id)
        if states is None:
            states = self._keys[policy.key_id] = sm3.key_states(self.masker.keys[policy.key_id])
        return pseudonyms(col.view, rows, states, policy.length)

    def _star_table(self, char: str) -> tuple[np.ndarray, np.ndarray]:
        """``char * 256`` as UTF-8 and the byte offset after each of its first 256 characters."""
        got = self._stars.get(char)
        if got is None:
            text = ("*" * 256).replace("*", char)
            pos = np.zeros(257, np.int64)
            for k in range(1, 257):
                pos[k] = pos[k - 1] + (len(text[k - 1].encode()) if k - 1 < len(text) else 0)
            got = self._stars[char] = (np.frombuffer(text.encode() or b"\0", np.uint8).copy(), pos)
        return got
