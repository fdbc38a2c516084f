"""The time bank: an hour given is an hour received, booked once, and kept forever.

Real PostgreSQL: the balance rules are the database's (constraints and triggers) and
the concurrency is real threads on real connections.
"""

from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from community import ledger
from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture
from tests.ledger_fixtures import add_resident, make_moderator, make_offer

TODAY = date(2026, 12, 7)


@pytest.fixture
def db(categories_loaded, clean_db):  # noqa: F811 - the fixture
    # the real categories, taken away afterwards (they are reference data clean_db keeps)
    return clean_db


@pytest.fixture
def pair(db):
    """Alice offers sewing lessons on the map; Bob answers."""
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        offer = make_offer(conn, alice)
    return alice, bob, offer


def _exchange(db, alice, bob, offer, units=4):
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=offer, resident_id=bob)
        ledger.record_exchange(s, resident_id=alice, exchange_id=xid, units=units,
                               happened_on="2026-12-05", today=TODAY, note="ourlet")
    return xid


def _check(db):
    with db.connect() as conn:
        return conn.execute(text("SELECT * FROM carte_timebank_check()")).one()


def test_an_hour_given_and_confirmed_is_plus_one_hour_and_minus_one_hour(db, pair):
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer)
    with Session(db) as s:
        assert ledger.balance(s, alice) == 0  # recorded, not booked yet
        view = ledger.exchange_view(s, xid)
        assert (view.status, view.giver_id, view.receiver_id, view.units) == (
            "recorded", alice, bob, 4)
    with Session(db) as s, s.begin():
        ledger.confirm_exchange(s, xid, resident_id=bob)
    with Session(db) as s:
        assert ledger.balance(s, alice) == 4
        assert ledger.balance(s, bob) == -4
        lines = ledger.statement(s, bob)
    assert [(line.units, line.balance_after, line.other_name, line.note) for line in lines] == [
        (-4, -4, "Alice", "ourlet")]
    assert _check(db) == (2, 0, 0)  # two accounts, sum zero, each = its postings


def test_a_request_makes_the_answerer_the_giver(db):
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        request = make_offer(conn, alice, attributes={"offer_type": "request",
                                                      "skill": "bricolage"})
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=request, resident_id=bob)
        view = ledger.exchange_view(s, xid)
    assert (view.giver_id, view.receiver_id) == (bob, alice)


def test_only_the_receiver_confirms_and_only_the_giver_records(db, pair):
    alice, bob, offer = pair
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=offer, resident_id=bob)
    with pytest.raises(ledger.NotAParty), Session(db) as s, s.begin():
        ledger.record_exchange(s, resident_id=bob, exchange_id=xid, units=4,
                               happened_on=TODAY, today=TODAY)
    with Session(db) as s, s.begin():
        ledger.record_exchange(s, resident_id=alice, exchange_id=xid, units=4,
                               happened_on=TODAY, today=TODAY)
    with pytest.raises(ledger.NotAParty), Session(db) as s, s.begin():
        ledger.confirm_exchange(s, xid, resident_id=alice)
    with pytest.raises(ledger.NotAParty), Session(db) as s, s.begin():
        ledger.propose_exchange(s, feature_id=offer, resident_id=alice)  # own offer


@pytest.mark.parametrize(("field", "units", "day"), [
    ("units", 0, "2026-12-05"), ("units", 401, "2026-12-05"), ("units", "1.5", "2026-12-05"),
    ("happened_on", 4, "2026-12-25"), ("happened_on", 4, "5/12/2026"),
    ("happened_on", 4, "2024-01-01"),
])
def test_bad_values_name_their_field(db, pair, field, units, day):
    alice, bob, offer = pair
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=offer, resident_id=bob)
    with pytest.raises(ledger.InvalidExchange) as err, Session(db) as s, s.begin():
        ledger.record_exchange(s, resident_id=alice, exchange_id=xid, units=units,
                               happened_on=day, today=TODAY)
    assert err.value.name == field


