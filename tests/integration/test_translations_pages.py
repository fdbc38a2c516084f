"""Pages and mails whose words moved from Python tables into gettext catalogues.

Moderators read the community pages and residents their mails in their language with
the very wording they had before the move (``tests/unit/test_translations.py`` checks
that the catalogues are complete; this checks that the code reads them).
"""
# ruff: noqa: F811 (pytest fixtures are imported by name from tests/moderation_fixtures.py)

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from community.exchange_notices import notify
from tests.ledger_fixtures import add_resident
from tests.moderation_fixtures import mdb, mod_app, moderator  # noqa: F401


def _shown(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    body = html.unescape(response.get_data(as_text=True))
    return " ".join(re.sub(r"<[^>]+>", " ", body.split("<body", 1)[1]).split())


@pytest.mark.parametrize(("path", "french", "english"), [
    ("/moderation/community/exchanges", ["Échanges de temps et prêts", "Prêts et trocs"],
     ["Time exchanges and loans", "Loans and barter"]),
    ("/moderation/community/signups", ["Inscriptions aux missions et événements",
                                       "Aucune inscription.", "Nommer l'organisateur"],
     ["Sign-ups to missions and events", "No sign-up.", "Name the organiser of an item"]),
    ("/moderation/corrections", ["Corrections proposées", "Aucune correction en attente."],
     ["Suggested changes", "No change waiting."]),
    ("/moderation/community/messages", ["Messages entre habitant·e·s", "Aucun message.",
                                        "Aucun signalement à traiter.", "N° d'habitant·e"],
     ["Messages between residents", "No message.", "No report to decide.", "Resident id"]),
])
def test_community_moderation_pages_speak_the_moderators_language(moderator, path, french,
                                                                  english):
    shown_fr = _shown(moderator, path + "?lang=fr")
    shown_en = _shown(moderator, path + "?lang=en")
    assert all(words in shown_fr for words in french), shown_fr
    assert all(words in shown_en for words in english), shown_en
    assert not any(words in shown_en for words in french)


def test_the_subscription_form_speaks_the_residents_language(mod_app, mdb):
    client = mod_app.test_client()
    shown_fr = _shown(client, "/subscriptions?lang=fr")
    shown_en = _shown(client, "/subscriptions?lang=en")
    assert "S'abonner aux nouveautés" in shown_fr and "Toutes" in shown_fr
    assert "Arrondissement ou quartier" in shown_fr  # the city's levels, "ou" between
    assert "Subscribe to new items" in shown_en and "The whole city" in shown_en
    assert "Arrondissement or quarter" in shown_en


def test_exchange_notices_reach_each_resident_in_their_language(mdb):
    with mdb.begin() as conn:
        alice = add_resident(conn, "Alice", lang="en")
        bob = add_resident(conn, "Bob", lang="fr")
    with Session(mdb) as s, s.begin():
        notify(s, "exchange.proposed", to=alice, by=bob, path="/exchange/1",
               title="Cours de couture")
        notify(s, "exchange.proposed", to=bob, by=alice, path="/exchange/1",
               title="Cours de couture")
        notify(s, "loan.moderated", to=alice, by=None, path="/loans/1", title="Perceuse",
               reason="Doublon")
        for who in (alice, bob):  # the return day in each one's own way of writing it
            notify(s, "loan.agreed", to=who, by=None, path="/loans/1", title="Perceuse",
                   due_on=date(2026, 12, 24))
    with mdb.connect() as conn:
        told = conn.execute(text(
            "SELECT to_addr, lang, subject, body_text FROM mail_outbox ORDER BY id")).all()
    assert [(m.to_addr, m.lang, m.subject) for m in told] == [
        ("alice@example.org", "en", "Bob answered your offer “Cours de couture”"),
        ("bob@example.org", "fr", "Alice répond à votre annonce « Cours de couture »"),
        ("alice@example.org", "en", "“Perceuse”: loan cancelled by the moderators"),
        ("alice@example.org", "en", "a resident agreed: “Perceuse”"),
        ("bob@example.org", "fr", "un habitant accepte : « Perceuse »")]
    assert "Open the page" in told[0].body_text
    assert "Ouvrir la page" in told[1].body_text
    assert "Reason: “Doublon”" in told[2].body_text
    assert "your request for “Perceuse” (until 2026-12-24). Say" in told[3].body_text
    assert "demande pour « Perceuse » (jusqu'au 24/12/2026). Indiquez" in told[4].body_text
