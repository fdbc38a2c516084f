"""Choice values shown as words, and the attributes that carry personalisation data.

Every enum field of ``data/categories.json`` names its choices in French and English;
the categories API and the map page's data carry those labels, so no page shows a code.
A place may say what it is known to have (``accessibility``), what it is known to lack
(``accessibility_lacks``) and when it opens (``hours``, slots beside the text).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo.config import data_dir
from ingestion.categories import read_categories
from ingestion.errors import CategoryDataError
from ingestion.types import Record
from ingestion.validation import validate_submission
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


def test_every_enum_choice_has_a_french_and_an_english_label():
    specs = read_categories(data_dir() / "categories.json")
    enums = [f for c in specs for f in c.fields if f.type in ("enum", "tags")]
    assert enums
    for f in enums:
        assert [v for v, _, _ in f.choice_labels] == list(f.choices)
        assert all(fr and en and fr != v for v, fr, en in f.choice_labels)
    offer = next(c for c in specs if c.slug == "pret-troc").field("offer_type")
    assert offer.label_of("give", "fr") == "Don" and offer.label_of("give", "en") == "Giveaway"


def test_a_categories_file_with_an_unlabelled_choice_is_refused(tmp_path: Path):
    doc = json.loads((data_dir() / "categories.json").read_text(encoding="utf-8"))
    field = next(f for c in doc["categories"] for f in c["fields"] if f["type"] == "enum")
    del field["choice_labels"][field["choices"][0]]
    bad = tmp_path / "categories.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CategoryDataError, match="choice_labels"):
        read_categories(bad)


def test_the_api_and_the_map_page_carry_the_labels(client, categories_loaded):
    api = client.get("/api/v1/categories").get_json()["categories"]
    garden = next(f for c in api if c["slug"] == "jardin-partage" for f in c["fields"]
                  if f["name"] == "garden_type")
    assert garden["choice_labels"]["edible"] == {
        "fr": "Bacs comestibles (Incroyables Comestibles)",
        "en": "Edible planters (Incredible Edible)"}
    page = client.get("/?lang=en").get_data(as_text=True)
    data = json.loads(re.search(r'id="carte-data">(.*?)</script>', page, re.S).group(1))
    offer = next(f for c in data["categories"] if c["slug"] == "echange-temps"
                 for f in c["fields"] if f["name"] == "offer_type")
    assert offer["choice_labels"]["request"] == {"fr": "Demande", "en": "Request"}


def test_a_place_may_say_what_it_has_lacks_and_when_it_opens():
    cats = {c.slug: c for c in read_categories(data_dir() / "categories.json")}
    base = {"category": "lieu-regles", "title": "Salle commune", "lon": 2.35, "lat": 48.85,
            "attributes": {"rules_of_use": "Rangez après usage",
                           "accessibility": ["step_free_access"],
                           "accessibility_lacks": ["hearing_loop"],
                           "opening_hours": "lun-ven 9h-17h",
                           "hours": [{"day": "mon", "from": "09:00", "to": "17:00"}]}}
    now = datetime(2026, 6, 1, tzinfo=UTC)
    record = validate_submission(base, categories=cats, area=None, now=now)
    assert isinstance(record, Record)
    assert record.attributes["accessibility_lacks"] == ["hearing_loop"]
    assert record.attributes["hours"][0]["day"] == "mon"
    bad = json.loads(json.dumps(base))
    bad["attributes"]["accessibility_lacks"] = ["teleporter"]
    bad["attributes"]["hours"] = [{"day": "mon", "from": "17:00", "to": "09:00"}]
    errors = validate_submission(bad, categories=cats, area=None, now=now)
    assert {e.pointer for e in errors} == {"/attributes/accessibility_lacks",
                                           "/attributes/hours/0/to"}


def test_hours_typed_as_text_become_slots_the_filter_reads():
    cats = {c.slug: c for c in read_categories(data_dir() / "categories.json")}
    now = datetime(2026, 6, 1, tzinfo=UTC)

    def attrs(**extra):
        data = {"category": "service-municipal", "title": "Mairie", "lon": 2.35,
                "lat": 48.85, "attributes": extra}
        record = validate_submission(data, categories=cats, area=None, now=now)
        assert isinstance(record, Record), record
        return record.attributes

    got = attrs(opening_hours="lun-ven 8h30-17h, sam 9h-12h")
    assert got["opening_hours"] == "lun-ven 8h30-17h, sam 9h-12h"  # the text is kept
    assert [s["day"] for s in got["hours"]] == ["mon", "tue", "wed", "thu", "fri", "sat"]
    assert got["hours"][-1] == {"day": "sat", "from": "09:00", "to": "12:00"}
    assert "hours" not in attrs(opening_hours="sur rendez-vous")
    mine = [{"day": "sun", "from": "10:00", "to": "11:00"}]
    assert attrs(opening_hours="lun-ven 9h-17h", hours=mine)["hours"] == mine
    # a category without an hours field keeps its text only
    data = {"category": "fontaine", "title": "Wallace", "lon": 2.35, "lat": 48.85,
            "attributes": {"address": "1 rue X"}}
    assert "hours" not in validate_submission(data, categories=cats, area=None,
                                              now=now).attributes
