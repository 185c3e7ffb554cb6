"""Where is a point in Kunshan? City outline and APPROXIMATE town-level areas.

The city pack has the real city outline (``boundary.geojson``, coarse, about 1 km) but no
town-level polygons. Town areas are therefore approximated: Voronoi cells around the
approximate government seats listed in ``geo_town_seats.csv`` (a town may have several
seeds, e.g. 昆山旅游度假区 = 淀山湖 + 周庄 + 锦溪), merged per town and clipped to the
city outline. They are good enough to colour a map or place synthetic data, and wrong near
real town borders: never use them for anything legal. The cells are computed in a local
equirectangular projection so that distances in the east–west and north–south directions
weigh the same.

Coordinates are longitude/latitude (WGS84, ``x = lon``, ``y = lat``). The outline comes
from a web-map package and may carry a few hundred metres of datum offset, well within its
own coarseness.
"""

from __future__ import annotations

import csv
import json
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, mapping, shape
from shapely.geometry.base import BaseGeometry

DATA_DIR = Path(__file__).resolve().parents[1] / "reference" / "kunshan" / "data"
CITY_CODE = "320583"
APPROXIMATION_NOTE = (
    "近似范围：以镇（区）政府驻地为种子点的泰森多边形，按市界裁剪；非法定行政边界，仅供示意。"
    " Approximate: Voronoi cells around town seats, clipped to the city outline;"
    " not legal boundaries."
)
_LAT0 = math.radians(31.33)  # projection centre, mid-Kunshan
_X_SCALE = math.cos(_LAT0)


@dataclass(frozen=True)
class Town:
    """A town-level unit (区镇) with its label point (the primary seat)."""

    code: str
    name: str
    label_point: tuple[float, float]
    seats: tuple[str, ...]


@dataclass(frozen=True)
class _Seed:
    town_code: str
    town_name: str
    seat: str
    lon: float
    lat: float
    primary: bool


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def _seeds() -> tuple[_Seed, ...]:
    return tuple(
        _Seed(
            r["town_code"],
            r["town_name"],
            r["seat"],
            float(r["lon"]),
            float(r["lat"]),
            r["primary"].strip().lower() == "true",
        )
        for r in _read_csv("geo_town_seats.csv")
    )


@cache
def towns() -> tuple[Town, ...]:
    """The town-level units of the city, in division-code order."""
    division_names = {r["code"]: r["name"] for r in _read_csv("divisions.csv") if r["level"] == "town"}
    result = []
    for code, name in sorted(division_names.items()):
        seeds = [s for s in _seeds() if s.town_code == code]
        primary = [s for s in seeds if s.primary]
        if len(primary) != 1:
            raise ValueError(f"town {code} {name} needs exactly one primary seat")
        p = primary[0]
        result.append(Town(code, name, (p.lon, p.lat), tuple(s.seat for s in seeds)))
    return tuple(result)


def town(code: str) -> Town:
    for t in towns():
        if t.code == code:
            return t
    raise KeyError(code)


@cache
def city_outline() -> BaseGeometry:
    """Kunshan's outline as a valid shapely (Multi)Polygon, prepared for fast tests."""
    with (DATA_DIR / "boundary.geojson").open(encoding="utf-8") as fh:
        feature = json.load(fh)["features"][0]
    geom = shapely.make_valid(shape(feature["geometry"]))
    # make_valid may return a collection with stray lines: keep the polygonal part
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    outline = shapely.union_all(polygons)
    shapely.prepare(outline)
    return outline


def _project(geom: BaseGeometry, inverse: bool = False) -> BaseGeometry:
    scale = 1 / _X_SCALE if inverse else _X_SCALE
    return shapely.transform(geom, lambda xy: xy * np.array([scale, 1.0]))


@cache
def town_cells() -> dict[str, BaseGeometry]:
    """APPROXIMATE area of each town: merged Voronoi cells clipped to the outline."""
    seeds = _seeds()
    outline = city_outline()
    points = _project(MultiPoint([(s.lon, s.lat) for s in seeds]))
    envelope = _project(outline.envelope).buffer(0.5)
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=envelope, ordered=True))
    by_town: dict[str, list[BaseGeometry]] = {}
    for seed, cell in zip(seeds, cells, strict=True):
        by_town.setdefault(seed.town_code, []).append(_project(cell, inverse=True))
    result = {}
    for code, parts in by_town.items():
        geom = shapely.intersection(shapely.union_all(parts), outline)
        shapely.prepare(geom)
        result[code] = geom
    return result


RASTER_CELLS = 256  # per side of the outline's bounding box: cells of about 140 m × 170 m


_GEOS_LOCK = threading.Lock()  # a prepared geometry builds its index on first use: not from two threads at once


@cache
def _raster() -> tuple[tuple[float, float, float, float], np.ndarray]:
    with _GEOS_LOCK:
        return _build_raster()


def _exact(lons, lats):
    with _GEOS_LOCK:
        return shapely.contains_xy(city_outline(), lons, lats)


