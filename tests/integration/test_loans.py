"""Lending between neighbours: asked, agreed with dates, lent and returned, both sides
saying so; the map (and every public output) shows the object on loan until it is back;
a late borrower is reminded by e-mail, once a day, until they say it is back."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import loans
from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture
from tests.ledger_fixtures import add_resident, make_moderator, make_offer
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part
from tests.resident_fixtures import *  # noqa: F403 - capp
from tests.resident_fixtures import deliver, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def db(categories_loaded, clean_db):  # noqa: F811 - the fixture
    # the real categories, taken away afterwards (they are reference data clean_db keeps)
    return clean_db


def _post(client, page: str, action: str, **data):
    match = CSRF.search(client.get(page).get_data(as_text=True))
    assert match, f"no form on {page}"
    return client.post(action, data={"csrf_token": match.group(1), **data})


def _public(client, fid: int) -> dict:
    item = client.get(f"/ogc/collections/features/items/{fid}?f=json")
    assert item.status_code == 200
    return item.get_json()["properties"]["attributes"]


def _quotes(text_: str) -> str:
    """Guillemets without the spaces around them (mail headers fold them away)."""
    return re.sub(r"\s*([«»])\s*", r"\1", text_)


def _quotes_all(pairs: list) -> list:
    return [(to, _quotes(subject)) for to, subject in pairs]


def _versions(db, fid: int) -> int:
    with db.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM feature_version v JOIN feature f ON f.id = v.feature_id "
            "AND v.version = f.version WHERE f.id = :f"), {"f": fid}).scalar_one() and \
            conn.execute(text("SELECT version FROM feature WHERE id = :f"),
                         {"f": fid}).scalar_one()


def test_a_drill_lent_then_returned_and_the_map_follows(capp, db, mail_env):
    alice_web, bob_web, visitor = capp.test_client(), capp.test_client(), capp.test_client()
    alice = sign_in(alice_web, "alice@example.org", display_name="Alice").id
    sign_in(bob_web, "bob@example.org", display_name="Bob")
    with db.begin() as conn:
        drill = make_offer(conn, alice, category="pret-troc", title="Perceuse à prêter",
                           attributes={"offer_type": "lend", "item": "perceuse"})
    panel = visitor.get(f"/api/v1/features/{drill}/exchange").get_json()
    assert panel == {"kind": "loan", "signed_in": False, "answerable": True, "mine": False,
                     "on_loan_until": None, "answer_url": f"/exchange/offers/{drill}",
                     "open": None}
    # Bob asks, Alice agrees from today for a week
    r = _post(bob_web, f"/exchange/offers/{drill}", f"/exchange/offers/{drill}",
              note="Pour fixer une étagère")
    loan_page = r.headers["Location"]
    assert re.fullmatch(r"/loans/\d+", loan_page)
    assert bob_web.get(f"/api/v1/features/{drill}/exchange").get_json()["open"]["url"] == \
        loan_page
    today = date.today()
    due = today + timedelta(days=7)
    r = _post(bob_web, loan_page, loan_page + "/agree", starts_on=today.isoformat(),
              due_on=due.isoformat())
    assert r.status_code == 403  # the lender agrees, not the borrower
    r = _post(alice_web, loan_page, loan_page + "/agree", starts_on=today.isoformat(),
              due_on=due.isoformat())
    assert r.status_code == 303
    assert _public(visitor, drill).get("on_loan_until") is None
    before = 1  # the fixture's feature, version 1
    # Alice hands it over: the map shows it on loan until its due date
    assert _post(alice_web, loan_page, loan_page + "/lent").status_code == 303
    assert _public(visitor, drill)["on_loan_until"] == due.isoformat()
    assert visitor.get(f"/api/v1/features/{drill}/exchange").get_json()["on_loan_until"] == \
        due.isoformat()
    assert _versions(db, drill) == before + 1  # an audited version, like any change
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one() > 0
    page = bob_web.get(loan_page).get_data(as_text=True)
    assert 'data-status="lent"' in page and "Je confirme l'avoir reçu" in page
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")
    assert f"{due.day} {months[due.month - 1]} {due.year}" in page  # words, not ISO
    assert due.isoformat() not in page.split("<form")[0]
    _post(bob_web, loan_page, loan_page + "/lent")  # Bob confirms he received it
    # Bob says he brought it back: still out until Alice confirms
    assert _post(bob_web, loan_page, loan_page + "/returned").status_code == 303
    assert _public(visitor, drill)["on_loan_until"] == due.isoformat()
    assert _post(alice_web, loan_page, loan_page + "/returned").status_code == 303
    assert "on_loan_until" not in _public(visitor, drill)
    with Session(db) as s:
        view = loans.loan_view(s, int(loan_page.rsplit("/", 1)[1]))
    assert (view.status, view.lent_confirmed_at is not None,
            view.return_declared_at is not None) == ("returned", True, True)
    # the object can be lent again
    r = _post(bob_web, f"/exchange/offers/{drill}", f"/exchange/offers/{drill}")
    assert r.headers["Location"] != loan_page
    # each step told the other side by e-mail, in their language, with the loan's link
    mails = deliver(db, mail_env, 5)
    assert [(m["To"], _quotes(m["Subject"])) for m in mails] == _quotes_all([
        ("alice@example.org", "Bob aimerait emprunter « Perceuse à prêter »"),
        ("bob@example.org", "Alice accepte : « Perceuse à prêter »"),
        ("bob@example.org", "« Perceuse à prêter » a changé de mains"),
        ("alice@example.org", "« Perceuse à prêter » : retour indiqué par Bob"),
        ("alice@example.org", "Bob aimerait emprunter « Perceuse à prêter »")])
    assert f"jusqu'au {due:%d/%m/%Y}" in text_part(mails[1])
    assert f"http://carte.test{loan_page}" in links(mails[2])


def _lent_late(db, *, days_late: int = 2, lang: str = "fr", names=("Alice", "Bob")):
    with db.begin() as conn:
        alice = add_resident(conn, names[0])
        bob = add_resident(conn, names[1], lang=lang)
        drill = make_offer(conn, alice, category="pret-troc", title="Perceuse")
    today = date.today()
    with Session(db) as s, s.begin():
        lid = loans.request_loan(s, feature_id=drill, resident_id=bob)
        loans.agree_loan(s, lid, resident_id=alice, starts_on=today, due_on=today,
                         today=today)
        loans.mark_lent(s, lid, resident_id=alice)
        s.execute(text("UPDATE loan SET starts_on = :d, due_on = :d WHERE id = :i"),
                  {"d": today - timedelta(days=days_late), "i": lid})
    return alice, bob, drill, lid


def test_a_late_return_reminds_the_borrower_once_a_day(capp, db, mail_env):
    from webmap.commands.worker import run_tasks

    _alice, bob, _drill, lid = _lent_late(db)
    done = run_tasks(db, secret="test-secret-key", settings=mail_env.settings())
    assert done["loan_reminders"] == 1 and done["mail"]["sent"] == 1
    (msg,) = mail_env.wait_for(1)
    assert msg["To"] == "bob@example.org"
    assert "Rappel" in msg["Subject"] and "Perceuse" in msg["Subject"]
    assert f"http://carte.test/loans/{lid}" in links(msg)
    assert "alice@example.org" not in text_part(msg)  # never the lender's address
    again = run_tasks(db, secret="test-secret-key", settings=mail_env.settings())
    assert again["loan_reminders"] == 0  # at most once a day
    with db.begin() as conn:
        conn.execute(text("UPDATE loan SET reminded_at = now() - interval '25 hours'"))
    with Session(db) as s, s.begin():
        loans.mark_returned(s, lid, resident_id=bob)  # "I brought it back": reminders stop
    assert run_tasks(db, secret="test-secret-key",
                     settings=mail_env.settings())["loan_reminders"] == 0


def test_a_loan_due_today_is_not_late_and_english_borrowers_read_english(db, mail_env):
    _lent_late(db, days_late=0)
    _a, _b, _d, lid = _lent_late(db, days_late=1, lang="en", names=("Carol", "Dan"))
    with Session(db) as s, s.begin():
        assert loans.remind_late(s, settings=mail_env.settings()) == 1
    (msg,) = deliver(db, mail_env, 1)
    assert msg["Subject"].startswith("Reminder:") and f"/loans/{lid}" in text_part(msg)


def test_a_moderator_cancels_a_loan_out_and_the_object_shows_available(db):
    _alice, _bob, drill, lid = _lent_late(db)
    moderator = make_moderator(db)
    with pytest.raises(loans.InvalidExchange), Session(db) as s, s.begin():
        loans.moderator_cancel_loan(s, lid, actor_id=moderator, reason="")
    with Session(db) as s, s.begin():
        loans.moderator_cancel_loan(s, lid, actor_id=moderator, reason="Objet litigieux")
    with db.connect() as conn:
        attrs = conn.execute(text("SELECT attributes FROM feature WHERE id = :f"),
                             {"f": drill}).scalar_one()
        audit = conn.execute(text("SELECT action, reason FROM exchange_moderation")).one()
    assert "on_loan_until" not in attrs
    assert tuple(audit) == ("cancel_loan", "Objet litigieux")


def test_one_object_is_out_on_one_loan_at_a_time(db):
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        carol = add_resident(conn, "Carol")
        drill = make_offer(conn, alice, category="pret-troc")
    today = date.today()
    with Session(db) as s, s.begin():
        first = loans.request_loan(s, feature_id=drill, resident_id=bob)
        second = loans.request_loan(s, feature_id=drill, resident_id=carol)
        for lid in (first, second):
            loans.agree_loan(s, lid, resident_id=alice, starts_on=today,
                             due_on=today + timedelta(days=3), today=today)
        loans.mark_lent(s, first, resident_id=alice)
    with pytest.raises(loans.WrongState), Session(db) as s, s.begin():
        loans.mark_lent(s, second, resident_id=alice)


def test_a_gift_is_handed_over_once_and_needs_no_dates(db):
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        gift = make_offer(conn, alice, category="pret-troc",
                          attributes={"offer_type": "give", "item": "livres"})
    with Session(db) as s, s.begin():
        lid = loans.request_loan(s, feature_id=gift, resident_id=bob)
        loans.agree_loan(s, lid, resident_id=alice, today=date.today())
        loans.mark_lent(s, lid, resident_id=bob)
        view = loans.loan_view(s, lid)
    assert (view.kind, view.status, view.due_on) == ("gift", "completed", None)


@pytest.mark.parametrize(("start", "due", "field"), [
    ("2020-01-01", "2020-01-05", "starts_on"), ("+3", "+1", "due_on"), ("+0", "+400", "due_on"),
    ("demain", "+3", "starts_on"),
])
def test_loan_dates_are_checked(db, start, due, field):
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        drill = make_offer(conn, alice, category="pret-troc")
    today = date.today()

    def when(v: str) -> str:
        return (today + timedelta(days=int(v))).isoformat() if v.startswith("+") else v

    with Session(db) as s, s.begin():
        lid = loans.request_loan(s, feature_id=drill, resident_id=bob)
    with pytest.raises(loans.InvalidExchange) as err, Session(db) as s, s.begin():
        loans.agree_loan(s, lid, resident_id=alice, starts_on=when(start), due_on=when(due),
                         today=today)
    assert err.value.name == field


def test_answering_a_request_offers_to_lend(capp, db, mail_env):
    ana_web, ben_web = capp.test_client(), capp.test_client()
    ana = sign_in(ana_web, "ana@example.org", display_name="Ana").id
    ben = sign_in(ben_web, "ben@example.org", display_name="Ben").id
    with db.begin() as conn:
        wanted = make_offer(conn, ana, category="pret-troc", title="Cherche une échelle",
                            attributes={"offer_type": "request", "item": "échelle"})
    r = _post(ben_web, f"/exchange/offers/{wanted}", f"/exchange/offers/{wanted}")
    with Session(db) as s:
        view = loans.loan_view(s, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert (view.lender_id, view.borrower_id, view.kind) == (ben, ana, "loan")
    (mail,) = deliver(db, mail_env, 1)
    assert mail["To"] == "ana@example.org" and _quotes(mail["Subject"]) == _quotes(
        "Ben peut vous prêter « Cherche une échelle »")


def test_a_lender_declines_and_a_borrower_withdraws(capp, db, mail_env):
    ana_web, ben_web = capp.test_client(), capp.test_client()
    ana = sign_in(ana_web, "ana@example.org", display_name="Ana").id
    sign_in(ben_web, "ben@example.org", display_name="Ben")
    with db.begin() as conn:
        drill = make_offer(conn, ana, category="pret-troc", title="Scie sauteuse")
    page = _post(ben_web, f"/exchange/offers/{drill}",
                 f"/exchange/offers/{drill}").headers["Location"]
    assert _post(ben_web, page, page + "/decline").status_code == 403  # the lender's step
    assert _post(ana_web, page, page + "/decline").status_code == 303
    assert 'data-status="declined"' in ben_web.get(page).get_data(as_text=True)
    again = _post(ben_web, f"/exchange/offers/{drill}",
                  f"/exchange/offers/{drill}").headers["Location"]
    assert again != page
    assert _post(ben_web, again, again + "/cancel").status_code == 303
    assert _post(ana_web, again, again + "/agree", starts_on=date.today().isoformat(),
                 due_on=date.today().isoformat()).status_code == 409  # gone meanwhile
    mails = deliver(db, mail_env, 4)
    assert [_quotes(m["Subject"]) for m in mails] == [_quotes(x) for x in (
        "Ben aimerait emprunter « Scie sauteuse »", "Ana ne peut pas prêter « Scie sauteuse »",
        "Ben aimerait emprunter « Scie sauteuse »", "« Scie sauteuse » : demande annulée")]

