"""A partner source located by address: synced, kept current, geocoded only when it changes.

An association directory published with addresses and no coordinates is served over
HTTP by the test (CSV, as a partner's site would). Its rows land at the points of the
city's address file (the Base Adresse Nationale rows of ``data/cities/paris``, read here
directly, not through the geocoder), each with its match quality; an address that
cannot be placed is refused with a reason the moderator reads on ``/moderation/sources``;
a second sync geocodes only the row whose address changed and moves only that feature;
a download whose addresses mostly fail is held for a moderator.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
from functools import cache

import pytest
from sqlalchemy import text

from geo.city import Dataset, Geocoding, load_city
from geo.geocode import Geocoder, Match, address_file
from geo.tilemath import lonlat_to_tile
from tests.integration.test_sources_sync import _Routes, counts, scalar, serve
from tests.integration.test_sources_sync import sync as sync_named
from tests.moderation_fixtures import *  # noqa: F403 - the fixtures
from tests.moderation_fixtures import post

SOURCE = "partner-associations"
PATH = "/associations.csv"
HEADER = "id;nom;numero;voie;cp\n"


@cache
def ban(number: str, street: str, postcode: str = "75012") -> tuple[float, float]:
    """The point the address file gives this address (read from the file itself)."""
    paris = load_city("paris", check_files=False)
    path = address_file(paris)
    assert path is not None
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if (row["numero"], row["nom_voie"], row["code_postal"]) == (number, street,
                                                                       postcode):
                return float(row["lon"]), float(row["lat"])
    raise AssertionError(f"{number} {street} {postcode} is not in the address file")


class CountingGeocoder(Geocoder):
    """The city's real geocoder, remembering which address lines it was asked."""

    def __init__(self) -> None:
        paris = load_city("paris", check_files=False)
        path = address_file(paris)
        assert path is not None
        super().__init__(path, locality=paris.name())
        self.asked: list[str] = []

    def __call__(self, address: str, postcode: str = "") -> Match:
        self.asked.append(address)
        return super().__call__(address, postcode)


def body(rows: dict[str, tuple[str, str, str]]) -> bytes:
    """A partner's CSV: ``ref -> (name, number, street)``; no coordinates at all."""
    lines = [f"{ref};{name};{number};{street};75012"
             for ref, (name, number, street) in rows.items()]
    return (HEADER + "\n".join(lines) + "\n").encode()


def city_with(base: str, **geocode) -> object:
    paris = load_city("paris", check_files=False)
    source = Dataset(file=None, source=SOURCE, category="acteur-local",
                     licence="Licence Ouverte 2.0", attribution="Partenaire : associations",
                     url=base + PATH, format="csv",
                     geocode=Geocoding(address="{numero} {voie}", postcode="cp", **geocode))
    return dataclasses.replace(paris, sources=(source,))


def feature(engine, ref: str):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT id, version, status::text AS status, ST_X(geom) AS lon, "
            "ST_Y(geom) AS lat, attributes FROM feature WHERE source = :s "
            "AND source_ref = :r"), {"s": SOURCE, "r": ref}).one_or_none()


ROWS = {
    "a1": ("Amis de la Coulée verte", "181", "Avenue Daumesnil"),
    "a2": ("Jardin partagé de Reuilly", "40", "Rue de Reuilly"),
    "a3": ("Club de lecture", "9", "Boulevard Diderot"),
    "a4": ("Association introuvable", "12", "Rue des Songes Imaginaires"),
}


def sync(engine, city, **kw):
    return sync_named(engine, city, SOURCE, **kw)


@pytest.fixture
def db(real_categories, mdb):
    return mdb


