"""Open data without people: hours per month per area and loans per month are public;
who exchanged with whom never is, and a cell small enough to point at someone is hidden."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import ledger, loans, stats
from tests.ingestion_fixtures import categories_loaded  # noqa: F401 - a fixture
from tests.ledger_fixtures import add_resident, make_moderator, make_offer

TODAY = date.today()
CENTRE = (2.3522, 48.8566)  # Hôtel de Ville, 4e arrondissement
EIFFEL = (2.2945, 48.8584)  # 7e arrondissement


@pytest.fixture
def db(categories_loaded, clean_db):  # noqa: F811 - the fixture
    # the real categories, taken away afterwards (they are reference data clean_db keeps)
    return clean_db


def _booked(db, giver: int, receiver: int, offer: int, units: int, day: date) -> int:
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=offer, resident_id=receiver)
        ledger.record_exchange(s, resident_id=giver, exchange_id=xid, units=units,
                               happened_on=day, today=TODAY)
        ledger.confirm_exchange(s, xid, resident_id=receiver)
    return xid


def test_hours_per_month_per_area_without_people(db, client):
    with db.begin() as conn:
        people = [add_resident(conn, n) for n in ("Alice", "Bob", "Chloé", "Driss", "Emma")]
        centre = make_offer(conn, people[0], lon=CENTRE[0], lat=CENTRE[1])
        eiffel = make_offer(conn, people[3], lon=EIFFEL[0], lat=EIFFEL[1], title="Vélo")
    day = TODAY.replace(day=1)
    a, b, c, d, e = people
    for receiver, units in ((b, 4), (c, 6), (d, 2)):  # three exchanges, four people
        _booked(db, a, receiver, centre, units, day)
    lone = _booked(db, d, e, eiffel, 8, day)  # one exchange in the 7e: identifiable
    moderator = make_moderator(db)
    reversed_ = _booked(db, a, e, centre, 20, day)
    with Session(db) as s, s.begin():  # a reversed exchange counts for nothing
        ledger.reverse_exchange(s, reversed_, actor_id=moderator, reason="erreur")
    r = client.get("/api/v1/stats/exchange")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=300"
    body = r.get_json()
    month = day.strftime("%Y-%m")
    cells = {(x["month"], x["area"]): x for x in body["time_exchange"]}
    assert cells[(month, "75104")]["exchanges"] == 3
    assert cells[(month, "75104")]["hours"] == 3.0
    assert cells[(month, "75107")] == {"month": month, "area": "75107",
                                       "area_name": cells[(month, "75107")]["area_name"],
                                       "exchanges": "<3", "hours": None}
    # nothing in the answer names or numbers a person
    raw = json.dumps(body, ensure_ascii=False)
    for name in ("Alice", "Bob", "Chloé", "Driss", "Emma", "example.org"):
        assert name not in raw
    assert not any(k in raw for k in ("resident", "giver", "receiver", "lender", "borrower"))
    assert str(lone) not in [str(v) for x in body["time_exchange"] for v in x.values()]
    assert body["small_cell_threshold"] == 3 and body["suppressed"] == "<3"


def test_loans_per_month_suppressed_when_few(db):
    with db.begin() as conn:
        people = [add_resident(conn, n) for n in ("Alice", "Bob", "Chloé", "Driss")]
        drill = make_offer(conn, people[0], category="pret-troc")
    with Session(db) as s, s.begin():
        lid = loans.request_loan(s, feature_id=drill, resident_id=people[1])
        loans.agree_loan(s, lid, resident_id=people[0], starts_on=TODAY,
                         due_on=TODAY + timedelta(days=2), today=TODAY)
        loans.mark_lent(s, lid, resident_id=people[0])
        body = stats.exchange_stats(s)
    assert [x["loans"] for x in body["loans"]] == ["<3"]
    assert body["loans"][0]["kind"] == "loan"


def test_other_features_add_their_aggregates(db):
    stats.register_stats("test_missions", lambda s: [{"category": "x",
                                                      "signups": stats.suppress(2)}])
    try:
        with Session(db) as s:
            assert stats.exchange_stats(s)["test_missions"] == [{"category": "x",
                                                                 "signups": "<3"}]
    finally:
        stats._PROVIDERS.pop("test_missions")


def test_suppress():
    assert [stats.suppress(n) for n in (0, 1, 2, 3, 10)] == [0, "<3", "<3", 3, 10]
    assert stats.suppress(5, people=2) == "<3"


def test_area_is_the_first_level_area_of_the_offer(db):
    with db.begin() as conn:
        alice = add_resident(conn, "Alice")
        bob = add_resident(conn, "Bob")
        offer = make_offer(conn, alice, lon=EIFFEL[0], lat=EIFFEL[1])
    with Session(db) as s, s.begin():
        xid = ledger.propose_exchange(s, feature_id=offer, resident_id=bob)
        code = s.execute(text("SELECT a.code FROM exchange e JOIN area a ON a.id = e.area_id "
                              "WHERE e.id = :x"), {"x": xid}).scalar_one()
    assert code == "75107"


def test_one_public_endpoint_carries_every_community_aggregate(db, client):
    """Issue 20 item 6: hours, loans, missions filled and sign-ups per category together
    (the missions' figures come from community.signups through register_stats)."""
    body = client.get("/api/v1/stats/exchange").get_json()
    assert {"time_exchange", "loans", "missions", "signups_by_category"} <= set(body)
    assert body["licence"] == "ODbL-1.0"
