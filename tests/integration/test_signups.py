"""Missions and events people join: matching by availability, sign-ups, waiting lists.

Real PostgreSQL (the capacity rule is the database's too), real SMTP (aiosmtpd in
process: the mail the organiser and the volunteers read), real threads for the race.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups
from community.profiles import get_profile, save_profile, week_ranges
from community.residents import delete_account
from geo.publish import FeatureDraft, publish_feature
from mail.sender import deliver_due
from tests.mail_fixtures import *  # noqa: F403 - smtp, mail_env
from tests.mail_fixtures import text_part
from tests.moderation_fixtures import (  # noqa: F401 - fixtures
    csrf_of,
    login,
    mdb,
    mod_app,
    moderator,
    post,
    real_categories,
)
from tests.resident_fixtures import make_resident, sign_in

WEEKDAY_EVENINGS = [{"day": d, "from": "18:00", "to": "21:00"}
                    for d in ("mon", "tue", "wed", "thu", "fri")]
SATURDAY_MORNING = [{"day": "sat", "from": "09:00", "to": "12:00"}]


def _publish(engine, *, title: str, category: str = "mission-benevole", lon=2.3522,
             lat=48.8566, attributes: dict | None = None, organiser: int | None = None,
             starts_at: datetime | None = None, ends_at: datetime | None = None) -> int:
    """A published item; ``organiser`` submitted it (submission.resident_id)."""
    with Session(engine) as s, s.begin():
        fid = publish_feature(s, FeatureDraft(
            category=category, title=title, lon=lon, lat=lat, attributes=attributes or {},
            starts_at=starts_at, ends_at=ends_at), max_zoom=14).id
        if organiser is not None:
            sid = s.execute(text("""
                INSERT INTO submission (source, raw, status, category, title, geom,
                                        resident_id, feature_id)
                VALUES ('api', 'x', 'approved', :c, :t,
                        ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :r, :f)
                RETURNING id"""), {"c": category, "t": title, "lon": lon, "lat": lat,
                                   "r": organiser, "f": fid}).scalar_one()
            s.execute(text("UPDATE feature SET submission_id = :s WHERE id = :f"),
                      {"s": sid, "f": fid})
    return fid


def _mission(engine, title="Distribution de repas", *, slots=None, needed=None,
             questions=None, organiser=None, lon=2.3522, lat=48.8566) -> int:
    attrs: dict = {"availability": slots or WEEKDAY_EVENINGS, "organisation": "Restos",
                   "skills": "Cuisine, service"}
    if needed is not None:
        attrs["volunteers_needed"] = needed
    if questions is not None:
        attrs["questions"] = questions
    return _publish(engine, title=title, attributes=attrs, organiser=organiser, lon=lon,
                    lat=lat)


def _soup(engine, *, capacity: int, organiser=None) -> int:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=16, minute=0, second=0,
                                                            microsecond=0)
    return _publish(engine, title="Disco Soupe du marché", category="disco-soupe",
                    attributes={"capacity": capacity}, organiser=organiser,
                    starts_at=start, ends_at=start + timedelta(hours=3))


def _json(client, method: str, path: str, body: dict | None = None):
    return client.open(path, method=method, data=json.dumps(body or {}),
                       content_type="application/json")


def _deliver(engine, smtp, count: int):
    deliver_due(engine, smtp.settings())
    return smtp.wait_for(count)


@pytest.fixture
def db(real_categories, mdb):  # noqa: F811
    return mdb


# ------------------------------------------------------------------ matching


def test_week_minutes_in_sql_are_the_python_rule_and_never_fail(db):
    rng = random.Random(20)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    samples = []
    for _ in range(200):
        slots = []
        for _ in range(rng.randint(0, 4)):
            a, b = rng.randrange(0, 1440, 15), rng.randrange(15, 1441, 15)
            slots.append({"day": rng.choice(days), "from": f"{a // 60:02}:{a % 60:02}",
                          "to": f"{b // 60:02}:{b % 60:02}"})
        samples.append(slots)
    samples += [[{"day": "sun", "from": "22:00", "to": "02:00"}],  # wraps to Monday
                [{"day": "mon", "from": "25:00", "to": "26:00"}, "x", 3, None,
                 {"day": "funday", "from": "10:00", "to": "11:00"},
                 {"day": "tue", "from": "10:00", "to": "24:00"}]]
    with db.connect() as conn:
        for slots in samples:
            got = conn.execute(text("SELECT carte_week_minutes(CAST(:s AS jsonb))::text"),
                               {"s": json.dumps(slots)}).scalar_one()
            want = "{" + ",".join(f"[{a},{b})" for a, b in week_ranges(
                [s for s in slots if isinstance(s, dict)])) + "}"
            assert got == want, slots
        for junk in ('"text"', "{}", "null", "[[1,2]]", '[{"day": 1}]'):
            assert conn.execute(text("SELECT carte_week_minutes(CAST(:s AS jsonb))::text"),
                                {"s": junk}).scalar_one() == "{}"
    assert week_ranges([{"day": "sun", "from": "22:00", "to": "02:00"}]) == [
        (0, 120), (6 * 1440 + 1320, 7 * 1440)]


@pytest.mark.parametrize("probe", [2000, 1], ids=["few-overlap-path", "nearest-walk-path"])
def test_a_mission_is_for_me_only_when_our_slots_overlap_nearest_first(app, db, probe,
                                                                       monkeypatch):
    monkeypatch.setattr(signups, "PROBE", probe)  # both plans give the same answers
    client = app.test_client()
    ana = sign_in(client, "ana@example.org", display_name="Ana")
    far = _mission(db, "Maraude Belleville", lon=2.3800, lat=48.8700)
    near = _mission(db, "Repas rue de Rivoli", lon=2.3530, lat=48.8570)
    saturday = _mission(db, "Jardinage samedi", slots=SATURDAY_MORNING)
    _publish(db, title="Cours de couture", category="echange-temps",  # not a mission
             attributes={"offer_type": "offer", "availability": WEEKDAY_EVENINGS})

    answer = client.get("/api/v1/me/missions")
    assert answer.status_code == 200 and answer.get_json()["missions"] == []  # no profile

    # Free on Tuesday 19:00-22:00 only: the weekday-evening missions overlap, Saturday not.
    put = _json(client, "PUT", "/api/v1/me/profile", {
        "availability": [{"day": "tue", "from": "19:00", "to": "22:00"}],
        "skills": "Cuisine, premiers secours", "lon": 2.3522, "lat": 48.8566})
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["skills"] == ["cuisine", "premiers secours"]
    found = client.get("/api/v1/me/missions").get_json()["missions"]
    assert [m["id"] for m in found] == [near, far]
    assert found[0]["distance_m"] < found[1]["distance_m"]
    assert found[0]["join_url"] == f"/missions/{near}/join"
    assert found[0]["my_skills"] == ["cuisine"]  # the mission wants "Cuisine, service"

    # Saturday 11:00-13:00 overlaps the Saturday mission (09:00-12:00) by one hour.
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": [{"day": "sat", "from": "11:00", "to": "13:00"}]})
    assert [m["id"] for m in client.get("/api/v1/me/missions").get_json()["missions"]] == [
        saturday]
    # Touching is not overlapping: Saturday 12:00-14:00 meets 09:00-12:00 at noon only.
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": [{"day": "sat", "from": "12:00", "to": "14:00"}]})
    assert client.get("/api/v1/me/missions").get_json()["missions"] == []

    page = client.get("/missions?lang=fr").get_data(as_text=True)
    assert "Missions pour moi" in page and "Jardinage samedi" not in page
    assert ana.email not in page


def test_a_mission_leaves_missions_for_me_when_unpublished_or_its_slots_change(app, db):
    client = app.test_client()
    sign_in(client, "ana@example.org")
    _json(client, "PUT", "/api/v1/me/profile", {"availability": WEEKDAY_EVENINGS})
    fid = _mission(db)
    assert [m["id"] for m in client.get("/api/v1/me/missions").get_json()["missions"]] == [
        fid]
    with db.begin() as conn:  # a moderator moves it to Saturday morning
        conn.execute(text("UPDATE feature SET attributes = jsonb_set(attributes, "
                          "'{availability}', CAST(:s AS jsonb)) WHERE id = :f"),
                     {"s": json.dumps(SATURDAY_MORNING), "f": fid})
    assert client.get("/api/v1/me/missions").get_json()["missions"] == []
    with db.begin() as conn:
        conn.execute(text("UPDATE feature SET attributes = jsonb_set(attributes, "
                          "'{availability}', CAST(:s AS jsonb)) WHERE id = :f"),
                     {"s": json.dumps(WEEKDAY_EVENINGS), "f": fid})
        conn.execute(text("UPDATE feature SET status = 'unpublished' WHERE id = :f"),
                     {"f": fid})
    assert client.get("/api/v1/me/missions").get_json()["missions"] == []
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mission_slot")).scalar_one() == 0


def test_upcoming_events_that_start_while_i_am_free_are_listed_too(app, db):
    client = app.test_client()
    sign_in(client, "ana@example.org")
    paris = ZoneInfo("Europe/Paris")
    today = datetime.now(paris).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)  # next Tuesday
    start = datetime.combine(tuesday, datetime.min.time(), tzinfo=paris).replace(hour=19)
    soup = _publish(db, title="Disco Soupe du mardi", category="disco-soupe",
                    attributes={"capacity": 20}, starts_at=start,
                    ends_at=start + timedelta(hours=2))
    _publish(db, title="Disco Soupe dans deux mois", category="disco-soupe",
             attributes={"capacity": 20}, starts_at=start + timedelta(weeks=8),
             ends_at=start + timedelta(weeks=8, hours=2))
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": [{"day": "tue", "from": "18:00", "to": "22:00"}]})
    events = client.get("/api/v1/me/missions").get_json()["events"]
    assert [(e["id"], e["places_left"]) for e in events] == [(soup, 20)]
    assert "Disco Soupe du mardi" in client.get("/missions?lang=fr").get_data(as_text=True)
    _json(client, "PUT", "/api/v1/me/profile",
          {"availability": [{"day": "sat", "from": "18:00", "to": "22:00"}]})
    assert client.get("/api/v1/me/missions").get_json()["events"] == []


def test_a_radius_keeps_only_missions_within_it(app, db):
    client = app.test_client()
    sign_in(client, "ana@example.org")
    near = _mission(db, "Tout près", lon=2.3530, lat=48.8570)
    _mission(db, "Loin", lon=2.2900, lat=48.8400)
    _json(client, "PUT", "/api/v1/me/profile", {"availability": WEEKDAY_EVENINGS,
                                                  "lon": 2.3522, "lat": 48.8566,
                                                  "radius_m": 1000})
    assert [m["id"] for m in client.get("/api/v1/me/missions").get_json()["missions"]] == [
        near]


def test_bad_profile_input_is_a_400_naming_the_field(app, db):
    client = app.test_client()
    sign_in(client, "ana@example.org")
    bad = _json(client, "PUT", "/api/v1/me/profile",
                {"availability": [{"day": "lundi", "from": "9h", "to": "10:00"}]})
    assert bad.status_code == 400
    assert bad.get_json()["invalid_params"][0]["name"] == "availability/0/day"
    form = client.post("/api/v1/me/profile", data={"availability": "x"})
    assert form.status_code == 405
    put_form = client.put("/api/v1/me/profile", data={"availability": "x"})
    assert put_form.status_code == 415
    anonymous = app.test_client().get("/api/v1/me/missions")
    assert anonymous.status_code == 401
    fid = _mission(db)
    cross = client.post(f"/api/v1/features/{fid}/signups", data="{}",
                        content_type="application/json",
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403  # another site's page cannot sign a resident up
    assert client.get("/api/v1/features/%C2%B2/signups").status_code == 400


def test_profile_form_sets_availability_in_a_few_clicks(app, db):
    client = app.test_client()
    resident = sign_in(client, "ana@example.org")
    page = client.get("/missions/profile?lang=en")
    assert page.status_code == 200 and "When I am free" in page.get_data(as_text=True)
    no_token = client.post("/missions/profile", data={"sat_morning": "1"})
    assert no_token.status_code == 400  # CSRF
    done = client.post("/missions/profile", data={
        "csrf_token": csrf_of(client, "/missions/profile"), "sat_morning": "1",
        "wed_extra": "19:30-21:00", "skills": "jardinage"})
    assert done.status_code == 303
    with Session(db) as s:
        profile = get_profile(s, resident.id)
    assert profile.availability == [{"day": "wed", "from": "19:30", "to": "21:00"},
                                    {"day": "sat", "from": "08:00", "to": "12:00"}]
    assert profile.skills == ["jardinage"]
    bad = client.post("/missions/profile", data={
        "csrf_token": csrf_of(client, "/missions/profile"), "wed_extra": "le soir"})
    assert bad.status_code == 422 and "HH:MM-HH:MM" in bad.get_data(as_text=True)
    me = client.get("/me?lang=fr").get_data(as_text=True)  # the section on /me
    assert "Missions et inscriptions" in me and "Mercredi 19:30–21:00" in me


# ------------------------------------------------------------------ sign-ups


def test_a_sign_up_reaches_the_organiser_with_the_answers_never_the_address(
        app, db, mail_env):
    organiser = make_resident(app, "orga@example.org", display_name="Olga")
    fid = _mission(db, questions="Avez-vous un vélo ?\nQuelle taille de t-shirt ?",
                   needed=3, organiser=organiser.id)
    client = app.test_client()
    sign_in(client, "bea@example.org", display_name="Béa", lang="en")

    summary = client.get(f"/api/v1/features/{fid}/signups").get_json()
    assert summary["questions"] == ["Avez-vous un vélo ?", "Quelle taille de t-shirt ?"]
    assert (summary["places_left"], summary["full"], summary["mine"]) == (3, False, None)

    missing = _json(client, "POST", f"/api/v1/features/{fid}/signups", {"answers": ["Oui"]})
    assert missing.status_code == 400
    assert missing.get_json()["invalid_params"][0]["name"] == "answers/1"
    ok = _json(client, "POST", f"/api/v1/features/{fid}/signups",
               {"answers": ["Oui, un vélo cargo", "M"]})
    assert ok.status_code == 201 and ok.get_json()["status"] == "confirmed"
    again = _json(client, "POST", f"/api/v1/features/{fid}/signups",
                  {"answers": ["Oui", "M"]})
    assert again.status_code == 200 and again.get_json()["signup_id"] == ok.get_json()[
        "signup_id"]

    messages = _deliver(db, mail_env, 2)
    by_to = {m["To"]: m for m in messages}
    to_organiser = text_part(by_to["orga@example.org"])
    assert "Béa" in to_organiser and "vélo cargo" in to_organiser
    assert "1 inscrit·e·s sur 3" in to_organiser
    assert f"/missions/{fid}/organiser" in to_organiser
    assert "bea@example.org" not in to_organiser
    assert by_to["bea@example.org"]["Subject"].startswith("You're in")
    assert "When: Monday 18:00–21:00, Tuesday 18:00–21:00" in text_part(
        by_to["bea@example.org"])  # a weekly mission's slots
    assert not list(by_to["bea@example.org"].iter_attachments())  # weekly: no date

    # The organiser's page lists her with her answers; someone else gets a 403.
    orga = app.test_client()
    sign_in(orga, "orga@example.org")
    page = orga.get(f"/missions/{fid}/organiser?lang=fr").get_data(as_text=True)
    assert "Béa" in page and "vélo cargo" in page and "1 sur 3" in page
    assert "bea@example.org" not in page
    assert client.get(f"/missions/{fid}/organiser").status_code == 403

    # The organiser takes her off the list: she is told, the place is free again.
    mail_env.messages.clear()
    sid = ok.get_json()["signup_id"]
    assert client.post(f"/missions/{fid}/organiser/signups/{sid}/cancel", data={
        "csrf_token": csrf_of(client, f"/missions/{fid}/join")}).status_code == 403
    removed = orga.post(f"/missions/{fid}/organiser/signups/{sid}/cancel", data={
        "csrf_token": csrf_of(orga, f"/missions/{fid}/organiser")})
    assert removed.status_code == 303
    assert client.get(f"/api/v1/features/{fid}/signups").get_json()["places_left"] == 3
    [told] = _deliver(db, mail_env, 1)
    assert told["To"] == "bea@example.org" and "cancelled" in told["Subject"]


def test_the_organiser_writes_to_the_volunteers_through_the_relay(app, db, mail_env,
                                                                  monkeypatch):
    # One message an hour for one-to-one messages: writing to one's volunteers is one.
    monkeypatch.setenv("CARTE_MESSAGES_PER_HOUR", "1")
    organiser = make_resident(app, "orga@example.org", display_name="Olga")
    fid = _mission(db, needed=5, organiser=organiser.id)
    for email in ("bea@example.org", "chloe@example.org"):
        c = app.test_client()
        sign_in(c, email)
        assert _json(c, "POST", f"/api/v1/features/{fid}/signups").status_code == 201
    orga = app.test_client()
    sign_in(orga, "orga@example.org")
    sent = orga.post(f"/missions/{fid}/organiser/message", data={
        "csrf_token": csrf_of(orga, f"/missions/{fid}/organiser"),
        "body": "Rendez-vous à 18 h devant la mairie, merci !"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("sent=2")
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar_one() == 2
    messages = _deliver(db, mail_env, 6)
    relayed = [m for m in messages if "mairie" in text_part(m)]
    assert sorted(m["To"] for m in relayed) == ["bea@example.org", "chloe@example.org"]
    assert all("orga@example.org" not in text_part(m) for m in relayed)


def test_a_full_mission_leaves_missions_for_me_and_takes_a_waiting_list(app, db, mail_env):
    fid = _mission(db, needed=2)
    clients = []
    for email in ("a@example.org", "b@example.org", "c@example.org", "d@example.org"):
        c = app.test_client()
        sign_in(c, email)
        _json(c, "PUT", "/api/v1/me/profile", {"availability": WEEKDAY_EVENINGS})
        clients.append(c)
    assert [m["id"] for m in clients[2].get("/api/v1/me/missions").get_json()[
        "missions"]] == [fid]
    for c in clients[:2]:
        assert _json(c, "POST", f"/api/v1/features/{fid}/signups").status_code == 201
    summary = clients[2].get(f"/api/v1/features/{fid}/signups").get_json()
    assert (summary["full"], summary["waiting_list"], summary["open"],
            summary["places_left"]) == (True, True, True, 0)
    assert clients[2].get("/api/v1/me/missions").get_json()["missions"] == []
    page = clients[2].get(f"/missions/{fid}/join?lang=fr").get_data(as_text=True)
    assert "M'inscrire en liste d'attente" in page  # not "Je participe"
    # "I'm in" on a full mission: the waiting list, in order.
    third = _json(clients[2], "POST", f"/api/v1/features/{fid}/signups")
    assert third.status_code == 201
    assert (third.get_json()["status"], third.get_json()["waiting_position"]) == (
        "waiting", 1)
    fourth = _json(clients[3], "POST", f"/api/v1/features/{fid}/signups").get_json()
    assert (fourth["status"], fourth["waiting_position"]) == ("waiting", 2)
    _deliver(db, mail_env, 4)
    mail_env.messages.clear()
    # A cancellation promotes the first one waiting, told by e-mail; still full.
    assert clients[0].delete(f"/api/v1/features/{fid}/signups/me").get_json()[
        "promoted"] == 1
    assert clients[2].get(f"/api/v1/features/{fid}/signups").get_json()["mine"] == (
        "confirmed")
    assert clients[3].get(f"/api/v1/features/{fid}/signups").get_json()[
        "waiting_position"] == 1
    [promoted] = _deliver(db, mail_env, 1)
    assert promoted["To"] == "c@example.org"
    assert promoted["Subject"] == "Une place s'est libérée : Distribution de repas"
    assert "lundi 18:00–21:00" in text_part(promoted)  # a weekly mission: its slots
    # Withdrawing from the waiting list frees nothing; a confirmed place then does,
    # and with nobody waiting the mission is back in "Missions for me".
    assert clients[3].delete(f"/api/v1/features/{fid}/signups/me").get_json()[
        "promoted"] == 0
    assert clients[1].delete(f"/api/v1/features/{fid}/signups/me").get_json()[
        "promoted"] == 0
    assert [m["id"] for m in clients[3].get("/api/v1/me/missions").get_json()[
        "missions"]] == [fid]


def test_a_full_event_keeps_a_waiting_list_and_a_cancellation_promotes_the_first(
        app, db, mail_env):
    fid = _soup(db, capacity=1)
    first, second, third = (app.test_client() for _ in range(3))
    sign_in(first, "a@example.org", display_name="Ana")
    sign_in(second, "b@example.org", display_name="Bob", lang="en")
    sign_in(third, "c@example.org", display_name="Cy")
    assert _json(first, "POST", f"/api/v1/features/{fid}/signups").get_json()[
        "status"] == "confirmed"
    waiting = _json(second, "POST", f"/api/v1/features/{fid}/signups").get_json()
    assert (waiting["status"], waiting["waiting_position"]) == ("waiting", 1)
    assert _json(third, "POST", f"/api/v1/features/{fid}/signups").get_json()[
        "waiting_position"] == 2
    summary = first.get(f"/api/v1/features/{fid}/signups").get_json()
    assert (summary["full"], summary["waiting"], summary["open"]) == (True, 2, True)
    page = third.get(f"/missions/{fid}/join?lang=fr").get_data(as_text=True)
    with db.connect() as conn:
        starts = conn.execute(text("SELECT starts_at FROM feature WHERE id = :f"),
                              {"f": fid}).scalar_one()
    local = starts.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    assert "position 2" in page and local in page  # the event's time, in Paris
    _deliver(db, mail_env, 3)
    mail_env.messages.clear()

    assert first.delete(f"/api/v1/features/{fid}/signups/me").get_json()["promoted"] == 1
    assert second.get(f"/api/v1/features/{fid}/signups").get_json()["mine"] == "confirmed"
    assert third.get(f"/api/v1/features/{fid}/signups").get_json()[
        "waiting_position"] == 1
    [promoted] = _deliver(db, mail_env, 1)
    assert promoted["To"] == "b@example.org"
    assert promoted["Subject"] == "A place freed up: Disco Soupe du marché"
    [ics] = list(promoted.iter_attachments())
    assert ics.get_content_type() == "text/calendar"


def test_places_added_to_a_full_event_go_to_those_waiting_before_newcomers(app, db,
                                                                            mail_env):
    fid = _soup(db, capacity=1)
    a, b, c = (make_resident(app, f"{n}@example.org") for n in "abc")
    with Session(db) as s, s.begin():
        signups.sign_up(s, fid, a.id)
        assert signups.sign_up(s, fid, b.id).status == "waiting"
    with db.begin() as conn:  # the organiser found a bigger room: 2 places
        conn.execute(text("UPDATE feature SET attributes = jsonb_set(attributes, "
                          "'{capacity}', '2') WHERE id = :f"), {"f": fid})
    with Session(db) as s, s.begin():
        assert signups.sign_up(s, fid, c.id).status == "waiting"  # b took the place
    with db.connect() as conn:
        statuses = dict(conn.execute(text("SELECT resident_id, status FROM signup")).all())
    assert statuses == {a.id: "confirmed", b.id: "confirmed", c.id: "waiting"}


def test_the_day_before_an_event_those_signed_up_are_reminded_once(app, db, mail_env):
    start = datetime.now(UTC) + timedelta(hours=20)
    soon = _publish(db, title="Disco Soupe de demain", category="disco-soupe",
                    attributes={"capacity": 10}, starts_at=start,
                    ends_at=start + timedelta(hours=2))
    later = _soup(db, capacity=10)  # in three days: not yet
    a = make_resident(app, "a@example.org", lang="en")
    with Session(db) as s, s.begin():
        signups.sign_up(s, soon, a.id)
        signups.sign_up(s, later, a.id)
    with Session(db) as s, s.begin():
        assert signups.remind_upcoming(s) == 0  # signed up just now: the confirmation said
    with db.begin() as conn:
        conn.execute(text("UPDATE signup SET confirmed_at = now() - interval '1 day'"))
    from webmap.commands.worker import run_tasks

    done = run_tasks(db, secret="test-secret-key", settings=mail_env.settings())
    assert done["signup_reminders"] == 1
    with Session(db) as s, s.begin():
        assert signups.remind_upcoming(s) == 0  # once
    reminders = [m for m in mail_env.wait_for(3) if m["Subject"].startswith("Reminder")]
    assert [m["Subject"] for m in reminders] == ["Reminder: Disco Soupe de demain"]
    assert f"/missions/{soon}/join" in text_part(reminders[0])


def test_the_confirmation_carries_a_valid_rfc5545_calendar(app, db, mail_env):
    fid = _soup(db, capacity=10)
    client = app.test_client()
    sign_in(client, "a@example.org", display_name="Ana")
    assert _json(client, "POST", f"/api/v1/features/{fid}/signups").status_code == 201
    [mail] = _deliver(db, mail_env, 1)
    assert "Inscription confirmée" in mail["Subject"]
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == f"evenement-{fid}.ics"
    cal = Calendar.from_ical(part.get_payload(decode=True))
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == f"feature-{fid}@carte.test"
    assert str(event["SUMMARY"]) == "Disco Soupe du marché"
    with db.connect() as conn:
        starts, ends = conn.execute(text("SELECT starts_at, ends_at FROM feature "
                                         "WHERE id = :f"), {"f": fid}).one()
    assert event.decoded("DTSTART") == starts and event.decoded("DTEND") == ends
    assert event["DTSTAMP"] and f"f={fid}" in str(event["URL"])
    for line in part.get_payload(decode=True).split(b"\r\n"):
        assert len(line) <= 75  # folded as RFC 5545 says


def test_two_last_seat_sign_ups_at_once_never_overbook(app, db):
    fid = _mission(db, needed=3)
    residents = [make_resident(app, f"r{i}@example.org") for i in range(10)]
    with Session(db) as s, s.begin():
        for r in residents[:2]:
            signups.sign_up(s, fid, r.id)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(resident_id: int) -> None:
        with Session(db) as s:
            barrier.wait()
            try:
                with s.begin():
                    result = signups.sign_up(s, fid, resident_id)
                outcome = result.status
            except signups.ItemFull:  # only if the lock were bypassed: must not happen
                outcome = "refused by the trigger"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(r.id,)) for r in residents[2:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # One takes the last seat; the seven others queue on the mission's waiting list.
    assert sorted(outcomes) == ["confirmed"] + ["waiting"] * 7
    with db.connect() as conn:
        confirmed = conn.execute(text("SELECT count(*) FROM signup WHERE feature_id = :f "
                                      "AND status = 'confirmed'"), {"f": fid}).scalar_one()
        counter, waiting = conn.execute(text(
            "SELECT confirmed, waiting FROM signup_item WHERE feature_id = :f"),
            {"f": fid}).one()
        queue = conn.execute(text("SELECT id FROM signup WHERE feature_id = :f "
                                  "AND status = 'waiting' ORDER BY created_at, id"),
                             {"f": fid}).scalars().all()
    assert confirmed == counter == 3 and waiting == 7
    with Session(db) as s:
        assert [signups._position(s, fid, sid) for sid in queue] == list(range(1, 8))


def test_the_database_itself_refuses_a_seat_beyond_capacity(app, db):
    fid = _mission(db, needed=1)
    a, b = (make_resident(app, f"{n}@example.org") for n in "ab")
    with db.begin() as conn:
        conn.execute(text("INSERT INTO signup (feature_id, resident_id, status, confirmed_at) "
                          "VALUES (:f, :r, 'confirmed', now())"), {"f": fid, "r": a.id})
    with pytest.raises(Exception, match="is full"), db.begin() as conn:
        conn.execute(text("INSERT INTO signup (feature_id, resident_id, status, confirmed_at) "
                          "VALUES (:f, :r, 'confirmed', now())"), {"f": fid, "r": b.id})


def test_joining_through_the_pages_in_french_with_csrf(app, db):
    fid = _mission(db, needed=2, questions="Votre téléphone pour le jour J ?")
    anonymous = app.test_client().get(f"/missions/{fid}/join")
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/auth/magic?next=")
    client = app.test_client()
    sign_in(client, "a@example.org")
    page = client.get(f"/missions/{fid}/join?lang=fr").get_data(as_text=True)
    assert "Je participe" in page and "Votre téléphone pour le jour J ?" in page
    assert client.post(f"/missions/{fid}/join", data={"answer_0": "06"}).status_code == 400
    token = csrf_of(client, f"/missions/{fid}/join")
    empty = client.post(f"/missions/{fid}/join", data={"csrf_token": token})
    assert empty.status_code == 422
    done = client.post(f"/missions/{fid}/join", data={"csrf_token": token,
                                                      "answer_0": "06 00 00 00 00"})
    assert done.status_code == 303 and done.headers["Location"].endswith("done=confirmed")
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Vous participez" in after or "inscrit" in after
    cancel = client.post(f"/missions/{fid}/cancel",
                         data={"csrf_token": csrf_of(client, f"/missions/{fid}/join")})
    assert cancel.status_code == 303
    with db.connect() as conn:
        assert conn.execute(text("SELECT status FROM signup")).scalar_one() == "cancelled"


# ------------------------------------------------------------------ moderation, stats


def test_moderators_see_every_sign_up_and_cancel_with_an_audited_reason(
        app, db, moderator, mail_env):  # noqa: F811
    fid = _soup(db, capacity=1)
    a, b = app.test_client(), app.test_client()
    sign_in(a, "a@example.org", display_name="Ana")
    sign_in(b, "b@example.org", display_name="Bob")
    _json(a, "POST", f"/api/v1/features/{fid}/signups")
    _json(b, "POST", f"/api/v1/features/{fid}/signups")
    page = moderator.get("/moderation/community/signups").get_data(as_text=True)
    assert "Ana" in page and "Bob" in page and "Disco Soupe du marché" in page
    with db.connect() as conn:
        sid = conn.execute(text("SELECT s.id FROM signup s JOIN resident r "
                                "ON r.id = s.resident_id WHERE r.display_name = 'Ana'")
                           ).scalar_one()
    no_reason = post(moderator, f"/moderation/community/signups/{sid}/cancel",
                     {"reason": " "}, page="/moderation/community/signups")
    assert no_reason.status_code == 400
    done = post(moderator, f"/moderation/community/signups/{sid}/cancel",
                {"reason": "Inscriptions en double"}, page="/moderation/community/signups")
    assert done.status_code == 303
    with db.connect() as conn:
        audit = conn.execute(text("SELECT action, reason, signup_id FROM signup_audit")).one()
        statuses = dict(conn.execute(text(
            "SELECT r.display_name, s.status FROM signup s JOIN resident r "
            "ON r.id = s.resident_id")).all())
    assert tuple(audit) == ("cancel", "Inscriptions en double", sid)
    assert statuses == {"Ana": "cancelled", "Bob": "confirmed"}  # Bob promoted
    messages = _deliver(db, mail_env, 5)
    told = [m for m in messages if m["To"] == "a@example.org"
            and "Inscriptions en double" in text_part(m)]
    assert len(told) == 1


def test_moderators_name_an_organiser(app, db, moderator):  # noqa: F811
    fid = _mission(db, needed=2)  # imported: nobody organises it yet
    olga = make_resident(app, "orga@example.org", display_name="Olga")
    orga = app.test_client()
    sign_in(orga, "orga@example.org")
    assert orga.get(f"/missions/{fid}/organiser").status_code == 403
    done = post(moderator, "/moderation/community/signups/organiser",
                {"feature_id": str(fid), "resident": "orga@example.org",
                 "reason": "L'association nous l'a demandé"},
                page="/moderation/community/signups")
    assert done.status_code == 303
    assert orga.get(f"/missions/{fid}/organiser").status_code == 200
    with db.connect() as conn:
        assert conn.execute(text("SELECT action, resident_id FROM signup_audit")).one() == (
            "name_organiser", olga.id)


def test_public_stats_count_filled_missions_and_sign_ups_without_people(app, db):
    full = _mission(db, needed=1)
    _mission(db, "Autre", needed=4)
    soup = _soup(db, capacity=5)
    people = [make_resident(app, f"{n}@example.org", display_name=n.title())
              for n in ("ana", "bob", "cy")]
    with Session(db) as s, s.begin():
        signups.sign_up(s, full, people[0].id)
        for p in people:
            signups.sign_up(s, soup, p.id)
    answer = app.test_client().get("/api/v1/stats/exchange")
    assert answer.status_code == 200
    stats = answer.get_json()
    assert stats["missions"] == {"published": 2, "with_capacity": 2, "filled": 1}
    month = datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")
    cats = {(r["category"], r["month"]): r["signups"] for r in stats["signups_by_category"]}
    # One volunteer on the mission: a small cell, not shown; three at the soup: shown.
    assert cats == {("mission-benevole", month): "<3", ("disco-soupe", month): 3}
    body = answer.get_data(as_text=True)
    assert "Ana" not in body and "ana@example.org" not in body


def test_deleting_an_account_cancels_its_sign_ups_and_promotes_the_next(app, db):
    fid = _soup(db, capacity=1)
    a = make_resident(app, "a@example.org")
    b = make_resident(app, "b@example.org")
    with Session(db) as s, s.begin():
        signups.sign_up(s, fid, a.id)
        signups.sign_up(s, fid, b.id)
        save_profile(s, a.id, availability=SATURDAY_MORNING)
    with Session(db) as s, s.begin():
        delete_account(s, a.id, secret=app.config["SECRET_KEY"])
    with db.connect() as conn:
        rows = dict(conn.execute(text("SELECT resident_id, status FROM signup")).all())
        assert conn.execute(text("SELECT count(*) FROM resident_profile")).scalar_one() == 0
    assert rows == {a.id: "cancelled", b.id: "confirmed"}
