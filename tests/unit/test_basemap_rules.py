"""The basemap's cartographic rules: street classes, what each zoom shows, line labels."""

from __future__ import annotations

import pytest

from tiles import basemap_rules as rules


@pytest.mark.parametrize(("desi", "name", "length", "expected"), [
    ("BD", "Boulevard Périphérique", 35_000, "periph"),
    ("BD", "Boulevard Peripherique", 35_000, "periph"),  # spelt without the accent
    ("BD", "Boulevard Saint-Germain", 3_100, "major"),
    ("BD", "Boulevard Morland", 400, "major"),  # every boulevard is a through route
    ("AV", "Avenue des Champs Elysées", 1_900, "major"),
    ("AV", "Avenue Victoria", 450, "medium"),
    ("QU", "Quai de l'Hôtel de Ville", 700, "medium"),
    ("QU", "Quai de la Rapée", 1_400, "major"),
    ("PONT", "Pont d'Arcole", 140, "medium"),
    ("RUE", "Rue de Rivoli", 3_000, "major"),  # long enough to cross the city
    ("RUE", "Rue de Rennes", 1_100, "medium"),
    ("RUE", "Rue du Renard", 300, "minor"),
    ("PL", "Place Pierre Kauffmann", 80, "minor"),
    ("PAS", "Passage des Panoramas", 130, "path"),
    ("IMP", "Impasse Berthaud", 60, "path"),
    ("VLA", "Villa Seurat", 120, "path"),
    ("ALL", "Allée des Justes de France", 300, "minor"),
    ("PROM", "Promenade Plantée", 1_300, "minor"),  # a long path is still walked
    ("XYZ", "Unknown type", 100, "minor"),
    ("RTE", "Route de la Pyramide", 3_300, "medium"),  # the Bois de Vincennes
    ("RTE", "Route du Pesage", 500, "minor"),
    ("SOUT", "Souterrain Les Halles", 1_900, "minor"),  # under the streets
    ("VOIE", "Voie Georges Pompidou", 6_000, "major"),
    ("VOIE", "Voie Bz/15", 90, "path"),
    (" rue ", "Rue Jussieu", 200, "minor"),
])
def test_street_class(desi, name, length, expected):
    assert rules.street_class(desi, name, length) == expected


def test_street_classes_reach_the_zooms_in_order_of_importance():
    zooms = [rules.STREET_MINZOOM[c] for c in rules.STREET_CLASSES]
    assert zooms == sorted(zooms)
    assert zooms[0] == rules.MINZOOM and zooms[-1] <= rules.MAXZOOM
    # At the street zooms (z15-16) every class is drawn: every street has its name.
    assert all(z <= 15 for z in zooms)


@pytest.mark.parametrize(("area", "zoom"), [
    (8_460_000, 11), (200_000, 11), (199_999, 12), (60_000, 12), (12_000, 13),
    (3_000, 14), (600, 15), (120, 16), (0.5, 16),
])
def test_park_minzoom_by_area(area, zoom):
    assert rules.park_minzoom(area) == zoom


def test_water_kind():
    assert rules.water_kind("Emprise voie d'eau : bief", True) == "river"
    assert rules.water_kind("Emprise voie d'eau : bief", False) == "canal"
    assert rules.water_kind("Emprise voie d'eau : embranchement", True) == "river"
    assert rules.water_kind("Emprise voie d'eau : bassin", False) == "basin"
    assert rules.water_kind("Emprise voie d'eau : écluse", False) == "lock"
    assert rules.water_kind(None, False) == "canal"
    assert rules.water_minzoom(500) > rules.water_minzoom(50_000) == rules.MINZOOM


@pytest.mark.parametrize(("mode", "res_com", "expected"), [
    ("METRO", "METRO 7", ("metro", "7")),
    ("METRO", "METRO 3bis", ("metro", "3bis")),
    ("RER", "RER B", ("rer", "B")),
    ("TRAMWAY", "TRAM 3a", ("tram", "T3a")),
    ("TRAIN", "TRAIN L", ("train", "L")),
    ("TER", "TER NORMANDIE", ("train", "TER")),
    ("VAL", "FUNICULAIRE MONTMARTRE", ("metro", "Funiculaire")),
    ("NAVETTE", "FUNICULAIRE MONTMART", ("metro", "Funiculaire")),
    ("BUS", "BUS 38", None),
])
def test_rail_line(mode, res_com, expected):
    assert rules.rail_line(mode, res_com) == expected


def test_rail_colour():
    assert rules.rail_colour("metro", "ffbe00") == "#FFBE00"
    assert rules.rail_colour("rer", "#eb2132") == "#EB2132"
    assert rules.rail_colour("train", None) == "#AAAAAA"
    assert rules.rail_colour("metro", "not a colour").startswith("#")


def test_station_order_lists_metro_lines_by_number_then_rer_then_tram():
    order = rules.station_order([("rer", "A"), ("metro", "14"), ("metro", "1"),
                                 ("tram", "T3a"), ("metro", "4"), ("metro", "1")])
    assert order == [("metro", "1"), ("metro", "4"), ("metro", "14"), ("rer", "A"),
                     ("tram", "T3a")]


def test_station_and_rail_zooms_cover_every_mode():
    for table in (rules.RAIL_MINZOOM, rules.STATION_MINZOOM):
        assert set(table) == {"metro", "rer", "tram", "train"}
        assert all(rules.MINZOOM <= z <= rules.MAXZOOM for z in table.values())


def test_french_title():
    assert rules.french_title("JARDIN DE L'HOTEL DE SENS") == "Jardin de l'Hotel de Sens"
    assert rules.french_title("SQUARE DU TEMPLE - ELIE WIESEL") == \
        "Square du Temple - Elie Wiesel"
    assert rules.french_title("LE JARDIN DES PLANTES") == "Le Jardin des Plantes"
    assert rules.french_title("") == ""


def test_simplify_tolerance_halves_with_each_zoom():
    assert rules.simplify_tolerance(15) == pytest.approx(rules.simplify_tolerance(16) * 2)
    # One extent unit of a z16 tile: 611.5 Mercator metres / 4096.
    assert rules.simplify_tolerance(16) == pytest.approx(0.1493, abs=1e-4)


def test_layer_descriptions_say_the_zooms_the_builder_uses():
    text = rules.layer_descriptions()
    assert set(text) == set(rules.LAYER_FIELDS) == set(rules.ordered_layers())
    for cls, zoom in rules.STREET_MINZOOM.items():
        assert f"{cls} from z{zoom}" in text["streets"]
    for mode, zoom in rules.STATION_MINZOOM.items():
        assert f"{mode} from z{zoom}" in text["stations"]