def test_an_address_only_source_syncs_and_keeps_only_changed_rows_geocoded(db, moderator):
    routes = _Routes()
    routes[PATH] = (200, body(ROWS))
    with serve(routes) as base:
        city = city_with(base)
        geocoder = CountingGeocoder()
        first = sync(db, city, geocoder=geocoder)

        # Placed where the address file says, with the match quality kept; refused,
        # counted and explained when the address is not found.
        assert (first.status, first.read, first.new, first.refused) == ("applied", 4, 3, 1)
        assert dict(first.refused_by_reason) == {"address_not_found": 1}
        assert first.as_dict()["geocoded"] == {"exact": 3, "street": 0, "none": 1}
        assert sorted(geocoder.asked) == sorted(f"{n} {s}" for _, n, s in ROWS.values())
        [unplaced] = first.unplaced
        assert unplaced["ref"] == "a4" and "songes imaginaires" in unplaced["reason"]
        for ref in ("a1", "a2", "a3"):
            f = feature(db, ref)
            _, number, street = ROWS[ref]
            assert f.status == "published"
            assert (f.lon, f.lat) == pytest.approx(ban(number, street), abs=1e-6)
            assert f.attributes["address_match"] == "exact"
            assert f.attributes["address"] == f"{number} {street}, 75012 Paris"
        assert feature(db, "a4") is None

        # The moderator reads the refusal and its reason on the sources page.
        page = moderator.get("/moderation/sources").get_data(as_text=True)
        assert "address_not_found" in page and "a4" in page
        assert "songes imaginaires" in page.lower()

        # A second sync: only a1 moved (another number of its street). Only that row
        # is geocoded again; only that feature gets a version and dirty tiles.
        moved = dict(ROWS, a1=("Amis de la Coulée verte", "12", "Avenue Daumesnil"))
        routes[PATH] = (200, body(moved))
        with db.begin() as conn:
            conn.execute(text("DELETE FROM tile_dirty"))
        versions, events, _ = counts(db)
        geocoder.asked.clear()
        second = sync(db, city, geocoder=geocoder)

    assert second.status == "applied"
    assert geocoder.asked == ["12 Avenue Daumesnil"]
    assert second.as_dict()["geocoded"] == {"exact": 1, "street": 0, "none": 0}
    assert (second.read, second.new, second.changed, second.retired, second.unchanged) == \
        (4, 0, 1, 0, 2)
    # The unplaceable row is still refused and counted (from its unchanged bytes).
    assert (second.refused, dict(second.refused_by_reason)) == (1, {"address_not_found": 1})
    a1 = feature(db, "a1")
    assert (a1.lon, a1.lat) == pytest.approx(ban("12", "Avenue Daumesnil"), abs=1e-6)
    assert a1.version == 2 and a1.attributes["address"] == "12 Avenue Daumesnil, 75012 Paris"
    assert feature(db, "a2").version == feature(db, "a3").version == 1
    after_versions, after_events, _ = counts(db)
    assert after_versions - versions == 1 and after_events - events == 1
    with db.connect() as conn:
        dirty = {(x, y) for x, y in conn.execute(text(
            "SELECT x, y FROM tile_dirty WHERE z = 16")).all()}

    def tile(lon: float, lat: float) -> tuple[int, int]:
        x, y = lonlat_to_tile(lon, lat, 16)
        return int(x), int(y)

    assert tile(*ban("181", "Avenue Daumesnil")) in dirty  # where it was
    assert tile(*ban("12", "Avenue Daumesnil")) in dirty   # where it is now
    assert tile(*ban("40", "Rue de Reuilly")) not in dirty


def test_an_identical_download_geocodes_nothing(db):
    routes = _Routes()
    routes[PATH] = (200, body(ROWS))
    with serve(routes) as base:
        city = city_with(base)
        geocoder = CountingGeocoder()
        sync(db, city, geocoder=geocoder)
        geocoder.asked.clear()
        again = sync(db, city, geocoder=geocoder)
    assert again.status == "applied" and geocoder.asked == []
    assert (again.unchanged, again.refused, again.new, again.changed) == (3, 1, 0, 0)