def _build_raster() -> tuple[tuple[float, float, float, float], np.ndarray]:
    """The outline's bounding box cut into cells, each marked 0 outside, 2 inside or 1 on the boundary
    (only points in boundary cells need the exact polygon test: about 2.5 % of the cells)."""
    outline = city_outline()
    minx, miny, maxx, maxy = outline.bounds
    xs, ys = np.linspace(minx, maxx, RASTER_CELLS + 1), np.linspace(miny, maxy, RASTER_CELLS + 1)
    x0, y0 = np.meshgrid(xs[:-1], ys[:-1])
    x1, y1 = np.meshgrid(xs[1:], ys[1:])
    boxes = shapely.box(x0.ravel(), y0.ravel(), x1.ravel(), y1.ravel())
    state = np.where(shapely.contains_properly(outline, boxes), 2, np.where(shapely.intersects(outline, boxes), 1, 0))
    return (minx, miny, maxx, maxy), state.reshape(RASTER_CELLS, RASTER_CELLS).astype(np.int8)


def contains(lon: float, lat: float) -> bool:
    """Is the point inside the city outline?"""
    (minx, miny, maxx, maxy), state = _raster()
    if not (minx <= lon < maxx and miny <= lat < maxy):
        return False
    last = RASTER_CELLS - 1  # a point a hair below the box's top or right edge may round up to the next cell
    cell = state[
        min(last, int((lat - miny) / (maxy - miny) * RASTER_CELLS)),
        min(last, int((lon - minx) / (maxx - minx) * RASTER_CELLS)),
    ]
    return bool(cell == 2 or (cell == 1 and _exact(lon, lat)))


def contains_many(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Vectorised :func:`contains` for arrays of coordinates."""
    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    (minx, miny, maxx, maxy), state = _raster()
    inbox = (lons >= minx) & (lons < maxx) & (lats >= miny) & (lats < maxy)
    x, y = np.where(inbox, lons, minx), np.where(inbox, lats, miny)  # NaN and far-away points: a valid cell, masked
    col = np.clip(((x - minx) / (maxx - minx) * RASTER_CELLS).astype(int), 0, RASTER_CELLS - 1)
    row = np.clip(((y - miny) / (maxy - miny) * RASTER_CELLS).astype(int), 0, RASTER_CELLS - 1)
    cell = np.where(inbox, state[row, col], 0)
    out = cell == 2
    edge = np.nonzero(cell == 1)[0]
    if len(edge):
        out[edge] = _exact(lons[edge], lats[edge])
    return out


@cache
def _seed_arrays() -> tuple[np.ndarray, np.ndarray]:
    seeds = _seeds()
    xy = np.array([(s.lon * _X_SCALE, s.lat) for s in seeds])
    codes = np.array([s.town_code for s in seeds])
    return xy, codes


def town_codes_of(lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Town code of each point (nearest seed = Voronoi cell); ``""`` outside the city."""
    lons, lats = np.asarray(lons, float), np.asarray(lats, float)
    seed_xy, seed_codes = _seed_arrays()
    dx = lons[:, None] * _X_SCALE - seed_xy[None, :, 0]
    dy = lats[:, None] - seed_xy[None, :, 1]
    nearest = seed_codes[np.argmin(dx * dx + dy * dy, axis=1)]
    return np.where(contains_many(lons, lats), nearest, "")


def town_of(lon: float, lat: float) -> Town | None:
    """The (approximate) town-level unit containing the point, or None outside the city."""
    code = town_codes_of(np.array([lon]), np.array([lat]))[0]
    return town(code) if code else None


def random_points(town_code: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random (lon, lat) rows inside a town's approximate area."""
    cell = town_cells()[town_code]
    min_x, min_y, max_x, max_y = cell.bounds
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        batch = max(2 * (n - count), 16)
        xy = np.column_stack([rng.uniform(min_x, max_x, batch), rng.uniform(min_y, max_y, batch)])
        inside = xy[shapely.contains_xy(cell, xy[:, 0], xy[:, 1])]
        found.append(inside)
        count += len(inside)
    return np.concatenate(found)[:n]


def random_point(town_code: str, rng: np.random.Generator) -> tuple[float, float]:
    lon, lat = random_points(town_code, 1, rng)[0]
    return float(lon), float(lat)


def label_point(town_code: str) -> tuple[float, float]:
    """Where to write the town's name on a map: its primary seat."""
    return town(town_code).label_point


def town_cells_geojson(precision: int = 5) -> dict:
    """The approximate town areas as a GeoJSON FeatureCollection (flagged ``approximate``)."""
    features = []
    for t in towns():
        geom = shapely.set_precision(town_cells()[t.code], 10**-precision)
        features.append(
            {
                "type": "Feature",
                "id": t.code,
                "properties": {
                    "code": t.code,
                    "name": t.name,
                    "seats": list(t.seats),
                    "label_point": list(t.label_point),
                    "approximate": True,
                    "note": APPROXIMATION_NOTE,
                },
                "geometry": mapping(geom),
            }
        )
    return {
        "type": "FeatureCollection",
        "properties": {"city": CITY_CODE, "approximate": True, "note": APPROXIMATION_NOTE},
        "features": features,
    }


def point_in_town(lon: float, lat: float, town_code: str) -> bool:
    """Is the point inside the town's approximate area?"""
    return bool(town_cells()[town_code].contains(Point(lon, lat)))
