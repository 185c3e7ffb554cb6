"""Test oracle: the engine's rules written the plain way (Polars expressions, numpy, per-value HMAC).

The engine runs one implementation per rule (the compiled path, ``fastpath`` + ``kernels``). This
module is what it is checked against: the same normalisation, checks, quarantine, quality counts
and share zone, computed independently over a whole batch. It is never imported by the engine.

``ReferenceGovernor(rules, ...).process(batch)`` returns a ``BatchResult`` that must equal
``Governor(rules, ...).process(batch)`` field for field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa

from yiwang.core.crypto import hmac_sm3
from yiwang.governance.engine import idcodes
from yiwang.governance.engine.governor import BatchResult, Governor
from yiwang.governance.engine.masking import _LEVEL_MARKERS, Masker, age_band, generalise_date, keep_ends, surname
from yiwang.governance.engine.normalise import (
    FEMALE,
    MALE,
    TYPED_SUFFIX,
    _fix,
    normalised_text,
    parse_date,
    typed_series,
)
from yiwang.governance.engine.quality import ColumnQuality, QualityAccumulator
from yiwang.governance.engine.refdata import ethnic_groups, region_codes
from yiwang.governance.engine.rules import (
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
from yiwang.governance.engine.smcrypto import sm4_encrypt_column
from yiwang.governance.engine.sources.common import LINE
from yiwang.governance.engine.validate import _EMAIL, _NAME, Check, expression_checks

_COMPAT = pl.CompatLevel.oldest()
# digits are ASCII: a regex's ``\d`` would also take Arabic-Indic, Devanagari, ... digits
_MOBILE = r"^1[3-9][0-9]{9}$"
_LANDLINE = r"^0[0-9]{9,11}$"  # area code (2-3 digits after 0) + 7-8 digit number
_DIVISION_FORMAT = r"^[0-9]{6}(?:[0-9]{3}(?:[0-9]{3})?)?$"


# -- normalise ----------------------------------------------------------------------------------
def normalise(frame: pl.DataFrame, rules: list[ColumnRule]) -> pl.DataFrame:
    """Normalised strings for every rule column, plus ``<name>\\x1ftyped`` for typed columns."""
    columns: list[pl.Series] = []
    for rule in rules:
        text = normalised_text(frame[rule.name], rule)
        columns.append(text)
        typed = typed_series(text, rule)
        if typed is not None:
            columns.append(typed.alias(rule.name + TYPED_SUFFIX))
    return pl.DataFrame(columns)


# -- resident IDs, numpy ---------------------------------------------------------------------------
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def inspect_resident_ids(values: pa.Array, *, region_codes: np.ndarray, today: dt.date) -> idcodes.ResidentIds:
    """GB 11643 checks over an (n, 18) byte matrix: format, check digit, birth date, region."""
    m, fits = idcodes.fixed_width_matrix(values, 18)
    d = m[:, :17] - np.uint8(48)  # non-digits wrap around to values > 9
    last = m[:, 17]
    fmt_ok = fits & (d <= 9).all(axis=1) & (((last >= 48) & (last <= 57)) | (last == 88))
    total = np.zeros(len(m), np.int32)
    for k, w in enumerate(idcodes._RID_WEIGHTS.tolist()):
        total += d[:, k].astype(np.int32) * w
    check_ok = idcodes._RID_CHECK[total % 11] == last
    digits = d.astype(np.int32)

    def number(lo: int, hi: int) -> np.ndarray:
        out = np.zeros(len(m), np.int32)
        for k in range(lo, hi):
            out = out * 10 + digits[:, k]
        return out

    year, month, day = number(6, 10), number(10, 12), number(12, 14)
    birth_days, date_ok = _days_since_epoch(year.astype(np.int64), month.astype(np.int64), day.astype(np.int64))
    not_future = birth_days <= today.toordinal() - _EPOCH_ORDINAL
    not_ancient = birth_days >= idcodes.MIN_BIRTH.toordinal() - _EPOCH_ORDINAL
    region = number(0, 6).astype(np.int64)
    pos = np.minimum(np.searchsorted(region_codes, region), len(region_codes) - 1)
    region_ok = region_codes[pos] == region if len(region_codes) else np.zeros(len(region), bool)
    reason = np.zeros(len(m), np.int8)
    reason[~region_ok] = 5
    reason[date_ok & ~not_future] = 4
    reason[~date_ok | ~not_ancient] = 3
    reason[~check_ok] = 2
    reason[~fmt_ok] = 1
    reason[idcodes._empty(values)] = 0
    male = (digits[:, 16] % 2) == 1
    body = np.zeros(len(m), np.int64)
    for k in range(17):
        body = body * 10 + digits[:, k]
    check_value = np.where(last == 88, 10, last.astype(np.int64) - 48)
    code = np.where(fmt_ok, body * 11 + check_value + 1, 0).astype(np.uint64)
    return idcodes.ResidentIds(reason=reason, birth_days=birth_days.astype(np.int32), male=male, code=code)


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_len = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
    safe_month = np.clip(month, 1, 12)
    days_in_month = month_len[safe_month] + ((safe_month == 2) & leap)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= days_in_month) & (year >= 1)
    months = (np.clip(year, 1, 9999) - 1970) * 12 + (safe_month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    days = first + np.clip(day, 1, 31) - 1
    return np.where(ok, days, -(10**6)), ok


# -- validate -----------------------------------------------------------------------------------
class Validator:
    """Every column and cross-field check as Polars expressions over a normalised frame."""

    def __init__(self, rules: ResourceRules, *, today: dt.date, id_regions: np.ndarray | None = None):
        self.rules = rules
        self.today = today
        self.id_regions = region_codes() if id_regions is None else id_regions

    def run(self, norm: pl.DataFrame) -> tuple[list[Check], dict[str, np.ndarray], dict[str, idcodes.ResidentIds]]:
        exprs: dict[str, pl.Expr] = {}
        plan: list[tuple[str, str, str]] = []
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
        derived: dict[str, idcodes.ResidentIds] = {}
        for rule in self.rules.columns:
            if rule.kind == "resident_id":
                info = inspect_resident_ids(norm[rule.name].to_arrow(), region_codes=self.id_regions, today=self.today)
                derived[rule.name] = info
                checks.append(
                    Check(
                        "resident_id",
                        rule.name,
                        info.reason != 0,
                        reason_codes=info.reason,
                        reason_names=idcodes.RID_REASONS,
                    )
                )
            elif rule.kind == "uscc":
                codes = idcodes.inspect_uscc(norm[rule.name].to_arrow())
                checks.append(
                    Check("uscc", rule.name, codes != 0, reason_codes=codes, reason_names=idcodes.USCC_REASONS)
                )
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
        out += expression_checks(rule)  # range, length, pattern: one implementation, Polars
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
            return "postal_code", ~col.str.contains(r"^[0-9]{6}$")
        if kind == "division_code":
            bad = ~col.str.contains(_DIVISION_FORMAT)
            if rule.code_levels:
                bad = bad | ~col.str.len_chars().is_in(rule.code_levels)
            if rule.allowed_codes is not None:
                bad = bad | ~col.is_in(rule.allowed_codes)
            return "division_code", bad
        return None

    def _cross_checks(self, norm, derived, empty, checks) -> list[Check]:
        out = []
        failing_cells: dict[str, np.ndarray] = {}
        for c in checks:
            failing_cells[c.column] = failing_cells.get(c.column, np.zeros(len(c.fails), bool)) | c.fails
        n = norm.height
        for cross in self.rules.cross_field:
            a, b = cross.columns
            usable = (
                ~empty[a]
                & ~empty[b]
                & ~failing_cells.get(a, np.zeros(n, bool))
                & ~failing_cells.get(b, np.zeros(n, bool))
            )
            reported = b if cross.rule in ("id_birthdate_match", "id_gender_match", "required_with") else a
            if cross.rule == "required_with":
                fails, usable = ~empty[a] & empty[b], np.ones(n, bool)
            elif cross.rule == "id_birthdate_match":
                birth = (
                    norm[b + TYPED_SUFFIX]
                    if b + TYPED_SUFFIX in norm.columns
                    else norm[b].str.strptime(pl.Date, strict=False)
                )
                fails = birth.cast(pl.Int32).fill_null(-(10**6)).to_numpy() != derived[a].birth_days
            elif cross.rule == "id_gender_match":
                gender = norm[b].to_numpy()
                fails = np.where(derived[a].male, gender != MALE, gender != FEMALE)
            elif cross.rule in ("not_after", "not_before"):
                left, right = _typed(norm, a), _typed(norm, b)
                bad = (left > right) if cross.rule == "not_after" else (left < right)
                fails = bad.fill_null(False).to_numpy()
            else:
                raise AssertionError(f"oracle has no cross-field rule {cross.rule!r}")
            out.append(Check(cross.rule, reported, fails & usable))
        return out


def _typed(norm: pl.DataFrame, name: str) -> pl.Series:
    return norm[name + TYPED_SUFFIX] if name + TYPED_SUFFIX in norm.columns else norm[name]


def _empty(name: str) -> pl.Expr:
    col = pl.col(name)
    return (col.is_null() | (col.str.len_bytes() == 0)).alias(f"empty\x00{name}")


# -- unique ------------------------------------------------------------------------------------
class UniqueKeys:
    """A row is a duplicate when its key equals the key of an earlier accepted row: a Python set."""

    def __init__(self) -> None:
        self.seen: set = set()

    def duplicates(self, keys: list, eligible: np.ndarray) -> np.ndarray:
        """``keys``: one hashable per row, None where the key is incomplete."""
        dup = np.zeros(len(keys), bool)
        for i, key in enumerate(keys):
            if key is None:
                continue
            if key in self.seen:
                dup[i] = True
            elif eligible[i]:
                self.seen.add(key)
        return dup


# -- mask ---------------------------------------------------------------------------------------
def pseudonymise(values: pa.Array, key: bytes, *, length: int = 64) -> pa.Array:
    """Hex HMAC-SM3 per value, through the platform's ``core.crypto.hmac_sm3``."""
    return pa.array(
        [None if v is None else hmac_sm3(key, v.encode()).hex()[:length] for v in values.to_pylist()], pa.large_string()
    )


