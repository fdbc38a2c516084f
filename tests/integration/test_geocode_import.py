"""Rows with an address and no coordinates are placed by the city's address file.

The real RNA extract of the 12th arrondissement (7,671 associations, addresses only,
``data/cities/paris/associations_paris12.csv``) is geocoded offline against the BAN
file the map's search reads (:mod:`geo.geocode`): each row's match quality is counted
and kept, the unmatched are refused with their reason, and what is published is a
"local actors" layer placed in the 12th, with no contact details.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import load_city
from geo.geocode import Geocoder, load_index
from ingestion.mapping import rna_street_line
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

PARIS = load_city("paris", environ={})
ASSOCIATIONS = PARIS.folder / "associations_paris12.csv"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"(?:\+33|\b0)[1-9](?:[\s.-]*\d{2}){4}")


@pytest.fixture
def db(categories_loaded, clean_db):
    return clean_db


@pytest.fixture(scope="module")
def geocoder() -> Geocoder:
    found = Geocoder.for_city(PARIS)
    assert found is not None
    return found


@pytest.mark.parametrize(("line", "expected"), [
    ("4         PL  de la Nation", "4 PL de la Nation"),
    ("33 35     AV  Ledru rollin", "33 AV Ledru rollin"),
    ("78        QUAIde la Rapee", "78 QUAI de la Rapee"),
    ("6         COURSaint eloi", "6 COUR Saint eloi"),
    ("          RTE du Champ de manoeuvre", "RTE du Champ de manoeuvre"),
    ("034  BOULEVARD DE PICPUS", "034 BOULEVARD DE PICPUS"),  # not the layout: kept
])
def test_rna_address_lines_read_as_people_write_them(line, expected):
    assert rna_street_line(line) == expected


def test_geocoding_says_how_well_each_address_matched(geocoder):
    exact = geocoder("4 PL de la Nation", "75012")
    assert exact.quality == "exact" and exact.label.startswith("4 Place de la Nation, 75012")
    assert abs(exact.lon - 2.3958) < 0.003 and abs(exact.lat - 48.8483) < 0.003
    assert geocoder("034 BOULEVARD DE PICPUS", "75012").quality == "exact"  # leading zero
    street = geocoder("RUE du Rendez vous", "75012")
    assert (street.quality, street.reason) == ("street", "no house number")
    assert geocoder("9999 RUE de Charenton", "75012").reason == \
        "number 9999 not on this street"
    assert geocoder("RTE du Champ de manoeuvre", "75012").quality == "street"  # œ in BAN
    nowhere = geocoder("4 PL du Louvre", "75012")  # a street of the 1st, not the 12th
    assert nowhere.quality == "none" and nowhere.lon is None
    assert nowhere.reason == "no street named like 'place louvre' in 75012"
    # Search and import read the same index: the search box finds the same door.
    hit = load_index(geocoder.path).search("4 place de la nation 75012")[0]
    assert (hit.lon, hit.lat) == (exact.lon, exact.lat)


def test_the_rna_extract_becomes_a_layer_of_local_actors(db, geocoder, tmp_path):
    from ingestion.importer import run_import
    from ingestion.seed import MAPPERS

    refused = tmp_path / "refused.jsonl"
    with Session(db) as s, s.begin():
        summary = run_import(ASSOCIATIONS, session=s, source="paris-associations",
                             mapper=MAPPERS["paris-associations"], publish=True,
                             attribution="RNA", buffer_m=0.0, refused_path=refused,
                             geocoder=geocoder)
    with ASSOCIATIONS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert summary.read == len(rows) == 7671 == summary.accepted + summary.refused
    inactive = sum(r["objet"] == "plus d'activité" for r in rows)
    assert summary.refused_by_reason["inactive"] == inactive == 1101
    got = summary.as_dict()["geocoded"]
    assert sum(got.values()) == len(rows) - inactive  # every active row was geocoded once
    assert got["exact"] / sum(got.values()) > 0.9
    assert summary.refused_by_reason["address_not_found"] == got["none"]
    assert summary.published == summary.accepted == got["exact"] + got["street"]
    for line in refused.read_text().splitlines():  # each refusal says why
        row = json.loads(line)
        assert row["errors"][0]["code"] in ("inactive", "address_not_found")
        assert row["errors"][0]["detail"]
    with db.connect() as conn:
        placed = dict(conn.execute(text(
            "SELECT a.code, count(*) FROM feature f JOIN area a ON a.id = f.area_ids[1] "
            "WHERE f.source = 'paris-associations' GROUP BY a.code")).all())
        match = dict(conn.execute(text(
            "SELECT attributes->>'address_match', count(*) FROM feature "
            "WHERE source = 'paris-associations' GROUP BY 1")).all())
        sample = conn.execute(text(
            "SELECT title, description, attributes FROM feature "
            "WHERE source = 'paris-associations' AND attributes->>'rna' = '751P00000077'"
        )).one_or_none()
    assert sum(placed.values()) == summary.published
    assert placed["75112"] / summary.published > 0.99  # the 12th, as their postcode says
    assert match == {"exact": got["exact"], "street": got["street"]}
    assert sample is None  # inactive: "plus d'activité"
    with db.connect() as conn:
        texts = conn.execute(text(
            "SELECT title || ' ' || coalesce(description, '') || ' ' || attributes::text "
            "FROM feature WHERE source = 'paris-associations'")).scalars().all()
    assert not [t for t in texts if EMAIL.search(t) or PHONE.search(t)]


def test_carte_import_geocodes_an_address_column(db, runner, tmp_path):
    from webmap.cli import main

    path = tmp_path / "lieux.csv"
    path.write_text("id,nom,adresse,code_postal\n"
                    "a1,Maison des associations,181 avenue Daumesnil,75012\n"
                    "a2,Sans numéro,rue de Charenton,75012\n"
                    "a3,Introuvable,12 rue qui n'existe pas,75012\n", encoding="utf-8")
    refused = tmp_path / "r.jsonl"
    result = runner.invoke(main, ["import", str(path), "--source", "lieux", "--category",
                                  "acteur-local", "--publish", "--refused", str(refused)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["geocoded"] == {"exact": 1, "street": 1, "none": 1}
    assert (summary["published"], summary["refused"]) == (2, 1)
    (line,) = refused.read_text().splitlines()
    error = json.loads(line)["errors"][0]
    assert (error["pointer"], error["code"]) == ("/address", "address_not_found")
    assert "rue existe pas" in error["detail"] or "existe" in error["detail"]
    with db.connect() as conn:
        attrs = conn.execute(text("SELECT attributes FROM feature WHERE source_ref = 'a1'"
                                  )).scalar_one()
    assert attrs == {"address": "181 Avenue Daumesnil, 75012 Paris", "address_match": "exact"}


def test_the_paris_seed_names_the_layer_and_its_licence():
    seed = next(d for d in PARIS.seeds if d.source == "paris-associations")
    assert seed.category == "acteur-local" and seed.licence.startswith("Licence Ouverte")
    assert Path(seed.file).name == "associations_paris12.csv"
