"""The basemap as a map client sees it: built from the city's open data, served, decoded.

A small box around the Hôtel de Ville is built (about a second), then read back through
the Flask test client (which goes through the WSGI tile fast path first) and decoded by
mapbox-vector-tile, as a renderer would.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely

from geo.city import load_city
from geo.config import data_dir
from geo.db import dispose_engines
from geo.tilemath import lonlat_to_tile
from tests.basemap_fixtures import BBOX, HOTEL_DE_VILLE, basemap_var  # noqa: F401
from tiles.basemap import BASEMAP_MBTILES, BASEMAP_PMTILES, build_basemap
from tiles.basemap_sources import BasemapSourceError

LAYERS = {"water", "parks", "boundaries", "places", "streets", "rail", "stations"}


@pytest.fixture
def built(var_dir: Path) -> Path:
    report = build_basemap(load_city("paris"), var_dir, bbox=BBOX)
    assert report.built and report.reason == "sources changed"
    return var_dir


def _address(z: int, lonlat: tuple[float, float] = HOTEL_DE_VILLE) -> tuple[int, int, int]:
    x, y = lonlat_to_tile(*lonlat, z)
    return z, int(x), int(y)


def _decode(client, z: int, x: int, y: int) -> dict:
    response = client.get(f"/tiles/basemap/{z}/{x}/{y}.mvt",
                          headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(gzip.decompress(response.data))


def test_hotel_de_ville_tile_has_named_streets_the_seine_and_its_station(client, built):
    tile = _decode(client, *_address(16))
    streets = {f["properties"]["name"]: f["properties"] for f in tile["streets"]["features"]}
    assert streets["Rue de Rivoli"]["class"] == "major"
    assert streets["Rue de Rivoli"]["kind"] == "RUE"
    assert {"Pont d'Arcole", "Rue du Renard"} <= set(streets)
    assert {p["class"] for p in streets.values()} <= {"periph", "major", "medium", "minor",
                                                       "path"}
    # The Seine runs along the south of this tile, as polygons of kind river.
    water = tile["water"]["features"]
    assert water and {f["properties"]["kind"] for f in water} == {"river"}
    assert {f["properties"]["name"] for f in water} == {"La Seine"}
    assert sum(shapely.geometry.shape(f["geometry"]).area for f in water) > 100_000
    stations = {f["properties"]["name"]: f["properties"] for f in tile["stations"]["features"]}
    assert stations["Hôtel de Ville"]["lines"] == "1, 11"
    assert stations["Hôtel de Ville"]["colour"] == "#FFBE00"  # metro 1's official yellow
    rail = {(f["properties"]["mode"], f["properties"]["line"]): f["properties"]["colour"]
            for f in tile["rail"]["features"]}
    assert rail[("metro", "1")] == "#FFBE00" and rail[("rer", "A")] == "#EB2132"
    assert tile["streets"]["extent"] == 4096


def test_low_zoom_keeps_major_streets_and_drops_lanes(client, built):
    tile = _decode(client, *_address(12))
    classes = {f["properties"]["class"] for f in tile["streets"]["features"]}
    assert classes <= {"periph", "major"} and "major" in classes
    names = {f["properties"]["name"] for f in tile["streets"]["features"]}
    assert "Rue de Rivoli" in names and "Rue du Renard" not in names
    places = {f["properties"]["name"] for f in tile["places"]["features"]
              if f["properties"]["level"] == "arrondissement"}
    assert "4e arrondissement" in places
    fourth = next(f for f in tile["places"]["features"]
                  if f["properties"]["name"] == "4e arrondissement")
    assert fourth["properties"]["short"] == "4e" and fourth["properties"]["code"] == "75104"
    assert not any(f["properties"]["level"] == "quartier" for f in tile["places"]["features"])
    parks = [f["properties"] for f in tile["parks"]["features"]]
    assert parks and min(p["area_m2"] for p in parks) >= 50_000


def test_tilejson_lists_the_seven_layers_and_every_source(client, built):
    response = client.get("/tiles/basemap.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == ["http://localhost/tiles/basemap/{z}/{x}/{y}.mvt"]
    assert (body["minzoom"], body["maxzoom"]) == (11, 16)
    assert {layer["id"] for layer in body["vector_layers"]} == LAYERS
    streets = next(v for v in body["vector_layers"] if v["id"] == "streets")
    assert {"name", "class", "kind"} <= set(streets["fields"])
    assert "minor from z14" in streets["description"]
    stations = next(v for v in body["vector_layers"] if v["id"] == "stations")
    assert (stations["minzoom"], stations["maxzoom"]) == (12, 16)  # RER first, at z12
    west, south, east, north = body["bounds"]
    assert (west, south, east, north) == pytest.approx(BBOX)
    assert west < body["center"][0] < east and south < body["center"][1] < north
    for source in ("Ville de Paris", "ODbL", "Île-de-France Mobilités", "Licence Ouverte"):
        assert source in body["attribution"]
    other = client.get("/tiles/basemap.json", base_url="https://carte.example.org/")
    assert other.get_json()["tiles"][0].startswith("https://carte.example.org/tiles/")


def test_answer_rules_etag_304_204_400_404(client, built):
    z, x, y = _address(16)
    first = client.get(f"/tiles/basemap/{z}/{x}/{y}.mvt")
    assert first.status_code == 200 and first.headers["ETag"]
    assert "Content-Encoding" not in first.headers  # no gzip asked: plain MVT
    assert mapbox_vector_tile.decode(first.data)["streets"]["features"]
    again = client.get(f"/tiles/basemap/{z}/{x}/{y}.mvt",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # Inside the zooms but outside the built box: an empty tile.
    assert client.get("/tiles/basemap/16/0/0.mvt").status_code == 204
    assert client.get("/tiles/basemap/17/0/0.mvt").status_code == 404
    assert client.get("/tiles/basemap/10/518/352.mvt").status_code == 404
    bad = client.get("/tiles/basemap/16/99999999/0.mvt")
    assert bad.status_code == 400 and bad.is_json


def test_archives_are_both_written(built):
    import pyogrio

    tiles = built / "tiles"
    assert (tiles / BASEMAP_MBTILES).stat().st_size > 0
    info = pyogrio.read_info(str(tiles / BASEMAP_PMTILES), layer="streets")
    assert info["features"] > 0


def test_no_basemap_sources_no_archive_and_404(client, var_dir):
    # The second city of the tests lists no basemap source.
    lyonnaise = load_city(folder=Path(__file__).parents[1] / "data" / "cities" / "lyonnaise")
    report = build_basemap(lyonnaise, var_dir)
    assert not report.built and report.reason == "no basemap sources"
    assert not (var_dir / "tiles" / BASEMAP_MBTILES).exists()
    response = client.get("/tiles/basemap.json")
    assert response.status_code == 404 and response.is_json
    assert client.get("/tiles/basemap/16/33196/22546.mvt").status_code == 404


def _copy_city(target: Path) -> Path:
    """Paris's city.json, basemap sources and boundaries (not its seeds) in ``target``."""
    source = data_dir() / "cities" / "paris"
    (target / "basemap").mkdir(parents=True)
    for path in (source / "basemap").iterdir():
        shutil.copyfile(path, target / "basemap" / path.name)
    for name in ("city.json", "arrondissements.geojson", "quartier_paris.geojson"):
        shutil.copyfile(source / name, target / name)
    return target


