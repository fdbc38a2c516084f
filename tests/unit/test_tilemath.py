import math

from hypothesis import given
from hypothesis import strategies as st

from geo.tilemath import (
    MAX_LATITUDE,
    Tile,
    lonlat_to_mercator,
    lonlat_to_tile,
    mercator_to_lonlat,
    parent,
    tile_bounds_lonlat,
    tiles_for_point,
    valid_tile,
)

lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-MAX_LATITUDE, MAX_LATITUDE, allow_nan=False)
zooms = st.integers(0, 22)


@st.composite
def tiles(draw):
    z = draw(zooms)
    return Tile(z, draw(st.integers(0, (1 << z) - 1)), draw(st.integers(0, (1 << z) - 1)))


def osm_tile(lon, lat, z):
    """The slippy-map formula as the OpenStreetMap wiki gives it, independent of ours."""
    n = 2 ** z
    x = (lon + 180) / 360 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int(x), int(y)


def test_known_tile_of_notre_dame():
    x, y = lonlat_to_tile(2.3499, 48.8530, 14)
    assert (int(x), int(y)) == (8298, 5636) == osm_tile(2.3499, 48.8530, 14)


@given(lons, st.floats(-85, 85, allow_nan=False), zooms)
def test_matches_the_osm_formula(lon, lat, z):
    expected = osm_tile(lon, lat, z)
    x, y = lonlat_to_tile(lon, lat, z)
    # Points within 1e-9 of a tile edge may round either way.
    fx = (lon + 180) / 360 * 2 ** z
    if abs(fx - round(fx)) > 1e-6 and expected[0] < 2 ** z:
        assert int(x) == expected[0]
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z
    if abs(fy - round(fy)) > 1e-6 and expected[1] < 2 ** z:
        assert int(y) == expected[1]


@given(lons, lats)
def test_mercator_round_trip(lon, lat):
    x, y = lonlat_to_mercator(lon, lat)
    lon2, lat2 = mercator_to_lonlat(x, y)
    assert math.isclose(float(lon2), lon, abs_tol=1e-9)
    assert math.isclose(float(lat2), lat, abs_tol=1e-9)


@given(lons, lats, zooms)
def test_point_lies_in_its_tile(lon, lat, z):
    x, y = (int(v) for v in lonlat_to_tile(lon, lat, z))
    b = tile_bounds_lonlat(z, x, y)
    assert b.west - 1e-9 <= lon <= b.east + 1e-9
    assert b.south - 1e-9 <= lat <= b.north + 1e-9


@given(tiles())
def test_parent_contains_child(tile):
    if tile.z == 0:
        return
    p = parent(tile)
    cb, pb = tile_bounds_lonlat(*tile), tile_bounds_lonlat(*p)
    assert pb.west <= cb.west and cb.east <= pb.east + 1e-9
    assert pb.south <= cb.south + 1e-9 and cb.north <= pb.north


@given(lons, lats)
def test_column_is_nested(lon, lat):
    column = tiles_for_point(lon, lat, max_zoom=16)
    assert [t.z for t in column] == list(range(17))
    for child, par in zip(column[1:], column, strict=False):
        assert parent(child) == par


def test_valid_tile():
    assert valid_tile(0, 0, 0)
    assert not valid_tile(0, 1, 0)
    assert not valid_tile(3, 0, 8)
    assert not valid_tile(-1, 0, 0)
    assert not valid_tile(25, 0, 0)
