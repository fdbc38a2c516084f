"""Subscriptions (double opt-in, one-click unsubscribe) and the Atom feeds, end to end."""

import xml.etree.ElementTree as ET

from sqlalchemy import text

from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.moderation_fixtures import *  # noqa: F403 - mdb
from tests.moderation_fixtures import csrf_of, published, scalar
from webmap.commands.worker import run_tasks

ATOM = "{http://www.w3.org/2005/Atom}"
SECRET = "test-secret-key"


def work(engine, smtp):
    return run_tasks(engine, secret=SECRET, settings=smtp.settings())


def subscribe(client, **form):
    token = csrf_of(client, "/subscriptions")
    return client.post("/subscriptions", data={"csrf_token": token, **form})


def test_subscribe_confirm_receive_then_unsubscribe_in_one_click(app, mdb, mail_env):
    client = app.test_client()
    page = client.get("/subscriptions?lang=en")
    assert page.status_code == 200 and b'<label for="email">' in page.data
    work(mdb, mail_env)  # the fan-out cursor starts after the features already there
    r = subscribe(client, email="Bob@Example.org", category="jardin-test", area="75104")
    assert r.status_code == 202, r.get_data(as_text=True)
    # Nothing is sent before the confirmation: a new garden is not announced yet.
    published(mdb, title="Jardin avant confirmation", lon=2.3580, lat=48.8570)
    work(mdb, mail_env)
    (ask,) = mail_env.wait_for(1)
    assert ask["To"] == "Bob@Example.org"
    # In the page's language (the form was opened with ?lang=en).
    assert ask["Subject"] == "Confirm your subscription: Garden — 4e arrondissement"
    (confirm,) = [u for u in links(ask) if "/subscriptions/confirm/" in u]
    path = confirm.removeprefix("http://carte.test")
    assert client.get(path).status_code == 200  # a GET confirms nothing
    assert scalar(mdb, "SELECT count(*) FROM mail_subscription WHERE confirmed_at IS NOT NULL") == 0
    token = csrf_of(client, path)
    assert client.post(path, data={"csrf_token": token}).status_code == 200
    # A garden in the 4th is announced; one elsewhere, or of another category, is not.
    fid = published(mdb, title="Jardin des Blancs-Manteaux", lon=2.3580, lat=48.8570)
    published(mdb, title="Jardin du 15e", lon=2.2920, lat=48.8410)
    published(mdb, title="Soupe du 4e", lon=2.3580, lat=48.8571, category="soupe-test")
    assert work(mdb, mail_env)["announced"] == 1
    news = mail_env.wait_for(2)[1]
    body = text_part(news)
    assert "Jardin des Blancs-Manteaux" in body and f"&f={fid}" in body
    assert "Jardin du 15e" not in body and "Soupe" not in body
    assert "Jardin avant confirmation" not in body
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = news["List-Unsubscribe"].strip("<>").removeprefix("http://carte.test")
    assert one_click.startswith("/api/v1/subscriptions/unsubscribe/")
    # RFC 8058: the mail client POSTs, with no cookie and no CSRF token.
    fresh = app.test_client()
    r = fresh.post(one_click, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert scalar(mdb, "SELECT count(*) FROM mail_subscription") == 0
    published(mdb, title="Jardin après désabonnement", lon=2.3581, lat=48.8571)
    assert work(mdb, mail_env)["announced"] == 0


def test_forged_tokens_and_bad_forms_are_refused(app, mdb, mail_env):
    client = app.test_client()
    r = subscribe(client, email="not-an-address", category="")
    assert r.status_code == 422 and 'aria-invalid="true"' in r.get_data(as_text=True)
    r = subscribe(client, email="a@example.org", category="nope")
    assert r.status_code == 422
    path = "/subscriptions/confirm/1.AAAAAAAAAAAAAAAAAAAAAAAA"
    assert client.post(path, data={"csrf_token": csrf_of(client, path)}).status_code == 404
    assert app.test_client().post("/api/v1/subscriptions/unsubscribe/1.forged").status_code \
        == 404


def test_posting_the_form_again_does_not_flood_the_inbox(app, mdb, mail_env):
    client = app.test_client()
    for _ in range(3):
        assert subscribe(client, email="c@example.org", area="75104").status_code == 202
    assert scalar(mdb, "SELECT count(*) FROM mail_outbox") == 1


def feed(client, query=""):
    r = client.get("/feeds/features.atom" + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(r.data)


def test_the_atom_feed_lists_new_items_with_stable_ids_and_permalinks(app, mdb):
    client = app.test_client()
    a = published(mdb, title="Jardin <b>&</b> \x0b co", lon=2.3580, lat=48.8570)
    b = published(mdb, title="Soupe du 15e", lon=2.2920, lat=48.8410, category="soupe-test")
    doc = feed(client)
    assert doc.tag == f"{ATOM}feed"
    entries = doc.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Soupe du 15e",
                                                              "Jardin <b>&</b>  co"]
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert ids == [f"tag:localhost,2026:feature/{b}", f"tag:localhost,2026:feature/{a}"]
    assert [e.find(f"{ATOM}id").text for e in feed(client).findall(f"{ATOM}entry")] == ids
    link = entries[1].find(f"{ATOM}link").get("href")
    assert link == f"http://localhost/#map=17/48.85700/2.35800&f={a}"
    assert entries[0].find(f"{ATOM}updated").text.endswith("Z")
    assert doc.find(f"{ATOM}updated") is not None and doc.find(f"{ATOM}author") is not None
    only = feed(client, "?category=soupe-test&lang=en").findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in only] == ["Soupe du 15e"]
    in_4e = feed(client, "?area=75104").findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}id").text for e in in_4e] == [ids[1]]
    for bad in ("?area=xx", "?area=99999", "?category=nope", "?lang=de", "?foo=1"):
        r = client.get("/feeds/features.atom" + bad)
        assert r.status_code == 400 and r.mimetype == "application/problem+json", bad


def test_no_address_reaches_a_feed(app, mdb, mail_env):
    client = app.test_client()
    subscribe(client, email="secret-reader@example.org", area="75104")
    published(mdb, title="Jardin public", lon=2.3580, lat=48.8570)
    assert b"secret-reader" not in client.get("/feeds/features.atom").data
    with mdb.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM resident_address")).scalar_one() == 1