def _city(folder: Path):
    return load_city(folder=folder, check_files=False)


def test_rebuild_only_when_a_source_changes(client, var_dir, tmp_path):
    city = _copy_city(tmp_path / "paris")
    bbox = (2.345, 48.852, 2.36, 48.86)
    first = build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16)
    assert first.built
    mtime = (var_dir / "tiles" / BASEMAP_MBTILES).stat().st_mtime_ns
    same = build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16)
    assert not same.built and same.reason == "sources unchanged"
    assert (var_dir / "tiles" / BASEMAP_MBTILES).stat().st_mtime_ns == mtime
    # A street added to the source: the next build sees it.
    with open(city / "basemap" / "voie.csv", "a", encoding="utf-8", newline="") as f:
        f.write('750999999;75056;RUE;DU;TEST;R. du Test;Rue du Test Basemap;0;O;O;0;'
                '"{""coordinates"": [[2.3510, 48.8560], [2.3530, 48.8570]], '
                '""type"": ""LineString""}";0;P;0;;48.8565, 2.352\r\n')
    changed = build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16)
    assert changed.built and changed.reason == "sources changed"
    tile = _decode(client, *_address(16, (2.352, 48.8565)))
    assert "Rue du Test Basemap" in {f["properties"]["name"]
                                     for f in tile["streets"]["features"]}
    forced = build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16, force=True)
    assert forced.built and forced.reason == "forced"
    # A build killed after the MBTiles rename, before the PMTiles copy: rebuilt.
    (var_dir / "tiles" / BASEMAP_PMTILES).write_bytes(b"half a file")
    again = build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16)
    assert again.built and again.reason == "sources changed"
    assert build_basemap(_city(city), var_dir, bbox=bbox, minzoom=15, maxzoom=16).reason == \
        "sources unchanged"


