"""De-identification for the share zone: vectorised masks, keyed pseudonyms, SM4, k-anonymity.

Privacy by default: a sensitive column (resident ID, name, phone, address) whose rule gives
no mask is masked with its kind's default; sharing it as-is needs an explicit ``keep``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from .normalise import TYPED_SUFFIX, parse_date
from .rules import (
    AddressMask,
    AgeBandMask,
    ColumnRule,
    DateMask,
    EncryptMask,
    KeepEndsMask,
    KeepMask,
    MaskPolicy,
    PseudonymMask,
    ResourceRules,
    SuppressMask,
    SurnameMask,
)

# Two-character surnames of the Hundred Family Surnames (百家姓 复姓) and other common ones.
COMPOUND_SURNAMES = [
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "轩辕",
    "令狐",
    "端木",
    "独孤",
    "南宫",
    "西门",
    "百里",
    "呼延",
    "赫连",
    "澹台",
    "公冶",
    "宗政",
    "濮阳",
    "太叔",
    "申屠",
    "公羊",
    "闻人",
    "仲孙",
    "钟离",
    "万俟",
    "单于",
    "拓跋",
    "左丘",
    "东郭",
    "南门",
    "羊舌",
    "微生",
    "梁丘",
    "谷梁",
    "第五",
    "乐正",
    "公西",
    "司空",
    "司寇",
    "亓官",
    "巫马",
    "漆雕",
    "壤驷",
    "公良",
    "段干",
    "闾丘",
    "子车",
    "颛孙",
    "鲜于",
    "叱干",
    "宰父",
    "谷利",
]

_LEVEL_MARKERS = {
    "community": ["社区居委会", "社区", "居委会", "村委会", "村"],
    "town": ["街道", "镇", "乡"],
}
_STARS = "*" * 256


def default_mask(rule: ColumnRule) -> MaskPolicy:
    if rule.kind == "resident_id":
        return KeepEndsMask(first=6, last=4)
    if rule.kind == "person_name":
        return SurnameMask()
    if rule.kind in ("mobile", "phone", "landline"):
        return KeepEndsMask(first=3, last=4)
    if rule.kind == "address":
        return AddressMask()
    return KeepMask()


def _stars(count: pl.Expr, char: str) -> pl.Expr:
    return pl.lit(_STARS.replace("*", char)).str.slice(0, count.clip(0, 256))


def keep_ends(col: pl.Expr, first: int, last: int, char: str = "*") -> pl.Expr:
    """``320583********123X``: keep ``first`` and ``last`` characters, one mask char per hidden one."""
    n = col.str.len_chars()
    kept = pl.concat_str(col.str.head(first), _stars(n - first - last, char), col.str.tail(last))
    return pl.when(n > first + last).then(kept).otherwise(_stars(n, char))


def surname(col: pl.Expr, char: str = "*") -> pl.Expr:
    """``张**`` / ``欧阳**``: the surname stays, each other character becomes ``char``."""
    n = col.str.len_chars()
    k = pl.when(col.str.head(2).is_in(COMPOUND_SURNAMES) & (n >= 3)).then(2).otherwise(1)
    return pl.concat_str(col.str.head(k), _stars(n - k, char))


def _as_date(norm_col: str, frame: pl.DataFrame) -> pl.Expr:
    typed = norm_col + TYPED_SUFFIX
    if typed in frame.columns and frame.schema[typed] == pl.Date:
        return pl.col(typed)
    return parse_date(pl.col(norm_col))


def generalise_date(date: pl.Expr, to: str) -> pl.Expr:
    return date.dt.strftime("%Y") if to == "year" else date.dt.strftime("%Y-%m")


def age_band(birth: pl.Expr, policy: AgeBandMask, today: dt.date) -> pl.Expr:
    """Completed years at the reference date, as ``(ref_yyyymmdd - birth_yyyymmdd) // 10000``."""
    ref = dt.date.fromisoformat(policy.reference_date) if policy.reference_date else today
    born = (
        birth.dt.year().cast(pl.Int32) * 10000 + birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day().cast(pl.Int32)
    )
    age = (pl.lit(ref.year * 10000 + ref.month * 100 + ref.day) - born) // 10000
    lows = list(range(0, policy.top + policy.width, policy.width))
    labels = [f"{lo}-{lo + policy.width - 1}" if lo + policy.width <= policy.top else f"{policy.top}+" for lo in lows]
    low = (age.clip(0, policy.top) // policy.width) * policy.width
    band = pl.when(age >= policy.top).then(policy.top).otherwise(low).replace_strict(lows, labels, default=None)
    return pl.when(age < 0).then(None).otherwise(band)


@dataclass
class Masker:
    """Each share-zone column's mask policy (``plan``) and the keys they need; ``fastpath.FastMasker``
    applies it. ``_expr`` is the Polars form of the simple masks, used for the few rows or column
    types the mask kernels leave undecided."""

    rules: ResourceRules
    keys: Mapping[str, bytes] = field(default_factory=dict)
    today: dt.date = field(default_factory=dt.date.today)

    def __post_init__(self) -> None:
        self.plan: list[tuple[str, str, MaskPolicy]] = []  # (output name, source column, policy)
        for rule in self.rules.columns:
            self.plan.append((rule.name, rule.name, rule.mask or default_mask(rule)))
            for name, policy in rule.extra_masks.items():
                self.plan.append((name, rule.name, policy))
        for _, _, policy in self.plan:
            if isinstance(policy, (PseudonymMask, EncryptMask)) and policy.key_id not in self.keys:
                raise KeyError(f"no key supplied for key_id {policy.key_id!r}")

    def _expr(self, name: str, policy: MaskPolicy, clean: pl.DataFrame) -> pl.Expr | None:
        col = pl.col(name)
        typed = name + TYPED_SUFFIX
        if isinstance(policy, KeepMask):
            return pl.col(typed) if typed in clean.columns else col
        if isinstance(policy, KeepEndsMask):
            return keep_ends(col, policy.first, policy.last, policy.char)
        if isinstance(policy, SurnameMask):
            return surname(col, policy.char)
        if isinstance(policy, DateMask):
            return generalise_date(_as_date(name, clean), policy.to)
        if isinstance(policy, AgeBandMask):
            return age_band(_as_date(name, clean), policy, self.today)
        if isinstance(policy, SuppressMask):
            return None if policy.drop else pl.lit(None, dtype=pl.String)
        return None  # address, pseudonym, encrypt: kernels only (``fastpath.FastMasker``)


@dataclass
class KAnonymityReport:
    k: int  # size of the smallest equivalence class (0 for an empty table)
    classes: int
    rows: int
    threshold: int
    classes_below: int
    rows_below: int
    smallest: list[dict] = field(default_factory=list)

    @property
    def satisfied(self) -> bool:
        return self.rows == 0 or self.k >= self.threshold


class KAnonymityCounter:
    """Streaming equivalence-class counts: per-batch group counts, merged every few batches, so
    memory follows the number of distinct classes, not the number of rows."""

    def __init__(self, quasi_identifiers: list[str]) -> None:
        self.keys = quasi_identifiers
        self.counts: pl.DataFrame | None = None
        self.pending: list[pl.DataFrame] = []

    def add(self, batch: pa.RecordBatch | pa.Table | pl.DataFrame) -> None:
        if isinstance(batch, pl.DataFrame):
            frame = batch
        else:
            converted = pl.from_arrow(batch)
            assert isinstance(converted, pl.DataFrame)  # a table or record batch converts to a DataFrame
            frame = converted
        self.pending.append(frame.group_by(self.keys).len())
        if len(self.pending) >= 16:
            self.counts, self.pending = _merge(self.counts, self.pending, self.keys), []

    def report(self, k: int = 5, show: int = 20) -> KAnonymityReport:
        counts = _merge(self.counts, self.pending, self.keys)
        if counts is None or counts.height == 0:
            return KAnonymityReport(0, 0, 0, k, 0, 0)
        below = counts.filter(pl.col("len") < k)
        smallest = counts["len"].min()
        assert isinstance(smallest, int)  # "len": a non-empty unsigned integer column
        return KAnonymityReport(
            k=smallest,
            classes=counts.height,
            rows=int(counts["len"].sum()),
            threshold=k,
            classes_below=below.height,
            rows_below=int(below["len"].sum()),
            smallest=counts.sort(["len", *self.keys], nulls_last=True).head(show).to_dicts(),  # deterministic
        )


def k_anonymity(
    batches: Iterable[pa.RecordBatch | pa.Table | pl.DataFrame],
    quasi_identifiers: list[str],
    *,
    k: int = 5,
    show: int = 20,
) -> KAnonymityReport:
    """Smallest equivalence class over the quasi-identifiers, and the classes below ``k``."""
    counter = KAnonymityCounter(quasi_identifiers)
    for batch in batches:
        counter.add(batch)
    return counter.report(k, show)


def _merge(counts: pl.DataFrame | None, pending: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame | None:
    frames = ([counts] if counts is not None else []) + pending
    if not frames:
        return None
    return pl.concat(frames).group_by(keys).agg(pl.col("len").sum())