def test_a_dispute_books_nothing_and_the_giver_can_correct_it(db, pair):
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer, units=8)
    with Session(db) as s, s.begin():
        ledger.dispute_exchange(s, xid, resident_id=bob, reason="C'était une heure, pas deux")
    with pytest.raises(ledger.WrongState), Session(db) as s, s.begin():
        ledger.confirm_exchange(s, xid, resident_id=bob)
    with Session(db) as s, s.begin():
        assert ledger.exchange_view(s, xid).dispute_reason == "C'était une heure, pas deux"
        ledger.record_exchange(s, resident_id=alice, exchange_id=xid, units=4,
                               happened_on="2026-12-05", today=TODAY)
        ledger.confirm_exchange(s, xid, resident_id=bob)
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (4, -4)


def test_concurrent_double_confirmation_counts_once(db, pair):
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer)
    barrier = threading.Barrier(6)
    results: list[object] = []

    def confirm() -> None:
        with Session(db) as s:
            barrier.wait()
            try:
                with s.begin():
                    results.append(ledger.confirm_exchange(s, xid, resident_id=bob))
            except Exception as exc:
                results.append(exc)

    threads = [threading.Thread(target=confirm) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 6 and all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1  # the same transfer, six times
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (4, -4)
        assert s.execute(text("SELECT count(*) FROM ledger_transfer")).scalar_one() == 1
    assert _check(db) == (2, 0, 0)


def test_crossed_confirmations_between_the_same_two_members_do_not_deadlock(db, pair):
    """A -> B and B -> A confirmed at the same time: accounts are locked in id order."""
    alice, bob, offer = pair
    with db.begin() as conn:
        offer_b = make_offer(conn, bob, title="Jardinage")
    forward = [_exchange(db, alice, bob, offer) for _ in range(1)]
    with Session(db) as s, s.begin():
        back = ledger.propose_exchange(s, feature_id=offer_b, resident_id=alice)
        ledger.record_exchange(s, resident_id=bob, exchange_id=back, units=4,
                               happened_on=TODAY, today=TODAY)
    errors: list[Exception] = []
    barrier = threading.Barrier(2)

    def run(xid: int, who: int) -> None:
        try:
            with Session(db) as s, s.begin():
                barrier.wait()
                ledger.confirm_exchange(s, xid, resident_id=who)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(forward[0], bob)),
               threading.Thread(target=run, args=(back, alice))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (0, 0)
    assert _check(db) == (2, 0, 0)


def _accounts(db, *ids):
    with Session(db) as s, s.begin():
        for i in ids:
            ledger.ensure_account(s, i)


@pytest.mark.parametrize(("units", "debit_is_credit"), [(0, False), (-4, False), (4, True),
                                                        (None, False)])
def test_postgresql_refuses_an_unbalanced_or_degenerate_transfer(db, pair, units,
                                                                 debit_is_credit):
    alice, bob, _ = pair
    _accounts(db, alice, bob)
    with pytest.raises((IntegrityError, DBAPIError)), db.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_transfer (debit_account, credit_account, units, kind, "
            "exchange_id) VALUES (:d, :c, :u, 'exchange', NULL)"),
            {"d": alice, "c": alice if debit_is_credit else bob, "u": units})
    assert _check(db) == (2, 0, 0)


def test_a_transfer_must_match_its_exchange_exactly(db, pair):
    """Booking more than was recorded, or the other way round, is refused by a key."""
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer)
    _accounts(db, alice, bob)
    for debit, credit, units in ((bob, alice, 8), (alice, bob, 4)):
        with pytest.raises(IntegrityError, match="foreign key"), db.begin() as conn:
            conn.execute(text(
                "INSERT INTO ledger_transfer (debit_account, credit_account, units, kind, "
                "exchange_id) VALUES (:d, :c, :u, 'exchange', :x)"),
                {"d": debit, "c": credit, "u": units, "x": xid})
    with db.begin() as conn:  # the right one, twice: the second is refused
        conn.execute(text("INSERT INTO ledger_transfer (debit_account, credit_account, "
                          "units, kind, exchange_id) VALUES (:d, :c, 4, 'exchange', :x)"),
                     {"d": bob, "c": alice, "x": xid})
    with pytest.raises(IntegrityError, match="unique"), db.begin() as conn:
        conn.execute(text("INSERT INTO ledger_transfer (debit_account, credit_account, "
                          "units, kind, exchange_id) VALUES (:d, :c, 4, 'exchange', :x)"),
                     {"d": bob, "c": alice, "x": xid})
    assert _check(db) == (2, 0, 0)


