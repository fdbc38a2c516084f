"""A resident manages whom they blocked from /me: blocked from a conversation, listed by
display name (never an address) and unblocked, in French and English; CSRF on every
form; nobody can lift someone else's block."""

from __future__ import annotations

import json
import re

from sqlalchemy import text

from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.resident_fixtures import *  # noqa: F403 - capp, cdb
from tests.resident_fixtures import make_resident, organised, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ANA, BOB = "ana.voisine@example.org", "bob.voisin@example.org"


def csrf(client, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def answer(client, fid: int, body: str):
    return client.post(f"/api/v1/features/{fid}/messages", data=json.dumps({"body": body}),
                       content_type="application/json")


def conversation(capp, cdb):
    """Bob answers Ana's offer; both signed in, in their own client."""
    ana_client, bob_client = capp.test_client(), capp.test_client()
    ana = sign_in(ana_client, ANA, display_name="Ana")
    bob = sign_in(bob_client, BOB, display_name="Bob")
    fid = organised(cdb, ana.id, title="Perceuse à prêter")
    r = answer(bob_client, fid, "Bonjour, je peux l'emprunter samedi ?")
    assert r.status_code == 201, r.get_data(as_text=True)
    return ana_client, ana, bob_client, bob, fid, r.get_json()["thread_url"]


def blocks_section(html: str) -> str:
    start = html.index('id="blocks-h"')
    return html[start:html.index("</section>", start)]


def test_block_from_a_conversation_then_unblock_from_my_page(capp, cdb, mail_env):
    ana_client, _ana, bob_client, bob, fid, thread_url = conversation(capp, cdb)
    page = ana_client.get("/me").get_data(as_text=True)
    assert "Vous n'avez bloqué personne" in blocks_section(page)

    # Ana blocks Bob from the conversation: the page says so, Bob can no longer write.
    r = ana_client.post(f"{thread_url}/block", data={"csrf_token": csrf(ana_client,
                                                                         thread_url)})
    assert r.status_code == 303 and r.headers["Location"].endswith("?blocked=1")
    seen = ana_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Vous avez bloqué Bob" in seen and "Débloquer" in seen
    refused = bob_client.post(thread_url, data={"csrf_token": csrf(bob_client, thread_url),
                                                "body": "Vous êtes là ?"})
    assert refused.status_code == 403
    assert answer(bob_client, fid, "Allô ?").status_code == 403

    # /me lists Bob by his display name, with the conversation and "Débloquer";
    # never his address. Bob's own page lists nobody (a block is private).
    html = ana_client.get("/me").get_data(as_text=True)
    section = blocks_section(html)
    assert "Personnes que j'ai bloquées" in html
    assert "Bob" in section and "Débloquer" in section and f'href="{thread_url}"' in section
    assert BOB not in html and "bob.voisin" not in html
    assert f'action="/me/blocks/{bob.id}/unblock"' in section
    threads = html[html.index('id="threads-h"'):html.index('id="blocks-h"')]
    assert "vous avez bloqué cette personne" in threads
    assert "Vous n'avez bloqué personne" in blocks_section(
        bob_client.get("/me").get_data(as_text=True))

    # Without the CSRF token nothing changes.
    forged = ana_client.post(f"/me/blocks/{bob.id}/unblock")
    assert forged.status_code == 400
    with cdb.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM resident_block")).scalar_one() == 1

    # Unblock from /me: the list is empty again and they can write to each other.
    r = ana_client.post(f"/me/blocks/{bob.id}/unblock",
                        data={"csrf_token": csrf(ana_client, "/me")})
    assert r.status_code == 303 and r.headers["Location"] == "/me?unblocked=1#blocks-h"
    html = ana_client.get("/me?unblocked=1").get_data(as_text=True)
    assert "Débloqué : vous pouvez de nouveau vous écrire." in html
    assert "Vous n'avez bloqué personne" in blocks_section(html)
    assert "vous avez bloqué cette personne" not in html
    again = bob_client.post(thread_url, data={"csrf_token": csrf(bob_client, thread_url),
                                              "body": "Merci, à samedi !"})
    assert again.status_code == 303


def test_only_ones_own_block_can_be_lifted(capp, cdb, mail_env):
    ana_client, ana, bob_client, bob, _fid, thread_url = conversation(capp, cdb)
    ana_client.post(f"{thread_url}/block", data={"csrf_token": csrf(ana_client, thread_url)})
    # Bob (the blocked one) and Carl (a stranger) try to lift Ana's block of Bob.
    carl_client = capp.test_client()
    sign_in(carl_client, "carl@example.org", display_name="Carl")
    for client, target in ((bob_client, ana.id), (bob_client, bob.id),
                           (carl_client, bob.id)):
        r = client.post(f"/me/blocks/{target}/unblock",
                        data={"csrf_token": csrf(client, "/me")})
        assert r.status_code == 303 and r.headers["Location"] == "/me?unblocked=0#blocks-h"
    with cdb.connect() as conn:
        rows = conn.execute(text("SELECT blocker_id, blocked_id FROM resident_block")).all()
    assert [tuple(r) for r in rows] == [(ana.id, bob.id)]
    # Signed out, the page and the form send to the sign-in.
    anonymous = capp.test_client()
    assert anonymous.get("/me").status_code in (302, 303)


def test_the_list_in_english_names_people_without_a_name_and_shows_no_address(
        capp, cdb, mail_env):
    from sqlalchemy.orm import Session

    from community.blocks import block

    ana_client = capp.test_client()
    ana = sign_in(ana_client, ANA, display_name="Ana", lang="en")
    nameless = make_resident(capp, "sans.nom@example.org")
    zoe = make_resident(capp, "zoe@example.org", display_name="Zoé")
    with Session(cdb) as s, s.begin():
        block(s, ana.id, nameless.id)
        block(s, ana.id, zoe.id)
    # The language as for the map: Accept-Language, then ?lang= (kept by its cookie).
    html = ana_client.get("/me", headers={"Accept-Language": "en-GB,en;q=0.9"}
                          ).get_data(as_text=True)
    section = blocks_section(html)
    assert "People I blocked" in html and "Unblock" in section
    assert "a resident" in section and "Zoé" in section
    assert section.index("Zoé") < section.index("a resident")  # the latest first
    assert "sans.nom" not in html and "zoe@example.org" not in html
    assert "blocked on" in section
    french = ana_client.get("/me?lang=fr").get_data(as_text=True)
    assert "Personnes que j'ai bloquées" in french and "un·e habitant·e" in french
    assert "Personnes que j'ai bloquées" in ana_client.get("/me").get_data(as_text=True)
    # Unblocking Zoé in English; the notice is in English.
    r = ana_client.post(f"/me/blocks/{zoe.id}/unblock",
                        data={"csrf_token": csrf(ana_client, "/me?lang=en")})
    html = ana_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Unblocked: you can write to each other again." in html
    assert "Zoé" not in blocks_section(html) and "a resident" in blocks_section(html)


def test_the_conversation_offers_block_and_unblock_in_both_languages(capp, cdb, mail_env):
    ana_client, _ana, _bob_client, _bob, _fid, thread_url = conversation(capp, cdb)
    fr = ana_client.get(thread_url + "?lang=fr").get_data(as_text=True)
    assert ">Bloquer<" in fr and "Signaler ce message" in fr
    en = ana_client.get(thread_url + "?lang=en").get_data(as_text=True)
    assert ">Block<" in en and "Report this message" in en
    ana_client.post(f"{thread_url}/block", data={"csrf_token": csrf(ana_client, thread_url)})
    en = ana_client.get(thread_url + "?blocked=1").get_data(as_text=True)
    assert "You blocked Bob" in en and ">Unblock<" in en
    r = ana_client.post(f"{thread_url}/block", data={
        "csrf_token": csrf(ana_client, thread_url), "action": "unblock"})
    assert r.headers["Location"].endswith("?unblocked=1")
    assert "Bob is unblocked" in ana_client.get(r.headers["Location"]).get_data(as_text=True)
