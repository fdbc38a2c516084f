"""The published schema is defined once: Paris keeps its open-data column names, another
city shows its own level's, and nothing private is ever a public field."""

from __future__ import annotations

from pathlib import Path

from geo.city import load_city
from geo.published import PRIVATE_ATTRIBUTE_KEYS, area_joins, public_fields, public_names

LYONNAISE = Path(__file__).resolve().parents[1] / "data" / "cities" / "lyonnaise"


def test_paris_keeps_the_columns_open_data_consumers_read() -> None:
    paris = load_city("paris", environ={})
    assert public_names(paris.levels) == (
        "id", "category", "title", "description", "starts_at", "ends_at", "attributes",
        "arrondissement", "arrondissement_name", "quartier", "quartier_name", "source",
        "attribution", "published_at", "updated_at", "photos")
    assert area_joins(paris.levels).splitlines() == [
        "LEFT JOIN area a1 ON a1.id = p.area_ids[1]",
        "LEFT JOIN area a2 ON a2.id = p.area_ids[2]"]


def test_a_second_city_names_its_own_level_and_nothing_of_paris() -> None:
    city = load_city(folder=LYONNAISE)
    names = public_names(city.levels)
    assert names[7:9] == ("district", "district_name")
    assert not any("arrondissement" in n or "quartier" in n for n in names)
    assert area_joins(city.levels) == "LEFT JOIN area a1 ON a1.id = p.area_ids[1]"


def test_no_private_column_is_public_and_private_attributes_are_dropped() -> None:
    fields = {f.name: f for f in public_fields(load_city("paris", environ={}).levels)}
    assert not {"email", "client_key", "tracking_token_hash", "reason"} & set(fields)
    assert all(f"'{key}'" in fields["attributes"].sql for key in PRIVATE_ATTRIBUTE_KEYS)


def test_a_third_level_gets_its_own_fields_and_join() -> None:
    # Since 0016_area_refs a feature holds its areas by depth: any number of levels.
    city = load_city(folder=LYONNAISE.parent / "troisniveaux")
    names = public_names(city.levels)
    assert names[7:13] == ("secteur", "secteur_name", "district", "district_name",
                           "ilot", "ilot_name")
    assert area_joins(city.levels).splitlines()[-1] == \
        "LEFT JOIN area a3 ON a3.id = p.area_ids[3]"
