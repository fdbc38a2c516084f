"""The moderation pages in French and English, chosen like the map; local times; words."""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.moderation_fixtures import (  # noqa: F401
    admin,
    mdb,
    mod_app,
    moderator,
    pending,
    post,
    published,
)

PAGES = ["/moderation/", "/moderation/flags", "/moderation/imports", "/moderation/audit",
         "/moderation/users", "/moderation/blocks", "/moderation/submissions/{sid}",
         "/moderation/features/{fid}", "/auth/password", "/moderation/corrections"]
# French words that must not be left on an English page (and their English twins).
FRENCH = re.compile(r"\b(Soumission|Signalements|Journal des décisions|Se déconnecter|"
                    r"Comptes|Approuver|Refuser|Fusionner|Décider|Catégorie|Titre)\b")


@pytest.fixture
def ids(mdb):
    return {"sid": pending(mdb), "fid": published(mdb)}


def text_of(client, path: str, **kw) -> str:
    response = client.get(path, **kw)
    assert response.status_code == 200, (path, response.status_code)
    body = html.unescape(response.get_data(as_text=True))
    return re.sub(r"<[^>]+>", " ", body.split("<body>", 1)[1])


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_in_english_on_request(admin, ids, path):
    shown = text_of(admin, path.format(**ids) + "?lang=en")
    assert FRENCH.search(shown) is None, (path, FRENCH.search(shown))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_french_by_default(admin, ids, path):
    shown = text_of(admin, path.format(**ids))
    assert re.search(r"File d'attente|Journal", shown), path


def test_the_language_is_chosen_like_the_map(mod_app, moderator, ids):
    anonymous = mod_app.test_client()
    login = text_of(anonymous, "/auth/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Moderator login" in login and "Forgotten password?" in login
    assert "Connexion des modérateurs" in text_of(anonymous, "/auth/login")
    # ?lang= is remembered in the cookie, over the browser's language.
    assert "Queue" in text_of(moderator, "/moderation/?lang=en")
    assert "Queue" in text_of(moderator, "/moderation/flags",
                              headers={"Accept-Language": "fr"})
    # The switch points at the same page in the other language.
    body = moderator.get("/moderation/flags").get_data(as_text=True)
    assert 'href="/moderation/flags?lang=fr"' in body


def test_times_are_local_and_formatted_for_the_language(moderator, mdb):
    # 12:05 UTC in January is 13:05 in Paris
    sid = pending(mdb, received_at=datetime(2027, 1, 15, 12, 5, tzinfo=UTC))
    fr = moderator.get(f"/moderation/submissions/{sid}?lang=fr").get_data(as_text=True)
    assert re.search(r'<time datetime="2027-01-15T13:05:00\+01:00">15 janv\. 2027, 13:05', fr)
    en = moderator.get(f"/moderation/submissions/{sid}?lang=en").get_data(as_text=True)
    assert re.search(r"Jan 15, 2027, 1:05:00\s?PM", en)


def test_the_audit_says_actions_as_words(moderator, mdb):
    sid, other = pending(mdb), pending(mdb, title="Autre")
    post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    post(moderator, f"/moderation/submissions/{other}/refuse",
         {"version": "1", "reason": "off-topic"})
    fr = text_of(moderator, "/moderation/audit?lang=fr")
    assert "Approuvé" in fr and "Refusé" in fr
    en = text_of(moderator, "/moderation/audit?lang=en")
    assert "Approved" in en and "Refused" in en
    assert not re.search(r"\b(approve|refuse)\b", en.split("Action", 2)[-1])


def test_flash_messages_and_errors_follow_the_language(moderator, mdb):
    sid = pending(mdb)
    moderator.get("/moderation/?lang=en")
    response = post(moderator, f"/moderation/submissions/{sid}/approve", {"version": "1"})
    assert response.status_code == 303
    assert f"Submission {sid} “Jardin des Rosiers” approved: published" in text_of(
        moderator, "/moderation/")
    response = post(moderator, "/moderation/bulk", {"action": "refuse", "items": f"{sid}:2"})
    assert response.status_code == 400
    assert "pick a reason of the charter" in html.unescape(response.get_data(as_text=True))


def test_every_string_of_the_moderation_pages_has_an_english_translation():
    from babel.messages.extract import extract_from_file
    from babel.messages.mofile import read_mo

    root = Path(__file__).resolve().parents[2] / "moderation"
    keywords = {"t": None, "tn": (1, 2)}
    found = set()
    for path in root.glob("*.py"):
        for _line, message, _c, _x in extract_from_file("python", str(path),
                                                        keywords=keywords):
            found.add(message)
    for path in (root / "templates" / "moderation").glob("*.html"):
        for _line, message, _c, _x in extract_from_file("jinja2.ext:babel_extract", str(path),
                                                        keywords=keywords):
            found.add(message)
    assert len(found) > 250
    with (root / "translations/en/LC_MESSAGES/moderation.mo").open("rb") as f:
        catalogue = read_mo(f)
    untranslated = [m for m in found if m not in catalogue or not catalogue[m].string]
    assert untranslated == []
