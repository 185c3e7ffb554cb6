"""The Governor's compiled path: the same results as the reference, from kernels over Arrow buffers.

Per batch and column: one kernel pass finds the rows normalisation could change (usually a
few: variants such as full-width digits, "+86 ", "M"), a second kernel normalises just those
rows; one pass validates (resident IDs, phone numbers, names, division codes, dates in the
usual spellings); set membership runs in Arrow's hash kernels, uniqueness in a compiled hash
table, and the share zone's masks are kernels over the accepted rows. Whatever a kernel cannot
decide exactly (a non-ASCII digit in a phone number, an Excel serial date, a letter outside
ASCII that would need Unicode case rules, a null where a mask has a quirk) is computed by the
reference expression on those rows only and spliced in, so every zone equals the reference
output; the tests check this on randomised batches.

Everything runs on whole columns with the GIL released; nothing loops over rows in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
    truncate_address,
)
from .normalise import (
    _ID_LIKE,
    FEMALE,
    MALE,
    normalised_text,
    parse_date_series,
    typed_series,
)
from .refdata import ethnic_groups
from .rules import (
    AddressMask,
    AgeBandMask,
    ColumnRule,
    DateMask,
    EncryptMask,
    KeepEndsMask,
    KeepMask,
    PseudonymMask,
    ResourceRules,
    SuppressMask,
    SurnameMask,
)
from .validate import _DIVISION_FORMAT, _LANDLINE, _MOBILE, _NAME, Check

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
    typed: pl.Series | None = None  # int / decimal / bool columns (reference typing)
    member: np.ndarray | None = None  # ethnic_group: the value is a known group
    _series: pl.Series | None = None
    _genders: np.ndarray | None = None

    def genders(self) -> np.ndarray:
        """1 男, 2 女, 0 other (computed once, used by the gender check and id_gender_match)."""
        if self._genders is None:
            v = self.view
            self._genders = tk.genders(v.offsets, v.data, v.valid)
        return self._genders

    def series(self) -> pl.Series:
        """The normalised text as a Polars Series (for the few reference expressions)."""
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
        """The reference ``clean_frame``: normalised strings, ``<name>\\x1ftyped`` columns, ``_line``."""
        if self._frame is None:
            from .normalise import TYPED_SUFFIX

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
        self.region_ok = np.zeros(1_000_000, np.bool_)
        codes = region_codes[(region_codes >= 0) & (region_codes < 1_000_000)]
        self.region_ok[codes] = True
        self.today_days = (today - _EPOCH).days
        self.min_days = (idcodes.MIN_BIRTH - _EPOCH).days
        self.ethnic = _u8(ethnic_groups())
        self.codesets: dict[int, CodeSet] = {}
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
        """``normalised_text`` of rows ``rows``: the kernel, and the reference for what it leaves."""
        offsets, data, undecided = tk.normalise_rows(view.offsets, view.data, rows, _norm_mode(rule), *_GENDER_TABLES)
        at = np.flatnonzero(undecided)
        if at.size:
            subset = pl.Series(rule.name, view.array.take(pa.array(rows[at], pa.int64())))
            fixed = splice(offsets, data, None, at, normalised_text(subset, rule).to_arrow(compat_level=_COMPAT))
        else:
            fixed = large_string(offsets, data)
        if rule.kind == "ethnic_group":  # normalise._ethnic_suffix, with Arrow's hash kernels
            suffixed = pc.binary_join_element_wise(fixed, pa.scalar("族", pa.large_string()), pa.scalar("", pa.large_string()))
            use = pc.and_(pc.invert(pc.is_in(fixed, value_set=self.ethnic)), pc.is_in(suffixed, value_set=self.ethnic))
            fixed = pc.if_else(use, suffixed, fixed)
        return fixed

    # -- validate --------------------------------------------------------------------------
    def checks(self, cols: dict[str, Column]) -> tuple[list[Check], dict[str, idcodes.ResidentIds]]:
        """The reference's checks, in the reference's order (the quarantine's first failure)."""
        checks: list[Check] = []
        for rule in self.rules.columns:
            col = cols[rule.name]
            present = ~col.empty
            if rule.required:
                checks.append(Check("required", rule.name, col.empty.copy()))
            if rule.dtype == "date":
                checks.append(Check("date", rule.name, present & ~col.days_valid))
            elif rule.dtype in ("int", "decimal", "bool"):
                checks.append(Check("type", rule.name, present & col.typed.is_null().to_numpy()))
            kind = self._kind_check(rule, col)
            if kind is not None:
                checks.append(Check(kind[0], rule.name, present & kind[1]))
            if rule.enum and rule.kind != "enum":
                checks.append(Check("enum", rule.name, present & ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.enum)))))
            for name, expr in self._reference_exprs(rule):
                checks.append(Check(name, rule.name, self._evaluate(expr, cols, rule)))
        derived: dict[str, idcodes.ResidentIds] = {}
        for rule in self.rules.columns:
            col = cols[rule.name]
            if rule.kind == "resident_id":
                v = col.view
                reason, birth, male, code = tk.resident_ids(v.offsets, v.data, v.valid, self.region_ok, self.today_days,
                                                            self.min_days, tk._RID_WEIGHTS, tk._RID_CHECK)
                derived[rule.name] = idcodes.ResidentIds(reason=reason, birth_days=birth, male=male, code=code)
                checks.append(Check("resident_id", rule.name, reason != 0, reason_codes=reason,
                                    reason_names=idcodes.RID_REASONS))
            elif rule.kind == "uscc":
                codes = idcodes.inspect_uscc(col.text)
                checks.append(Check("uscc", rule.name, codes != 0, reason_codes=codes, reason_names=idcodes.USCC_REASONS))
        checks.extend(self._cross_checks(cols, derived, checks))
        return checks, derived

    def _kind_check(self, rule: ColumnRule, col: Column) -> tuple[str, np.ndarray] | None:
        kind, v = rule.kind, col.view
        if kind in _PATTERNS:
            verdict = tk.match_pattern(v.offsets, v.data, v.valid, _PATTERNS[kind])
            regex = {"mobile": [_MOBILE], "landline": [_LANDLINE], "phone": [_MOBILE, _LANDLINE],
                     "postal_code": [r"^\d{6}$"]}[kind]
            return kind, self._resolve(verdict, col, regex)
        if kind == "gender":
            return "gender", col.genders() == 0
        if kind == "enum":
            return "enum", ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.enum or [])))
        if kind == "ethnic_group":
            return "ethnic_group", ~col.member
        if kind == "person_name":
            return "person_name", self._resolve(tk.person_names(v.offsets, v.data, v.valid), col, [_NAME])
        if kind == "email":
            from .validate import _EMAIL

            return "email", ~_numpy_bool(pc.fill_null(pl.Series(col.text).str.contains(_EMAIL).to_arrow(), False))
        if kind == "division_code":
            bad = self._resolve(tk.match_pattern(v.offsets, v.data, v.valid, tk.P_DIVISION), col, [_DIVISION_FORMAT])
            if rule.code_levels:
                bad = bad | ~np.isin(tk.char_lengths(v.offsets, v.data), rule.code_levels)
            if rule.allowed_codes is not None:
                bad = bad | ~_numpy_bool(pc.is_in(col.text, value_set=_u8(rule.allowed_codes)))
            return "division_code", bad
        return None

    @staticmethod
    def _resolve(verdict: np.ndarray, col: Column, patterns: list[str]) -> np.ndarray:
        """Kernel verdicts (0 match, 1 no match, 2 undetermined) → "fails"; undetermined rows
        are matched with the reference regexes."""
        bad = verdict == 1
        rest = np.flatnonzero(verdict == 2)
        if rest.size:
            values = pl.Series(col.text.take(pa.array(rest, pa.int64())))
            matched = np.zeros(rest.size, np.bool_)
            for pattern in patterns:
                matched |= values.str.contains(pattern).fill_null(False).to_numpy()
            bad[rest] = ~matched
        return bad

    def _reference_exprs(self, rule: ColumnRule) -> list[tuple[str, pl.Expr]]:
        """Range, length and pattern checks: the reference Polars expressions."""
        got = self._exprs.get(rule.name)
        if got is None:
            from .validate import Validator

            stub = Validator.__new__(Validator)
            stub.rules, stub.today = self.rules, self.today
            names = {"range", "length", "pattern"}
            got = self._exprs[rule.name] = [(n, e) for n, e in stub._column_exprs(rule) if n in names]
        return got

    def _evaluate(self, expr: pl.Expr, cols: dict[str, Column], rule: ColumnRule) -> np.ndarray:
        from .normalise import TYPED_SUFFIX

        frame = [cols[rule.name].series()]
        typed = _typed_series(cols[rule.name])
        if typed is not None:
            frame.append(typed.alias(rule.name + TYPED_SUFFIX))
        return pl.DataFrame(frame).select(expr).to_series().fill_null(False).to_numpy()

    def _cross_checks(self, cols: dict[str, Column], derived: dict[str, idcodes.ResidentIds],
                      checks: list[Check]) -> list[Check]:
        out = []
        failing_cells: dict[str, np.ndarray] = {}
        for c in checks:
            failing_cells[c.column] = failing_cells.get(c.column, np.zeros(len(c.fails), bool)) | c.fails
        n = len(next(iter(cols.values())).empty) if cols else 0
        none = np.zeros(n, bool)
        for cross in self.rules.cross_field:
            a, b = cross.columns
            ea, eb = cols[a].empty, cols[b].empty
            usable = ~ea & ~eb & ~failing_cells.get(a, none) & ~failing_cells.get(b, none)
            reported = b if cross.rule in ("id_birthdate_match", "id_gender_match", "required_with") else a
            if cross.rule == "required_with":
                fails, usable = ~ea & eb, np.ones(n, bool)
            elif cross.rule == "id_birthdate_match":
                col = cols[b]
                if col.days is not None:
                    days = np.where(col.days_valid, col.days, -(10**6))
                else:
                    parsed = col.series().str.strptime(pl.Date, strict=False)
                    days = parsed.cast(pl.Int32).fill_null(-(10**6)).to_numpy()
                fails = days != derived[a].birth_days
            elif cross.rule == "id_gender_match":
                codes = cols[b].genders()
                fails = np.where(derived[a].male, codes != 1, codes != 2)
            else:  # not_after / not_before: the reference expression
                left, right = _typed_or_text(cols[a]), _typed_or_text(cols[b])
                bad = (left > right) if cross.rule == "not_after" else (left < right)
                fails = bad.fill_null(False).to_numpy()
            out.append(Check(cross.rule, reported, fails & usable))
        return out

    # -- uniqueness ------------------------------------------------------------------------
    def duplicates(self, index: int, codes: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        codeset = self.codesets.setdefault(index, CodeSet())
        return codeset.duplicates(codes, eligible)

    def unique_memory_bytes(self) -> int:
        return sum(c.memory_bytes() for c in self.codesets.values())

    # -- clean zone ------------------------------------------------------------------------
    def clean_batch(self, cols: dict[str, Column], rows: np.ndarray, lines: pa.Array) -> pa.RecordBatch:
        arrays, names = [], []
        for rule in self.rules.columns:
            col = cols[rule.name]
            names.append(rule.name)
            if col.days is not None:
                arrays.append(_dates(col.days, col.days_valid, rows))
            elif col.typed is not None:
                arrays.append(col.typed.gather(rows).to_arrow(compat_level=_COMPAT))
            else:
                arrays.append(gather(col.view, rows))
        return pa.RecordBatch.from_arrays([*arrays, lines], names=[*names, "_line"])


def _typed_or_text(col: Column) -> pl.Series:
    typed = _typed_series(col)
    return typed if typed is not None else col.series()


def _dates(days: np.ndarray, valid: np.ndarray, rows: np.ndarray) -> pa.Array:
    picked = np.ascontiguousarray(days[rows])
    ok = valid[rows]
    return pa.Array.from_buffers(pa.date32(), len(rows), [_validity(ok), pa.py_buffer(picked)],
                                 null_count=int(len(rows) - np.count_nonzero(ok)))


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
    """The share zone from ``CleanRows``: the reference ``Masker``'s plan, computed by kernels."""

    def __init__(self, masker) -> None:
        self.masker = masker
        self.today = masker.today
        self._keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._stars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._compounds = np.array(sorted((ord(s[0]) << 21) | ord(s[1]) for s in COMPOUND_SURNAMES), np.int64)
        self._marker_tables: dict[tuple[str, ...], tuple[np.ndarray, ...]] = {}
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
                return _dates(col.days, col.days_valid, rows)
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
            markers = policy.keywords or _LEVEL_MARKERS.get(policy.level, [])
            if all(markers) and len(set(markers)) <= 64:
                return self._address(col, rows, policy)
        if isinstance(policy, PseudonymMask):
            return self._pseudonyms(col, rows, policy)
        if isinstance(policy, EncryptMask):
            from .smcrypto import sm4_encrypt_column

            return sm4_encrypt_column(gather(v, rows), self.masker.keys[policy.key_id])
        # anything else: the reference masker on these rows
        return self._reference(clean, name, policy)

    def _reference(self, clean: CleanRows, name: str, policy) -> pa.Array:
        frame = clean.frame()
        expr = self.masker._expr(name, policy, frame)
        if expr is None:
            if isinstance(policy, AddressMask):
                return truncate_address(frame[name], policy).to_arrow(compat_level=_COMPAT)
            raise ValueError(f"no mask for {policy!r}")
        return frame.select(expr.alias(name)).to_series().to_arrow(compat_level=_COMPAT)

    def _finish(self, out, col: Column, rows: np.ndarray, reference) -> pa.Array:
        offsets, data, undecided = out
        at = np.flatnonzero(undecided)
        if at.size == 0:
            return large_string(offsets, data)
        name = col.rule.name
        subset = pl.DataFrame([pl.Series(name, col.text.take(pa.array(rows[at], pa.int64())))])
        fixed = subset.select(reference(pl.col(name)).alias(name)).to_series().to_arrow(compat_level=_COMPAT)
        return splice(offsets, data, None, at, fixed)

    def _finish_dates(self, out, col: Column, rows: np.ndarray, reference) -> pa.Array:
        offsets, data, undecided = out
        at = np.flatnonzero(undecided)
        if at.size == 0:
            return large_string(offsets, data)
        name = col.rule.name
        days = _dates(col.days, col.days_valid, rows[at])
        subset = pl.DataFrame([pl.Series(name, days)])
        fixed = subset.select(reference(pl.col(name)).alias(name)).to_series().to_arrow(compat_level=_COMPAT)
        return splice(offsets, data, None, at, fixed)

    def _age_bands(self, col: Column, rows: np.ndarray, policy: AgeBandMask) -> pa.Array:
        """``masking.age_band``: completed years at the reference date, banded (one kernel)."""
        ref = dt.date.fromisoformat(policy.reference_date) if policy.reference_date else self.today
        lows = list(range(0, policy.top + policy.width, policy.width))
        labels = [f"{lo}-{lo + policy.width - 1}" if lo + policy.width <= policy.top else f"{policy.top}+" for lo in lows]
        band_label = np.full(max(lows + [policy.top]) + 1, -1, np.int64)
        for k, lo in enumerate(lows):
            band_label[lo] = k
        encoded = [label.encode() for label in labels]
        blob = np.frombuffer(b"".join(encoded) or b"\0", np.uint8).copy()
        label_off = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
        offsets, data, ok = mk.age_bands(col.days, col.days_valid, rows, ref.year * 10000 + ref.month * 100 + ref.day,
                                         policy.top, policy.width, band_label, blob, label_off)
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
            firsts = sorted({int.from_bytes(m[:3], "big") for m in encoded})
            if len(firsts) > 4 or any(len(m) < 3 or not 0xE0 <= m[0] <= 0xEF for m in encoded):
                firsts = None  # the table-driven scan handles any marker set
            else:
                firsts = np.array([b for x in (firsts + firsts[:1] * 4)[:4] for b in x.to_bytes(3, "big")], np.uint8)
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
        key = self.masker.keys[policy.key_id]
        states = self._keys.get(policy.key_id)
        if states is None:
            states = self._keys[policy.key_id] = sm3.key_states(key)
        v = col.view
        present = rows[v.valid[rows]] if v.has_nulls else rows
        length = len(range(64)[: policy.length])  # as the reference's ``chars[:, :length]``
        offsets, data = sm3.hmac_hex(v.offsets, v.data, present, states[0], states[1], sm3.TJ, length)
        if len(present) == len(rows):
            return large_string(offsets, data)
        valid = v.valid[rows]
        full = np.zeros(len(rows) + 1, np.int64)
        full[1:] = np.cumsum(np.where(valid, length, 0))
        return large_string(full, data, valid)

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



class KCounter:
    """``masking.KAnonymityCounter`` without Polars' group-by (which spreads over every core):
    Arrow's dictionary encoding gives each quasi-identifier value a load-wide code, a row's
    class is its codes packed into one int64, a compiled hash table counts the classes, and only
    ``report`` builds a Polars frame — the frame the reference would build, so the same report."""

    BITS = 21  # codes per column: up to 2 M distinct values, three columns per int64

    def __init__(self, keys: list[str]) -> None:
        from .masking import KAnonymityCounter

        self.keys = keys
        self.codes: list[dict] = [{} for _ in keys]  # value -> code
        self.values: list[list[pa.Array]] = [[] for _ in keys]  # dictionary chunks, in code order
        self.slots = np.full(1 << 12, -1, np.int64)
        self.counts = np.zeros(1 << 12, np.int64)
        self.used = 0
        # the reference counter, when the classes cannot be packed (many columns or values)
        self.fallback = KAnonymityCounter(keys) if len(keys) * self.BITS > 63 else None

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self.fallback is not None:
            self.fallback.add(batch)
            return
        from .kernels.unique import count_keys, recount

        packed = np.zeros(batch.num_rows, np.int64)
        for k, name in enumerate(self.keys):
            encoded = pc.dictionary_encode(batch.column(name), null_encoding="encode")
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.combine_chunks()
            dictionary = encoded.dictionary
            table = self.codes[k]
            remap = np.empty(len(dictionary), np.int64)
            fresh = []
            for j, value in enumerate(dictionary.to_pylist()):
                code = table.get(value)
                if code is None:
                    code = table[value] = len(table)
                    fresh.append(j)
                remap[j] = code
            if fresh:
                self.values[k].append(dictionary.take(pa.array(fresh, pa.int64())))
            if len(table) >= 1 << self.BITS:
                self._give_up()
                self.fallback.add(batch)
                return
            packed |= remap[encoded.indices.to_numpy(zero_copy_only=False)] << (self.BITS * k)
        need = self.used + len(packed)
        if need > 0.7 * len(self.slots):
            size = len(self.slots)
            while need > 0.7 * size:
                size *= 2
            slots, counts = np.full(size, -1, np.int64), np.zeros(size, np.int64)
            recount(self.slots, self.counts, slots, counts)
            self.slots, self.counts = slots, counts
        self.used += int(count_keys(self.slots, self.counts, packed))

    def _give_up(self) -> None:
        from .masking import KAnonymityCounter

        frame = self.frame()
        self.fallback = KAnonymityCounter(self.keys)
        self.fallback.counts = frame

    def frame(self) -> pl.DataFrame | None:
        full = self.slots >= 0
        if not full.any():
            return None
        packed, lens = self.slots[full], self.counts[full]
        columns = []
        for k, name in enumerate(self.keys):
            codes = (packed >> (self.BITS * k)) & ((1 << self.BITS) - 1)
            values = pa.concat_arrays(self.values[k])
            columns.append(pl.Series(name, values.take(pa.array(codes, pa.int64()))))
        columns.append(pl.Series("len", lens.astype(np.uint32)))
        return pl.DataFrame(columns)

    def report(self, k: int = 5, show: int = 20):
        from .masking import KAnonymityCounter

        if self.fallback is not None:
            return self.fallback.report(k, show)
        counter = KAnonymityCounter(self.keys)
        counter.counts = self.frame()
        return counter.report(k, show)
