"""Full builds into real archives, read back by real clients (GDAL, mapbox-vector-tile)."""

from __future__ import annotations

import gzip
import json
import sqlite3

import mapbox_vector_tile
import pyogrio.raw
import pytest
from sqlalchemy import text

from tests.tiles_fixtures import CATEGORIES, insert_features
from tiles.build import build_full
from tiles.options import TileOptions


def _gdal_features(path, layer="features", **open_options):
    meta, fids, geometry, fields = pyogrio.raw.read(path, layer=layer, **open_options)
    return meta, fids, geometry, dict(zip(meta["fields"], fields, strict=True))


@pytest.mark.parametrize("mode", ["drop", "cluster"])
def test_full_build_is_read_back_whole_by_gdal(clean_db, var_dir, mode):
    insert_features(clean_db, 500)
    insert_features(clean_db, 20, status="unpublished", title="Retiré ")
    report = build_full(clean_db, var_dir, TileOptions(max_zoom=12, mode=mode))
    assert report.points == 500
    assert report.per_zoom[12] == pytest.approx(500, abs=60)  # + buffer copies
    with clean_db.connect() as conn:
        published = {r.id: (r.title, r.category) for r in conn.execute(text(
            "SELECT id, title, category FROM feature WHERE status = 'published'"))}
    tiles = var_dir / "tiles"
    for archive in ("features.mbtiles", "features.pmtiles"):
        # GDAL opens the deepest zoom and clips each tile to its extent: buffer copies
        # vanish and every published feature is there exactly once, unpublished ones never.
        _, _, geometry, fields = _gdal_features(str(tiles / archive))
        assert len(geometry) == len(published)
        ids = [int(v) for v in fields["id"]]
        assert sorted(ids) == sorted(published), archive
        for fid, title, category in zip(ids, fields["title"], fields["category"],
                                        strict=True):
            assert (title, category) == published[fid]
    with sqlite3.connect(tiles / "features.mbtiles") as db:
        meta = dict(db.execute("SELECT name, value FROM metadata"))
        zooms = [z for (z,) in db.execute("SELECT DISTINCT zoom_level FROM tiles")]
    assert meta["format"] == "pbf"
    assert json.loads(meta["json"])["vector_layers"][0]["id"] == "features"
    assert sorted(zooms) == list(range(13))
    assert json.loads(meta["carte"])["mode"] == mode


def test_low_zoom_summarises_every_point_in_cluster_mode(clean_db, var_dir):
    insert_features(clean_db, 300)
    build_full(clean_db, var_dir, TileOptions(max_zoom=10, mode="cluster"), density=False)
    with sqlite3.connect(var_dir / "tiles" / "features.mbtiles") as db:
        (data,) = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = 0").fetchone()
    features = mapbox_vector_tile.decode(gzip.decompress(data))["features"]["features"]
    assert len(features) == 1
    props = features[0]["properties"]
    assert props["point_count"] == 300
    assert props["point_count_abbreviated"] == "300"
    assert sum(props[f"count_{c}"] for c in CATEGORIES) == 300


def test_rebuild_after_unpublishing_drops_the_feature(clean_db, var_dir):
    insert_features(clean_db, 50)
    options = TileOptions(max_zoom=8, mode="drop")
    build_full(clean_db, var_dir, options, density=False)
    with clean_db.begin() as conn:
        gone = conn.execute(text(
            "UPDATE feature SET status = 'unpublished' WHERE id = "
            "(SELECT min(id) FROM feature) RETURNING id")).scalar_one()
    report = build_full(clean_db, var_dir, options, density=False)
    assert report.points == 49
    _, _, _, fields = _gdal_features(str(var_dir / "tiles" / "features.mbtiles"))
    assert gone not in {int(v) for v in fields["id"]}
    assert len(fields["id"]) == 49


def test_empty_map_builds_empty_archives(clean_db, var_dir):
    report = build_full(clean_db, var_dir, TileOptions(max_zoom=6))
    assert report.points == 0 and report.tiles == 0
    assert (var_dir / "tiles" / "features.mbtiles").exists()


def test_density_geotiff_is_a_cog_in_web_mercator(clean_db, var_dir):
    import numpy as np
    import rasterio

    insert_features(clean_db, 2000)
    build_full(clean_db, var_dir, TileOptions(max_zoom=10, mode="drop"))
    with rasterio.open(var_dir / "tiles" / "density.tif") as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.overviews(1), "no overviews"
        assert ds.tags()["units"] == "points per hectare"
        assert ds.profile["tiled"] and ds.profile["blockxsize"] == 256
        data = ds.read(1)
        res = ds.res[0]
        # Integrating the surface gives back the number of points (the blur keeps mass):
        # pixel area on the ground is res² · cos²(lat) in Web Mercator at Paris.
        hectares = (res * np.cos(np.radians(48.86))) ** 2 / 10_000
        assert data.sum() * hectares == pytest.approx(2000, rel=0.02)
        # The densest pixel is inside Paris.
        row, col = np.unravel_index(np.argmax(data), data.shape)
        x, y = ds.xy(row, col)
        assert 250_000 < x < 270_000 and 6_240_000 < y < 6_260_000
