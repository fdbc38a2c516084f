"""The /tiles endpoints as a map client sees them, decoded by mapbox-vector-tile."""

from __future__ import annotations

import gzip
import io

import mapbox_vector_tile
import pytest
from PIL import Image

from geo.tilemath import lonlat_to_tile
from tests.tiles_fixtures import insert_features
from tiles.build import build_full
from tiles.options import TileOptions

PARIS = (2.3488, 48.8534)  # Hôtel de Ville


@pytest.fixture
def built(clean_db, var_dir):
    insert_features(clean_db, 400)
    build_full(clean_db, var_dir, TileOptions(max_zoom=12, mode="cluster"))
    return var_dir


def _tile(z):
    x, y = lonlat_to_tile(*PARIS, z)
    return z, int(x), int(y)


def test_tilejson_describes_the_layer(client, built):
    response = client.get("/tiles/features.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == ["http://localhost/tiles/features/{z}/{x}/{y}.mvt"]
    assert (body["minzoom"], body["maxzoom"]) == (0, 12)
    west, south, east, north = body["bounds"]
    assert 2.2 < west < east < 2.5 and 48.8 < south < north < 48.95
    layer = body["vector_layers"][0]
    assert layer["id"] == "features"
    assert {"id", "category", "title", "point_count"} <= set(layer["fields"])
    assert "Carte citoyenne" in body["attribution"]


def test_vector_tile_is_gzipped_cached_and_decodable(client, built):
    z, x, y = _tile(12)
    response = client.get(f"/tiles/features/{z}/{x}/{y}.mvt",
                          headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    tile = mapbox_vector_tile.decode(gzip.decompress(response.data))
    features = tile["features"]["features"]
    assert features and all(f["properties"]["title"].startswith("Jardin n°") for f in features)
    assert tile["features"]["extent"] == 4096
    again = client.get(f"/tiles/features/{z}/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    plain = client.get(f"/tiles/features/{z}/{x}/{y}.mvt")  # no gzip accepted
    assert "Content-Encoding" not in plain.headers
    assert mapbox_vector_tile.decode(plain.data) == tile


def test_empty_tile_is_204(client, built):
    response = client.get("/tiles/features/12/0/0.mvt")  # the Bering Sea
    assert response.status_code == 204 and response.data == b""


@pytest.mark.parametrize("path", [
    "/tiles/features/0/1/0.mvt", "/tiles/features/3/-1/2.mvt", "/tiles/features/a/0/0.mvt",
    "/tiles/features/99/0/0.mvt", "/tiles/features/1/0/99999999999.mvt",
    "/tiles/features/1.5/0/0.mvt", "/tiles/density/4/16/0.png", "/tiles/base/2/0/%00.png",
])
def test_impossible_coordinates_are_400(client, built, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_beyond_max_zoom_unknown_layer_and_unbuilt_archive_are_404(client, built, var_dir):
    assert client.get("/tiles/features/13/0/0.mvt").status_code == 404
    assert client.get("/tiles/roads/1/0/0.mvt").status_code == 404
    assert client.get("/tiles/features/1/0/0.png").status_code == 404
    (var_dir / "tiles" / "base.mbtiles").unlink()
    response = client.get("/tiles/base/12/2074/1409.png")
    assert response.status_code == 404 and "not been built" in response.get_json()["detail"]


def test_corrupt_archive_is_503_not_500(client, built, var_dir):
    (var_dir / "tiles" / "density.mbtiles").write_bytes(b"not a database" * 100)
    response = client.get("/tiles/density/12/2074/1409.png")
    assert response.status_code == 503


def test_density_and_base_tiles_are_pngs(client, built):
    for layer, z in (("density", 12), ("base", 12)):
        z, x, y = _tile(z)
        response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.png")
        assert response.status_code == 200, layer
        assert response.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(response.data))
        assert image.size == (256, 256) and image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getextrema()[1] > 0, f"{layer} tile is blank"


def test_full_rebuild_is_served_without_restart(client, built, clean_db, var_dir):
    z, x, y = _tile(0)
    first = client.get(f"/tiles/features/{z}/{x}/{y}.mvt")
    insert_features(clean_db, 100, seed=0.7)
    build_full(clean_db, var_dir, TileOptions(max_zoom=12, mode="cluster"), density=False)
    second = client.get(f"/tiles/features/{z}/{x}/{y}.mvt")
    assert second.headers["ETag"] != first.headers["ETag"]
    props = mapbox_vector_tile.decode(second.data)["features"]["features"][0]["properties"]
    assert props["point_count"] == 500


@pytest.mark.parametrize("headers", [{"Accept-Encoding": "gzip"}, {}], ids=["gzip", "plain"])
def test_fast_path_answers_as_the_flask_view_does(app, built, headers):
    """The WSGI fast path and the Flask view give the same status, headers and bytes."""
    from werkzeug.test import Client

    fast = Client(app.wsgi_app)
    slow = Client(app.wsgi_app.app)  # the Flask view alone, behind the fast path
    z, x, y = _tile(12)
    for path in (f"/tiles/features/{z}/{x}/{y}.mvt", "/tiles/features/12/0/0.mvt",
                 f"/tiles/density/{z}/{x}/{y}.png", f"/tiles/base/{min(z, 12)}/{x}/{y}.png"):
        a, b = fast.get(path, headers=headers), slow.get(path, headers=headers)
        assert a.status_code == b.status_code, path
        assert a.data == b.data, path
        for name in ("Content-Encoding", "ETag", "Cache-Control",
                     "Content-Security-Policy", "X-Content-Type-Options"):
            assert a.headers.get(name) == b.headers.get(name), (path, name)
        if a.status_code == 200:   # (a 204 has no body, so no type: Flask says text/html)
            assert a.headers["Content-Type"] == b.headers["Content-Type"]
        if a.status_code == 200:
            etag = a.headers["ETag"]
            assert fast.get(path, headers={"If-None-Match": etag}).status_code == 304
    # What the fast path does not answer still gets the view's errors.
    assert fast.get("/tiles/features/0/1/0.mvt").status_code == 400
    assert fast.get("/tiles/features/13/0/0.mvt").status_code == 404
    assert fast.post(f"/tiles/features/{z}/{x}/{y}.mvt").status_code in (400, 405)


def test_before_the_first_build_the_points_come_from_the_live_index(client, clean_db, var_dir):
    """A fresh install or a new city shows its places before `carte tiles build` ran,
    instead of a map that says it could not be drawn."""
    insert_features(clean_db, 50)
    assert not (var_dir / "tiles" / "features.mbtiles").exists()
    z, x, y = _tile(14)
    response = client.get(f"/tiles/features/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=30"  # live, not archived
    layer = mapbox_vector_tile.decode(response.data)["features"]
    assert layer["features"]
    far = lonlat_to_tile(-60.0, -40.0, 14)  # nothing there: empty, as from an archive
    assert client.get(f"/tiles/features/14/{int(far[0])}/{int(far[1])}.mvt").status_code == 204
    assert client.get("/tiles/features/17/0/0.mvt").status_code == 404  # beyond max zoom
