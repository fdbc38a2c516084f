"""Incremental exports (issue 17): only what changed is rewritten, and nothing differs.

After each change a fresh full export is made into another directory (no cache): the
incremental GeoJSON and CSV files must be the same bytes, the GeoPackage and
FlatGeobuf files the same features and values as GDAL reads them. Ids are spread over
several buckets of :data:`opendata.snapshot.BUCKET` by moving the id sequence, as a
long-lived map's ids are.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyogrio
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.models import ModerationAction
from geo.publish import FeatureDraft, publish_feature, revise_feature
from opendata import exports
from opendata.exports import run_export
from opendata.parts import CACHE_DIR
from opendata.snapshot import BUCKET
from tests.opendata_fixtures import od_data  # noqa: F401

TEXT = ("geojson", "csv")
GDAL = ("gpkg", "fgb")


def publish(engine, category: str, title: str, *, at_id: int | None = None,
            lon: float = 2.35, lat: float = 48.86) -> int:
    with Session(engine) as s, s.begin():
        if at_id is not None:
            s.execute(text("SELECT setval('feature_id_seq', :v, false)"), {"v": at_id})
        return publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                               lat=lat), max_zoom=2).id


def revise(engine, fid: int, changes: dict, action=ModerationAction.edit) -> None:
    with Session(engine) as s, s.begin():
        version = s.execute(text("SELECT version FROM feature WHERE id = :i"),
                            {"i": fid}).scalar_one()
        revise_feature(s, fid, changes, expected_version=version, action=action,
                       reason="test", max_zoom=2)


def names(manifest: dict) -> dict[str, dict]:
    return {f["name"]: f for f in manifest["files"]}


def gdal_rows(path: Path, **kw) -> list[dict]:
    """Every feature as GDAL reads it (values and WKT geometry), in id order."""
    import shapely

    meta, table = pyogrio.read_arrow(path, **kw)
    geometry = meta["geometry_name"] or "wkb_geometry"
    rows = table.to_pylist()
    for row in rows:
        row["geometry"] = shapely.from_wkb(row.pop(geometry)).wkt
    return sorted(rows, key=lambda r: r["id"])


def ids(rows: list[dict]) -> list[int]:
    return [r["id"] for r in rows]


def assert_same_as_full(engine, incremental: Path, tmp_path: Path, manifest: dict) -> None:
    """The incremental directory holds what a fresh full export writes."""
    full_dir = tmp_path / f"full-{manifest['generated_at'].replace(':', '')}"
    full = run_export(engine, full_dir)
    assert full["incremental"] is False
    assert sorted(names(manifest)) == sorted(names(full))
    for name, item in names(full).items():
        mine, theirs = incremental / name, full_dir / name
        assert names(manifest)[name]["count"] == item["count"], name
        if item["format"] in TEXT:
            assert mine.read_bytes() == theirs.read_bytes(), name
        else:
            a, b = gdal_rows(mine), gdal_rows(theirs)
            assert len(a) == item["count"], name
            assert a == b, name
    for stray in incremental.glob("features*"):
        assert stray.name in names(full), stray.name


def check_geopackage(path: Path, count: int) -> None:
    """SQLite and GeoPackage bookkeeping agree with the rows."""
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        layer = path.stem
        rows = db.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0]
        assert rows == count
        assert db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                          (layer,)).fetchone() == (count,)
        assert db.execute(f'SELECT count(*) FROM "rtree_{layer}_geom"').fetchone()[0] == count
        (stray,) = db.execute(f'SELECT count(*) FROM "rtree_{layer}_geom" r WHERE NOT EXISTS '
                              f'(SELECT 1 FROM "{layer}" f WHERE f.fid = r.id)').fetchone()
        assert stray == 0
        minx, miny, maxx, maxy = db.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
            (layer,)).fetchone()
        bx = db.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) '
                        f'FROM "rtree_{layer}_geom"').fetchone()
        eps = 1e-5  # the R-tree keeps float32 boxes, rounded outwards
        assert minx <= bx[0] + eps and miny <= bx[1] + eps
        assert maxx >= bx[2] - eps and maxy >= bx[3] - eps
    finally:
        db.close()
    assert pyogrio.read_info(path)["features"] == count
    # GDAL's own validator (validate_gpkg.py of gdal-utils, vendored under tests/vendor):
    # the GeoPackage specification's requirements, its extra checks, warnings as errors.
    from tests.vendor.validate_gpkg import check

    assert check(str(path), abort_at_first_error=False, extra_checks=True,
                 warning_as_error=True, myprint=lambda *a: None) == []


def test_incremental_files_equal_a_full_export_through_a_series_of_changes(
        od_data, tmp_path):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    first = run_export(engine, data)
    assert first["incremental"] is False  # no cache yet: everything rendered
    assert first["refresh"]["rendered_buckets"]["geojson"] == 1

    # New approvals in buckets of their own (ids far apart), then a middle one.
    far = publish(engine, "jardin-od", "Jardin lointain", at_id=4 * BUCKET + 7)
    publish(engine, "fete-od", "Fête lointaine", at_id=8 * BUCKET + 1)
    middle = publish(engine, "atelier-od", "Atelier du milieu", at_id=6 * BUCKET + 3)
    m = run_export(engine, data)
    assert m["incremental"] is True
    assert m["refresh"]["rendered_buckets"]["geojson"] == 3  # only the new buckets
    assert_same_as_full(engine, data, tmp_path, m)

    # An edit of an old feature in a middle bucket: only that bucket is rendered.
    revise(engine, middle, {"title": "Atelier rebaptisé", "description": "« neuf »"})
    m = run_export(engine, data)
    assert m["refresh"]["rendered_buckets"] == {"geojson": 1, "csv": 1, "arrow": 1}
    assert_same_as_full(engine, data, tmp_path, m)
    (edited,) = [r for r in gdal_rows(data / "features.gpkg") if r["id"] == middle]
    assert edited["title"] == "Atelier rebaptisé"
    check_geopackage(data / "features.gpkg", m["state"]["published"])

    # Unpublished: gone from every file of its category and from the whole.
    revise(engine, far, {"status": "unpublished"}, ModerationAction.unpublish)
    m = run_export(engine, data)
    assert_same_as_full(engine, data, tmp_path, m)
    assert far not in ids(gdal_rows(data / "features.gpkg"))
    assert far not in ids(gdal_rows(data / "features-jardin-od.gpkg"))
    check_geopackage(data / "features-jardin-od.gpkg", names(m)["features-jardin-od.gpkg"]
                     ["count"])

    # A category change moves a feature between two categories' files.
    revise(engine, od_data.ids["merri"], {"category": "atelier-od"})
    m = run_export(engine, data)
    assert_same_as_full(engine, data, tmp_path, m)
    assert od_data.ids["merri"] in ids(gdal_rows(data / "features-atelier-od.gpkg"))
    check_geopackage(data / "features-atelier-od.gpkg",
                     names(m)["features-atelier-od.gpkg"]["count"])

    # A photo made public without a new version of its feature still counts.
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO photo (feature_id, status, display_key, thumb_key, width, height, "
            "alt) VALUES (:f, 'ready', 'ab.webp', 'ab.thumb.webp', 800, 600, 'Le jardin')"),
            {"f": od_data.ids["formula"]})
    m = run_export(engine, data)
    assert_same_as_full(engine, data, tmp_path, m)
    doc = json.loads((data / "features.geojson").read_text(encoding="utf-8"))
    (formula,) = [f for f in doc["features"] if f["id"] == od_data.ids["formula"]]
    assert formula["properties"]["photos"][0]["url"].endswith("/photos/ab.webp")

    # A category that empties: its files leave the directory and the manifest.
    with engine.connect() as conn:
        fetes = list(conn.execute(text(
            "SELECT id FROM feature WHERE category = 'fete-od' AND status = 'published'"
        )).scalars())
    for fid in fetes:
        revise(engine, fid, {"status": "unpublished"}, ModerationAction.unpublish)
    m = run_export(engine, data)
    assert not [n for n in names(m) if "fete-od" in n]
    assert not list(data.glob("features-fete-od.*"))
    assert_same_as_full(engine, data, tmp_path, m)
    check_geopackage(data / "features.gpkg", m["state"]["published"])
    box = gdal_rows(data / "features.gpkg", bbox=(2.29, 48.85, 2.30, 48.87))
    assert ids(box) == [od_data.ids["formula"]]  # through the R-tree


def cached_parts(data: Path, fmt: str, stem: str = "features") -> list[Path]:
    (schema,) = (data / CACHE_DIR).iterdir()
    return sorted((schema / fmt / stem).glob("*.part")) if fmt != "arrow" else \
        sorted((schema / "arrow").glob("*.part"))


def test_a_missing_or_damaged_part_is_rendered_again(od_data, tmp_path):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    publish(engine, "jardin-od", "Jardin lointain", at_id=3 * BUCKET)
    run_export(engine, data)
    first, _second = cached_parts(data, "geojson")
    first.write_bytes(first.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    cached_parts(data, "csv")[0].unlink()
    arrow = cached_parts(data, "arrow")[0]
    arrow.write_bytes(arrow.read_bytes()[:100])
    # A change in the second bucket: the first is read from the cache, and fails.
    publish(engine, "atelier-od", "Atelier lointain")
    m = run_export(engine, data)
    assert m["refresh"]["rendered_buckets"] == {"geojson": 2, "csv": 2, "arrow": 2}
    assert_same_as_full(engine, data, tmp_path, m)
    # The whole cache gone: the next refresh is a full one and fills it again.
    import shutil

    shutil.rmtree(data / CACHE_DIR)
    publish(engine, "atelier-od", "Encore un atelier")
    m = run_export(engine, data)
    assert m["incremental"] is False
    assert_same_as_full(engine, data, tmp_path, m)


def stats(data: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in data.glob("features*")}


def test_an_unchanged_category_keeps_its_files_untouched(od_data, tmp_path):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    before = run_export(engine, data)
    was = stats(data)
    publish(engine, "jardin-od", "Nouveau jardin")
    m = run_export(engine, data)
    now = stats(data)
    for fmt in ("geojson", "csv", "gpkg", "fgb"):
        for stem in ("features-atelier-od", "features-fete-od"):
            assert now[f"{stem}.{fmt}"] == was[f"{stem}.{fmt}"]
            entry = names(m)[f"{stem}.{fmt}"]
            assert entry["refresh"] == "kept"
            assert entry["built_at"] == names(before)[f"{stem}.{fmt}"]["built_at"]
        for stem in ("features", "features-jardin-od"):
            assert now[f"{stem}.{fmt}"] != was[f"{stem}.{fmt}"]
            assert names(m)[f"{stem}.{fmt}"]["refresh"] in ("assembled", "patched", "written")
    assert names(m)["features.gpkg"]["refresh"] == "patched"
    assert m["refresh"]["files"]["kept"] == 8
    # Nothing changed since: skipped without touching anything.
    assert run_export(engine, data, if_changed=True)["skipped"] is True
    assert stats(data) == now


def test_a_file_replaced_behind_our_back_is_rebuilt_not_patched(od_data, tmp_path):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    run_export(engine, data)
    (data / "features-fete-od.gpkg").write_bytes(b"not a geopackage")
    (data / "features-fete-od.csv").unlink()
    m = run_export(engine, data, if_changed=True)
    assert not m.get("skipped")
    assert names(m)["features-fete-od.gpkg"]["refresh"] == "written"
    assert_same_as_full(engine, data, tmp_path, m)


def test_a_refresh_killed_midway_leaves_the_previous_files_and_a_usable_cache(
        od_data, tmp_path, monkeypatch):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    run_export(engine, data)
    publish(engine, "jardin-od", "Jardin du crash", at_id=2 * BUCKET)
    served = {p.name: p.read_bytes() for p in data.glob("features*")}
    real = exports.patch_geopackage

    def killed(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # the worker killed after patching, before the rename

    monkeypatch.setattr(exports, "patch_geopackage", killed)
    with pytest.raises(KeyboardInterrupt):
        run_export(engine, data)
    for name in ("features.gpkg", "features-jardin-od.gpkg", "features.fgb"):
        assert (data / name).read_bytes() == served[name], name
    assert not [p for p in data.iterdir() if p.name.startswith(".tmp-")]
    monkeypatch.setattr(exports, "patch_geopackage", real)
    m = run_export(engine, data)
    assert m["incremental"] is True
    assert_same_as_full(engine, data, tmp_path, m)


def test_the_data_index_never_lists_nor_serves_the_cache(od_data, client, var_dir):  # noqa: F811
    data = var_dir / "data"
    run_export(od_data.engine, data)
    publish(od_data.engine, "jardin-od", "Nouveau jardin")
    run_export(od_data.engine, data)
    (schema,) = (data / CACHE_DIR).iterdir()
    index = client.get("/data/?f=json").get_json()
    listed = {f["name"] for f in index["files"]}
    assert not [n for n in listed if n.startswith(".")]
    assert client.get(f"/data/{CACHE_DIR}").status_code == 404
    assert client.get(f"/data/{CACHE_DIR}%2F{schema.name}%2Fstate.json").status_code == 404
    by_name = {f["name"]: f for f in index["files"]}
    assert by_name["features.geojson"]["refresh"] == "assembled"
    assert by_name["features-fete-od.geojson"]["refresh"] == "kept"
    assert by_name["features.geojson"]["changes_behind"] == 0
    assert index["incremental"] is True


def test_carte_export_is_incremental_unless_full(runner, var_dir, od_data):  # noqa: F811
    from webmap.cli import main

    def export(*args: str) -> dict:
        result = runner.invoke(main, ["export", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])

    assert export()["incremental"] is False  # the first one fills the cache
    publish(od_data.engine, "jardin-od", "Nouveau jardin")
    assert export()["incremental"] is True
    assert export("--full")["incremental"] is False


def test_changes_that_bump_no_version_still_refresh_the_files(
        od_data, tmp_path, monkeypatch):  # noqa: F811
    """A source's credit line, an area renamed, another public URL: nothing stale."""
    engine, data = od_data.engine, tmp_path / "data"
    run_export(engine, data)
    # ingestion.services rewrites a source's credit line without a new version.
    with engine.begin() as conn:
        conn.execute(text("UPDATE feature SET attribution = 'Ville de Paris · Asso' "
                          "WHERE id = :i"), {"i": od_data.ids["soup"]})
    m = run_export(engine, data, if_changed=True)
    assert not m.get("skipped") and m["incremental"] is True
    assert "Ville de Paris · Asso" in (data / "features-fete-od.csv").read_text(
        encoding="utf-8")
    assert_same_as_full(engine, data, tmp_path, m)
    # An area renamed: its name is in every line of its features, not in their rows.
    with engine.connect() as conn:
        area_id, name = conn.execute(text(
            "SELECT a.id, a.name FROM feature f JOIN area a ON a.id = f.area_ids[1] "
            "WHERE f.id = :i"), {"i": od_data.ids["merri"]}).one()
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE area SET name = 'Quartier renommé' WHERE id = :i"),
                         {"i": area_id})
        m = run_export(engine, data, if_changed=True)
        assert not m.get("skipped") and m["incremental"] is False  # a new cache
        assert "Quartier renommé" in (data / "features.geojson").read_text(encoding="utf-8")
        assert_same_as_full(engine, data, tmp_path, m)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE area SET name = :n WHERE id = :i"),
                         {"n": name, "i": area_id})
    # Photo URLs start with the public root: another root is another cache.
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO photo (feature_id, status, display_key, thumb_key, width, height) "
            "VALUES (:f, 'ready', 'cd.webp', 'cd.thumb.webp', 800, 600)"),
            {"f": od_data.ids["html"]})
    run_export(engine, data)
    monkeypatch.setenv("CARTE_PUBLIC_URL", "https://carte.example.org")
    m = run_export(engine, data, if_changed=True)
    assert not m.get("skipped") and m["incremental"] is False
    assert "https://carte.example.org/photos/cd.webp" in (data / "features.csv").read_text(
        encoding="utf-8")
    assert len(list((data / CACHE_DIR).iterdir())) == 1  # the old root's cache dropped
    assert_same_as_full(engine, data, tmp_path, m)


def test_a_refresh_killed_while_writing_a_text_file_leaves_it_whole(
        od_data, tmp_path, monkeypatch):  # noqa: F811
    engine, data = od_data.engine, tmp_path / "data"
    run_export(engine, data)
    publish(engine, "atelier-od", "Atelier du crash", at_id=5 * BUCKET)
    served = (data / "features.geojson").read_bytes()
    real = exports.write_file

    def killed(conn, fmt, levels, path, *args, **kwargs):
        real(conn, fmt, levels, path, *args, **kwargs)
        with open(path, "r+b") as fh:  # half written when the worker was killed
            fh.truncate(path.stat().st_size // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(exports, "write_file", killed)
    with pytest.raises(KeyboardInterrupt):
        run_export(engine, data)
    assert (data / "features.geojson").read_bytes() == served
    json.loads(served)  # still one whole document
    monkeypatch.setattr(exports, "write_file", real)
    m = run_export(engine, data)
    assert m["incremental"] is True
    assert m["refresh"]["rendered_buckets"]["geojson"] == 0  # the new part was kept
    assert_same_as_full(engine, data, tmp_path, m)