def test_a_source_whose_addresses_mostly_fail_is_held_not_published(db, mod_app, moderator):
    good = {f"g{i}": (f"Association {i}", str(n), "Rue de Charenton")
            for i, n in enumerate(("9", "12", "40", "181", "200"), start=1)}
    routes = _Routes()
    routes[PATH] = (200, body(good))
    with serve(routes) as base:
        city = city_with(base, max_unplaced_share=0.2)
        mod_app.config["CITY"] = city  # the moderation pages' city has this source
        first = sync(db, city)
        assert (first.status, first.new) == ("applied", 5)
        before = {ref: feature(db, ref) for ref in good}
        versions, _, _ = counts(db)
        # The partner's export now writes the street in another column: every address
        # line is a bare number, 8 new rows too. Nothing is published or changed.
        broken = {ref: (name, number, "") for ref, (name, number, _) in good.items()}
        broken |= {f"n{i}": (f"Nouvelle {i}", "3", "Voie Inconnue Du Partenaire")
                   for i in range(8)}
        broken["ok"] = ("Bien placée", "12", "Rue de Reuilly")
        routes[PATH] = (200, body(broken))
        held = sync(db, city)
    assert (held.status, held.hold_reason) == ("held", "unplaced_share")
    assert held.as_dict()["geocoded"] == {"exact": 1, "street": 0, "none": 13}
    assert held.refused_by_reason["address_not_found"] == 13 and len(held.unplaced) == 13
    assert counts(db)[0] == versions
    assert {ref: feature(db, ref) for ref in good} == before
    assert feature(db, "ok") is None
    page = moderator.get("/moderation/sources").get_data(as_text=True)
    assert f"/moderation/sources/{held.run}/confirm" in page
    assert "trop d'adresses introuvables" in page.replace("&#39;", "'")
    assert "retenue au-delà de 20 % d" in page  # the source's own share, in its row
    english = moderator.get("/moderation/sources?lang=en").get_data(as_text=True)
    assert "too many addresses not found" in english and "Addresses not found" in english
    # A moderator who confirms it gets what can be placed; the rest stays refused, and
    # the features of rows now unplaceable keep their last position.
    response = post(moderator, f"/moderation/sources/{held.run}/confirm",
                    page="/moderation/sources")
    assert response.status_code == 303
    assert scalar(db, "SELECT status FROM source_sync_run WHERE id = :r", r=held.run) == \
        "confirmed"
    assert feature(db, "ok").status == "published"
    assert {ref: feature(db, ref) for ref in good} == before


def test_the_city_reads_a_sources_geocode_entry(tmp_path):
    import json

    from geo.city import check_city

    paris = load_city("paris", check_files=False).folder
    doc = json.loads((paris / "city.json").read_text(encoding="utf-8"))
    base = {"category": "acteur-local", "licence": "LO-2.0", "attribution": "X",
            "url": "https://partner.example/a.csv"}
    doc["sources"] = [
        {**base, "source": "a", "geocode": True},
        {**base, "source": "b", "geocode": {"address": "{numero} {voie}",
                                            "postcode": "cp", "max_unplaced_share": 0.05}},
        {**base, "source": "c"},
    ]
    folder = tmp_path / "paris"
    folder.mkdir()
    for item in paris.iterdir():
        if item.name != "city.json":
            (folder / item.name).symlink_to(item)
    (folder / "city.json").write_text(json.dumps(doc), encoding="utf-8")
    city, problems = check_city(folder, check_files=False)
    assert problems == [] and city is not None
    a, b, c = city.sources
    assert a.geocode == Geocoding() and c.geocode is None
    assert b.geocode == Geocoding(address="{numero} {voie}", postcode="cp",
                                  max_unplaced_share=0.05)
    doc["sources"] = [{**base, "source": "d", "geocode": {"adress": "x",
                                                          "max_unplaced_share": 3}},
                      {**base, "source": "e", "geocode": "yes"}]
    (folder / "city.json").write_text(json.dumps(doc), encoding="utf-8")
    city, problems = check_city(folder, check_files=False)
    assert city is None and {"sources[0].geocode", "sources[0].geocode.max_unplaced_share",
                             "sources[1].geocode"} <= {p.field for p in problems}


def test_the_paris_associations_seed_is_kept_current_by_sync(db, tmp_path):
    """The RNA extract of the 12th (addresses only) syncs as ``carte import`` seeds it."""
    import shutil

    paris = load_city("paris", check_files=False)
    seed = paris.source("paris-associations")
    assert seed.file is not None and seed.url is None
    copy = tmp_path / seed.file.name
    shutil.copyfile(seed.file, copy)
    city = dataclasses.replace(paris, seeds=(dataclasses.replace(seed, file=copy),),
                               sources=())
    first = sync_named(db, city, "paris-associations")
    assert first.status == "applied"
    # The figures of data/cities/paris/README.md: 1,101 inactive, 66 not found.
    assert (first.read, first.new) == (7671, 6504)
    assert first.refused_by_reason == {"inactive": 1101, "address_not_found": 66}
    assert first.as_dict()["geocoded"] == {"exact": 6372, "street": 132, "none": 66}
    assert scalar(db, "SELECT count(*) FROM feature WHERE source = 'paris-associations' "
                      "AND status = 'published' AND attributes ? 'address_match'") == 6504
    # One association moves (a new registered office): one row geocoded, one version.
    lines = copy.read_text(encoding="utf-8").splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if "plus d'activité" not in line and i > 0
             and ",75012," in line)
    ref = lines[k].split(",", 1)[0]
    fid = scalar(db, "SELECT id FROM feature WHERE source = 'paris-associations' "
                     "AND source_ref = :r", r=ref)
    assert fid is not None
    fields = next(csv.reader([lines[k]]))
    fields[6] = "181       AV  Daumesnil"  # adr2, the RNA's fixed columns
    fields[5] = ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    lines[k] = out.getvalue()
    copy.write_text("".join(lines), encoding="utf-8")
    versions = counts(db)[0]
    second = sync_named(db, city, "paris-associations")
    assert second.status == "applied" and second.changed == 1
    assert second.as_dict()["geocoded"] == {"exact": 1, "street": 0, "none": 0}
    assert counts(db)[0] - versions == 1
    with db.connect() as conn:
        lon, lat, attrs = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom), attributes FROM feature WHERE id = :i"),
            {"i": fid}).one()
    assert (lon, lat) == pytest.approx(ban("181", "Avenue Daumesnil"), abs=1e-6)
    assert attrs["address_match"] == "exact"


