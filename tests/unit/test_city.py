"""A city is a folder of configuration: Paris reads as one, a second city too, and a
broken folder is told what is wrong field by field (``carte city check``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geo.city import City, check_city, city_slug, load_city
from geo.errors import CityConfigError
from webmap.cli import main

ROOT = Path(__file__).resolve().parents[2]
LYONNAISE = ROOT / "tests" / "data" / "cities" / "lyonnaise"
TEST_DATA = {"CARTE_DATA_DIR": str(ROOT / "tests" / "data")}


def _check(target: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(main, ["city", "check", target])
    return result.exit_code, [json.loads(line) for line in result.output.splitlines()]


def _broken_copy(tmp_path: Path, change: Any) -> Path:
    folder = tmp_path / "lyonnaise"
    shutil.copytree(LYONNAISE, folder)
    doc = json.loads((folder / "city.json").read_text(encoding="utf-8"))
    change(doc)
    (folder / "city.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return folder


def test_paris_is_the_default_city_and_reads_whole() -> None:
    assert city_slug({}) == "paris"
    paris = load_city(environ={})
    assert isinstance(paris, City)
    assert (paris.slug, paris.crs, paris.time_zone) == ("paris", "EPSG:2154", "Europe/Paris")
    assert paris.languages == ("fr", "en") and paris.default_language == "fr"
    assert paris.name("en") == "Paris"
    assert [(lv.slug, lv.expected_count, lv.parent) for lv in paris.levels] == [
        ("arrondissement", 20, None), ("quartier", 80, "arrondissement")]
    assert paris.level("quartier").names["en"] == "quarter"
    assert paris.bounds.contains(paris.centre.lon, paris.centre.lat)
    assert paris.service_area.code == "75056" and paris.service_area.dissolve
    # The data files live in the city's folder; paths in city.json are local to it.
    assert paris.levels[0].file == ROOT / "data" / "cities" / "paris" / "arrondissements.geojson"
    assert paris.levels[0].display_name("4", "4ème Ardt") == "4e arrondissement"
    assert paris.levels[0].display_name("1", "1er Ardt") == "1er arrondissement"
    assert paris.basemap_extent == (2.215, 48.810, 2.480, 48.908)
    assert all(s.file.is_file() and s.licence and s.attribution for s in paris.seeds)
    assert paris.addresses is not None and paris.addresses.file.name == "adresses-75.csv.gz"
    assert {b.layer for b in paris.basemap} >= {"streets", "water", "parks", "rail"}
    assert paris.moderators.email


def test_every_paris_seed_has_its_own_mapper_and_the_city_s_attribution() -> None:
    # The seed table is the city's: ingestion only adds a mapper per Paris source.
    from ingestion.seed import MAPPERS, seeds_of

    paris = load_city("paris", environ={})
    seeds = seeds_of(paris)
    assert [s.source for s in seeds] == [s.source for s in paris.seeds]
    assert all(s.mapper is MAPPERS[s.source] for s in seeds)
    # Every seed credits its publisher and licence (the Ville de Paris, the BnF...).
    assert all("©" in s.attribution and ("ODbL" in s.attribution or "Licence Ouverte" in
                                         s.attribution) for s in seeds)
    # A source without a mapper (the second city's) is read by the generic one.
    lyonnaise = seeds_of(load_city(folder=LYONNAISE))
    assert [(s.mapper, s.category) for s in lyonnaise] == [(None, "community-garden")]


def test_carte_city_check_accepts_paris() -> None:
    status, lines = _check("paris")
    assert status == 0
    assert lines == [{"city": "paris", "valid": True,
                      "folder": str(ROOT / "data" / "cities" / "paris"),
                      "crs": "EPSG:2154", "time_zone": "Europe/Paris",
                      "languages": ["fr", "en"],
                      "levels": {"arrondissement": 20, "quartier": 80},
                      "seeds": len(load_city("paris", environ={}).seeds),
                      "basemap_sources": 7}]


def test_a_second_city_assumes_nothing_of_paris() -> None:
    status, lines = _check(str(LYONNAISE))
    assert status == 0 and lines[0]["valid"] is True
    city = load_city(environ={**TEST_DATA, "CARTE_CITY": "lyonnaise"})
    assert (city.crs, city.time_zone, city.default_language) == (
        "EPSG:3946", "Europe/Zurich", "en")
    assert city.languages == ("en", "fr")
    assert [lv.slug for lv in city.levels] == ["district"]
    assert city.basemap == ()  # no basemap data: a valid city all the same
    assert not city.bounds.contains(2.3522, 48.8566)  # Paris is not in it
    text = json.dumps([city.attribution, dict(city.names), city.moderators.email,
                       city.service_area.code])
    assert "Paris" not in text and "75056" not in text


def test_carte_city_picks_the_city_and_refuses_a_path_as_slug() -> None:
    assert load_city(environ={**TEST_DATA, "CARTE_CITY": "lyonnaise"}).slug == "lyonnaise"
    with pytest.raises(CityConfigError) as caught:
        load_city(environ={**TEST_DATA, "CARTE_CITY": "../cities/lyonnaise"})
    assert caught.value.problems[0][0] == "CARTE_CITY"
    with pytest.raises(CityConfigError, match="carte city check atlantis"):
        load_city("atlantis", environ=TEST_DATA)


def test_a_broken_city_gets_one_json_line_per_problem(tmp_path: Path) -> None:
    def breakage(doc: dict[str, Any]) -> None:
        doc["crs"] = "EPSG:4326"
        doc["time_zone"] = "Europe/Lutece"
        doc["default_language"] = "de"
        doc["centre"] = {"lon": 45.76, "lat": 4.835, "zoom": 13}
        doc["areas"]["levels"][0]["code_field"] = "insee"
        doc["areas"]["levels"].append({
            "slug": "block", "names": {"en": "block"}, "file": "blocks.geojson",
            "code_field": "code", "name_field": "name", "parent": "quarter",
            "parent_field": "code", "expected_count": 12})
        doc["seeds"][0]["category"] = "disco-soupe"
        del doc["moderators"]["email"]

    folder = _broken_copy(tmp_path, breakage)
    result = CliRunner().invoke(main, ["city", "check", str(folder)])
    assert result.exit_code == 1
    expected = [
        {"field": "default_language", "problem": "'de' is not in languages ['en', 'fr']"},
        {"field": "time_zone",
         "problem": "unknown time zone 'Europe/Lutece' (IANA names such as Europe/Paris)"},
        {"field": "centre", "problem": "(45.76, 4.835) is outside bounds "
                                       "[4.77, 45.7, 4.9, 45.81] (lon, lat order?)"},
        {"field": "crs", "problem": "EPSG:4326 (WGS 84) is not projected: distances and "
                                    "imports need metres, e.g. EPSG:2154"},
        {"field": "areas.levels[0].code_field",
         "problem": "3 of 3 features of districts.geojson have no property 'insee'"},
        {"field": "areas.levels[1].parent",
         "problem": "no level 'quarter' before this one (a parent level comes first)"},
        {"field": "areas.levels[1].names.fr",
         "problem": "missing: a name in every language of `languages`"},
        {"field": "areas.levels[1].file", "problem": "file not found: blocks.geojson "
                                                     f"(resolved to {folder}/blocks.geojson)"},
        {"field": "seeds[0].category", "problem": "no category 'disco-soupe' in categories.json"},
        {"field": "moderators.email", "problem": "missing: expected a string"},
    ]
    assert result.output == "".join(json.dumps(e, ensure_ascii=False) + "\n"
                                    for e in expected)


def test_a_crs_meant_for_elsewhere_and_upside_down_bounds(tmp_path: Path) -> None:
    def breakage(doc: dict[str, Any]) -> None:
        doc["crs"] = "EPSG:3949"  # CC49: a band of France 3 degrees north of this city

    _city, problems = check_city(_broken_copy(tmp_path / "a", breakage))
    assert [p.field for p in problems] == ["crs"]
    assert "does not cover the city's bounds" in problems[0].problem

    def upside_down(doc: dict[str, Any]) -> None:
        doc["bounds"] = [4.9, 45.81, 4.77, 45.7]
        doc["centre"]["zoom"] = True
        doc["crs"] = "EPSG:99999"

    _city, problems = check_city(_broken_copy(tmp_path / "b", upside_down))
    assert [p.field for p in problems] == ["bounds", "bounds", "centre.zoom", "crs"]
    assert problems[2].problem == "expected a zoom level (integer), got true"


def test_a_quartier_whose_parent_is_unknown_is_named(tmp_path: Path) -> None:
    def two_levels(doc: dict[str, Any]) -> None:
        doc["areas"]["levels"].append({
            "slug": "quarter", "names": {"en": "quarter", "fr": "quartier"},
            "file": "districts.geojson", "code_field": "name", "name_field": "name",
            "parent": "district", "parent_field": "name", "expected_count": 3})

    _city, problems = check_city(_broken_copy(tmp_path, two_levels))
    assert [tuple(p) for p in problems] == [(
        "areas.levels[1].parent_field",
        "3 value(s) of 'name' match no 'district' by its key field 'code': "
        "['Colline', \"Presqu'île\", 'Rive gauche']")]


def test_unreadable_city_file(tmp_path: Path) -> None:
    (tmp_path / "city.json").write_text("{not json", encoding="utf-8")
    status, lines = _check(str(tmp_path))
    assert status == 1 and len(lines) == 1 and lines[0]["field"] == "city.json"
    assert lines[0]["problem"].startswith("not valid JSON")


def test_a_web_process_starts_on_the_configuration_alone(tmp_path: Path) -> None:
    def moved_files(doc: dict[str, Any]) -> None:
        doc["seeds"][0]["file"] = "renamed.geojson"
        doc["areas"]["levels"][0]["expected_count"] = 4

    folder = _broken_copy(tmp_path, moved_files)
    assert [p.field for p in check_city(folder)[1]] == [
        "areas.levels[0].expected_count", "seeds[0].file"]
    city = load_city(folder=folder, check_files=False)  # what moderation.init_app does
    assert city.seeds[0].file == folder / "renamed.geojson"

    def bad_configuration(doc: dict[str, Any]) -> None:
        doc["time_zone"] = "Mars/Olympus"

    with pytest.raises(CityConfigError, match="time_zone"):
        load_city(folder=_broken_copy(tmp_path / "b", bad_configuration), check_files=False)