def test_the_ledger_cannot_be_rewritten_nor_balances_set_by_hand(db, pair):
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer)
    with Session(db) as s, s.begin():
        ledger.confirm_exchange(s, xid, resident_id=bob)
    for sql in ("UPDATE ledger_transfer SET units = 40", "DELETE FROM ledger_transfer"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
            conn.execute(text(sql))
    with pytest.raises(DBAPIError, match="only by a ledger transfer"), db.begin() as conn:
        conn.execute(text("UPDATE timebank_account SET balance = 1000 WHERE resident_id = :a"),
                     {"a": alice})
    with pytest.raises(DBAPIError, match="cannot be deleted"), db.begin() as conn:
        conn.execute(text("DELETE FROM timebank_account"))
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (4, -4)


def test_a_balance_may_go_negative_only_down_to_the_limit(db, pair):
    alice, bob, offer = pair
    first = _exchange(db, alice, bob, offer, units=8)
    with Session(db) as s, s.begin():
        ledger.confirm_exchange(s, first, resident_id=bob, min_balance=-10)
    second = _exchange(db, alice, bob, offer, units=4)
    assert second != first
    with pytest.raises(ledger.BalanceLimit), Session(db) as s, s.begin():
        ledger.confirm_exchange(s, second, resident_id=bob, min_balance=-10)
    with Session(db) as s, s.begin():
        assert ledger.exchange_view(s, second).status == "recorded"  # can wait for credit
        assert ledger.balance(s, bob) == -8


def test_a_moderator_reverses_with_a_reason_and_the_original_stays(db, pair):
    alice, bob, offer = pair
    xid = _exchange(db, alice, bob, offer)
    moderator = make_moderator(db)
    with Session(db) as s, s.begin():
        original = ledger.confirm_exchange(s, xid, resident_id=bob)
    with pytest.raises(ledger.InvalidExchange), Session(db) as s, s.begin():
        ledger.reverse_exchange(s, xid, actor_id=moderator, reason="  ")
    with Session(db) as s, s.begin():
        reversal = ledger.reverse_exchange(s, xid, actor_id=moderator,
                                           reason="Échange fictif signalé")
    with pytest.raises(ledger.WrongState), Session(db) as s, s.begin():
        ledger.reverse_exchange(s, xid, actor_id=moderator, reason="encore")
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (0, 0)
        lines = ledger.statement(s, alice)
        assert [(x.transfer_id, x.kind, x.units, x.balance_after, x.reason) for x in lines] == [
            (reversal, "reversal", -4, 0, "Échange fictif signalé"),
            (original, "exchange", 4, 4, None)]
        audit = s.execute(text("SELECT actor_id, action, reason FROM exchange_moderation")).one()
    assert tuple(audit) == (moderator, "reverse_exchange", "Échange fictif signalé")
    # a second reversal of the same transfer is refused by the schema itself
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_transfer (debit_account, credit_account, units, kind, "
            "reverses, actor_id, reason) VALUES (:d, :c, 4, 'reversal', :o, :m, 'x')"),
            {"d": alice, "c": bob, "o": original, "m": moderator})
    assert _check(db) == (2, 0, 0)


def test_statement_pages_and_csv(db, pair):
    alice, bob, offer = pair
    for _ in range(5):
        xid = _exchange(db, alice, bob, offer, units=2)
        with Session(db) as s, s.begin():
            ledger.confirm_exchange(s, xid, resident_id=bob)
    with Session(db) as s:
        first = ledger.statement(s, alice, limit=3)
        rest = ledger.statement(s, alice, before_id=first[-1].transfer_id, limit=3)
        csv_text = ledger.statement_csv(first + rest)
    assert [x.balance_after for x in first + rest] == [10, 8, 6, 4, 2]
    rows = csv_text.strip().split("\r\n")
    assert rows[0].startswith("booked_at,transfer_id,kind,exchange_id,happened_on,with,units")
    assert rows[1].split(",")[5:10] == ["Bob", "2", "0.5", "10", "2.5"]
    assert ledger.statement_csv([]).count("\r\n") == 1


