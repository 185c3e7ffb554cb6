"""Where is a case? Point → grid, community and town; address text → approximate point.

Town areas come from ``org.geo`` (approximate Voronoi cells around town seats). Villages and
grids have no published boundaries either, so the same construction is nested: each town
gets one deterministic seed per village/community inside its area, each village one seed
per grid inside the village's cell; a point belongs to the nearest seed among its parent's
children. The result is a consistent partition (every point of the city lies in exactly
one grid of one village of one town), stable across processes and releases, and
vectorised with numpy for batches. Like the town areas it is an approximation for
routing and maps, not a legal boundary.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPoint

from yiwang import org
from yiwang.events.triage import extract_location

_X = math.cos(math.radians(31.33))  # same local projection as org.geo


@dataclass(frozen=True)
class Place:
    """A located point: its town, village/community and grid codes (None when outside)."""

    town_code: str | None
    village_code: str | None
    grid_code: str | None

    @property
    def region_code(self) -> str | None:
        return self.grid_code or self.village_code or self.town_code


@dataclass(frozen=True)
class Geocoded:
    lng: float | None
    lat: float | None
    region_code: str | None
    town_code: str | None
    precision: str  # village | town | none
    matched: tuple[str, ...] = ()


def _seed_points(geom, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = geom.bounds
    found = np.empty((0, 2))
    while len(found) < n:
        xy = np.column_stack([rng.uniform(minx, maxx, 4 * n + 16), rng.uniform(miny, maxy, 4 * n + 16)])
        found = np.vstack([found, xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]])
    return found[:n]


class Locator:
    """Nested seeds for villages and grids, built once from the region table."""

    def __init__(self, villages: dict[str, list[str]], grids: dict[str, list[str]]) -> None:
        self.village_codes: dict[str, np.ndarray] = {}
        self.village_xy: dict[str, np.ndarray] = {}
        self.grid_codes: dict[str, np.ndarray] = {}
        self.grid_xy: dict[str, np.ndarray] = {}
        self.points: dict[str, tuple[float, float]] = {}
        cells = org.geo.town_cells()
        for town_code, village_list in villages.items():
            if town_code not in cells or not village_list:
                continue
            codes = sorted(village_list)
            xy = _seed_points(cells[town_code], len(codes), int(town_code))
            self.village_codes[town_code] = np.array(codes)
            self.village_xy[town_code] = xy
            vcells = self._cells(cells[town_code], xy)
            for code, (x, y), cell in zip(codes, xy, vcells, strict=True):
                self.points[code] = (float(x), float(y))
                gcodes = sorted(grids.get(code, []))
                if not gcodes:
                    continue
                gxy = _seed_points(cell, len(gcodes), int(code))
                self.grid_codes[code] = np.array(gcodes)
                self.grid_xy[code] = gxy
                for g, (gx, gy) in zip(gcodes, gxy, strict=True):
                    self.points[g] = (float(gx), float(gy))
        for t in org.geo.towns():
            self.points[t.code] = t.label_point

    @staticmethod
    def _cells(town_cell, xy: np.ndarray) -> list:
        if len(xy) == 1:
            return [town_cell]
        projected = MultiPoint([(x * _X, y) for x, y in xy])
        envelope = shapely.box(*town_cell.bounds).buffer(0.2)
        envelope = affinity.scale(envelope, xfact=_X, yfact=1, origin=(0, 0))
        polys = shapely.get_parts(shapely.voronoi_polygons(projected, extend_to=envelope, ordered=True))
        out = []
        for poly in polys:
            back = shapely.transform(poly, lambda p: p * np.array([1 / _X, 1.0]))
            cell = shapely.intersection(back, town_cell)
            out.append(cell if not cell.is_empty else town_cell)
        return out

    @staticmethod
    def _nearest(xy: np.ndarray, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        dx = lons[:, None] * _X - xy[None, :, 0] * _X
        dy = lats[:, None] - xy[None, :, 1]
        return np.argmin(dx * dx + dy * dy, axis=1)

    def locate_many(self, lons, lats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Town, village and grid code of each point (``""`` outside the city)."""
        lons, lats = np.asarray(lons, float), np.asarray(lats, float)
        towns = org.geo.town_codes_of(lons, lats)
        villages = np.full(len(lons), "", dtype=object)
        grids = np.full(len(lons), "", dtype=object)
        for town_code in np.unique(towns):
            if not town_code or town_code not in self.village_xy:
                continue
            idx = np.nonzero(towns == town_code)[0]
            vpick = self.village_codes[town_code][self._nearest(self.village_xy[town_code], lons[idx], lats[idx])]
            villages[idx] = vpick
            for vcode in np.unique(vpick):
                if vcode not in self.grid_xy:
                    continue
                sub = idx[vpick == vcode]
                grids[sub] = self.grid_codes[vcode][self._nearest(self.grid_xy[vcode], lons[sub], lats[sub])]
        return towns.astype(object), villages, grids

    def locate(self, lng: float, lat: float) -> Place:
        t, v, g = self.locate_many([lng], [lat])
        return Place(t[0] or None, v[0] or None, g[0] or None)

    def point_of(self, region_code: str) -> tuple[float, float] | None:
        return self.points.get(region_code)

    def geocode(self, text: str) -> Geocoded:
        """An address or report text → the most precise known place (village, else town)."""
        hint = extract_location(text or "")
        lng: float | None
        lat: float | None
        if hint.village_code and hint.village_code in self.points:
            lng, lat = self.points[hint.village_code]
            return Geocoded(lng, lat, hint.village_code, hint.town_code, "village", hint.matched)
        if hint.town_code:
            lng, lat = self.points.get(hint.town_code, (None, None))
            return Geocoded(lng, lat, hint.town_code, hint.town_code, "town", hint.matched)
        return Geocoded(None, None, None, None, "none")


_lock = threading.Lock()
_locator: Locator | None = None


def locator(session) -> Locator:
    """The process-wide locator (built from the region table on first use, about 0.5 s)."""
    global _locator
    if _locator is None:
        with _lock:
            if _locator is None:
                villages: dict[str, list[str]] = {}
                grids: dict[str, list[str]] = {}
                for r in org.list_regions(session, level="village", limit=100000):
                    if r.parent_code is not None:  # a village or grid has one
                        villages.setdefault(r.parent_code, []).append(r.code)
                for r in org.list_regions(session, level="grid", limit=100000):
                    if r.parent_code is not None:
                        grids.setdefault(r.parent_code, []).append(r.code)
                _locator = Locator(villages, grids)
    return _locator


def inside_city(lng: float, lat: float) -> bool:
    return bool(org.geo.contains(lng, lat))
