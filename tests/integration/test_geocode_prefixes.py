"""Address lines with a building, floor or position before them, and ranges of numbers.

Partners write "Bât. B, 12 rue X", "Escalier 3, 5 rue Y", "face au 118 boulevard de
Clichy" (the city's toilets), "12-14 rue W" (a library over two doors), "10/12", a
CEDEX postcode: the geocoder reads the door they mean against the real address file of
Paris (the BAN rows of ``data/cities/paris/adresses-75.csv.gz``; the expected points are
read from the file itself, not through the geocoder).
"""

from __future__ import annotations

import csv
import gzip
from functools import cache

import pytest

from geo.city import load_city
from geo.geocode import address_file, house_lines, load_index, town_dropped


@pytest.fixture(scope="module")
def index():
    return load_index(address_file(load_city("paris", check_files=False)))


@cache
def _ban() -> dict[tuple[str, str, str], tuple[float, float]]:
    path = address_file(load_city("paris", check_files=False))
    assert path is not None
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return {(r["numero"] + (f" {r['rep']}" if r["rep"] else ""), r["nom_voie"],
                 r["code_postal"]): (float(r["lon"]), float(r["lat"]))
                for r in csv.DictReader(fh, delimiter=";")}


def ban(number: str, street: str, postcode: str) -> tuple[float, float]:
    """The point of this door in the address file (``number``: "12", "131 b")."""
    return _ban()[(number, street, postcode)]


def at(match) -> tuple[float, float]:
    assert match.quality == "exact", match
    return match.lon, match.lat


@pytest.mark.parametrize("line", ["Bât. B, 40 rue de Reuilly", "Bâtiment B, 40 rue de Reuilly",
                                  "BAT B, 40 RUE DE REUILLY",
                                  "Résidence Les Lilas, Bât 2, 40 rue de Reuilly"])
def test_a_building_before_the_address_is_left_out(index, line):
    assert at(index.geocode(line, "75012")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


@pytest.mark.parametrize("line", ["Escalier 3, 40 rue de Reuilly", "Esc. 3, 40 rue de Reuilly",
                                  "3e étage, 40 rue de Reuilly",
                                  "Bât. A, escalier 2, 40 rue de Reuilly"])
def test_a_stair_or_floor_before_the_address_is_left_out(index, line):
    assert at(index.geocode(line, "75012")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


@pytest.mark.parametrize("line", ["Bât B 40 rue de Reuilly", "Escalier 3 40 rue de Reuilly"])
def test_a_prefix_without_a_comma_is_left_out_before_the_door(index, line):
    assert at(index.geocode(line, "75012")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


@pytest.mark.parametrize("line", ["face au 181 avenue Daumesnil", "FACE 181 AV DAUMESNIL",
                                  "opposé au 181 avenue Daumesnil"])
def test_where_the_place_stands_from_a_door_reads_as_that_door(index, line):
    assert at(index.geocode(line, "75012")) == pytest.approx(
        ban("181", "Avenue Daumesnil", "75012"))


@pytest.mark.parametrize("line", ["40-42 rue de Reuilly", "40/42 rue de Reuilly",
                                  "40 – 42 rue de Reuilly", "40 à 42 rue de Reuilly",
                                  "40?42 rue de Reuilly", "40-42, rue de Reuilly"])
def test_a_range_of_numbers_is_placed_at_its_first_number(index, line):
    assert at(index.geocode(line, "75012")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


def test_a_range_whose_first_number_is_not_a_door_takes_its_last(index):
    numbers = {n for (n, street, pc) in _ban() if (street, pc) == ("Rue de Reuilly", "75012")}
    assert "8" not in numbers and "10" in numbers  # the file's doors of the street
    assert at(index.geocode("8-10 rue de Reuilly", "75012")) == pytest.approx(
        ban("10", "Rue de Reuilly", "75012"))


def test_bis_and_ter_are_kept_through_a_prefix_and_a_range(index):
    door = ban("131 b", "Rue de la Roquette", "75011")
    assert door != ban("131", "Rue de la Roquette", "75011")
    assert at(index.geocode("131 bis-133 rue de la Roquette", "75011")) == pytest.approx(door)
    assert at(index.geocode("Bât. C, 131 bis rue de la Roquette", "75011")) == \
        pytest.approx(door)
    assert house_lines("12 bis-14 rue W")[:2] == ["12 bis rue W", "14 rue W"]


def test_a_building_after_the_street_is_cut_off(index):
    assert at(index.geocode("40 rue de Reuilly bât. B", "75012")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


@pytest.mark.parametrize("line", ["Place du 22 Novembre 1943", "Square du 8 Mai 1945",
                                  "rue de la Tour", "12 rue de la Porte Blanche"])
def test_a_number_or_word_inside_a_street_name_is_no_prefix(line):
    assert house_lines(line) == [line]


def test_a_street_named_like_a_prefix_stays_a_street(index):
    # "Cour ...", "Villa ...": a street, not a courtyard before a door.
    assert house_lines("Cour des Petites Écuries, 12")[0] == "Cour des Petites Écuries, 12"
    match = index.geocode("Cour des Petites Écuries, 12", "75010")
    assert match.quality in ("exact", "street") and "Cour des Petites" in match.label


@pytest.mark.parametrize("line", ["10 rue du Huit Mai 1945", "Bât. A, 10 rue du Huit Mai 1945",
                                  "face au 10 rue du Huit Mai 1945"])
def test_a_street_named_after_a_date_is_still_found(index, line):
    match = index.geocode(line, "75010")
    assert at(match) == pytest.approx(ban("10", "Rue du Huit Mai 1945", "75010"))


def test_a_cedex_postcode_does_not_narrow_the_streets(index):
    # The libraries' directory writes their CEDEX ("75082"), no street's postcode.
    match = index.geocode("58, rue de Richelieu", "75082")
    assert at(match) == pytest.approx(ban("58", "Rue de Richelieu", "75002"))


def test_another_department_s_postcode_still_narrows_to_nothing(index):
    match = index.geocode("11 rue des Champs", "94380")  # Bonneuil-sur-Marne
    assert (match.quality, match.lon) == ("none", None)


@pytest.mark.parametrize("line", ["40 rue de Reuilly Paris", "40 rue de Reuilly PARIS",
                                  "40 rue de Reuilly 75012 Paris",
                                  "40 rue de Reuilly Paris 75012 France"])
def test_the_town_written_after_the_street_is_left_out(index, line):
    # As on a letter, without a comma: the town is not a word of the street's name.
    assert at(index.geocode(line, locality="Paris")) == pytest.approx(
        ban("40", "Rue de Reuilly", "75012"))


@pytest.mark.parametrize("line", ["Paris", "75004 Paris", "Paris, France"])
def test_a_line_that_is_only_the_town_is_not_found(index, line):
    # Without the rule a word search places "Paris" on a street named after it.
    assert index.geocode(line, locality="Paris").quality == "none"


def test_a_street_named_after_the_town_keeps_its_name():
    assert town_dropped("12 rue de Paris", ["Paris"]) == "12 rue de Paris"
    assert town_dropped("12 avenue de la Porte de Paris Paris", ["Paris"]) == \
        "12 avenue de la Porte de Paris"
