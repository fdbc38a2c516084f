"""Residents sign in by a single-use, expiring magic link read from the real SMTP server;
they name themselves, and deleting the account keeps what they added, anonymised."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from community.residents import get_resident
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.resident_fixtures import *  # noqa: F403 - capp, cdb
from tests.resident_fixtures import deliver, make_resident, organised, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str) -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no form on {path}: {page.status}"
    return match.group(1)


def ask_link(client, email: str, next_url: str = "/me", lang: str = "fr"):
    token = csrf(client, f"/auth/magic?lang={lang}&next={next_url}")
    return client.post("/auth/magic", data={"csrf_token": token, "email": email,
                                            "next": next_url})


def magic_path(msg) -> str:
    (url,) = [u for u in links(msg) if "/auth/magic/" in u]
    return url.removeprefix("http://carte.test")


def use_link(client, path: str):
    return client.post(path, data={"csrf_token": csrf(client, path)})


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_sign_in_by_a_link_that_works_once_and_lands_on_next(capp, cdb, mail_env):
    client = capp.test_client()
    assert client.get("/me").headers["Location"] == "/auth/magic?next=%2Fme"
    r = ask_link(client, "Ana@Example.org", next_url="/me?tab=threads")
    assert r.status_code == 200 and "Vérifiez votre boîte" in r.get_data(as_text=True)
    (msg,) = deliver(cdb, mail_env, 1)
    assert msg["To"] == "Ana@Example.org"
    assert "Carte citoyenne" in msg["Subject"]
    assert "une seule fois" in text_part(msg)
    path = magic_path(msg)
    # Opening the link (as a mail scanner does) only shows a button: nothing is used.
    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200 and "Se connecter" in page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
    assert scalar(cdb, "SELECT count(*) FROM resident") == 0
    r = use_link(client, path)
    assert r.status_code == 303 and r.headers["Location"] == "/me?tab=threads"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    me = client.get("/me")
    assert me.status_code == 200 and "Ana@Example.org" in me.get_data(as_text=True)
    # The link is spent: a second use, even in another browser, signs nobody in.
    other = capp.test_client()
    again = use_link(other, path) if other.get(path).status_code == 200 else other.get(path)
    assert again.status_code == 400 and "déjà été utilisé" in again.get_data(as_text=True)
    assert other.get("/me").status_code == 303
    # The address is stored for relaying; the lookup key is a keyed hash.
    row = next(iter(cdb.connect().execute(text("SELECT email, email_hash FROM resident"))))
    assert row.email == "Ana@Example.org" and re.fullmatch(r"[0-9a-f]{64}", row.email_hash)
    assert scalar(cdb, "SELECT count(*) FROM magic_link WHERE email IS NOT NULL") == 0


def test_an_expired_link_is_refused_and_says_so(capp, cdb, mail_env):
    client = capp.test_client()
    ask_link(client, "bob@example.org", lang="en")
    (msg,) = deliver(cdb, mail_env, 1)
    assert "Sign in" in text_part(msg)  # the page's language
    path = magic_path(msg)
    with cdb.begin() as conn:
        conn.execute(text("UPDATE magic_link SET created_at = now() - interval '2 hours', "
                          "expires_at = now() - interval '1 minute'"))
    page = client.get(path + "?lang=en")
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)
    r = client.post(path, data={"csrf_token": csrf(client, "/auth/magic")})
    assert r.status_code == 400
    assert client.get("/me").status_code == 303


def test_the_answer_reveals_nothing_about_an_address(capp, cdb, mail_env):
    make_resident(capp, "known@example.org", display_name="Connue")
    answers = []
    for email in ("known@example.org", "unknown@example.org"):
        r = ask_link(capp.test_client(), email)
        answers.append((r.status_code, CSRF.sub("", r.get_data(as_text=True))))
    assert answers[0] == answers[1]
    # Beyond the hourly limit for one address, nothing more is sent, and the answer is
    # still the same (3 per hour by default).
    client = capp.test_client()
    for _ in range(3):
        r = ask_link(client, "unknown@example.org")
        assert (r.status_code, CSRF.sub("", r.get_data(as_text=True))) == answers[0]
    assert scalar(cdb, "SELECT count(*) FROM mail_outbox "
                       "WHERE to_addr = 'unknown@example.org'") == 3
    # Asking for a link creates no resident: only using it does.
    assert scalar(cdb, "SELECT count(*) FROM resident") == 1
    for bad_address in ("not an address", "a\x00b@example.org", "x" * 250 + "@example.org",
                        "a\u200b@example.org"):
        bad = ask_link(client, bad_address)
        assert bad.status_code == 400 and 'aria-invalid="true"' in bad.get_data(as_text=True)


def test_a_client_asking_too_often_is_told_to_wait(capp, cdb, mail_env):
    capp.config["MAGIC_LINKS_PER_CLIENT_HOUR"] = 2
    client = capp.test_client()
    assert ask_link(client, "a@example.org").status_code == 200
    assert ask_link(client, "b@example.org").status_code == 200
    r = ask_link(client, "c@example.org")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_next_only_goes_to_this_site(capp, cdb, mail_env):
    evil = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/%09/evil.example",
            "javascript:alert(1)"]
    for i, target in enumerate(evil):
        client = capp.test_client()
        ask_link(client, f"n{i}@example.org", next_url=target)
    msgs = deliver(cdb, mail_env, len(evil))
    for msg in msgs:
        r = use_link(capp.test_client(), magic_path(msg))
        assert r.status_code == 303 and r.headers["Location"] == "/me", r.headers["Location"]


def test_display_name_and_language(capp, cdb):
    client = capp.test_client()
    resident = sign_in(client, "cleo@example.org")
    token = csrf(client, "/me")
    r = client.post("/me/profile", data={"csrf_token": token, "display_name": "  Cléo  ",
                                         "lang": "en"})
    assert r.status_code == 303
    with Session(cdb) as s:
        again = get_resident(s, resident.id)
        assert again.display_name == "Cléo" and again.lang == "en"
    bad = client.post("/me/profile", data={"csrf_token": token, "display_name": "x" * 61,
                                           "lang": "fr"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    # Without the CSRF token, nothing is changed.
    assert client.post("/me/profile", data={"display_name": "Pirate",
                                            "lang": "fr"}).status_code == 400
    with Session(cdb) as s:
        assert get_resident(s, resident.id).display_name == "Cléo"


def test_deleting_the_account_keeps_contributions_anonymised(capp, cdb):
    client = capp.test_client()
    resident = sign_in(client, "dora@example.org", display_name="Dora")
    fid = organised(cdb, resident.id, title="Scie sauteuse à prêter")
    page = client.get("/me").get_data(as_text=True)
    assert "Scie sauteuse à prêter" in page and f"/#f={fid}" in page
    token = csrf(client, "/me")
    refused = client.post("/me/delete", data={"csrf_token": token})
    assert refused.status_code == 400  # the confirmation box was not ticked
    r = client.post("/me/delete", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 200
    assert client.get("/me").status_code == 303  # signed out
    with cdb.connect() as conn:
        row = conn.execute(text("SELECT * FROM resident WHERE id = :i"),
                           {"i": resident.id}).one()
        assert row.email is None and row.email_hash is None and row.display_name is None
        assert row.deleted_at is not None
        # The item stays published, still linked to the (anonymous) resident.
        assert conn.execute(text("SELECT status::text FROM feature WHERE id = :f"),
                            {"f": fid}).scalar() == "published"
        assert conn.execute(text("SELECT resident_id FROM submission WHERE feature_id = :f"),
                            {"f": fid}).scalar() == resident.id
        dump = " ".join(str(v) for v in conn.execute(text(
            "SELECT r::text FROM resident r UNION ALL SELECT m::text FROM magic_link m "
            "UNION ALL SELECT o::text FROM mail_outbox o")).scalars())
        assert "dora@example.org" not in dump and "Dora" not in dump
    # Signing in again with the same address makes a new, empty account.
    again = make_resident(capp, "dora@example.org")
    assert again.id != resident.id


def test_the_pages_speak_english_too(capp, cdb, mail_env):
    client = capp.test_client()
    page = client.get("/auth/magic?lang=en").get_data(as_text=True)
    assert "<h1>Sign in</h1>" in page and 'lang="en"' in page
    r = ask_link(client, "eve@example.org", lang="en")
    assert "Check your inbox" in r.get_data(as_text=True)
    (msg,) = deliver(cdb, mail_env, 1)
    assert msg["Subject"] == "Your Carte citoyenne sign-in link"
    use_link(client, magic_path(msg))
    me = client.get("/me?lang=en").get_data(as_text=True)
    assert "My conversations" in me and "Delete my account" in me
    french = client.get("/me?lang=fr").get_data(as_text=True)
    assert "Mes conversations" in french and "Supprimer mon compte" in french


def test_two_concurrent_uses_of_one_link_sign_in_once(capp, cdb, mail_env):
    import threading

    from sqlalchemy.orm import Session as S

    from community.errors import MagicLinkInvalid
    from community.residents import redeem_magic_link

    ask_link(capp.test_client(), "race@example.org")
    (msg,) = deliver(cdb, mail_env, 1)
    token = magic_path(msg).rsplit("/", 1)[1]
    barrier, results = threading.Barrier(2), []

    def use() -> None:
        with S(cdb) as s:
            barrier.wait()
            try:
                with s.begin():
                    results.append(redeem_magic_link(s, token, secret="test-secret-key")[0].id)
            except MagicLinkInvalid as exc:
                results.append(exc.reason)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(map(str, results)) == sorted([str(scalar(cdb, "SELECT id FROM resident")),
                                                "already used"])


def test_hostile_addresses_and_tokens_get_a_4xx_never_a_500(capp, cdb):
    anonymous = capp.test_client()
    for path in ("/auth/magic/" + "x" * 3000, "/auth/magic/%00", "/auth/magic/..%2F..",
                 "/api/v1/features/99999999999999999999/contact",
                 "/api/v1/features/0/contact"):
        r = anonymous.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
    client = capp.test_client()
    sign_in(client, "hostile@example.org")
    for path in ("/me/threads/99999999999999999999", "/me/threads/0", "/me/threads/-1"):
        assert 400 <= client.get(path).status_code < 500, path
    r = client.post("/api/v1/features/99999999999999999999/messages", data='{"body": "x"}',
                    content_type="application/json")
    assert 400 <= r.status_code < 500
    r = client.post("/api/v1/features/1/messages", data='{"body": "\\u0000"}',
                    content_type="application/json")
    assert 400 <= r.status_code < 500


def test_an_operators_erasure_deletes_the_account_too(capp, cdb, runner):
    import json

    from webmap.cli import main

    resident = make_resident(capp, "fanny@example.org", display_name="Fanny")
    fid = organised(cdb, resident.id, title="Tente à prêter")
    out = runner.invoke(main, ["residents", "forget", "FANNY@example.org", "--actor", "dpo"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["account_deleted"] == resident.id
    with cdb.connect() as conn:
        row = conn.execute(text("SELECT email, display_name, deleted_at FROM resident")).one()
        assert row.email is None and row.display_name is None and row.deleted_at is not None
        assert conn.execute(text("SELECT status::text FROM feature WHERE id = :f"),
                            {"f": fid}).scalar() == "published"
        assert conn.execute(text("SELECT actor FROM resident_erasure")).scalar() == "dpo"


def test_a_failing_section_of_another_feature_leaves_me_working(capp, cdb, monkeypatch):
    from webmap import me_views

    def broken(resident, session):
        session.execute(text("SELECT * FROM no_such_table"))

    def fine(resident, session):
        return {"title": "Section du test", "message": f"n° {resident.id}"}

    monkeypatch.setattr(me_views, "_SECTIONS", [])
    me_views.register_me_section("broken", "auth/message.html", broken)
    me_views.register_me_section("fine", "auth/message.html", fine)
    client = capp.test_client()
    resident = sign_in(client, "gil@example.org")
    page = client.get("/me")
    assert page.status_code == 200
    assert f"n° {resident.id}" in page.get_data(as_text=True)
