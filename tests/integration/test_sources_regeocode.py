"""A partner source located by address is geocoded again only when an address moved.

A partner renames a place, fixes its phone: the row's bytes changed, its address did
not, so its feature keeps the point its address gave and the geocoder is not asked. A
row whose address line or postcode changed is geocoded again. When the city's address
file is replaced (or the geocoder's rules change), the next sync places every row that
was placed by address again, and only the features whose point moved get a version;
the run keeps the fingerprint of the address file it used. The sources are files in
the test's folder, synced end to end against the real PostGIS and the real BAN rows of
``data/cities/paris`` (a copy of some of its streets where the test edits the file).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from geo.city import Dataset, Geocoding, load_city
from geo.geocode import Geocoder, Match, address_file
from tests.integration.test_sources_sync import counts, scalar
from tests.integration.test_sources_sync import sync as sync_named
from tests.moderation_fixtures import *  # noqa: F403 - the fixtures

SOURCE = "partner-lieux"
HEADER = "id;nom;numero;voie;cp\n"
ROWS = {
    "a1": ("Amis de la Coulée verte", "181", "Avenue Daumesnil"),
    "a2": ("Jardin partagé de Reuilly", "40", "Rue de Reuilly"),
    "a3": ("Club de lecture", "9", "Boulevard Diderot"),
    "a4": ("Association des Songes", "12", "Rue des Songes Imaginaires"),
}
STREETS = {"Avenue Daumesnil", "Rue de Reuilly", "Boulevard Diderot"}


class CountingGeocoder(Geocoder):
    """A real geocoder of an address file, remembering the lines it was asked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, locality="Paris")
        self.asked: list[str] = []

    def __call__(self, address: str, postcode: str = "") -> Match:
        self.asked.append(address)
        return super().__call__(address, postcode)


def ban_rows(streets: set[str], postcode: str = "75012") -> list[dict[str, str]]:
    """The address file's rows of these streets (the real BAN of Paris)."""
    path = address_file(load_city("paris", check_files=False))
    assert path is not None
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh, delimiter=";")
                if r["nom_voie"] in streets and r["code_postal"] == postcode]


def write_addresses(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_csv(path: Path, rows: dict[str, tuple[str, str, str]], postcode: str = "75012",
              postcodes: dict[str, str] | None = None) -> None:
    lines = [f"{ref};{name};{number};{street};{(postcodes or {}).get(ref, postcode)}"
             for ref, (name, number, street) in rows.items()]
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")


def city_of(path: Path, **geocode) -> object:
    paris = load_city("paris", check_files=False)
    source = Dataset(file=path, source=SOURCE, category="acteur-local",
                     licence="Licence Ouverte 2.0", attribution="Partenaire",
                     geocode=Geocoding(**(geocode or {"address": "{numero} {voie}",
                                                      "postcode": "cp"})))
    return dataclasses.replace(paris, sources=(source,))


def feature(engine, ref: str):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT id, version, title, ST_X(geom) AS lon, ST_Y(geom) AS lat, attributes "
            "FROM feature WHERE source = :s AND source_ref = :r"),
            {"s": SOURCE, "r": ref}).one_or_none()


def sync(engine, city, geocoder):
    return sync_named(engine, city, SOURCE, geocoder=geocoder)


@pytest.fixture
def db(real_categories, mdb):
    return mdb


@pytest.fixture
def ban_geocoder() -> CountingGeocoder:
    path = address_file(load_city("paris", check_files=False))
    assert path is not None
    return CountingGeocoder(path)


def test_a_renamed_row_keeps_its_point_and_asks_the_geocoder_nothing(db, tmp_path,
                                                                     ban_geocoder):
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    first = sync(db, city, ban_geocoder)
    assert (first.status, first.new) == ("applied", 3)
    before = feature(db, "a2")
    renamed = dict(ROWS, a2=("Jardin partagé de la rue de Reuilly", "40", "Rue de Reuilly"))
    write_csv(source, renamed)
    ban_geocoder.asked.clear()
    versions = counts(db)[0]
    second = sync(db, city, ban_geocoder)
    assert second.status == "applied" and second.changed == 1
    assert ban_geocoder.asked == []  # the address did not change
    assert second.placements_kept == 1
    assert second.as_dict()["geocoded"] == {"exact": 1, "street": 0, "none": 0}
    after = feature(db, "a2")
    assert after.title == "Jardin partagé de la rue de Reuilly" and after.version == 2
    assert (after.lon, after.lat) == (before.lon, before.lat)
    assert after.attributes["address"] == before.attributes["address"]
    assert after.attributes["address_match"] == "exact"
    assert counts(db)[0] - versions == 1


