"""The green spaces of Paris in the demo seed: every row counted, no garden twice.

``espaces_verts.csv.zip`` is the city's own zipped CSV export (2,316 rows). Its 142
jardins partagés are already published by the gardens seed: they are refused here as
``already_seeded``; the row without geometry and the 18 points outside Paris are refused
with their reasons; all of them are kept in the refused file.
"""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


@pytest.fixture
def db(categories_loaded, clean_db):
    return clean_db


def count(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def seed(engine, *sources, refused_dir=None):
    """Import the named seeds exactly as ``load_seed`` does, in its order."""
    from geo.city import load_city
    from ingestion.importer import run_import
    from ingestion.seed import seeds_of

    out = {}
    with Session(engine) as s, s.begin():
        for entry in seeds_of(load_city("paris")):
            if entry.source in sources:
                refused = refused_dir / f"{entry.source}.refused.jsonl" if refused_dir else None
                out[entry.source] = run_import(
                    entry.file, session=s, source=entry.source, mapper=entry.mapper,
                    publish=True, attribution=entry.attribution, buffer_m=0.0,
                    refused_path=refused)
    return out


def test_carte_demo_seeds_the_green_spaces_from_the_shipped_zip():
    from geo.city import load_city
    from geo.config import data_dir
    from ingestion.seed import seeds_of

    seeds = seeds_of(load_city("paris"))
    entry = next(x for x in seeds if x.source == "paris-espaces-verts")
    assert entry.file.is_file() and entry.mapper is not None
    assert entry.file.is_relative_to(data_dir())  # never read from ../shared
    # After the gardens, so that their published copies win.
    order = [x.source for x in seeds]
    assert order.index("paris-jardins-partages") < order.index("paris-espaces-verts")


def test_green_spaces_are_published_and_their_dirt_refused_with_reasons(db, tmp_path):
    summaries = seed(db, "paris-jardins-partages", "paris-espaces-verts", refused_dir=tmp_path)
    green = summaries["paris-espaces-verts"]
    assert green.read == 2316
    assert green.read == green.accepted + green.refused
    assert (green.accepted, green.refused) == (2155, 161)
    assert dict(green.refused_by_reason) == {"already_seeded": 142, "outside_area": 18,
                                             "no_geometry": 1}
    assert green.published == green.accepted == count(
        db, "SELECT count(*) FROM feature WHERE source = 'paris-espaces-verts' "
            "AND status = 'published' AND category = 'espace-vert' "
            "AND attribution = '© Ville de Paris, ODbL'")
    # Every refused row is in the refused file, with its reason and its raw text.
    lines = [json.loads(x) for x in
             (tmp_path / "paris-espaces-verts.refused.jsonl").read_text().splitlines()]
    assert len(lines) == green.refused
    reasons = {}
    for line in lines:
        reasons[line["errors"][0]["code"]] = reasons.get(line["errors"][0]["code"], 0) + 1
        assert line["raw"]
    assert reasons == dict(green.refused_by_reason)
    # ... and kept in the database as refused rows of the run, never dropped.
    assert count(db, "SELECT count(*) FROM import_row WHERE run_id = :r "
                     "AND outcome = 'invalid'", r=green.run_id) == 161
    # A park reads as a user expects: a readable title, its kind, address and surface.
    with db.connect() as conn:
        row = conn.execute(text(
            "SELECT title, attributes FROM feature WHERE source = 'paris-espaces-verts' "
            "AND attributes->>'green_space_type' = 'Parc' ORDER BY title LIMIT 1")).one()
    assert row.title and not row.title.isupper()
    assert row.attributes["typology"] and row.attributes["address"]
    # Every published green space lies inside the city.
    assert count(db, "SELECT count(*) FROM feature f WHERE f.source = 'paris-espaces-verts' "
                     "AND f.area_ids[1] IS NULL") == 0


def test_no_shared_garden_is_on_the_map_twice(db):
    seed(db, "paris-jardins-partages", "paris-espaces-verts")
    assert count(db, "SELECT count(*) FROM feature WHERE source = 'paris-jardins-partages'") \
        == 142
    assert count(db, "SELECT count(*) FROM feature WHERE source = 'paris-espaces-verts' "
                     "AND attributes->>'green_space_type' = 'Jardin partage'") == 0
    assert count(db, "SELECT count(*) FROM feature g JOIN feature v ON "
                     "v.source_ref = g.source_ref OR ST_DWithin(v.geom, g.geom, 0.00001) "
                     "WHERE g.source = 'paris-jardins-partages' "
                     "AND v.source = 'paris-espaces-verts'") == 0


def test_reseeding_the_green_spaces_adds_nothing(db):
    first = seed(db, "paris-espaces-verts")["paris-espaces-verts"]
    features = count(db, "SELECT count(*) FROM feature")
    rows = count(db, "SELECT count(*) FROM import_row")
    again = seed(db, "paris-espaces-verts")["paris-espaces-verts"]
    assert again.already_imported == again.read == 2316
    assert (again.accepted, again.refused) == (first.accepted, first.refused)
    assert dict(again.refused_by_reason) == dict(first.refused_by_reason)
    assert count(db, "SELECT count(*) FROM feature") == features
    # the second run keeps its 2,316 rows, all 'unchanged'
    assert count(db, "SELECT count(*) FROM import_row") == 2 * rows
    assert count(db, "SELECT count(*) FROM import_row WHERE outcome = 'unchanged'") == rows


def test_a_zip_must_hold_exactly_one_data_file(tmp_path):
    from ingestion.errors import BadSourceFile
    from ingestion.readers import open_source

    bad = tmp_path / "two.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("a.csv", "lon,lat\n2.35,48.85\n")
        z.writestr("b.csv", "lon,lat\n2.35,48.85\n")
    with pytest.raises(BadSourceFile, match="one CSV or JSON file"):
        open_source(bad)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(BadSourceFile, match="not a readable zip"):
        open_source(tmp_path / "junk.zip")
    good = tmp_path / "one.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("points.csv", "\ufeffnom;Geo point\nA;48.85, 2.35\n")
    rows = list(open_source(good).rows)
    assert [(r.props["nom"], r.x, r.y) for r in rows] == [("A", 2.35, 48.85)]


def test_seeded_places_carry_their_hours_as_slots_beside_the_source_text(db):
    """Markets from their day flags and hour columns, green spaces open round the clock
    from ``Ouverture 24h_24h``: what the day-and-hour filter reads."""
    summaries = seed(db, "paris-marches", "paris-espaces-verts")
    assert summaries["paris-marches"].published == 81
    with db.connect() as conn:
        markets = conn.execute(text(
            "SELECT attributes FROM feature WHERE source = 'paris-marches'")).scalars().all()
        saxe = conn.execute(text(
            "SELECT attributes FROM feature WHERE source = 'paris-marches' "
            "AND source_ref = '9'")).scalar_one()
        always = conn.execute(text(
            "SELECT count(*) FROM feature WHERE source = 'paris-espaces-verts' "
            "AND attributes->>'opening_hours' = '24 h/24' "
            "AND jsonb_array_length(attributes->'hours') = 7")).scalar_one()
        closing = conn.execute(text(
            "SELECT count(*) FROM feature WHERE source = 'paris-espaces-verts' "
            "AND attributes->>'opening_hours' = 'Pas ouvert 24 h/24' "
            "AND NOT attributes ? 'hours'")).scalar_one()
    assert all(m.get("hours") and m.get("opening_hours") for m in markets)
    assert saxe["hours"] == [{"day": "thu", "from": "07:00", "to": "13:30"},
                             {"day": "sat", "from": "07:00", "to": "14:30"}]
    assert saxe["opening_hours"] == "semaine 07:00–13:30, samedi 07:00–14:30"
    # 162 rows of the export say "open 24 h/24" (Oui, O, OUI), one of them outside Paris;
    # 569 green spaces that are not shared gardens say "Non", 8 of them outside Paris.
    assert (always, closing) == (161, 561)


def test_no_seed_claims_accessibility_or_audiences_the_sources_do_not_state():
    from geo.city import load_city
    from ingestion.seedstats import seed_stats

    stats = {s.source: s for s in seed_stats(load_city("paris"))}
    assert stats["paris-marches"].hours_parsed == stats["paris-marches"].rows == 81
    assert stats["paris-espaces-verts"].hours_parsed == 161
    # Only the toilets' export states accessibility (acces_pmr) and a family use (a
    # baby-changing table), and the libraries' directory an access note (step-free only
    # where the note says so without "avec aide" or "partiel"); the others say nothing
    # about either, so nothing is claimed.
    assert {k for k, s in stats.items() if s.accessibility or s.audiences} == {
        "paris-sanisettes", "paris-bibliotheques"}
    assert stats["paris-sanisettes"].accessibility == 613
    assert stats["paris-bibliotheques"].accessibility == 34
    assert stats["paris-bibliotheques"].audiences == 0
    assert stats["paris-sanisettes"].hours_parsed == 436
