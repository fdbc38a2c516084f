"""Bulk imports and the Paris seed against a real PostGIS: nothing dropped, re-runnable."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import DATA

SAMPLES = DATA / "ingestion"


@pytest.fixture
def db(categories_loaded, clean_db):
    return clean_db


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    dest = tmp_path / "samples"
    shutil.copytree(SAMPLES, dest)
    return dest


def run(engine, path, **kw):
    from ingestion.importer import run_import

    with Session(engine) as s, s.begin():
        return run_import(path, session=s, **kw)


def count(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_geojson_import_keeps_every_row_and_explains_refusals(db, samples, tmp_path):
    refused = tmp_path / "refused.jsonl"
    s = run(db, samples / "gardens.geojson", source="partner", category="jardin-partage",
            refused_path=refused)
    assert s.read == 8 == s.accepted + s.refused
    assert (s.accepted, s.refused) == (3, 5)
    assert s.refused_by_reason == {"no_geometry": 1, "outside_area": 2, "swapped": 1,
                                   "required": 1}
    lines = [json.loads(line) for line in refused.read_text().splitlines()]
    assert sorted(r["ref"] for r in lines) == ["g3", "g4", "g5", "g6", "g7"]
    assert count(db, "SELECT count(*) FROM import_row r JOIN import_run u "
                     "ON u.id = r.run_id WHERE u.source = 'partner'") == 8
    assert count(db, "SELECT count(*) FROM import_row WHERE outcome = 'invalid'") == 5
    # Text is cleaned (bidi override gone) but kept as plain text, formula and all.
    title = count(db, "SELECT title FROM import_row WHERE ref = 'g2'")
    assert title == 'Jardin des Buttes =HYPERLINK("x")'
    attrs = count(db, "SELECT attributes FROM import_row WHERE ref = 'g1'")
    # The hours text is kept and read into the slots the day-and-hour filter uses.
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    assert attrs == {"opening_hours": "9h-19h", "free_picking": True,
                     "hours": [{"day": d, "from": "09:00", "to": "19:00"} for d in days]}
    assert count(db, "SELECT attributes->>'area_m2' FROM import_row "
                     "WHERE ref = 'g2'") == "120.5"
    # The polygon became a point on its surface; areas were found in bulk.
    assert count(db, "SELECT count(*) FROM import_row WHERE outcome = 'valid' "
                     "AND area_ids[1] IS NOT NULL AND area_ids[2] IS NOT NULL") == 3
    assert s.status == "pending" and s.pending == 3
    assert count(db, "SELECT status::text FROM import_run WHERE id = :r", r=s.run_id) == "pending"
    raw = count(db, "SELECT raw FROM import_row WHERE ref = 'g3'")
    assert json.loads(bytes(raw))["properties"]["name"] == "Sans géométrie"


def test_reimporting_the_same_file_adds_nothing(db, samples):
    first = run(db, samples / "gardens.geojson", source="partner", category="jardin-partage",
                publish=True, attribution="Partenaire")
    again = run(db, samples / "gardens.geojson", source="partner", category="jardin-partage",
                publish=True, attribution="Partenaire")
    assert first.published == again.published == 3
    assert again.already_imported == 8 and again.read == again.accepted + again.refused
    assert (again.accepted, again.refused) == (first.accepted, first.refused)
    # Every row of both runs is kept; the second run's are all 'unchanged'.
    assert count(db, "SELECT count(*) FROM import_row") == 16
    assert count(db, "SELECT count(*) FROM import_row WHERE run_id = :r "
                     "AND outcome = 'unchanged'", r=again.run_id) == 8
    assert count(db, "SELECT count(*) FROM feature WHERE source = 'partner' "
                     "AND attribution = 'Partenaire'") == 3
    # One audit event for the first run's publication, which its three versions point
    # to; the second run, identical, writes nothing.
    assert count(db, "SELECT count(*) FROM moderation_event WHERE action = 'import' "
                     "AND import_run_id = :r AND feature_id IS NULL", r=first.run_id) == 1
    assert count(db, "SELECT count(*) FROM moderation_event") == 1
    assert count(db, "SELECT count(*) FROM feature_version v JOIN moderation_event e "
                     "ON e.id = v.event_id WHERE e.import_run_id = :r", r=first.run_id) == 3


def test_lambert93_csv_is_reprojected_and_wrong_crs_points_refused(db, samples):
    s = run(db, samples / "lambert93.csv", source="l93", category="service-municipal",
            crs="EPSG:2154")
    assert (s.read, s.accepted, s.refused) == (4, 2, 2)
    assert s.refused_by_reason == {"crs_area": 1, "not_finite": 1}
    lon, lat = count(db, "SELECT ARRAY[ST_X(geom), ST_Y(geom)] FROM import_row "
                         "WHERE ref = 'a4'")
    assert abs(lon - 2.2945) < 0.001 and abs(lat - 48.8584) < 0.001  # the Eiffel Tower


def test_wkt_csv_with_a_category_column_and_repeated_ids(db, samples):
    s = run(db, samples / "wkt.csv", source="wkt")
    assert (s.read, s.accepted, s.refused) == (5, 1, 4)
    assert set(s.refused_by_reason) == {"no_geometry", "repeated_ref", "choice"}
    assert count(db, "SELECT count(*) FROM import_row r JOIN import_run u ON u.id = r.run_id "
                     "WHERE u.source = 'wkt'") == 5


def test_geopackage_uses_its_declared_crs(db, samples):
    s = run(db, samples / "services.gpkg", source="gpkg", category="service-municipal")
    assert (s.read, s.accepted, s.refused) == (3, 2, 1)
    assert s.refused_by_reason == {"crs_area": 1}


def test_cli_import_prints_a_summary_line(db, samples, runner, tmp_path):
    from webmap.cli import main

    refused = tmp_path / "r.jsonl"
    result = runner.invoke(main, ["import", str(samples / "gardens.geojson"), "--source",
                                  "cli", "--category", "jardin-partage", "--publish",
                                  "--refused", str(refused)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["read"] == 8 and summary["published"] == 3 and summary["refused"] == 5
    assert len(refused.read_text().splitlines()) == 5
    bad = runner.invoke(main, ["import", str(samples / "gardens.geojson"), "--source", "cli",
                               "--crs", "EPSG:999999"])
    assert bad.exit_code == 1 and "unknown CRS" in bad.output


def test_categories_load_is_idempotent(db, runner):
    from webmap.cli import main

    for _ in range(2):
        result = runner.invoke(main, ["categories", "load"])
        assert result.exit_code == 0, result.output
    assert json.loads(result.output)["categories"] == count(
        db, "SELECT count(*) FROM category WHERE active")
    assert count(db, "SELECT kind::text FROM category WHERE slug = 'service-municipal'") == "place"


def test_paris_seed_publishes_the_real_files_and_refuses_their_dirt(db, tmp_path):
    from geo.city import load_city
    from ingestion.seed import load_seed

    paris = load_city("paris")
    with Session(db) as s, s.begin():
        summaries = {x.source: x for x in load_seed(s, paris, refused_dir=tmp_path)}
    for x in summaries.values():
        assert x.read == x.accepted + x.refused
        assert x.published == x.accepted
    gardens = summaries["paris-jardins-partages"]
    assert (gardens.read, gardens.refused) == (142, 0)
    fountains = summaries["paris-fontaines"]
    assert fountains.read == 1323
    # 158 records lie outside Paris (cemeteries, suburbs): each refused with its reason.
    assert fountains.refused_by_reason["outside_area"] == fountains.refused >= 150
    assert summaries["paris-marches"].read == 81
    du_vert = summaries["paris-du-vert"]
    assert du_vert.read == 1605 and du_vert.refused_by_reason["outside_area"] >= 43
    # Every published seed feature credits its publisher (Ville de Paris, BnF, RNA...).
    assert count(db, "SELECT count(*) FROM feature WHERE attribution LIKE '%©%'") \
        == sum(x.published for x in summaries.values())
    assert len((tmp_path / "paris-fontaines.refused.jsonl").read_text().splitlines()) \
        == fountains.refused
    with Session(db) as s, s.begin():
        again = load_seed(s, paris)
    assert all(x.already_imported == x.read for x in again)


def test_crs_accuracy_on_the_paris_addresses(db, tmp_path):
    """BAN rows imported as Lambert-93 land within 1 cm of their published WGS84 position.

    The whole file (158,048 rows) is checked through the vectorised transform below;
    a slice goes through the complete import into PostGIS.
    """
    import csv
    import io

    import numpy as np
    from pyproj import Geod

    from geo.config import data_dir
    from ingestion.importer import to_lonlat_many

    src = data_dir() / "cities" / "paris" / "adresses-75.csv.gz"
    if not src.exists():
        src = Path(__file__).resolve().parents[3] / "shared/data/paris/crs/adresses-75.csv.gz"
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(src.read_bytes()).decode()),
                               delimiter=";"))
    assert len(rows) == 158_048
    xs = np.array([float(r["x"]) for r in rows])
    ys = np.array([float(r["y"]) for r in rows])
    lon, lat, ok = to_lonlat_many(xs, ys, "EPSG:2154")
    assert ok.all()
    geod = Geod(ellps="WGS84")
    published_lon = np.array([float(r["lon"]) for r in rows])
    published_lat = np.array([float(r["lat"]) for r in rows])
    _, _, dist = geod.inv(lon, lat, published_lon, published_lat)
    # The published lon/lat have 6 decimals (up to 5.6 cm of rounding in latitude):
    # compare against the rounding of our result to the same 6 decimals.
    _, _, dist_rounded = geod.inv(np.round(lon, 6), np.round(lat, 6), published_lon,
                                  published_lat)
    assert float(dist_rounded.max()) < 0.01
    assert float(np.median(dist)) < 0.05

    sample = tmp_path / "ban-sample.csv"
    with sample.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        w.writeheader()
        w.writerows(rows[::100])
    s = run(db, sample, source="ban", crs="EPSG:2154", category="service-municipal",
            title_template="{numero} {nom_voie}")
    assert s.read == len(rows[::100]) and s.refused == 0
    with db.connect() as conn:
        got = conn.execute(text("SELECT ref, ST_X(geom), ST_Y(geom) FROM import_row "
                                "WHERE run_id = :r"), {"r": s.run_id}).all()
    by_id = {r["id"]: r for r in rows[::100]}
    for key, x, y in got:
        _, _, d = geod.inv(round(x, 6), round(y, 6), float(by_id[key]["lon"]),
                           float(by_id[key]["lat"]))
        assert d < 0.01