def test_a_row_whose_address_changed_is_geocoded_again(db, tmp_path, ban_geocoder):
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, ban_geocoder)
    moved = dict(ROWS, a1=("Amis de la Coulée verte (nouveau siège)", "12",
                           "Avenue Daumesnil"),
                 a3=("Club de lecture du 12e", "9", "Boulevard Diderot"))
    write_csv(source, moved)
    ban_geocoder.asked.clear()
    second = sync(db, city, ban_geocoder)
    assert ban_geocoder.asked == ["12 Avenue Daumesnil"]  # a3 was only renamed
    assert (second.changed, second.placements_kept) == (2, 1)
    assert feature(db, "a1").attributes["address"] == "12 Avenue Daumesnil, 75012 Paris"


def test_a_changed_postcode_alone_is_a_changed_address(db, tmp_path, ban_geocoder):
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, ban_geocoder)
    write_csv(source, ROWS, postcodes={"a2": "75011"})  # no Rue de Reuilly 40 there
    ban_geocoder.asked.clear()
    second = sync(db, city, ban_geocoder)
    assert ban_geocoder.asked == ["40 Rue de Reuilly"]
    assert second.refused_by_reason["address_not_found"] == 2  # a2 now, a4 as before
    assert second.placements_kept == 0


def test_a_geojson_source_without_geometries_keeps_renamed_places_too(db, tmp_path,
                                                                       ban_geocoder):
    """``"geocode": true``: the importer's own address columns, rows as GeoJSON features."""
    def write(names: dict[str, str]) -> None:
        doc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": ref, "geometry": None,
             "properties": {"nom": name, "adresse": line, "code_postal": "75012"}}
            for ref, (name, line) in names.items()]}
        source.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    source = tmp_path / "services.geojson"
    places = {"s1": ("Point d'accès au droit", "40 rue de Reuilly"),
              "s2": ("Relais information familles", "Bât. B, 181 avenue Daumesnil")}
    write(places)
    city = city_of(source)
    city = dataclasses.replace(city, sources=(dataclasses.replace(
        city.sources[0], geocode=Geocoding()),))
    first = sync(db, city, ban_geocoder)
    assert (first.new, first.refused) == (2, 0)  # the building prefix is read too
    write(dict(places, s2=("Relais Information Familles du 12e",
                           "Bât. B, 181 avenue Daumesnil")))
    ban_geocoder.asked.clear()
    second = sync(db, city, ban_geocoder)
    assert (second.changed, second.placements_kept, ban_geocoder.asked) == (1, 1, [])


def test_each_run_records_the_address_file_it_placed_with(db, tmp_path, ban_geocoder):
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    report = sync(db, city_of(source), ban_geocoder)
    digest = hashlib.sha256(ban_geocoder.path.read_bytes()).hexdigest()
    assert report.as_dict()["address_file"]["sha256"] == digest
    stored = scalar(db, "SELECT report->'address_file'->>'sha256' FROM source_sync_run "
                        "WHERE id = :r", r=report.run)
    assert stored == digest


def test_a_new_address_file_places_every_address_row_again(db, tmp_path):
    """The city updates its address file: a door moved, a street was added."""
    rows = ban_rows(STREETS)
    addresses = write_addresses(tmp_path / "adresses-v1.csv", rows)
    geocoder = CountingGeocoder(addresses)
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    first = sync(db, city, geocoder)
    assert (first.new, first.refused) == (3, 1)  # a4's street is not in the file
    a1, a3 = feature(db, "a1"), feature(db, "a3")
    # The new file: 40 rue de Reuilly's point corrected 30 m east, the new street added.
    for r in rows:
        if (r["numero"], r["rep"], r["nom_voie"]) == ("40", "", "Rue de Reuilly"):
            r["lon"] = f"{float(r['lon']) + 0.0004:.6f}"
            moved_to = (float(r["lon"]), float(r["lat"]))
    added = dict(rows[0], numero="12", rep="", nom_voie="Rue des Songes Imaginaires",
                 lon="2.390000", lat="48.845000")
    write_addresses(addresses, [*rows, added])
    versions = counts(db)[0]
    geocoder.asked.clear()
    second = sync(db, city, geocoder)  # the partner's file has not changed
    assert second.status == "applied" and not second.same_file
    assert sorted(geocoder.asked) == sorted(f"{n} {s}" for _, n, s in ROWS.values())
    assert second.re_placed == 4 and second.placements_kept == 0
    assert (second.changed, second.new, second.unchanged) == (1, 1, 2)
    assert (feature(db, "a2").lon, feature(db, "a2").lat) == pytest.approx(moved_to)
    assert feature(db, "a2").version == 2
    assert feature(db, "a4") is not None  # placed now, published as a new row
    assert feature(db, "a1") == a1 and feature(db, "a3") == a3  # same point: untouched
    assert counts(db)[0] - versions == 2  # a2's revision, a4's creation
    # The next sync of the same files reads nothing again.
    geocoder.asked.clear()
    third = sync(db, city, geocoder)
    assert (third.same_file, geocoder.asked) == (True, [])


