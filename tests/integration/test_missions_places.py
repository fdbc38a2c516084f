"""Places of missions and events for the map's list, and the missions' waiting list.

"Full" is a live count served by ``GET /api/v1/missions/places?ids=`` (no published
attribute); a full mission takes a waiting list, and a cancellation racing a newcomer
gives the freed seat to the first one waiting. Real PostgreSQL, real threads, real SMTP.
"""

from __future__ import annotations

import threading

from openapi_spec_validator import validate
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups
from tests.integration.test_signups import _json, _mission, _publish, _soup, db  # noqa: F401
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.moderation_fixtures import mdb, real_categories  # noqa: F401 - fixtures
from tests.resident_fixtures import make_resident, sign_in


def test_the_list_reads_live_places_of_many_items_at_once_counts_only(app, db):  # noqa: F811
    full = _mission(db, "Maraude complète", needed=1)
    open_ = _mission(db, "Repas", needed=3)
    unlimited = _mission(db, "Sans limite")
    soup = _soup(db, capacity=1)
    garden = _publish(db, title="Jardin partagé", category="jardin-partage")
    hidden = _mission(db, "Retirée", needed=2)
    with db.begin() as conn:
        conn.execute(text("UPDATE feature SET status = 'unpublished' WHERE id = :f"),
                     {"f": hidden})
    ana, bob = (make_resident(app, f"{n}@example.org", display_name=n.title())
                for n in ("ana", "bob"))
    with Session(db) as s, s.begin():
        signups.sign_up(s, full, ana.id)
        signups.sign_up(s, open_, ana.id)
        signups.sign_up(s, soup, ana.id)
        assert signups.sign_up(s, soup, bob.id).status == "waiting"

    client = app.test_client()  # anonymous: the map's list is public
    ids = [full, open_, unlimited, soup, garden, hidden, 999999]
    answer = client.get("/api/v1/missions/places?ids=" + ",".join(map(str, ids)))
    assert answer.status_code == 200
    assert "public" in answer.headers["Cache-Control"]
    assert "max-age=15" in answer.headers["Cache-Control"]
    body = answer.get_json()
    # Not a mission or event, unpublished, unknown: left out.
    assert set(body) == {str(full), str(open_), str(unlimited), str(soup)}
    assert body[str(full)] == {"capacity": 1, "confirmed": 1, "places_left": 0,
                               "full": True, "closed": False, "waiting_list": True}
    assert body[str(open_)]["places_left"] == 2 and not body[str(open_)]["full"]
    assert body[str(unlimited)] == {"capacity": None, "confirmed": 0, "places_left": None,
                                    "full": False, "closed": False, "waiting_list": False}
    assert body[str(soup)]["full"] is True
    text_body = answer.get_data(as_text=True)
    assert "Ana" not in text_body and "example.org" not in text_body

    # The organiser closes sign-ups by hand: the list says so too.
    with db.begin() as conn:
        conn.execute(text("UPDATE signup_item SET closed_at = now() WHERE feature_id = :f"),
                     {"f": open_})
    assert client.get(f"/api/v1/missions/places?ids={open_}").get_json()[str(open_)][
        "closed"] is True


def test_bad_ids_are_a_400_naming_ids(app, db):  # noqa: F811
    client = app.test_client()
    for query in ("", "?ids=", "?ids=abc", "?ids=1,,2", "?ids=-3", "?ids=0",
                  "?ids=%C2%B2", "?ids=" + "9" * 19,
                  "?ids=" + ",".join(str(i) for i in range(1, 202))):
        answer = client.get("/api/v1/missions/places" + query)
        assert answer.status_code == 400, query
        assert answer.mimetype == "application/problem+json"
        assert [p["name"] for p in answer.get_json()["invalid_params"]] == ["ids"], query
    assert client.get("/api/v1/missions/places?ids=5,5,5").status_code == 200


def test_the_places_route_is_in_the_openapi_document(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    validate(doc)
    op = doc["paths"]["/api/v1/missions/places"]["get"]
    assert op["operationId"] == "missionPlaces"
    assert {"200", "400"} <= set(op["responses"])


def _run(engine, barrier: threading.Barrier, errors: list[BaseException], action) -> None:
    """``action(session)`` in its own transaction, once every thread is ready."""
    try:
        with Session(engine) as s:
            barrier.wait()
            with s.begin():
                action(s)
    except BaseException as exc:
        errors.append(exc)


def test_a_cancellation_racing_a_newcomer_gives_the_seat_to_the_first_waiting(
        app, db, mail_env):  # noqa: F811
    """The freed seat goes to whoever waited, never to a newcomer who pressed at once."""
    for round_ in range(3):
        fid = _mission(db, f"Collecte {round_}", needed=1)
        holder, waiter, newcomer = (make_resident(app, f"{n}{round_}@example.org")
                                    for n in ("holder", "waiter", "new"))
        with Session(db) as s, s.begin():
            assert signups.sign_up(s, fid, holder.id).status == "confirmed"
            assert signups.sign_up(s, fid, waiter.id).status == "waiting"
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_run, args=(db, barrier, errors,
                lambda s, f=fid, r=holder.id: signups.cancel(s, f, r))),
            threading.Thread(target=_run, args=(db, barrier, errors,
                lambda s, f=fid, r=newcomer.id: signups.sign_up(s, f, r)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        with db.connect() as conn:
            status = dict(conn.execute(text(
                "SELECT resident_id, status FROM signup WHERE feature_id = :f"),
                {"f": fid}).all())
            counts = conn.execute(text("SELECT confirmed, waiting FROM signup_item "
                                       "WHERE feature_id = :f"), {"f": fid}).one()
        assert status == {holder.id: "cancelled", waiter.id: "confirmed",
                          newcomer.id: "waiting"}
        assert tuple(counts) == (1, 1)


def test_joining_a_full_mission_from_the_page_puts_me_on_its_waiting_list(app, db):  # noqa: F811
    fid = _mission(db, needed=1)
    first = app.test_client()
    sign_in(first, "a@example.org")
    assert _json(first, "POST", f"/api/v1/features/{fid}/signups").status_code == 201
    client = app.test_client()
    sign_in(client, "b@example.org")
    page = client.get(f"/missions/{fid}/join?lang=en").get_data(as_text=True)
    assert "Join the waiting list" in page and "I&#39;m in" not in page
    from tests.moderation_fixtures import csrf_of

    done = client.post(f"/missions/{fid}/join",
                       data={"csrf_token": csrf_of(client, f"/missions/{fid}/join")})
    assert done.status_code == 303 and done.headers["Location"].endswith("done=waiting")
    after = client.get(done.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "waiting list (number 1)" in after
