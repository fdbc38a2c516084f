"""Opening hours as residents and the city write them, read into weekly slots.

The property tests write generated weeks as French text the way the product shows them
(:func:`format_hours`) and read them back; the example tests use the real strings of
the city's exports (markets, toilets, cool places, libraries) and the common forms.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.hours import DAYS, day_columns_hours, format_hours, market_hours, parse_hours


def week(spec: dict[str, list[tuple[str, str]]]) -> list[dict[str, str]]:
    return [{"day": d, "from": a, "to": b} for d in DAYS for a, b in sorted(spec.get(d, []))]


def every(days, *ranges):
    return week({d: list(ranges) for d in days})


ALL = DAYS
MON_FRI = DAYS[:5]


@pytest.mark.parametrize(("text", "expected"), [
    ("lun-ven 9h-17h", every(MON_FRI, ("09:00", "17:00"))),
    ("tous les jours 10h-22h", every(ALL, ("10:00", "22:00"))),
    ("24 h / 24", every(ALL, ("00:00", "24:00"))),
    ("24h/24 7j/7", every(ALL, ("00:00", "24:00"))),
    ("6 h - 22 h", every(ALL, ("06:00", "22:00"))),
    ("10h à 22h", every(ALL, ("10:00", "22:00"))),
    ("du lundi au vendredi de 9h à 12h et de 14h à 18h",
     every(MON_FRI, ("09:00", "12:00"), ("14:00", "18:00"))),
    ("Lundi : 10h-19h ; Mardi : fermé", every(("mon",), ("10:00", "19:00"))),
    ("06h30 - 07h45 / 11h45 - 19h45", every(ALL, ("06:30", "07:45"), ("11:45", "19:45"))),
    ("Mon-Fri 9am-5pm", every(MON_FRI, ("09:00", "17:00"))),
    ("Mo-Fr 09:00-18:00; Sa 10:00-12:00",
     every(MON_FRI, ("09:00", "18:00")) + every(("sat",), ("10:00", "12:00"))),
    ("tous les jours sauf le lundi 10h-18h", every(DAYS[1:], ("10:00", "18:00"))),
    ("9h-17h du lundi au vendredi", every(MON_FRI, ("09:00", "17:00"))),
    ("sam.-dim. 10h à 19h", every(("sat", "sun"), ("10:00", "19:00"))),
    ("de 9 h 30 à 12 h", every(ALL, ("09:30", "12:00"))),
    ("10h/18h", every(ALL, ("10:00", "18:00"))),
    ("lundi au vendredi : 10 h - 12 h ; 14 h - 17 h",
     every(MON_FRI, ("10:00", "12:00"), ("14:00", "17:00"))),
    ("Du lundi au vendredi : 14h00 - 18h00. Dimanche : 10h00 - 18h00",
     every(MON_FRI, ("14:00", "18:00")) + every(("sun",), ("10:00", "18:00"))),
    ("midi à minuit", every(ALL, ("12:00", "24:00"))),
    ("samedi 20h-0h", every(("sat",), ("20:00", "24:00"))),
])
def test_the_common_forms_are_read(text, expected):
    assert sorted(parse_hours(text), key=str) == sorted(expected, key=str)


def test_a_span_past_midnight_ends_the_next_morning():
    # The toilets' "6 h - 1 h": Sunday's evening runs into Monday 1 a.m.
    slots = parse_hours("6 h - 1 h")
    assert {"day": "sun", "from": "06:00", "to": "24:00"} in slots
    assert {"day": "mon", "from": "00:00", "to": "01:00"} in slots
    assert len(slots) == 14
    assert parse_hours("vendredi 22h-2h") == [
        {"day": "fri", "from": "22:00", "to": "24:00"},
        {"day": "sat", "from": "00:00", "to": "02:00"}]


@pytest.mark.parametrize("text", [
    "Voir fiche équipement", "Sur rendez-vous", "", "   ", None, "lundi", "9h",
    "10h-18h sauf 12h-14h", "25h-26h", "9h61-10h", "horaires saisonniers",
    "Les horaires étant susceptibles d'évoluer, merci de consulter le site",
    "lun-ven 9h-17h (sauf jours fériés)", "9h-9h",
])
def test_what_cannot_be_read_is_none_never_a_guess(text):
    assert parse_hours(text) is None


def test_a_text_only_saying_closed_is_an_empty_week():
    assert parse_hours("Fermé") == []


def test_per_day_columns_read_each_cell_for_its_day():
    # The cool places' export: one column per day, "-" on closed days.
    assert day_columns_hours({
        "horaires_lundi": "06h30 - 07h45 / 11h45 - 19h45", "horaires_mardi": "-",
        "horaires_mercredi": None, "horaires_dimanche": "Fermé",
        "horaires_samedi": "10h - 18h"}) == [
        {"day": "mon", "from": "06:30", "to": "07:45"},
        {"day": "mon", "from": "11:45", "to": "19:45"},
        {"day": "sat", "from": "10:00", "to": "18:00"}]
    assert day_columns_hours({"horaires_lundi": "-", "horaires_mardi": None}) is None
    assert day_columns_hours({"horaires_lundi": "9h-12h", "horaires_mardi": "voir site"}) \
        is None


def test_market_columns_give_each_held_day_its_hours():
    row = {"LUNDI": "0", "MARDI": "0", "MERCREDI": "1", "JEUDI": "0", "VENDREDI": "0",
           "SAMEDI": "1", "DIMANCHE": "0", "Heure début en semaine": "10:00",
           "Heure fin en semaine": "20:30", "Heure début le samedi": "07:00",
           "Heure fin le samedi": "14:30", "Heure début le dimanche": "",
           "Heure fin le dimanche": ""}
    assert market_hours(row) == [{"day": "wed", "from": "10:00", "to": "20:30"},
                                 {"day": "sat", "from": "07:00", "to": "14:30"}]
    # A held day without its hours: the week is not known.
    assert market_hours({**row, "DIMANCHE": "1"}) is None
    assert market_hours({k: "0" for k in row}) is None


def test_the_real_market_file_parses_for_nearly_every_market():
    path = Path(__file__).resolve().parents[2] / "data/cities/paris/marches-decouverts.csv"
    csv.field_size_limit(1 << 24)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    parsed = [market_hours(r) for r in rows]
    assert len(rows) == 81
    assert sum(p is not None for p in parsed) == 81
    saxe = next(p for r, p in zip(rows, parsed, strict=True) if r["Nom court"] == "SAXE-BRETEUIL")
    assert saxe == [{"day": "thu", "from": "07:00", "to": "13:30"},
                    {"day": "sat", "from": "07:00", "to": "14:30"}]


# Real strings of the city's toilets (sanisettesparis `horaire`) and their counts.
TOILETS = {"6 h - 22 h": 247, "Voir fiche équipement": 168, "24 h / 24": 154,
           "6 h - 1 h": 31, "10h/18h": 2, "19 h - 7 h": 1, "10h à 22h": 1}


def test_the_real_toilet_hours_parse_except_the_pointer_to_another_page():
    parsed = {t: parse_hours(t) for t in TOILETS}
    assert [t for t, p in parsed.items() if p is None] == ["Voir fiche équipement"]
    assert sum(n for t, n in TOILETS.items() if parsed[t] is not None) == 436
    assert {"day": "tue", "from": "00:00", "to": "07:00"} in parsed["19 h - 7 h"]


# ---- properties ---------------------------------------------------------------------

_quarter = st.integers(min_value=0, max_value=96)


@st.composite
def slot_ranges(draw):
    a, b = sorted(draw(st.lists(_quarter, min_size=2, max_size=2, unique=True)))
    return (f"{a * 15 // 60:02d}:{a * 15 % 60:02d}", f"{b * 15 // 60:02d}:{b * 15 % 60:02d}")


weeks = st.dictionaries(st.sampled_from(DAYS), st.lists(slot_ranges(), min_size=1,
                                                        max_size=3, unique=True),
                        min_size=1, max_size=7)


@given(weeks)
def test_any_week_written_in_french_reads_back_the_same(spec):
    slots = week(spec)
    text = format_hours(slots)
    assert parse_hours(text) == sorted(slots, key=lambda s: (DAYS.index(s["day"]),
                                                             s["from"], s["to"]))


@given(st.text(max_size=60))
def test_any_text_gives_valid_slots_or_none(text):
    slots = parse_hours(text)
    if slots is not None:
        for s in slots:
            assert s["day"] in DAYS
            assert "00:00" <= s["from"] < s["to"] <= "24:00"


@given(weeks, st.sampled_from(["Fermé", "Voir fiche équipement"]))
def test_hours_read_per_day_column_match_the_week(spec, other):
    slots = week(spec)
    names = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    cells = {f"horaires_{n}": " / ".join(
        f"{s['from'].replace(':', 'h')} - {s['to'].replace(':', 'h')}"
        for s in slots if s["day"] == d) or "-" for n, d in zip(names, DAYS, strict=True)}
    assert day_columns_hours(cells) == sorted(
        slots, key=lambda s: (DAYS.index(s["day"]), s["from"], s["to"]))
    if other == "Fermé":
        assert day_columns_hours({**cells, "horaires_lundi": other}) is not None
    else:
        assert day_columns_hours({**cells, "horaires_lundi": other}) is None