def test_new_geocoding_rules_place_the_address_rows_again(db, tmp_path, ban_geocoder,
                                                          monkeypatch):
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, ban_geocoder)
    monkeypatch.setattr("geo.geocode.RULES", 1_000)  # the next release reads differently
    ban_geocoder.asked.clear()
    again = sync(db, city, ban_geocoder)
    assert len(ban_geocoder.asked) == 4 and again.re_placed == 4
    assert again.as_dict()["address_file"]["rules"] == 1_000
    assert again.changed == 0  # the same points: no version


def test_a_renamed_row_is_geocoded_after_the_address_file_changed(db, tmp_path):
    """A placement made with another address file is not kept: it may be stale."""
    rows = ban_rows(STREETS)
    addresses = write_addresses(tmp_path / "adresses.csv", rows)
    geocoder = CountingGeocoder(addresses)
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, geocoder)
    write_addresses(addresses, rows[:-1])  # one door fewer: another file
    write_csv(source, dict(ROWS, a2=("Jardin de Reuilly", "40", "Rue de Reuilly")))
    geocoder.asked.clear()
    second = sync(db, city, geocoder)
    assert "40 Rue de Reuilly" in geocoder.asked and second.placements_kept == 0


def test_a_confirmed_held_run_keeps_the_address_file_it_placed_with(db, tmp_path):
    """Held (it would retire a quarter of the rows) after a new address file, confirmed:
    the next sync knows the rows were placed with the new file and places none again."""
    from sqlalchemy.orm import Session

    from ingestion.sync import confirm_run

    rows = ban_rows(STREETS)
    addresses = write_addresses(tmp_path / "adresses.csv", rows)
    geocoder = CountingGeocoder(addresses)
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, geocoder)
    write_addresses(addresses, rows[:-1])  # a new address file
    write_csv(source, {ref: row for ref, row in ROWS.items() if ref != "a3"})
    held = sync(db, city, geocoder)
    assert (held.status, held.hold_reason, held.re_placed) == ("held", "retire_share", 4)
    moderator = scalar(db, "SELECT id FROM app_user WHERE role = 'moderator'")
    with Session(db) as session, session.begin():
        confirmed = confirm_run(session, city, held.run, actor_id=moderator)
    assert confirmed.as_dict()["address_file"] == held.as_dict()["address_file"]
    geocoder.asked.clear()
    again = sync(db, city, geocoder)  # the same partner file and address file
    assert (again.same_file, again.re_placed, geocoder.asked) == (True, 0, [])


def test_rows_placed_before_any_fingerprint_are_placed_again_once(db, tmp_path,
                                                                  ban_geocoder):
    """A seed, ``carte import`` or an older release placed them: with which file is unknown."""
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, ban_geocoder)
    with db.begin() as conn:  # as an older release left its runs
        conn.execute(text("UPDATE source_sync_run SET report = report - 'address_file'"))
    ban_geocoder.asked.clear()
    once = sync(db, city, ban_geocoder)
    assert (once.re_placed, len(ban_geocoder.asked), once.changed) == (4, 4, 0)
    ban_geocoder.asked.clear()
    then = sync(db, city, ban_geocoder)
    assert (then.same_file, then.re_placed, ban_geocoder.asked) == (True, 0, [])


def test_after_a_new_address_file_a_renamed_row_keeps_its_new_placement(db, tmp_path):
    """Rows placed again at the same point count as placed with the new file."""
    rows = ban_rows(STREETS)
    addresses = write_addresses(tmp_path / "adresses.csv", rows)
    geocoder = CountingGeocoder(addresses)
    source = tmp_path / "lieux.csv"
    write_csv(source, ROWS)
    city = city_of(source)
    sync(db, city, geocoder)
    write_addresses(addresses, rows[:-1])  # another file: every row placed again
    replaced = sync(db, city, geocoder)
    assert replaced.re_placed == 4 and replaced.changed == 0
    write_csv(source, dict(ROWS, a3=("Club de lecture Diderot", "9", "Boulevard Diderot")))
    geocoder.asked.clear()
    renamed = sync(db, city, geocoder)
    assert (renamed.changed, renamed.placements_kept, geocoder.asked) == (1, 1, [])
