"""The GeoPackage blobs we write, and the spatial functions GDAL's R-tree triggers call."""

import sqlite3
import struct

import shapely

from opendata.geopackage import _point, _register, _stamp, gpkg_blob


def test_a_point_blob_is_what_gdal_writes_and_reads_back():
    wkb = shapely.to_wkb(shapely.Point(2.3522, 48.8566), byte_order=1)
    blob = gpkg_blob(wkb)
    assert blob[:8] == b"GP\x00\x01" + struct.pack("<i", 4326)  # no envelope, LE header
    assert _point(blob) == (2.3522, 48.8566)


def test_envelopes_big_endian_wkb_and_empty_points_are_read_right():
    be = shapely.to_wkb(shapely.Point(1.5, -2.25), byte_order=0)
    envelope = struct.pack("<4d", 1.5, 1.5, -2.25, -2.25)
    with_env = b"GP\x00" + bytes([0x01 | (1 << 1)]) + struct.pack("<i", 4326) + envelope + be
    assert _point(with_env) == (1.5, -2.25)
    empty_flag = b"GP\x00" + bytes([0x01 | 0x10]) + struct.pack("<i", 4326) + be
    assert _point(empty_flag) is None
    nan = gpkg_blob(struct.pack("<BIdd", 1, 1, float("nan"), float("nan")))
    assert _point(nan) is None
    line = gpkg_blob(shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)])))
    assert _point(line) is None and _point(None) is None and _point(b"XX") is None


def test_the_rtree_functions_are_callable_from_sql():
    db = sqlite3.connect(":memory:")
    _register(db)
    blob = gpkg_blob(shapely.to_wkb(shapely.Point(2.5, 48.75), byte_order=1))
    assert db.execute("SELECT ST_IsEmpty(?), ST_MinX(?), ST_MaxX(?), ST_MinY(?), ST_MaxY(?)",
                      (blob,) * 5).fetchone() == (0, 2.5, 2.5, 48.75, 48.75)
    assert db.execute("SELECT ST_IsEmpty(NULL), ST_MinX(NULL)").fetchone() == (1, None)


def test_date_times_are_written_as_gdal_writes_them():
    assert _stamp(1_700_000_000_000) == "2023-11-14T22:13:20Z"
    assert _stamp(1_700_000_000_120) == "2023-11-14T22:13:20.120Z"
    assert _stamp(-1) == "1969-12-31T23:59:59.999Z"
    assert _stamp(None) is None