def test_units_label():
    assert ledger.units_label(4) == "1 h"
    assert ledger.units_label(6) == "1 h 30"
    assert ledger.units_label(-1) == "-0 h 15"


# --- end to end: two residents signed in by magic link, through the web pages --------------

from tests.mail_fixtures import *  # noqa: E402, F403 - smtp, mail_env
from tests.mail_fixtures import links, text_part  # noqa: E402
from tests.resident_fixtures import *  # noqa: E402, F403 - capp
from tests.resident_fixtures import deliver  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(client, path: str) -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no form on {path}: {page.status}"
    return match.group(1)


def _post(client, page: str, action: str, **data):
    return client.post(action, data={"csrf_token": _csrf(client, page), **data})


def signed_in_by_mail(capp, db, smtp, email: str, name: str):
    """A browser that asked for a magic link, read it in the mail and used it."""
    client = capp.test_client()
    _post(client, "/auth/magic?lang=fr", "/auth/magic", email=email, next="/me")
    before = len(smtp.messages)
    msgs = deliver(db, smtp, before + 1)
    (url,) = [u for u in links(msgs[before]) if "/auth/magic/" in u]
    path = url.removeprefix("http://carte.test")
    assert _post(client, path, path).status_code == 303
    _post(client, "/me", "/me/profile", display_name=name, lang="fr")
    with db.connect() as conn:
        rid = conn.execute(text("SELECT id FROM resident WHERE display_name = :n"),
                           {"n": name}).scalar_one()
    return client, rid


