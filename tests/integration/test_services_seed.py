"""The city's services in the demo seed: libraries, pools, town halls, baths, Wi-Fi.

Three files describe overlapping places (the BnF's directory of libraries, the city's
cool places, its Wi-Fi sites). Each is seeded as its own source, every row counted,
published or refused with its reason; a row describing a place another file publishes
is refused as ``merged`` and its additions (the city's hours, Wi-Fi) land on that
place's one feature, which credits every source.
"""

from __future__ import annotations

from tests.services_fixtures import SOURCES, features
from tests.services_fixtures import seeded as seeded  # the fixture


def test_every_row_is_published_or_refused_with_a_reason(seeded, engine):
    expected_rows = {"paris-sanisettes": 615, "paris-bibliotheques": 615,
                     "paris-ilots-fraicheur": 548, "paris-wifi": 277}
    for source, summary in seeded.items():
        assert summary.read == expected_rows[source], source
        assert summary.read == summary.accepted + summary.refused, source
        assert sum(summary.refused_by_reason.values()) == summary.refused, source
        (published,) = features(engine, "SELECT count(*) FROM feature WHERE source = :s "
                                "AND status = 'published'", s=source)[0]
        assert published == summary.accepted == summary.published, source
    lib, cool, wifi = (seeded[s] for s in SOURCES[1:])
    # Libraries: those open to all (or the city's own) are published; reserved ones not.
    assert set(lib.refused_by_reason) <= {"not_open_to_public", "duplicate", "no_geometry"}
    assert lib.refused_by_reason["not_open_to_public"] > 300
    assert 240 <= lib.accepted <= 320
    # Cool places: pools, town halls, baths, libraries; shades, misters, churches are not
    # services; 13 of its 17 libraries are the directory's.
    assert cool.refused_by_reason["not_a_service"] == 548 - (37 + 12 + 17 + 17 + 19)
    assert cool.refused_by_reason["merged"] == 13
    assert cool.accepted == 37 + 12 + 17 + 17 + 19 - 13
    # Wi-Fi: operational sites; those at a published library, town hall or pool merged.
    assert wifi.refused_by_reason["not_in_service"] == 6
    assert 70 <= wifi.refused_by_reason["merged"] <= 90
    assert wifi.refused_by_reason["outside_area"] == 2  # car pounds; a third is closed


def test_a_merged_library_carries_what_each_source_adds_and_every_credit(seeded, engine):
    # Benjamin Rabier: in the directory (phone, declared hours), the cool places (this
    # season's hours per day) and the Wi-Fi list (hotspots).
    rows = features(engine, "SELECT title, category, attributes, attribution, source "
                    "FROM feature WHERE title ILIKE '%Benjamin Rabier%'")
    assert len(rows) == 1
    _, category, attrs, credit, source = rows[0]
    assert (category, source) == ("bibliotheque", "paris-bibliotheques")
    assert attrs["sources"] == ["paris-bibliotheques", "paris-ilots-fraicheur", "paris-wifi"]
    assert attrs["phone"] and attrs["address"].endswith("75019 Paris")
    assert attrs["cool_room"] is True and attrs["wifi"] is True and attrs["wifi_hotspots"] >= 1
    assert attrs["opening_hours"].startswith("lundi : fermé ; mardi : 16h00 - 18h30")
    assert {"day": "tue", "from": "16:00", "to": "18:30"} in attrs["hours"]
    assert not any(s["day"] == "mon" for s in attrs["hours"])
    assert attrs["hours_period"] == "à partir du 02/09/25"
    assert attrs["opening_hours_declared"]  # the directory's text, kept beside
    assert "BnF" in credit and "Îlots de fraîcheur" in credit and "Paris Wi-Fi" in credit
    # The credit is a change like any other: a new version, which the change feed and
    # the incremental downloads notice.
    (reason,) = features(engine, "SELECT e.reason FROM feature f JOIN feature_version v "
                         "ON v.feature_id = f.id AND v.version = f.version JOIN "
                         "moderation_event e ON e.id = v.event_id "
                         "WHERE f.title ILIKE '%Benjamin Rabier%'")[0]
    assert reason == "credits of the sources merged into this place"