def test_a_geojson_source_without_geometries_uses_the_importers_address_columns(db):
    """``"geocode": true``: the columns ``carte import`` reads (``adresse``, ``code_postal``)."""
    import json

    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "s1", "geometry": None,
         "properties": {"nom": "Point d'accès au droit", "adresse": "40 rue de Reuilly",
                        "code_postal": "75012"}},
        {"type": "Feature", "id": "s2", "geometry": None,
         "properties": {"nom": "Relais information familles", "adresse": "rue de Reuilly",
                        "code_postal": "75012"}},
        {"type": "Feature", "id": "s3",  # coordinates win over the address, as on import
         "geometry": {"type": "Point", "coordinates": [2.3800, 48.8400]},
         "properties": {"nom": "Antenne", "adresse": "181 avenue Daumesnil",
                        "code_postal": "75012"}},
    ]}
    routes = _Routes()
    routes["/services.geojson"] = (200, json.dumps(doc).encode())
    with serve(routes) as base:
        paris = load_city("paris", check_files=False)
        source = Dataset(file=None, source=SOURCE, category="acteur-local",
                         licence="Licence Ouverte 2.0", attribution="Partenaire",
                         url=base + "/services.geojson", geocode=Geocoding())
        geocoder = CountingGeocoder()
        report = sync(db, dataclasses.replace(paris, sources=(source,)), geocoder=geocoder)
    assert (report.status, report.new, report.refused) == ("applied", 3, 0)
    assert geocoder.asked == ["40 rue de Reuilly", "rue de Reuilly"]
    assert report.as_dict()["geocoded"] == {"exact": 1, "street": 1, "none": 0}
    s1, s2, s3 = (feature(db, ref) for ref in ("s1", "s2", "s3"))
    assert (s1.lon, s1.lat) == pytest.approx(ban("40", "Rue de Reuilly"), abs=1e-6)
    assert (s1.attributes["address_match"], s2.attributes["address_match"]) == \
        ("exact", "street")
    assert (s3.lon, s3.lat) == pytest.approx((2.38, 48.84)) and "address_match" not in \
        s3.attributes


def test_one_line_postal_addresses_are_placed(db):
    """A partner's single address column, town and country included, as people write it."""
    lines = {"f1": "12, rue de Reuilly, 75012 Paris, France",
             "f2": "150 avenue de France, 75013 Paris",   # "France" is the street here
             "f3": "181 avenue Daumesnil 75012 PARIS",
             "f4": "40 rue de Reuilly, Paris"}
    csv_body = "id;nom;adresse\n" + "".join(f"{ref};Lieu {ref};{line}\n"
                                           for ref, line in lines.items())
    routes = _Routes()
    routes["/lieux.csv"] = (200, csv_body.encode())
    with serve(routes) as base:
        paris = load_city("paris", check_files=False)
        source = Dataset(file=None, source=SOURCE, category="acteur-local",
                         licence="Licence Ouverte 2.0", attribution="Partenaire",
                         url=base + "/lieux.csv", geocode=Geocoding())
        report = sync(db, dataclasses.replace(paris, sources=(source,)))
    assert (report.status, report.new, report.refused) == ("applied", 4, 0)
    expected = {"f1": ban("12", "Rue de Reuilly"),
                "f2": ban("150", "Avenue de France", "75013"),
                "f3": ban("181", "Avenue Daumesnil"), "f4": ban("40", "Rue de Reuilly")}
    for ref, point in expected.items():
        f = feature(db, ref)
        assert (f.lon, f.lat) == pytest.approx(point, abs=1e-6), ref
        assert f.attributes["address_match"] == "exact"