def test_cli_builds_the_basemap_when_missing_and_forces_with_flag(clean_db, runner, var_dir):
    from webmap.cli import main

    result = runner.invoke(main, ["tiles", "build", "--max-zoom", "8"])
    assert result.exit_code == 0, result.output
    assert '"built": true' in result.output
    assert (var_dir / "tiles" / BASEMAP_MBTILES).is_file()
    result = runner.invoke(main, ["tiles", "build", "--max-zoom", "8"])
    assert result.exit_code == 0 and '"reason": "sources unchanged"' in result.output
    result = runner.invoke(main, ["tiles", "build", "--basemap", "--max-zoom", "8"])
    assert result.exit_code == 0 and '"reason": "forced"' in result.output
    dispose_engines()  # the command's pooled connections, before the test ends


def test_fixture_builds_the_box_the_browser_tests_draw(basemap_var):  # noqa: F811
    assert (basemap_var / "tiles" / BASEMAP_MBTILES).is_file()
    assert (basemap_var / "tiles" / BASEMAP_PMTILES).is_file()


def test_a_broken_source_is_named_and_the_archive_kept(client, var_dir, tmp_path):
    city = _copy_city(tmp_path / "paris")
    bbox = (2.345, 48.852, 2.36, 48.86)
    assert build_basemap(_city(city), var_dir, bbox=bbox, minzoom=16, maxzoom=16).built
    before = (var_dir / "tiles" / BASEMAP_MBTILES).read_bytes()
    water = city / "basemap" / "plan-de-voirie-voies-deau.geojson"
    water.write_bytes(water.read_bytes()[:5000])  # a truncated download
    with pytest.raises(BasemapSourceError, match=r"plan-de-voirie-voies-deau\.geojson"):
        build_basemap(_city(city), var_dir, bbox=bbox, minzoom=16, maxzoom=16)
    assert (var_dir / "tiles" / BASEMAP_MBTILES).read_bytes() == before
    assert client.get("/tiles/basemap.json").status_code == 200


def test_cli_with_a_broken_source_still_builds_the_points_and_fails(
        clean_db, cli_env, var_dir, tmp_path):
    from click.testing import CliRunner

    from webmap.cli import main

    data = tmp_path / "data"
    _copy_city(data / "cities" / "paris")
    (data / "cities" / "paris" / "basemap" / "voie.csv").write_text("N_SQ_VO;C_DESI\n1;RUE\n")
    runner = CliRunner(env={**cli_env, "CARTE_DATA_DIR": str(data)})
    result = runner.invoke(main, ["tiles", "build", "--full", "--max-zoom", "6"])
    dispose_engines()
    assert result.exit_code == 1
    assert '"kind": "full"' in result.output  # the points' tiles were built
    assert "voie.csv" in result.output
    assert (var_dir / "tiles" / "features.mbtiles").is_file()
    assert not (var_dir / "tiles" / BASEMAP_MBTILES).exists()
