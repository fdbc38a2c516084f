"""Validation messages and text checks: pure, in French and English, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.categories import CategorySpec, FieldSpec
from ingestion.messages import MESSAGES, catalogue, localise, message, pick_lang
from ingestion.text import clean_text, forbidden_character, is_visible, mixed_script_words
from ingestion.validation import check_characters, validate_submission

MISSION = CategorySpec(
    slug="mission", kind="mission", label_fr="Mission", label_en="Mission", colour="#000000",
    icon="x", fields=(FieldSpec("availability", "availability", True, "Créneaux", "Time slots"),
                      FieldSpec("min_age", "integer", False, "Âge minimum", "Minimum age",
                                min=0, max=99)))


@pytest.mark.parametrize(("error", "fr", "en"), [
    ({"pointer": "/ends_at", "code": "order"}, "Fin : avant le début", "End: before the start"),
    ({"pointer": "/title", "code": "blank"}, "Titre : ne peut pas être vide",
     "Title: cannot be empty"),
    ({"pointer": "/attributes/min_age", "code": "out_of_range", "params": {"min": 0, "max": 99}},
     "Âge minimum : entre 0 et 99", "Minimum age: between 0 and 99"),
    ({"pointer": "/attributes/availability/2/to", "code": "order"},
     "Créneaux : créneau 3 : la fin doit suivre le début",
     "Time slots: slot 3: the end must come after the start"),
    ({"pointer": "/attributes/availability/0/from", "code": "format"},
     "Créneaux : créneau 1 : heure au format 14:30", "Time slots: slot 1: time as 14:30"),
    ({"pointer": "/starts_at", "code": "format"}, "Début : date et heure non valables",
     "Start: not a valid date and time"),
    ({"pointer": "/title", "code": "forbidden_character", "params": {"char": "U+0000"}},
     "Titre : contient un caractère invisible ou interdit (U+0000) : retapez le texte",
     "Title: contains an invisible or forbidden character (U+0000): type the text again"),
])
def test_each_message_names_the_field_by_its_label(error, fr, en):
    assert message(error, MISSION, "fr") == fr
    assert message(error, MISSION, "en") == en


def test_every_code_validation_answers_has_a_message_in_both_languages():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    bad = {"lon": "x", "lat": 500, "title": "", "category": "mission", "starts_at": "nope",
           "email": "x@", "attributes": {"availability": [{"day": "xyz", "from": "9",
                                                           "to": "8"}],
                                         "min_age": 120, "other": 1}}
    errors = validate_submission(bad, categories={"mission": MISSION}, area=None, now=now)
    for e in localise([x.as_json() for x in errors], MISSION, "en"):
        assert e["code"] in MESSAGES or e["code"] == "type", e
        assert ": " in e["detail"] and "_" not in e["detail"].split(":")[0], e
    assert set(catalogue("fr")["messages"]) == set(catalogue("en")["messages"])


class _Accept:
    def __init__(self, best):
        self.best = best

    def best_match(self, langs):
        return self.best if self.best in langs else None


def test_the_language_is_chosen_like_the_pages():
    assert pick_lang({"lang": "en"}, {"lang": "fr"}, _Accept("fr")) == "en"
    assert pick_lang({}, {"lang": "en"}, _Accept("fr")) == "en"
    assert pick_lang({}, {}, _Accept("en")) == "en"
    assert pick_lang({"lang": "de"}, {}, _Accept(None)) == "fr"


@given(st.text())
def test_stored_text_never_keeps_what_cannot_be_stored(value):
    cleaned = clean_text(value, multiline=True)
    assert forbidden_character(cleaned) is None
    assert "\u200b" not in cleaned and "\u2060" not in cleaned


def test_unstorable_characters_are_refused_where_they_are():
    assert forbidden_character("ok") is None
    assert forbidden_character("a\x00") == "U+0000"
    assert forbidden_character("\U000e0041") == "U+E0041"
    errors = check_characters({"a": ["x", {"b\x00": 1}], "c": "\ud800"})
    assert [(e.pointer, e.params["char"]) for e in errors] == [
        ("/a/1/b\ufffd", "U+0000"), ("/c", "U+D800")]
    assert not is_visible("\u200b\u2060 \ufeff\u00ad")
    assert is_visible("\u200ba")


def test_mixed_script_words_are_found_and_real_text_is_not():
    assert mixed_script_words("J\u0430rdin partagé") == ["J\u0430rdin"]
    assert mixed_script_words("Jardin partagé, Москва, Αθήνα, été") == []
