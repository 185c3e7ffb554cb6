"""City management case categories (GB/T 30428.2 部件 / 事件), read from the city pack.

The data file ``reference/kunshan/data/event_categories.csv`` follows the structure of
GB/T 30428.2-2013 (数字化城市管理信息系统 第2部分：管理部件和事件): two kinds (部件 =
city components, 事件 = events), a two-digit major class and a four-digit minor class code
(major + minor). ``code`` adds a kind digit in front (1 = 部件, 2 = 事件, then ``0``), so it
is unique across both kinds, e.g. ``200102`` = 事件/市容环境/暴露垃圾.

The minor class numbers were assigned in the style of the standard and must be checked
against the official text before they are exchanged with another city's system.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from yiwang.events.workcal import Duration, TimeUnit

DATA_DIR = Path(__file__).resolve().parents[2] / "reference" / "kunshan" / "data"
CATEGORIES_CSV = DATA_DIR / "event_categories.csv"
KINDS = ("部件", "事件")
PRIORITY_LABELS = {1: "紧急", 2: "较急", 3: "一般", 4: "低"}


@dataclass(frozen=True)
class Category:
    """One minor class: what it is, who handles it and how fast."""

    code: str
    kind: str
    major_code: str
    major_name: str
    minor_code: str
    name: str
    component: str
    department_key: str
    response: Duration
    handling: Duration
    priority: int
    in_city_catalog: bool

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABELS[self.priority]

    @property
    def is_emergency(self) -> bool:
        """Counted in natural hours: the clock runs at night and on holidays."""
        return self.handling.unit is TimeUnit.NATURAL_HOURS


@dataclass(frozen=True)
class Taxonomy:
    """All categories, with lookups by code and by name."""

    categories: tuple[Category, ...]

    def __post_init__(self) -> None:
        for attr in ("code", "name"):
            values = [getattr(c, attr) for c in self.categories]
            duplicates = {v for v in values if values.count(v) > 1}
            if duplicates:
                raise ValueError(f"duplicate category {attr}: {sorted(duplicates)}")

    def __len__(self) -> int:
        return len(self.categories)

    def __iter__(self):
        return iter(self.categories)

    def by_code(self, code: str) -> Category:
        return self._by_code[code]

    def by_name(self, name: str) -> Category:
        return self._by_name[name]

    @cached_property
    def _by_code(self) -> dict[str, Category]:
        return {c.code: c for c in self.categories}

    @cached_property
    def _by_name(self) -> dict[str, Category]:
        return {c.name: c for c in self.categories}

    def majors(self) -> dict[tuple[str, str], str]:
        """(kind, major_code) → major_name."""
        return {(c.kind, c.major_code): c.major_name for c in self.categories}

    def catalog_coverage(self, handled_codes: set[str]) -> float:
        """Share of the city's catalog categories that the platform handles."""
        catalog = {c.code for c in self.categories if c.in_city_catalog}
        return len(catalog & handled_codes) / len(catalog) if catalog else 0.0


def parse_category(row: dict[str, str]) -> Category:
    """Build and check one category from a CSV row."""
    kind = row["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} in {row}")
    major, minor = row["major_code"], row["minor_code"]
    if len(major) != 2 or len(minor) != 4 or not minor.startswith(major):
        raise ValueError(f"bad major/minor codes in {row}")
    expected_code = f"{KINDS.index(kind) + 1}0{minor}"
    if row["code"] != expected_code:
        raise ValueError(f"code {row['code']} should be {expected_code}")
    priority = int(row["priority"])
    if priority not in PRIORITY_LABELS:
        raise ValueError(f"priority must be 1–4: {row}")
    return Category(
        code=row["code"],
        kind=kind,
        major_code=major,
        major_name=row["major_name"],
        minor_code=minor,
        name=row["name"],
        component=row["component"],
        department_key=row["department_key"],
        response=Duration(float(row["response_value"]), TimeUnit(row["response_unit"])),
        handling=Duration(float(row["handle_value"]), TimeUnit(row["handle_unit"])),
        priority=priority,
        in_city_catalog=row["in_city_catalog"].strip().lower() == "true",
    )


def read_taxonomy(path: Path = CATEGORIES_CSV) -> Taxonomy:
    with path.open(encoding="utf-8", newline="") as fh:
        return Taxonomy(tuple(parse_category(row) for row in csv.DictReader(fh)))


@cache
def load_taxonomy() -> Taxonomy:
    """The reference city's taxonomy (read once per process)."""
    return read_taxonomy()