def truncate_address(col: pl.Series, policy: AddressMask) -> pl.Series:
    """Keep an address up to the first community/village marker (or town / county).

    The fallback (for addresses without such a marker) runs on those rows only.
    """
    if policy.keywords:
        cut = _extract_prefix(col, policy.keywords)
    elif policy.level in ("community", "town"):
        cut = _extract_prefix(col, _LEVEL_MARKERS[policy.level])
    else:
        cut = _county(col)
    if policy.fallback == "suppress" or policy.level == "county":
        return cut
    missing = cut.is_null() & col.is_not_null()
    if policy.fallback == "keep":
        return _fix(cut, missing, lambda _: col.filter(missing))
    town = (
        (lambda x: _extract_prefix(x, _LEVEL_MARKERS["town"]))
        if policy.level != "town"
        else (lambda x: x.clear(len(x)))
    )
    if policy.fallback == "keep_town":
        return _fix(cut, missing, lambda _: town(col.filter(missing)))
    return _fix(cut, missing, lambda _: _coalesce(town(col.filter(missing)), _county(col.filter(missing))))


def _extract_prefix(col: pl.Series, markers: list[str]) -> pl.Series:
    """Text up to and including the earliest marker (longest marker on a tie), or null.

    One literal split per marker; the earliest marker is the one with the shortest text before
    it. No offset crosses from one call to another, so no cut can depend on whether a library
    counts bytes or characters (polars 2 changed ``str.find`` from one to the other).
    """
    ordered = sorted(set(markers), key=lambda m: len(m.encode()), reverse=True)
    parts = pl.DataFrame({"a": col}).select([pl.col("a").str.splitn(m, 2).alias(str(i)) for i, m in enumerate(ordered)])
    before = [parts[str(i)].struct.field("field_0") for i in range(len(ordered))]
    found = [parts[str(i)].struct.field("field_1").is_not_null() for i in range(len(ordered))]
    lengths = pl.DataFrame(
        {
            str(i): pl.Series(np.where(f.to_numpy(), b.str.len_bytes().to_numpy(), _NOT_FOUND))
            for i, (b, f) in enumerate(zip(before, found, strict=True))
        }
    ).to_numpy()
    choice = lengths.argmin(axis=1)  # ties → the earlier (longer) marker
    hit = lengths[np.arange(len(lengths)), choice] < _NOT_FOUND
    pick = pl.Series(np.where(hit, choice, -1))
    frame = pl.DataFrame({"c": pick, **{str(i): b for i, b in enumerate(before)}})
    cut = frame.select(
        pl.coalesce([pl.when(pl.col("c") == i).then(pl.col(str(i)) + pl.lit(m)) for i, m in enumerate(ordered)])
    )
    return cut.to_series().alias(col.name)


