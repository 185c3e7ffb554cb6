"""Normalisation and typing: the definitions, as Polars expressions.

Normalising before validating is what keeps honest variants out of quarantine: full-width
digits, ``2001/3/5``, a lower-case ``x`` in an ID, ``+86 138-...`` are the same facts as their
canonical forms and must be accepted as such.

The compiled path (``fastpath`` + ``kernels.text``) rewrites the rows it can decide byte by byte
and calls ``normalised_text`` only on rows whose characters need Unicode tables (case mapping
outside ASCII); ``parse_date_series`` only on dates not written ``YYYY-MM-DD``; ``typed_series``
types int / decimal / bool columns. Within each, a cheap test finds the rows a fix applies to
and the fix runs on that subset only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from .refdata import ethnic_groups
from .rules import ColumnRule

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the ideographic space.
_FULL = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF = [chr(c) for c in range(0x21, 0x7F)] + [" "]
MALE, FEMALE = "男", "女"
_GENDER = {
    "男": MALE,
    "男性": MALE,
    "m": MALE,
    "male": MALE,
    "1": MALE,
    "女": FEMALE,
    "女性": FEMALE,
    "f": FEMALE,
    "female": FEMALE,
    "2": FEMALE,
}
_TRUE = ["true", "t", "yes", "y", "1", "是", "真"]
_FALSE = ["false", "f", "no", "n", "0", "否", "假"]
EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (serials after Excel's fake 1900-02-29)
TYPED_SUFFIX = "\x1ftyped"  # internal column suffix; \x1f cannot appear in a declared column name

_ID_LIKE = {"resident_id", "uscc", "phone", "mobile", "landline", "division_code", "postal_code"}


def _fix(s: pl.Series, needs: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Apply ``fn`` only to the rows flagged in ``needs``."""
    idx = needs.fill_null(False).arg_true()
    if idx.len() == 0:
        return s
    fixed = fn(s.gather(idx))
    return s.cast(fixed.dtype).scatter(idx, fixed) if fixed.dtype != s.dtype else s.scatter(idx, fixed)


def _has_fullwidth(s: pl.Series) -> pl.Series:
    """Rows that may hold full-width forms (a lead byte 0xEF or 0xE3; replace_many is exact)."""
    raw = s.cast(pl.Binary)
    return raw.bin.contains(b"\xef") | raw.bin.contains(b"\xe3")


def halfwidth(s: pl.Series) -> pl.Series:
    """Full-width letters, digits and punctuation → ASCII."""
    return _fix(s, _has_fullwidth(s), lambda x: x.str.replace_many(_FULL, _HALF))


def normalised_text(s: pl.Series, rule: ColumnRule) -> pl.Series:
    """The canonical string form of a column (typing comes after), value by value."""
    s = halfwidth(s).str.strip_chars()
    kind = rule.kind
    if kind in _ID_LIKE:
        s = _fix(s, s.str.contains(r"[\s\-()]"), lambda x: x.str.replace_all(r"[\s\-()]", ""))
    if kind in ("resident_id", "uscc"):
        s = _fix(s, s.str.contains("[a-z]"), lambda x: x.str.to_uppercase())
    elif kind in ("phone", "mobile", "landline"):
        s = _fix(s, (s.str.len_bytes() > 12) | s.str.starts_with("+"), _drop_country_code)
    elif kind == "gender":
        s = _fix(s, ~s.is_in([MALE, FEMALE]), lambda x: x.str.to_lowercase().replace(_GENDER))
    elif kind == "email":
        s = s.str.to_lowercase()
    elif kind == "person_name":
        s = _fix(
            s, s.str.contains(r"[\s•‧∙・]"), lambda x: x.str.replace_all(r"\s+", "").str.replace_all("[•‧∙・]", "·")
        )
    elif kind == "address":
        s = _fix(s, s.str.contains(r"\s"), lambda x: x.str.replace_all(r"\s+", ""))
    elif kind == "ethnic_group":
        s = _fix(s, ~s.is_in(ethnic_groups()), _ethnic_suffix)
    if rule.dtype in ("int", "decimal"):
        s = _fix(s, s.str.contains(r"[,\s]"), lambda x: x.str.replace_all(r"[,\s]", ""))
    return s.alias(rule.name)


def _drop_country_code(x: pl.Series) -> pl.Series:
    x = x.str.replace(r"^(?:\+86|0086)", "")
    return pl.select(pl.when(x.str.contains(r"^861[3-9]\d{9}$")).then(x.str.slice(2)).otherwise(x)).to_series()


def _ethnic_suffix(x: pl.Series) -> pl.Series:
    with_suffix = x + "族"
    return pl.select(pl.when(with_suffix.is_in(ethnic_groups())).then(with_suffix).otherwise(x)).to_series()


def parse_date(expr: pl.Expr) -> pl.Expr:
    """Dates written as YYYY-MM-DD, YYYY/M/D, YYYY年M月D日, YYYY.M.D, YYYYMMDD, with an optional
    time part, or as a 5-digit Excel serial number → pl.Date (null when none applies)."""
    text = expr.str.replace(r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$", "")
    dashed = (
        text.str.replace_all(r"[/.年月]", "-")
        .str.replace("日$", "")
        .str.replace(r"^(\d{4})(\d{2})(\d{2})$", "$1-$2-$3")
    )
    parsed = dashed.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    serial = text.str.extract(r"^(\d{5})(?:\.\d+)?$", 1).cast(pl.Int32, strict=False)
    from_serial = pl.lit(EXCEL_EPOCH) + pl.duration(days=serial)
    return pl.when(serial.is_not_null()).then(from_serial.cast(pl.Date)).otherwise(parsed)


def parse_date_series(s: pl.Series) -> pl.Series:
    """Fast path for ISO dates; the other spellings are parsed on the remaining rows only."""
    fast = s.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    needs = fast.is_null() & s.is_not_null() & (s.str.len_bytes() > 0)
    return _fix(fast, needs, lambda _: pl.select(parse_date(pl.lit(s.filter(needs.fill_null(False))))).to_series())


def typed_series(s: pl.Series, rule: ColumnRule) -> pl.Series | None:
    """The typed column for the clean zone, or None for string columns."""
    if rule.dtype == "date":
        return parse_date_series(s)
    if rule.dtype == "int":
        return s.cast(pl.Int64, strict=False)
    if rule.dtype == "decimal":
        return s.cast(pl.Decimal(38, rule.decimal_scale), strict=False)
    if rule.dtype == "bool":
        low = s.str.to_lowercase()
        return pl.select(
            pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        ).to_series()
    return None
