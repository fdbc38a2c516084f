"""GDAL's OAPIF driver, a real OGC API client, reads every collection from a real server."""

import json

import pyogrio
import pyogrio.raw
from sqlalchemy import text

from tests.opendata_fixtures import od_data  # noqa: F401
from tests.opendata_server import serve


def test_gdal_reads_every_feature_of_every_collection(database_url, var_dir, od_data):  # noqa: F811
    with od_data.engine.connect() as conn:
        areas = conn.execute(text("SELECT count(*) FROM area")).scalar_one()
    expected = {"features": od_data.published, **od_data.by_category, "areas": areas}
    with serve(database_url, var_dir) as base:
        source = f"OAPIF:{base}/ogc/"
        layers = {name: kind for name, kind in pyogrio.list_layers(source)}
        assert layers == {"features": "Point", "jardin-od": "Point", "fete-od": "Point",
                          "atelier-od": "Point", "areas": "MultiPolygon"}
        for layer, count in expected.items():
            # A page size smaller than the collection makes GDAL follow the next links.
            meta, _, geometry, fields = pyogrio.raw.read(
                source, layer=layer, PAGE_SIZE="2")
            assert len(geometry) == count, layer
        meta, _, geometry, fields = pyogrio.raw.read(source, layer="features")
        props = dict(zip(meta["fields"], fields, strict=True))
        assert sorted(props["id"]) == sorted(
            v for k, v in od_data.ids.items() if k != "gone")
        assert "<script>alert('x')</script> & co" in list(props["title"])
        assert "CRS84" in meta["crs"]  # longitude first
        # The collection URL alone works too, as a user would paste it.
        meta, _, geometry, _ = pyogrio.raw.read(f"OAPIF:{base}/ogc/collections/fete-od")
        assert len(geometry) == 2
        attrs = [json.loads(a) if a else {} for a in props["attributes"]]
        assert {"step_free"} <= {x for a in attrs for x in a.get("accessibility", [])}