def test_two_residents_exchange_an_hour_through_the_pages(capp, db, mail_env):
    anonymous = capp.test_client()
    r = anonymous.get("/api/v1/me/balance")
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert anonymous.get("/api/v1/me/statement.csv").status_code == 401
    alice_web, alice = signed_in_by_mail(capp, db, mail_env, "alice@example.org", "Alice")
    bob_web, _bob = signed_in_by_mail(capp, db, mail_env, "bob@example.org", "Bob")
    with db.begin() as conn:
        offer = make_offer(conn, alice, title="Une heure de couture")
    # Bob answers Alice's offer from the map's link
    page = f"/exchange/offers/{offer}"
    assert "Ça m'intéresse" in bob_web.get(page).get_data(as_text=True)
    r = _post(bob_web, page, page)
    assert r.status_code == 303
    xpage = r.headers["Location"]
    # Alice (the giver) records one hour; Bob cannot
    assert "Enregistrer le temps donné" in alice_web.get(xpage).get_data(as_text=True)
    r = _post(bob_web, xpage, xpage + "/record", hours="1", minutes="0",
              happened_on=date.today().isoformat())
    assert r.status_code == 403
    r = _post(alice_web, xpage, xpage + "/record", hours="1", minutes="0",
              happened_on=date.today().isoformat(), note="Ourlet d'un pantalon")
    assert r.status_code == 303
    shown = bob_web.get(xpage).get_data(as_text=True)
    assert "Confirmer : 1 h reçu" in shown and "Ourlet d&#39;un pantalon" in shown
    # Bob confirms, twice at once (double click, two tabs): booked once
    token = _csrf(bob_web, xpage)
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def confirm() -> None:
        barrier.wait()
        codes.append(bob_web.post(xpage + "/confirm", data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [303, 303]
    assert alice_web.get("/api/v1/me/balance").get_json()["units"] == 4
    bal = bob_web.get("/api/v1/me/balance")
    assert bal.get_json() == {"units": -4, "hours": -1.0, "min_units": -40, "min_hours": -10.0}
    assert bal.headers["Cache-Control"] == "no-store"
    # statements: on screen and as CSV, each member their own
    home = alice_web.get("/exchange/").get_data(as_text=True)
    assert 'data-units="4"' in home and "Bob" in home
    csv_text = bob_web.get("/api/v1/me/statement.csv")
    assert csv_text.mimetype == "text/csv"
    rows = csv_text.get_data(as_text=True).strip().split("\r\n")
    assert len(rows) == 2 and rows[1].split(",")[5:10] == ["Alice", "-4", "-1", "-4", "-1"]
    me = bob_web.get("/me").get_data(as_text=True)
    assert 'id="me-balance" data-units="-4"' in me
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_transfer")).scalar_one() == 1
    assert _check(db) == (2, 0, 0)
    # each step told the other person, once, by name, never by address
    deliver(db, mail_env, len(mail_env.messages) + 3)
    told = [m for m in mail_env.messages if "Carte citoyenne" not in (m["Subject"] or "")]
    assert [(m["To"], re.sub(r"\s*([«»])\s*", r"\1", m["Subject"])) for m in told] == [
        ("alice@example.org", "Bob répond à votre annonce«Une heure de couture»"),
        ("bob@example.org", "À confirmer : 1 h reçu de Alice"),
        ("alice@example.org", "Bob a confirmé : 1 h inscrit à votre solde")]
    assert all("@" not in text_part(m).replace("carte@carte.test", "") for m in told)
    # a stranger sees nothing of it
    carol_web, _carol = signed_in_by_mail(capp, db, mail_env, "carol@example.org", "Carol")
    assert carol_web.get(xpage).status_code == 404


def test_the_pages_speak_english_and_bad_input_names_its_field(capp, db, mail_env):
    from tests.resident_fixtures import sign_in

    alice_web = capp.test_client()
    alice = sign_in(alice_web, "alice@example.org", display_name="Alice", lang="en").id
    bob_web = capp.test_client()
    sign_in(bob_web, "bob@example.org", display_name="Bob", lang="en")
    with db.begin() as conn:
        offer = make_offer(conn, alice)
    page = f"/exchange/offers/{offer}?lang=en"
    assert "I'm interested" in bob_web.get(page).get_data(as_text=True)
    xpage = _post(bob_web, page, f"/exchange/offers/{offer}").headers["Location"]
    r = _post(alice_web, xpage + "?lang=en", xpage + "/record", hours="1", minutes="10",
              happened_on="2026-12-01")
    assert r.status_code == 400 and "Time given" in r.get_data(as_text=True)
    r = alice_web.get("/api/v1/me/statement?limit=0")
    assert r.status_code == 400
    assert r.get_json()["invalid_params"][0]["name"] == "limit"
    assert "Record the time you gave" in alice_web.get(xpage + "?lang=en").get_data(as_text=True)


@pytest.fixture
def mod_web(app, db):
    """A moderator signed in through the login form."""
    from tests.moderation_fixtures import PASSWORD, login

    client = app.test_client()
    make_moderator(db, "mod@example.org", password=PASSWORD)
    assert login(client, "mod@example.org", PASSWORD).status_code == 303
    return client


def test_moderators_see_every_exchange_and_reverse_one_with_a_reason(db, mod_web):
    from tests.moderation_fixtures import post

    moderator = mod_web

    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        offer = make_offer(conn, alice)
    xid = _exchange(db, alice, bob, offer)
    with Session(db) as s, s.begin():
        ledger.confirm_exchange(s, xid, resident_id=bob)
    page = moderator.get("/moderation/community/exchanges").get_data(as_text=True)
    assert f"n° {xid}" in page and "Alice (n° " in page and "confirmé" in page
    assert "alice@example.org" not in page  # moderators see names, not addresses
    r = post(moderator, f"/moderation/community/exchanges/{xid}/reverse",
             {"reason": ""}, page="/moderation/community/exchanges")
    assert r.status_code == 400
    r = post(moderator, f"/moderation/community/exchanges/{xid}/reverse",
             {"reason": "Échange fictif"}, page="/moderation/community/exchanges")
    assert r.status_code == 303
    with Session(db) as s:
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (0, 0)
    with db.connect() as conn:
        told = conn.execute(text("SELECT to_addr, subject FROM mail_outbox ORDER BY id")).all()
    assert [tuple(t) for t in told] == [
        ("alice@example.org", "Un échange de temps a été annulé par la modération"),
        ("bob@example.org", "Un échange de temps a été annulé par la modération")]
    english = moderator.get("/moderation/community/exchanges?lang=en").get_data(as_text=True)
    assert "exchange reversed" in english and "Échange fictif" in english
    assert moderator.get("/moderation/community/exchanges?status=reversed").status_code == 200
    # an exchange not booked yet is cancelled, not reversed
    waiting = _exchange(db, alice, bob, offer)
    r = post(moderator, f"/moderation/community/exchanges/{waiting}/cancel",
             {"reason": "Doublon"}, page="/moderation/community/exchanges")
    assert r.status_code == 303
    with Session(db) as s:
        assert ledger.exchange_view(s, waiting).status == "cancelled"
    r = post(moderator, f"/moderation/community/exchanges/{waiting}/reverse",
             {"reason": "encore"}, page="/moderation/community/exchanges")
    assert r.status_code == 409
    anonymous = moderator.application.test_client()
    assert anonymous.get("/moderation/community/exchanges").status_code in (302, 303)


def test_a_service_arranged_in_a_conversation_is_recorded_from_it(capp, db, mail_env):
    from community.messages import send_message
    from tests.resident_fixtures import sign_in

    ana_web, ben_web = capp.test_client(), capp.test_client()
    ana = sign_in(ana_web, "ana@example.org", display_name="Ana").id
    ben = sign_in(ben_web, "ben@example.org", display_name="Ben").id
    with Session(db) as s, s.begin():
        thread = send_message(s, ben, ana, "Pourriez-vous m'aider à déménager samedi ?")
    page = ana_web.get(f"/me/threads/{thread}").get_data(as_text=True)
    assert f'href="/exchange/new?thread={thread}"' in page
    r = _post(ana_web, f"/exchange/new?thread={thread}", f"/exchange/new?thread={thread}",
              hours="2", minutes="0", happened_on=date.today().isoformat(),
              note="Déménagement")
    assert r.status_code == 303
    xpage = r.headers["Location"].split("?")[0]
    r = _post(ben_web, xpage, xpage + "/confirm")
    assert r.status_code == 303
    assert ben_web.get("/api/v1/me/balance").get_json()["units"] == -8
    assert ana_web.get("/api/v1/me/balance").get_json()["units"] == 8
    # a stranger cannot record against someone else's conversation
    carl_web = capp.test_client()
    sign_in(carl_web, "carl@example.org", display_name="Carl")
    assert carl_web.get(f"/exchange/new?thread={thread}").status_code == 404


def test_a_deleted_account_cancels_what_waited_and_keeps_what_was_booked(db, pair):
    from community.residents import delete_account

    alice, bob, offer = pair
    booked = _exchange(db, alice, bob, offer)
    with Session(db) as s, s.begin():
        ledger.confirm_exchange(s, booked, resident_id=bob)
    waiting = _exchange(db, alice, bob, offer)
    with Session(db) as s, s.begin():
        delete_account(s, bob, secret="test-secret-key")
    with Session(db) as s:
        assert ledger.exchange_view(s, waiting).status == "cancelled"
        assert ledger.exchange_view(s, booked).note is None  # their words go
        lines = ledger.statement(s, alice)
        assert [(x.units, x.other_name) for x in lines] == [(4, "")]  # shown "a resident"
        assert (ledger.balance(s, alice), ledger.balance(s, bob)) == (4, -4)
    assert ledger.statement_csv(lines, unnamed="un habitant").split("\r\n")[1].split(",")[5] \
        == "un habitant"
    assert _check(db) == (2, 0, 0)


def test_the_statement_on_screen_pages_back(capp, db, mail_env):
    from tests.resident_fixtures import sign_in

    web = capp.test_client()
    alice = sign_in(web, "alice@example.org", display_name="Alice").id
    with db.begin() as conn:
        bob = add_resident(conn, "Bob")
        offer = make_offer(conn, alice)
    for _ in range(22):
        xid = _exchange(db, alice, bob, offer, units=1)
        with Session(db) as s, s.begin():
            ledger.confirm_exchange(s, xid, resident_id=bob)
    first = web.get("/exchange/").get_data(as_text=True)
    assert first.count("<tr><td") == 20 and "Lignes plus anciennes" in first
    older = re.search(r'href="(/exchange/\?before=\d+)"', first).group(1)
    rest = web.get(older).get_data(as_text=True)
    assert rest.count("<tr><td") == 2 and "Dernières lignes" in rest
    # the time and the balance cells (their tags carry a label for the phone's layout)
    assert re.search(r">\+?0 h 15</td><td[^>]*>0 h 15</td>", rest)
