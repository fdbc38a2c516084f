"""``carte export`` and ``/data/``: every format opens in GDAL with the database's counts."""

import csv
import json

import pyogrio
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.opendata_fixtures import od_data  # noqa: F401
from webmap.cli import main

FORMATS = ("geojson", "csv", "gpkg", "fgb")


def lines(result):
    return [json.loads(line) for line in result.output.strip().splitlines()]


def export(runner, *args):
    result = runner.invoke(main, ["export", *args])
    assert result.exit_code == 0, result.output
    return lines(result)


def test_export_writes_every_format_for_all_and_each_category(runner, var_dir, od_data):  # noqa: F811
    out = export(runner)
    assert out[-1]["exported"] is True and out[-1]["features"] == od_data.published
    data = var_dir / "data"
    expected = {"features": od_data.published,
                **{f"features-{slug}": n for slug, n in od_data.by_category.items()}}
    for stem, count in expected.items():
        for fmt in FORMATS:
            path = data / f"{stem}.{fmt}"
            open_path = f"CSV:{path}" if fmt == "csv" else str(path)
            info = pyogrio.read_info(open_path, **({"X_POSSIBLE_NAMES": "lon",
                                                    "Y_POSSIBLE_NAMES": "lat"}
                                                   if fmt == "csv" else {}))
            assert info["features"] == count, path.name
            if fmt != "csv":
                assert "4326" in info["crs"] or "CRS84" in info["crs"]
    assert not [p for p in data.iterdir() if p.name.startswith(".tmp")]  # no temporary file
    assert [p.name for p in data.iterdir() if p.name.startswith(".")] == [".parts"]  # cache
    manifest = json.loads((data / "index.json").read_text())
    assert len(manifest["files"]) == 16 and manifest["licence"] == "ODbL-1.0"


def test_geojson_is_rfc7946_and_carries_public_fields_only(runner, var_dir, od_data):  # noqa: F811
    export(runner, "--format", "geojson")
    doc = json.loads((var_dir / "data" / "features.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert doc["licence"] == "ODbL-1.0"
    assert [f["id"] for f in doc["features"]] == sorted(
        v for k, v in od_data.ids.items() if k != "gone")
    html = next(f for f in doc["features"] if f["id"] == od_data.ids["html"])
    assert html["properties"]["attribution"] == "Association Vélo Paris (ODbL)"
    assert html["properties"]["description"] == "Réparations « vélo » — 日本語"
    empty = var_dir / "data"
    assert sorted(p.name for p in empty.iterdir() if p.suffix == ".geojson") == [
        "features-atelier-od.geojson", "features-fete-od.geojson",
        "features-jardin-od.geojson", "features.geojson"]


def test_csv_has_lonlat_wkt_and_neutralised_formulas(runner, var_dir, od_data):  # noqa: F811
    export(runner, "--format", "csv")
    with open(var_dir / "data" / "features.csv", encoding="utf-8", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    formula = rows[od_data.ids["formula"]]
    assert formula["title"] == "'=HYPERLINK(\"http://evil\")"
    assert formula["description"] == "'+33 1 23 45 67 89\tcall"
    merri = rows[od_data.ids["merri"]]
    assert (float(merri["lon"]), float(merri["lat"])) == (2.3509, 48.859)
    assert merri["wkt"] == "POINT(2.3509 48.859)"
    assert merri["description"] == "Au pied de l'église"
    for row in rows.values():
        for key, cell in row.items():
            if key not in ("lon", "lat"):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (key, cell)


def test_if_changed_skips_until_something_is_published(runner, var_dir, od_data):  # noqa: F811
    export(runner, "--format", "geojson")
    assert export(runner, "--format", "geojson", "--if-changed")[-1]["exported"] is False
    with Session(od_data.engine) as s, s.begin():
        publish_feature(s, FeatureDraft(category="fete-od", title="Nouvelle fête",
                                        lon=2.36, lat=48.86), max_zoom=2)
    out = export(runner, "--format", "geojson", "--if-changed")
    assert out[-1]["exported"] is True and out[-1]["features"] == od_data.published + 1


def test_data_index_lists_files_with_licence_and_serves_ranges(runner, client, var_dir,
                                                               od_data):  # noqa: F811
    assert "carte export" in client.get("/data/").get_data(as_text=True)  # nothing yet
    export(runner)
    tiles = var_dir / "tiles"
    tiles.mkdir()
    (tiles / "features.pmtiles").write_bytes(b"PMTiles" + bytes(range(256)) * 4)
    index = client.get("/data/?f=json").get_json()
    by_name = {f["name"]: f for f in index["files"]}
    assert index["licence"] == "ODbL-1.0" and "ODbL" in index["attribution"]
    assert by_name["features.gpkg"]["count"] == od_data.published
    assert by_name["features-fete-od.csv"]["count"] == 2
    assert by_name["features.pmtiles"]["size"] == 7 + 1024
    assert "features.mbtiles" not in by_name  # not built: not listed
    for f in by_name.values():
        assert {"title", "description", "licence", "attribution", "updated_at", "crs",
                "size", "url"} <= f.keys()
    page = client.get("/data/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "features-fete-od.fgb" in page and "ODbL" in page

    with client.get("/data/features.geojson") as r:
        assert r.status_code == 200 and r.mimetype == "application/geo+json"
        assert r.headers["ETag"] and r.headers["Last-Modified"]
        assert r.headers["Accept-Ranges"] == "bytes"
    with client.get("/data/features.geojson",
                    headers={"If-None-Match": r.headers["ETag"]}) as again:
        assert again.status_code == 304
    with client.get("/data/features.pmtiles", headers={"Range": "bytes=0-6"}) as part:
        assert part.status_code == 206 and part.data == b"PMTiles"
        assert part.headers["Content-Range"] == "bytes 0-6/1031"
    assert client.get("/data/index.json").status_code == 200
    assert client.get("/data/..%2Fsecret_key").status_code == 404
    assert client.get("/data/pg").status_code == 404