_NOT_FOUND = 1 << 30


def _coalesce(*series: pl.Series) -> pl.Series:
    return pl.select(pl.coalesce([pl.lit(x) for x in series])).to_series()


def _county(col: pl.Series) -> pl.Series:
    """Province/city/county part: the text before the first street, village or number, cut after
    its last 县/区/市/旗. Regex replacements without capture groups (captures are several times
    slower) and no offsets, so nothing depends on a library's offset unit."""
    head = pl.col("a").str.replace(r"(?s)(?:[0-9路街巷道镇乡村]|社区).*", "")
    frame = pl.DataFrame({"a": col}).select(head=head)
    county = pl.col("head").str.replace(r"[^县区市旗]*$", "")
    out = frame.select(pl.when(pl.col("head").str.contains("[县区市旗]")).then(county))
    return out.to_series().alias(col.name)


def _as_date(name: str, frame: pl.DataFrame) -> pl.Expr:
    typed = name + TYPED_SUFFIX
    if typed in frame.columns and frame.schema[typed] == pl.Date:
        return pl.col(typed)
    return parse_date(pl.col(name))


def mask(masker: Masker, clean: pl.DataFrame) -> pa.RecordBatch:
    """The share zone of ``clean`` (normalised strings, typed columns, ``_line``) by the masker's plan."""
    columns: list[pl.Series] = []
    for out, src, policy in masker.plan:
        col = pl.col(src)
        typed = src + TYPED_SUFFIX
        if isinstance(policy, SuppressMask):
            if policy.drop:
                continue
            series = pl.Series(out, [None] * clean.height, pl.String)
        elif isinstance(policy, AddressMask):
            series = truncate_address(clean[src], policy)
        elif isinstance(policy, PseudonymMask):
            series = pl.from_arrow(
                pseudonymise(clean[src].to_arrow(), masker.keys[policy.key_id], length=policy.length)
            )
        elif isinstance(policy, EncryptMask):
            series = pl.from_arrow(sm4_encrypt_column(clean[src].to_arrow(), masker.keys[policy.key_id]))
        else:
            if isinstance(policy, KeepMask):
                expr = pl.col(typed) if typed in clean.columns else col
            elif isinstance(policy, KeepEndsMask):
                expr = keep_ends(col, policy.first, policy.last, policy.char)
            elif isinstance(policy, SurnameMask):
                expr = surname(col, policy.char)
            elif isinstance(policy, DateMask):
                expr = generalise_date(_as_date(src, clean), policy.to)
            elif isinstance(policy, AgeBandMask):
                expr = age_band(_as_date(src, clean), policy, masker.today)
            else:
                raise AssertionError(f"oracle has no mask {policy!r}")
            series = clean.select(expr).to_series()
        columns.append(series.alias(out))
    columns.append(clean[LINE])
    table = pl.DataFrame(columns).to_arrow(compat_level=_COMPAT).combine_chunks()
    batches = table.to_batches()
    return (
        batches[0]
        if batches
        else pa.RecordBatch.from_arrays([pa.array([], f.type) for f in table.schema], schema=table.schema)
    )