def test_a_renamed_library_keeps_its_old_name_and_is_published_once(seeded, engine):
    rows = features(engine, "SELECT title, attributes FROM feature WHERE category = "
                    "'bibliotheque' AND (title ILIKE '%Robert Sabatier%' OR title = "
                    "'Bibliothèque Clignancourt')")
    assert [r.title for r in rows] == ["Bibliothèque Robert Sabatier"]
    assert rows[0].attributes["other_names"] == "Bibliothèque Clignancourt"


def test_no_two_published_libraries_stand_on_the_same_spot_with_the_same_name(seeded, engine):
    # The false-match check in reverse: what stayed apart really is apart.
    pairs = features(engine, """
        SELECT a.title, b.title FROM feature a JOIN feature b
          ON a.id < b.id AND a.category = b.category
         AND ST_DWithin(a.geom::geography, b.geom::geography, 60)
        WHERE a.category IN ('bibliotheque', 'mairie', 'piscine')
          AND lower(a.title) = lower(b.title)""")
    assert pairs == []


def test_merges_join_places_of_one_kind_only(seeded, engine):
    # The Valeyre library and the Paul Valeyre pool share a building (0 m apart): two
    # places. A town hall's Wi-Fi never lands on a library.
    rows = features(engine, "SELECT category, attributes FROM feature "
                    "WHERE title ILIKE '%Valeyre%' ORDER BY category")
    assert [r.category for r in rows] == ["bibliotheque", "piscine"]
    assert rows[0].attributes.get("wifi") is True and "wifi" not in rows[1].attributes
    halls = features(engine, "SELECT title, attributes FROM feature WHERE category = 'mairie'")
    assert len(halls) == 16
    assert "Mairie du 11e arrondissement" in {h.title for h in halls}
    assert sum(1 for h in halls if h.attributes.get("wifi")) >= 15


def test_toilets_carry_their_step_free_flag(seeded, engine):
    rows = features(engine, "SELECT attributes FROM feature WHERE source = 'paris-sanisettes'")
    said = [a for (a,) in rows if "accessibility" in a or "accessibility_lacks" in a]
    assert len(said) == len(rows) - 2  # two toilets say nothing of access
    for (a,) in rows:
        if "step_free_access" in a.get("accessibility", []):
            assert "adapted_toilets" in a["accessibility"]


def test_hours_are_structured_where_they_parse_and_text_always(seeded, engine):
    rows = features(engine, "SELECT category, attributes FROM feature "
                    "WHERE category IN ('piscine', 'bains-douches', 'mairie', 'bibliotheque')")
    by = {}
    for category, attrs in rows:
        n, with_text, with_slots = by.get(category, (0, 0, 0))
        by[category] = (n + 1, with_text + bool(attrs.get("opening_hours")),
                        with_slots + bool(attrs.get("hours")))
        if attrs.get("hours"):
            assert attrs.get("opening_hours")
    # Two baths say "-" (closed) every day of the period: text, no slots.
    assert by["bains-douches"] == (17, 17, 15)
    assert by["piscine"][2] >= 40  # 49 pools and bathing spots, a few texts cut off
    assert by["mairie"][2] >= 14
    print(by)


def test_library_access_notes_are_kept_and_mapped_only_when_unambiguous(seeded, engine):
    rows = features(engine, "SELECT attributes FROM feature WHERE category = 'bibliotheque' "
                    "AND attributes ? 'access_note'")
    assert len(rows) > 40
    for (a,) in rows:
        note = a["access_note"].lower()
        if "avec aide" in note or "partiel" in note:
            assert "accessibility" not in a
    assert sum(1 for (a,) in rows if a.get("accessibility") == ["step_free_access"]) >= 20
