"""Reference code lists the checks need: GB/T 2260 codes, ethnic groups, Kunshan's divisions."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

_DATA = resources.files(__package__) / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=4)
def region_codes(*, include_historical: bool = True) -> np.ndarray:
    """Sorted int64 array of six-digit GB/T 2260 codes accepted as a resident ID's first digits.

    Historical codes are included by default: an ID keeps the code of the place and year it was
    first issued, so many living people carry codes that no longer exist.
    """
    codes = [int(r["code"]) for r in _rows("gbt2260_codes.csv") if include_historical or r["status"] == "current"]
    return np.array(sorted(codes), np.int64)


@lru_cache(maxsize=1)
def region_names() -> dict[str, str]:
    return {r["code"]: r["name"] for r in _rows("gbt2260_codes.csv")}


@lru_cache(maxsize=1)
def current_county_codes() -> list[str]:
    return [r["code"] for r in _rows("gbt2260_codes.csv") if r["status"] == "current"]


@lru_cache(maxsize=1)
def ethnic_groups() -> list[str]:
    """The 56 ethnic group names (GB/T 3304) plus 其他 and 外国血统中国籍人士."""
    return [r["name"] for r in _rows("ethnic_groups.csv")]


def kunshan_divisions_path() -> Path:
    """The reference city pack's division list (owned by ``yiwang.reference.kunshan``; read only)."""
    return Path(__file__).resolve().parents[2] / "reference" / "kunshan" / "data" / "divisions.csv"


@lru_cache(maxsize=1)
def kunshan_divisions() -> list[dict[str, str]]:
    with open(kunshan_divisions_path(), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def kunshan_community_codes() -> list[str]:
    """The 12-digit statistical codes of Kunshan's villages and communities (allowed set for 所属社区代码)."""
    return [r["code"] for r in kunshan_divisions() if r["level"] == "village"]
