"""City outline, approximate town areas, vectorised point lookups."""

import json
import time

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape

from yiwang.org import geo

SHANGHAI_PEOPLES_SQUARE = (121.475, 31.232)
SUZHOU_OLD_TOWN = (120.62, 31.31)


def test_nine_towns_from_the_division_codes():
    towns = geo.towns()
    assert len(towns) == 9
    assert {t.code[:6] for t in towns} == {geo.CITY_CODE}
    assert geo.town("320583401").name == "昆山旅游度假区"
    assert set(geo.town("320583401").seats) >= {"周庄", "锦溪", "淀山湖"}


def test_inside_and_outside_the_city():
    for t in geo.towns():
        assert geo.contains(*t.label_point), t.name
    assert not geo.contains(*SHANGHAI_PEOPLES_SQUARE)
    assert not geo.contains(*SUZHOU_OLD_TOWN)
    assert geo.town_of(*SHANGHAI_PEOPLES_SQUARE) is None


def test_each_seat_falls_in_its_own_town():
    for seed in geo._seeds():
        found = geo.town_of(seed.lon, seed.lat)
        assert found is not None and found.code == seed.town_code, seed.seat
        assert geo.point_in_town(seed.lon, seed.lat, seed.town_code)


def test_cells_tile_the_outline_without_overlap():
    cells = geo.town_cells()
    outline = geo.city_outline()
    union = shapely.union_all(list(cells.values()))
    assert union.symmetric_difference(outline).area < 1e-6 * outline.area
    codes = list(cells)
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            assert cells[a].intersection(cells[b]).area < 1e-9, (a, b)


def test_every_town_gets_a_plausible_share_of_the_city():
    # Kunshan is ~930 km²; the smallest real towns (陆家, 花桥) are ~5 % of it.
    cells, total = geo.town_cells(), geo.city_outline().area
    for code, cell in cells.items():
        assert 0.03 < cell.area / total < 0.3, geo.town(code).name


def test_vectorised_lookup_agrees_with_polygons():
    rng = np.random.default_rng(7)
    min_x, min_y, max_x, max_y = geo.city_outline().bounds
    lons = rng.uniform(min_x - 0.05, max_x + 0.05, 3000)
    lats = rng.uniform(min_y - 0.05, max_y + 0.05, 3000)
    inside = geo.contains_many(lons, lats)
    assert 0.2 < inside.mean() < 0.9  # the sample straddles the border
    codes = geo.town_codes_of(lons, lats)
    cells = geo.town_cells()
    sample = zip(lons[:400], lats[:400], inside[:400], codes[:400], strict=True)
    for lon, lat, is_in, code in sample:
        assert is_in == geo.city_outline().contains(Point(lon, lat))
        if is_in:
            assert cells[code].distance(Point(lon, lat)) < 1e-9
        else:
            assert code == ""


def test_bulk_lookup_is_fast():
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(120.8, 121.2, 200_000), rng.uniform(31.1, 31.55, 200_000)
    started = time.perf_counter()
    geo.town_codes_of(lons, lats)
    assert time.perf_counter() - started < 2.0


def test_random_points_stay_in_their_town_and_are_reproducible():
    for t in geo.towns():
        points = geo.random_points(t.code, 50, np.random.default_rng(3))
        assert points.shape == (50, 2)
        assert (geo.town_codes_of(points[:, 0], points[:, 1]) == t.code).all()
    a = geo.random_points("320583104", 5, np.random.default_rng(11))
    b = geo.random_points("320583104", 5, np.random.default_rng(11))
    assert np.array_equal(a, b)
    lon, lat = geo.random_point("320583102", np.random.default_rng(0))
    assert geo.town_of(lon, lat).name == "周市镇"


def test_geojson_export_is_flagged_approximate():
    collection = json.loads(json.dumps(geo.town_cells_geojson(), ensure_ascii=False))
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 9
    for feature in collection["features"]:
        props = feature["properties"]
        assert props["approximate"] is True and "近似" in props["note"]
        polygon = shape(feature["geometry"])
        assert polygon.is_valid and not polygon.is_empty
        assert polygon.contains(Point(props["label_point"])) or polygon.distance(Point(props["label_point"])) < 1e-4
        assert props["label_point"] == list(geo.label_point(props["code"]))


@pytest.mark.parametrize("code", ["320583999", "nope"])
def test_unknown_town_codes_raise(code):
    with pytest.raises(KeyError):
        geo.town(code)
    with pytest.raises(KeyError):
        geo.random_points(code, 1, np.random.default_rng(0))


def test_the_raster_fast_path_agrees_with_the_polygon_everywhere():
    """Points at random over the region and right next to every vertex of the outline."""
    outline = geo.city_outline()
    rng = np.random.default_rng(7)
    lons, lats = rng.uniform(120.7, 121.3, 50000), rng.uniform(31.0, 31.65, 50000)
    edge = shapely.get_coordinates(outline)
    jitter = rng.normal(0, 2e-5, edge.shape)
    lons = np.concatenate([lons, edge[:, 0] + jitter[:, 0]])
    lats = np.concatenate([lats, edge[:, 1] + jitter[:, 1]])
    exact = shapely.contains_xy(outline, lons, lats)
    assert exact[-len(edge) :].any() and not exact[-len(edge) :].all()  # the vertex points straddle the line
    assert (geo.contains_many(lons, lats) == exact).all()
    assert all(geo.contains(x, y) == e for x, y, e in zip(lons[-3000:], lats[-3000:], exact[-3000:], strict=True))


def test_points_at_the_edges_of_the_raster_and_not_numbers_are_outside_or_exact():
    import warnings

    minx, miny, maxx, maxy = geo.city_outline().bounds
    below_top = np.nextafter(maxy, miny)
    lons = np.array([np.nan, minx, np.nextafter(maxx, minx), 1e300, 121.0])
    lats = np.array([31.3, miny, below_top, 31.3, np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no invalid-cast warnings from NaN or huge values
        many = geo.contains_many(lons, lats)
    assert not many[[0, 3, 4]].any()
    assert list(many) == [geo.contains(x, y) for x, y in zip(lons, lats, strict=True)]
    assert geo.contains(np.nextafter(maxx, minx), below_top) is False
