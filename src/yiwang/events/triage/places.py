"""Kunshan place names, and a cheap location hint extracted from report text.

The gazetteer joins the official divisions (9 towns, 355 villages/communities from
``divisions.csv``), common town aliases and landmarks (``geo_place_aliases.csv``, e.g.
周庄 → 昆山旅游度假区) and street names (``geo_roads.csv``: plausible, mostly real street
names attached to one town each; not an authoritative road register).

The hint is a dictionary lookup (one regular expression, longest name first), so it finds
only names it knows, spelled correctly. It is a hint for the dispatcher, not geocoding.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

DATA_DIR = Path(__file__).resolve().parents[2] / "reference" / "kunshan" / "data"


@dataclass(frozen=True)
class Village:
    """A village (村) or community (社区) with the short name people use for it."""

    code: str
    name: str
    short_name: str
    town_code: str


@dataclass(frozen=True)
class Road:
    name: str
    town_code: str


@dataclass(frozen=True)
class Alias:
    alias: str
    town_code: str
    kind: str  # "town" or "landmark"


@dataclass(frozen=True)
class Gazetteer:
    towns: dict[str, str]  # code → official name
    villages: tuple[Village, ...]
    roads: tuple[Road, ...]
    aliases: tuple[Alias, ...]


@dataclass(frozen=True)
class LocationHint:
    """What place names a report mentions, resolved to division codes where possible."""

    town_code: str | None = None
    town_name: str | None = None
    village_code: str | None = None
    village_name: str | None = None
    road: str | None = None
    matched: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.town_code is not None


def short_village_name(name: str) -> str:
    """'里厍社区居委会' → '里厍社区', '金家庄村委会' → '金家庄村'."""
    for suffix, short in (("社区居委会", "社区"), ("村委会", "村"), ("居委会", "社区")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + short
    return name


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def load_gazetteer() -> Gazetteer:
    divisions = _rows("divisions.csv")
    towns = {r["code"]: r["name"] for r in divisions if r["level"] == "town"}
    villages = tuple(
        Village(r["code"], r["name"], short_village_name(r["name"]), r["parent_code"])
        for r in divisions
        if r["level"] == "village"
    )
    roads = tuple(Road(r["name"], r["town_code"]) for r in _rows("geo_roads.csv"))
    aliases = tuple(Alias(r["alias"], r["town_code"], r["kind"]) for r in _rows("geo_place_aliases.csv"))
    return Gazetteer(towns, villages, roads, aliases)


Place = Village | Road | Alias
_P = TypeVar("_P", Village, Road, Alias)


@cache
def _matcher() -> tuple[re.Pattern[str], dict[str, tuple[Place, ...]]]:
    gaz = load_gazetteer()
    surface: dict[str, list[Place]] = {}
    # villages first: they win over an alias or road spelled the same way
    for village in gaz.villages:
        for form in dict.fromkeys((village.name, village.short_name)):
            surface.setdefault(form, []).append(village)
    others: tuple[Alias | Road, ...] = (*gaz.aliases, *gaz.roads)
    for place in others:
        name = place.alias if isinstance(place, Alias) else place.name
        surface.setdefault(name, []).append(place)
    names = sorted(surface, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, names)))
    return pattern, {name: tuple(places) for name, places in surface.items()}


def place_pattern() -> re.Pattern[str]:
    """One regular expression matching every known place name, longest first."""
    return _matcher()[0]


def extract_location(text: str) -> LocationHint:
    """Town, village/community and road named in ``text``; village beats alias beats road.

    A name shared by two towns (e.g. 花园社区) is resolved by the other names in the text.
    """
    pattern, surface = _matcher()
    matched = tuple(m.group(0) for m in pattern.finditer(text))
    if not matched:
        return LocationHint()
    found = [surface[name] for name in matched]
    context = {p.town_code for places in found if len(places) == 1 for p in places}

    def pick(kind: type[_P]) -> _P | None:
        candidates = [p for places in found for p in places if isinstance(p, kind)]
        preferred = [p for p in candidates if p.town_code in context]
        best = preferred or candidates
        return best[0] if best else None

    village, alias, road = pick(Village), pick(Alias), pick(Road)
    first = village or alias or road
    assert first is not None  # every matched name is a village, an alias or a road
    town_code = first.town_code
    return LocationHint(
        town_code=town_code,
        town_name=load_gazetteer().towns.get(town_code),
        village_code=village.code if village else None,
        village_name=village.name if village else None,
        road=road.name if road else None,
        matched=matched,
    )


def extract_locations(texts: list[str]) -> list[LocationHint]:
    return [extract_location(t) for t in texts]
