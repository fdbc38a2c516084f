"""Every field of an item's category, read and edited by a moderator in their language."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from tests.moderation_fixtures import (  # noqa: F401
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    real_categories,
    row,
    scalar,
)

MISSION = {"availability": [{"day": "tue", "from": "18:00", "to": "20:00"},
                            {"day": "mon", "from": "09:00", "to": "12:00"}],
           "organisation": "Les Restos du Marais", "volunteers_needed": 4,
           "audiences": ["seniors"], "accessibility": ["step_free_access"]}


def page(client, path: str) -> str:
    return html.unescape(client.get(path).get_data(as_text=True))


def test_the_item_page_shows_every_field_labelled_in_english(moderator, real_categories,
                                                             mdb):
    sid = pending(mdb, category="mission-benevole", title="Distribution du soir",
                  attributes=MISSION)
    body = page(moderator, f"/moderation/submissions/{sid}?lang=en")
    assert '<html lang="en">' in body
    assert "Time slots (day, from, to)" in body
    assert "Monday 09:00–12:00 ; Tuesday 18:00–20:00" in body  # a week, Monday first
    assert "Volunteers needed</dt><dd" in body and ">4</dd>" in body
    assert "Step-free access" in body and "Seniors" in body
    assert "Minimum age" in body  # empty fields are listed too, so what is missing shows
    assert "resident@example.net" in body  # the contributor's address, to moderators only
    # The same page in French (the lang cookie was set by ?lang=en: ?lang=fr switches back).
    body = page(moderator, f"/moderation/submissions/{sid}?lang=fr")
    assert "Créneaux (jour, début, fin)" in body and "lundi 09:00–12:00" in body
    assert "Accès de plain-pied" in body


def test_choice_labels_and_booleans_are_words_not_codes(moderator, real_categories, mdb):
    sid = pending(mdb, category="pret-troc", title="Perceuse",
                  attributes={"offer_type": "lend", "item": "Perceuse à percussion"})
    fete = pending(mdb, category="fete-des-voisins", title="Fête rue Vieille-du-Temple",
                   attributes={"party_kit_request": True, "expected_guests": 40},
                   starts_at=datetime.now(UTC) + timedelta(days=30),
                   ends_at=datetime.now(UTC) + timedelta(days=30, hours=4))
    body = page(moderator, f"/moderation/submissions/{sid}?lang=en")
    assert 'data-field="offer_type">Loan</dd>' in body
    body = page(moderator, f"/moderation/submissions/{fete}?lang=en")
    assert "Request the city&#39;s party kit" in html.escape(body) or \
        "Request the city's party kit" in body
    assert 'data-field="party_kit_request">yes</dd>' in body
    queue = page(moderator, "/moderation/?lang=en")  # the queue shows the fields too
    assert 'data-field="party_kit_request">yes</dd>' in queue
    assert 'data-field="offer_type">Loan</dd>' in queue


def test_a_moderator_edits_category_fields_in_english_then_approves(moderator,
                                                                    real_categories, mdb):
    sid = pending(mdb, category="mission-benevole", title="Distribution du soir",
                  attributes=MISSION)
    form = page(moderator, f"/moderation/submissions/{sid}?lang=en")
    assert 'name="a_availability_day"' in form and 'name="a_audiences"' in form
    response = post(moderator, f"/moderation/submissions/{sid}/edit", {
        "version": "1", "title": "Distribution du soir", "description": "",
        "category": "mission-benevole", "lon": "2.3580", "lat": "48.8570",
        "starts_at": "", "ends_at": "",
        "a_availability_day": ["wed", "", ""], "a_availability_from": ["17:30", "", ""],
        "a_availability_to": ["19:00", "", ""], "a_organisation": "Restos du Marais",
        "a_volunteers_needed": "6", "a_min_age": "16",
        "a_audiences": ["seniors", "everyone"], "a_accessibility": ["adapted_toilets"]},
        page=f"/moderation/submissions/{sid}")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    fid = scalar(mdb, "SELECT feature_id FROM submission WHERE id = :i", i=sid)
    attrs = scalar(mdb, "SELECT attributes FROM feature WHERE id = :i", i=fid)
    assert attrs == {"availability": [{"day": "wed", "from": "17:30", "to": "19:00"}],
                     "organisation": "Restos du Marais", "volunteers_needed": 6,
                     "min_age": 16, "audiences": ["seniors", "everyone"],
                     "accessibility": ["adapted_toilets"]}
    edit = row(mdb, "SELECT before, after FROM moderation_event WHERE submission_id = :i "
                    "AND action = 'edit'", i=sid)
    assert edit.before["attributes"]["volunteers_needed"] == 4
    assert edit.after["attributes"]["volunteers_needed"] == 6
    assert edit.before["attributes"]["availability"] == MISSION["availability"]
    history = page(moderator, f"/moderation/submissions/{sid}?lang=en")
    assert "<strong>Edited</strong>" in history and "<strong>Approved</strong>" in history


def test_an_edit_breaking_a_submission_rule_is_refused_field_by_field(moderator,
                                                                      real_categories, mdb):
    sid = pending(mdb, category="mission-benevole", title="Distribution du soir",
                  attributes=MISSION)
    response = post(moderator, f"/moderation/submissions/{sid}/edit?lang=en", {
        "version": "1", "title": "", "category": "mission-benevole", "lon": "2.358",
        "lat": "48.857", "a_availability_day": ["mon"], "a_availability_from": ["12:00"],
        "a_availability_to": ["09:00"], "a_min_age": "150", "a_audiences": ["toddlers"]},
        page=f"/moderation/submissions/{sid}")
    assert response.status_code == 400
    body = html.unescape(response.get_data(as_text=True))
    for name in ("title", "a_availability", "a_min_age", "a_audiences"):
        assert f'id="err-{name}"' in body, name
    assert "Minimum age" in body  # the messages name the field by its label, in English
    # What was typed is kept in the form, and nothing was decided.
    assert 'value="12:00"' in body and 'value="150"' in body
    assert scalar(mdb, "SELECT status::text FROM submission WHERE id = :i", i=sid) == "pending"
    assert scalar(mdb, "SELECT count(*) FROM feature") == 0


def test_a_published_feature_s_fields_are_edited_as_a_new_audited_version(
        moderator, real_categories, mdb):
    sid = pending(mdb, category="pret-troc", title="Perceuse",
                  attributes={"offer_type": "lend", "item": "Perceuse"})
    post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    fid = scalar(mdb, "SELECT feature_id FROM submission WHERE id = :i", i=sid)
    version = scalar(mdb, "SELECT version FROM feature WHERE id = :i", i=fid)
    response = post(moderator, f"/moderation/features/{fid}/edit", {
        "version": str(version), "title": "Perceuse", "category": "pret-troc",
        "lon": "2.3580", "lat": "48.8570", "a_offer_type": "give", "a_item": "Perceuse"},
        page=f"/moderation/features/{fid}")
    assert response.status_code == 303
    assert scalar(mdb, "SELECT attributes->>'offer_type' FROM feature WHERE id = :i",
                  i=fid) == "give"
    body = page(moderator, f"/moderation/features/{fid}?lang=fr")
    assert 'data-field="offer_type">Don</dd>' in body


def test_spam_rules_read_the_category_s_text_fields():
    from ingestion.spam import SpamContext, links
    from ingestion.types import Record

    record = Record(category="pret-troc", title="Perceuse", lon=2.35, lat=48.85,
                    description="", starts_at=None, ends_at=None, email=None,
                    attributes={"item": "https://promo.example https://x.example "
                                        "https://y.example"})
    verdict = links(SpamContext(record=record))
    assert verdict is not None and verdict.score >= 0.6
