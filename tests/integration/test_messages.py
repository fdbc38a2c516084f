"""Relayed messages: a resident answers an offer through the site, the organiser gets the
text by e-mail (never the sender's address) and replies from /me; blocks, rate and spam
limits; nothing about residents in any public output."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from tests.ingestion_fixtures import *  # noqa: F403 - ingest_app, categories_loaded
from tests.ingestion_fixtures import good_submission
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.resident_fixtures import *  # noqa: F403 - capp, cdb
from tests.resident_fixtures import deliver, organised, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ANA, BOB = "ana.organise@example.org", "bob.emprunte@example.org"


def csrf(client, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def answer(client, fid: int, body: str, **headers):
    return client.post(f"/api/v1/features/{fid}/messages", data=json.dumps({"body": body}),
                       content_type="application/json", headers=headers)


def reply(client, thread_url: str, body: str):
    return client.post(thread_url, data={"csrf_token": csrf(client, thread_url),
                                         "body": body})


def everything(msg) -> str:
    """Every header and part of a message, as text."""
    return msg.as_string()


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def two_residents(capp):
    ana_client, bob_client = capp.test_client(), capp.test_client()
    ana = sign_in(ana_client, ANA, display_name="Ana")
    bob = sign_in(bob_client, BOB, display_name="Bob", lang="en")
    return ana_client, ana, bob_client, bob


def test_an_answer_is_relayed_without_the_address_and_the_reply_comes_back(capp, cdb,
                                                                           mail_env):
    ana_client, ana, bob_client, _bob = two_residents(capp)
    fid = organised(cdb, ana.id, title="Perceuse à prêter")
    anonymous = capp.test_client().get(f"/api/v1/features/{fid}/contact").get_json()
    assert anonymous == {"answerable": True, "signed_in": False, "mine": False,
                         "thread_url": None}
    assert ana_client.get(f"/api/v1/features/{fid}/contact").get_json()["mine"] is True
    r = answer(bob_client, fid, "Bonjour, je peux l'emprunter samedi matin ?")
    assert r.status_code == 201, r.get_data(as_text=True)
    thread_url = r.get_json()["thread_url"]
    assert bob_client.get(f"/api/v1/features/{fid}/contact").get_json()["thread_url"] \
        == thread_url
    (to_ana,) = deliver(cdb, mail_env, 1)
    assert to_ana["To"] == ANA
    body = text_part(to_ana)
    assert "Bonjour, je peux l'emprunter samedi matin ?" in body
    assert "Bob" in to_ana["Subject"] and "Perceuse à prêter" in to_ana["Subject"]
    assert f"http://carte.test{thread_url}" in links(to_ana)
    assert BOB not in everything(to_ana) and "bob.emprunte" not in everything(to_ana)
    assert to_ana.get("Reply-To") is None
    # Ana's page says it is her turn; she reads it on the site and replies; Bob gets it
    # in English, without her address.
    assert "à vous de répondre" in ana_client.get("/me").get_data(as_text=True)
    page = ana_client.get(thread_url).get_data(as_text=True)
    assert "Bonjour, je peux l&#39;emprunter samedi matin ?" in page and ANA not in page
    assert reply(ana_client, thread_url, "Oui, passez à 10 h !").status_code == 303
    to_bob = deliver(cdb, mail_env, 2)[1]
    assert to_bob["To"] == BOB and "Ana wrote to you" in to_bob["Subject"]
    assert "Oui, passez à 10 h !" in text_part(to_bob)
    assert ANA not in everything(to_bob)
    # Both see the conversation on /me; a third resident cannot open it.
    bob_page = bob_client.get("/me?lang=en").get_data(as_text=True)
    assert "Perceuse à prêter" in bob_page and "your turn to answer" in bob_page
    assert "à vous de répondre" not in ana_client.get("/me").get_data(as_text=True)
    eve = capp.test_client()
    sign_in(eve, "eve@example.org")
    assert eve.get(thread_url).status_code == 404
    assert reply(bob_client, thread_url, "Parfait, merci.").status_code == 303
    assert count(cdb, "SELECT count(*) FROM message") == 3
    assert count(cdb, "SELECT count(*) FROM message_thread") == 1


def test_only_items_with_a_resident_organiser_can_be_answered(capp, cdb):
    client = capp.test_client()
    sign_in(client, BOB)
    open_data = organised(cdb, None, title="Boîte à livres (open data)")
    place = organised(cdb, sign_in(capp.test_client(), ANA).id, category="lieu-test",
                      title="Un lieu")
    for fid in (open_data, place):
        assert client.get(f"/api/v1/features/{fid}/contact").get_json()["answerable"] is False
        r = answer(client, fid, "Bonjour")
        assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert client.get("/api/v1/features/999999/contact").status_code == 404


def test_the_answer_api_needs_a_signed_in_same_origin_json_request(capp, cdb):
    fid = organised(cdb, sign_in(capp.test_client(), ANA).id)
    r = answer(capp.test_client(), fid, "Bonjour")
    assert r.status_code == 401 and r.get_json()["sign_in_url"].startswith("/auth/magic")
    client = capp.test_client()
    sign_in(client, BOB)
    assert answer(client, fid, "Bonjour", Origin="https://evil.example").status_code == 403
    assert answer(client, fid, "Bonjour", **{"Sec-Fetch-Site": "cross-site"}).status_code \
        == 403
    form = client.post(f"/api/v1/features/{fid}/messages", data={"body": "Bonjour"})
    assert form.status_code == 415
    r = client.post(f"/api/v1/features/{fid}/messages", data="[]",
                    content_type="application/json")
    assert r.status_code == 400 and r.get_json()["invalid_params"][0]["name"] == "body"
    blank = answer(client, fid, "   ")
    assert blank.status_code == 400 and blank.get_json()["invalid_params"][0]["name"] == "body"
    assert count(cdb, "SELECT count(*) FROM message") == 0


def test_a_block_stops_messages_both_ways(capp, cdb, mail_env):
    ana_client, ana, bob_client, _bob = two_residents(capp)
    fid = organised(cdb, ana.id)
    thread_url = answer(bob_client, fid, "Bonjour Ana").get_json()["thread_url"]
    r = ana_client.post(thread_url + "/block",
                        data={"csrf_token": csrf(ana_client, thread_url)})
    assert r.status_code == 303
    # Bob can no longer write, by the API or in the thread; nor can Ana.
    refused = answer(bob_client, fid, "Vous êtes là ?")
    assert refused.status_code == 403 and "blocked" in refused.get_json()["detail"]
    page = reply(bob_client, thread_url, "Vous êtes là ?")
    assert page.status_code == 403 and "bloqués" in page.get_data(as_text=True)
    assert reply(ana_client, thread_url, "Au revoir").status_code == 403
    assert count(cdb, "SELECT count(*) FROM message") == 1
    # Unblocking lets messages through again.
    ana_client.post(thread_url + "/block", data={"csrf_token": csrf(ana_client, thread_url),
                                                 "action": "unblock"})
    assert reply(ana_client, thread_url, "Finalement, d'accord").status_code == 303


def test_messages_are_rate_limited_per_resident(capp, cdb):
    capp.config["MESSAGES_PER_HOUR"] = 3
    client = capp.test_client()
    sign_in(client, BOB)
    fid = organised(cdb, sign_in(capp.test_client(), ANA).id)
    for i in range(3):
        assert answer(client, fid, f"Message numéro {i}").status_code == 201
    r = answer(client, fid, "Encore un")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert count(cdb, "SELECT count(*) FROM message") == 3


def test_spam_is_refused_with_a_clear_message(capp, cdb, mail_env):
    _ana_client, ana, bob_client, _ = two_residents(capp)
    fid = organised(cdb, ana.id)
    r = answer(bob_client, fid, "Gagnez vite http://spam.example/offre\nhttp://spam.example/2")
    assert r.status_code == 422, r.get_data(as_text=True)
    problem = r.get_json()
    assert any("link" in reason for reason in problem["reasons"])
    assert "spam" in problem["detail"]
    thread_url = answer(bob_client, fid, "Bonjour, toujours dispo ?").get_json()["thread_url"]
    page = reply(bob_client, thread_url, "Achetez ici: https://x.example https://y.example "
                                         "https://z.example")
    assert page.status_code == 422 and "ressemble à du spam" in page.get_data(as_text=True)
    assert count(cdb, "SELECT count(*) FROM message") == 1
    assert len(deliver(cdb, mail_env, 1)) == 1  # only the accepted message was mailed


def test_a_signed_in_residents_submission_is_linked_to_them(ingest_app, clean_db):
    client = ingest_app.test_client()
    resident = sign_in(client, ANA)
    r = client.post("/api/v1/submissions", data=json.dumps(good_submission()),
                    content_type="application/json")
    assert r.status_code == 201, r.get_data(as_text=True)
    anon = ingest_app.test_client().post(
        "/api/v1/submissions", data=json.dumps(good_submission(title="Une autre soupe")),
        content_type="application/json")
    assert anon.status_code == 201
    with clean_db.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, resident_id FROM submission")).all())
    assert rows == {r.get_json()["id"]: resident.id, anon.get_json()["id"]: None}


def test_no_resident_address_or_name_in_public_outputs(capp, cdb, mail_env, runner, var_dir):
    _ana_client, ana, bob_client, _ = two_residents(capp)
    with cdb.begin() as conn:
        conn.execute(text("UPDATE resident SET display_name = 'Zoé Discrète' WHERE id = :i"),
                     {"i": ana.id})
    fid = organised(cdb, ana.id, title="Escabeau à prêter")
    answer(bob_client, fid, "Bonjour Zoé")
    public = capp.test_client()
    urls = ["/api/v1/features", f"/api/v1/features/{fid}", f"/api/v1/features/{fid}/contact",
            "/ogc/collections/features/items?limit=1000",
            f"/ogc/collections/features/items/{fid}",
            f"/ogc/collections/features/items/{fid}?f=html", "/data/", "/feeds/features.atom"]
    seen = 0
    for url in urls:
        r = public.get(url)
        if r.status_code == 200:
            seen += 1
        blob = r.get_data(as_text=True)
        for secret in (ANA, BOB, "Zoé Discrète", "ana.organise", "Bonjour Zoé"):
            assert secret not in blob, (secret, url)
        assert "resident_id" not in blob, url
    assert seen >= 6
    item = public.get(f"/ogc/collections/features/items/{fid}").get_json(force=True)
    assert item["properties"]["title"] == "Escabeau à prêter"
    # The open data downloads (GeoJSON, CSV, GeoPackage...) as `carte export` writes them.
    from webmap.cli import main

    result = runner.invoke(main, ["export"])
    assert result.exit_code == 0, result.output
    # every file written there, the exports' part cache under .parts/ included
    files = sorted(p for p in (var_dir / "data").rglob("*") if p.is_file())
    assert files and any(b"Escabeau" in path.read_bytes() for path in files)
    for path in files:
        blob = path.read_bytes()
        for secret in (ANA, BOB, "Zoé Discrète", "ana.organise", "Bonjour Zoé"):
            assert secret.encode() not in blob, (secret, path.name)


def test_moderators_see_messages_hide_one_and_stop_a_resident_audited(capp, cdb, mail_env):
    from tests.moderation_fixtures import MOD, _password_hash, login

    with cdb.begin() as conn:
        conn.execute(text("INSERT INTO app_user (email, role, password_hash) "
                          "VALUES (:e, 'moderator', :h)"), {"e": MOD, "h": _password_hash()})
    ana_client, ana, bob_client, bob = two_residents(capp)
    fid = organised(cdb, ana.id)
    thread_url = answer(bob_client, fid, "Un message désagréable").get_json()["thread_url"]
    mod = capp.test_client()
    # Residents cannot see the moderation page.
    assert bob_client.get("/moderation/community/messages").status_code in (302, 303)
    assert login(mod).status_code == 303
    page = mod.get("/moderation/community/messages")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Un message désagréable" in html
    assert BOB not in html and ANA not in html  # names and ids, never addresses
    (mid,) = [int(m) for m in re.findall(r'id="message-(\d+)"', html)]
    token = CSRF.search(html).group(1)
    no_reason = mod.post(f"/moderation/community/messages/{mid}/hide",
                         data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400
    r = mod.post(f"/moderation/community/messages/{mid}/hide",
                 data={"csrf_token": token, "reason": "propos insultants"})
    assert r.status_code == 303
    seen = ana_client.get(thread_url).get_data(as_text=True)
    assert "Un message désagréable" not in seen and "masqué par la modération" in seen
    r = mod.post(f"/moderation/community/residents/{bob.id}/block",
                 data={"csrf_token": token, "reason": "harcèlement"})
    assert r.status_code == 303
    stopped = answer(bob_client, fid, "Encore moi")
    assert stopped.status_code == 403 and "moderators" in stopped.get_json()["detail"]
    with cdb.connect() as conn:
        log = conn.execute(text("SELECT action, reason, actor_id IS NOT NULL AS who "
                                "FROM community_moderation ORDER BY id")).all()
    assert [tuple(row) for row in log] == [("hide_message", "propos insultants", True),
                                          ("block_resident", "harcèlement", True)]
    assert "harcèlement" in mod.get("/moderation/community/messages").get_data(as_text=True)


def test_one_text_to_many_in_one_transaction_counts_once(capp, cdb, mail_env):
    from sqlalchemy.orm import Session

    from community.errors import Blocked, TooManyRequests
    from community.messages import MessageSettings, send_message
    from tests.resident_fixtures import make_resident

    settings = MessageSettings(per_hour=2, public_url="http://carte.test")
    organiser = make_resident(capp, "orga@example.org", display_name="Orga")
    volunteers = [make_resident(capp, f"v{i}@example.org") for i in range(5)]
    fid = organised(cdb, organiser.id, title="Disco Soupe")
    from community.blocks import block

    with Session(cdb) as s, s.begin():
        block(s, volunteers[2].id, organiser.id)
    sent = 0
    with Session(cdb) as s, s.begin():  # what missions' "write to my volunteers" does
        for v in volunteers:
            try:
                send_message(s, organiser.id, v.id, "Rendez-vous à 10 h", feature_id=fid,
                             settings=settings)
                sent += 1
            except Blocked:
                continue
    assert sent == 4
    with Session(cdb) as s, s.begin():
        send_message(s, organiser.id, volunteers[0].id, "Apportez un couteau",
                     feature_id=fid, settings=settings)
    with pytest.raises(TooManyRequests), Session(cdb) as s, s.begin():  # a third: no
        send_message(s, organiser.id, volunteers[1].id, "Et un tablier", feature_id=fid,
                     settings=settings)
    assert len(deliver(cdb, mail_env, 5)) == 5