# -- the whole batch ----------------------------------------------------------------------------
class ReferenceGovernor:
    """``Governor`` computed the plain way; ``process`` returns the same ``BatchResult``."""

    def __init__(
        self,
        rules: ResourceRules,
        *,
        keys: Mapping[str, bytes] | None = None,
        today: dt.date | None = None,
        mask: bool = True,
    ) -> None:
        self.rules = rules
        self.today = today or dt.date.today()
        self.validator = Validator(rules, today=self.today)
        self.masker = Masker(rules, keys=dict(keys or {}), today=self.today) if mask else None
        self.trackers = [UniqueKeys() for _ in rules.unique_keys]
        self.quality = QualityAccumulator(columns={c.name: ColumnQuality() for c in rules.columns})

    def process(self, batch: pa.RecordBatch) -> BatchResult:
        frame = pl.from_arrow(batch)
        norm = normalise(frame, self.rules.columns)
        checks, empty, _derived = self.validator.run(norm)
        n = batch.num_rows
        failing = np.zeros(n, bool)
        for check in checks:
            failing |= check.fails
        for tracker, key in zip(self.trackers, self.rules.unique_keys):
            rows = norm.select(key).rows()
            keys = [None if any(v is None or v == "" for v in row) else row for row in rows]
            dup = tracker.duplicates(keys, ~failing)
            checks.append(Check("unique", key[0], dup))
            self.quality.key_rows += int(np.count_nonzero(~np.any([empty[c] for c in key], axis=0)))
            self.quality.duplicates += int(dup.sum())
        for check in checks[len(checks) - len(self.trackers) :]:
            failing |= check.fails
        accepted = pl.Series(~failing)
        clean_frame = norm.filter(accepted).with_columns(frame[LINE].filter(accepted))
        typed_cols = []
        for rule in self.rules.columns:
            typed = rule.name + TYPED_SUFFIX
            typed_cols.append(pl.col(typed).alias(rule.name) if typed in clean_frame.columns else pl.col(rule.name))
        clean = clean_frame.select([*typed_cols, pl.col(LINE)]).to_arrow(compat_level=_COMPAT).combine_chunks()
        clean = (
            clean.to_batches()[0]
            if clean.num_rows
            else pa.RecordBatch.from_arrays([pa.array([], f.type) for f in clean.schema], schema=clean.schema)
        )
        quarantine = Governor._quarantine(self, batch, checks, failing)
        share = mask(self.masker, clean_frame) if self.masker is not None else None
        result = BatchResult(rows=n, clean=clean, quarantine=quarantine, share=share)
        latest = None
        fresh = self.rules.freshness_column
        if fresh and clean_frame.height and fresh + TYPED_SUFFIX in clean_frame.columns:
            latest = clean_frame[fresh + TYPED_SUFFIX].max()
        Governor._count(self, result, checks, failing, empty, latest)
        return result
