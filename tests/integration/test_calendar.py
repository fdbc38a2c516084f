"""Events as iCalendar: the feed a resident subscribes to, and one event to save.

Every answer is read back by a real parser (``icalendar.Calendar.from_ical``) and
checked against RFC 5545's essentials byte by byte: CRLF line ends, lines folded at
75 octets, one VEVENT per event, PRODID and VERSION.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

HOSTILE = 'Soupe, "fête"; partage\nBEGIN:VEVENT\nUID:evil@x\nEND:VEVENT — très long ' * 3


@pytest.fixture
def events(categories_loaded, clean_db):
    """Events and a place around the 11th arrondissement: upcoming, running, over."""
    now = datetime.now(UTC).replace(microsecond=0)
    drafts = {
        "soon": FeatureDraft("disco-soupe", "Disco Soupe Oberkampf", 2.3765, 48.8650,
                             "Épluchage en musique.", now + timedelta(days=2),
                             now + timedelta(days=2, hours=3),
                             {"organiser": "Collectif", "capacity": 30}),
        "running": FeatureDraft("fete-des-voisins", "Fête de la rue Oberkampf", 2.3790,
                                48.8655, "", now - timedelta(hours=1),
                                now + timedelta(hours=2), {"address": "12 rue Oberkampf"}),
        "no_end": FeatureDraft("disco-soupe", "Soupe sans fin annoncée", 2.3500, 48.8600,
                               "", now + timedelta(days=5), None, {}),
        "hostile": FeatureDraft("disco-soupe", HOSTILE[:120], 2.3400, 48.8600,
                                HOSTILE, now + timedelta(days=3), None, {}),
        "over": FeatureDraft("disco-soupe", "Soupe de la semaine dernière", 2.3770,
                             48.8652, "", now - timedelta(days=8), now - timedelta(days=7),
                             {}),
        "place": FeatureDraft("jardin-partage", "Jardin Oberkampf", 2.3770, 48.8660),
        "far": FeatureDraft("fete-des-voisins", "Fête à Belleville", 2.3850, 48.8720, "",
                            now + timedelta(days=1), now + timedelta(days=1, hours=4), {}),
    }
    with Session(clean_db) as s, s.begin():
        ids = {k: publish_feature(s, d, max_zoom=2).id for k, d in drafts.items()}
    return ids


def parse(response) -> Calendar:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    assert "charset=utf-8" in response.headers["Content-Type"]
    raw = response.get_data()
    check_rfc5545(raw)
    return Calendar.from_ical(raw)


def check_rfc5545(raw: bytes) -> None:
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF, no bare LF
    lines = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    unfolded = raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").split(b"\r\n")[:-1]
    assert unfolded[0] == b"BEGIN:VCALENDAR" and unfolded[-1] == b"END:VCALENDAR"
    assert sum(line.startswith(b"PRODID:") for line in unfolded) == 1
    assert b"VERSION:2.0" in unfolded
    assert unfolded.count(b"BEGIN:VEVENT") == unfolded.count(b"END:VEVENT")
    for line in unfolded:  # every content line is NAME[;params]:value
        assert re.match(rb"^[A-Z][A-Z0-9-]*[;:]", line), line


def vevents(cal: Calendar) -> dict[str, object]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_lists_upcoming_events_only_one_vevent_each(client, events):
    cal = parse(client.get("/api/v1/events.ics"))
    got = vevents(cal)
    host = "localhost"
    expected = {f"feature-{events[k]}@{host}" for k in ("soon", "running", "no_end",
                                                          "hostile", "far")}
    assert set(got) == expected  # not the event that is over, not the place
    soon = got[f"feature-{events['soon']}@{host}"]
    assert str(soon["SUMMARY"]) == "Disco Soupe Oberkampf"
    assert str(soon["DESCRIPTION"]) == "Épluchage en musique."
    assert [str(c) for c in soon["CATEGORIES"].cats] == ["Disco Soupe"]
    assert soon.decoded("DTSTART").tzinfo is not None
    assert soon.decoded("DTEND") - soon.decoded("DTSTART") == timedelta(hours=3)
    lat, lon = soon["GEO"].latitude, soon["GEO"].longitude
    assert (round(lat, 4), round(lon, 4)) == (48.865, 2.3765)
    assert str(soon["URL"]) == (f"http://localhost/#map=17/48.86500/2.37650"
                                f"&f={events['soon']}")
    # No address: the quartier and the arrondissement say where.
    assert str(soon["LOCATION"]) == "Saint-Ambroise, 11e arrondissement, Paris"
    running = got[f"feature-{events['running']}@{host}"]
    assert str(running["LOCATION"]) == "12 rue Oberkampf"
    assert [str(c) for c in running["CATEGORIES"].cats] == ["Fête des voisins"]
    # No end given: the event lasts until the end of its day in Paris, as on the map.
    no_end = got[f"feature-{events['no_end']}@{host}"].decoded("DTEND")
    local = no_end.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (0, 0)
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Paris"


def test_uids_and_bytes_are_stable_between_requests(client, events):
    first = client.get("/api/v1/events.ics")
    second = client.get("/api/v1/events.ics")
    assert first.get_data() == second.get_data()
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert client.get("/api/v1/events.ics",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_a_hostile_title_stays_inside_its_property(client, events):
    cal = parse(client.get("/api/v1/events.ics"))
    assert len(cal.walk("VEVENT")) == 5  # the forged BEGIN:VEVENT made no event
    ev = vevents(cal)[f"feature-{events['hostile']}@localhost"]
    assert str(ev["DESCRIPTION"]) == HOSTILE
    assert str(ev["SUMMARY"]) == HOSTILE[:120]
    raw = client.get(f"/api/v1/features/{events['hostile']}.ics").get_data()
    assert raw.count(b"\r\nBEGIN:VEVENT\r\n") == 1  # the forged one is escaped text
    assert b"\\;" in raw and b"\\," in raw and b"\\n" in raw


def test_the_feed_filters_by_category_and_area(client, events):
    def uids(query):
        return {u.split("@")[0] for u in vevents(parse(client.get(
            "/api/v1/events.ics" + query)))}

    assert uids("?category=fete-des-voisins") == {f"feature-{events['running']}",
                                                  f"feature-{events['far']}"}
    assert uids("?category=disco-soupe,fete-des-voisins") == uids("")
    with_area = uids("?area=75111")  # Popincourt: Oberkampf, not Belleville (20e)
    assert f"feature-{events['soon']}" in with_area
    assert f"feature-{events['far']}" not in with_area
    assert uids("?area=7511102&category=disco-soupe") == {f"feature-{events['soon']}"}
    assert uids("?category=jardin-partage") == set()


def test_english_labels_on_request(client, events):
    cal = parse(client.get("/api/v1/events.ics?category=fete-des-voisins&lang=en"))
    assert {str(c) for e in cal.walk("VEVENT") for c in e["CATEGORIES"].cats} == {
        "Neighbours' party"}


@pytest.mark.parametrize(("query", "name"), [
    ("?category=Nope!", "category"), ("?category=no-such-category", "category"),
    ("?area=abc", "area"), ("?area=75199", "area"), ("?lang=de", "lang"),
    ("?colour=red", "colour"), ("?area=75111&area=75112", "area"),
])
def test_bad_parameters_are_a_400_naming_them(client, events, query, name):
    response = client.get("/api/v1/events.ics" + query)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["invalid_params"][0]["name"] == name


def test_one_event_downloads_as_its_own_calendar(client, events):
    response = client.get(f"/api/v1/features/{events['soon']}.ics")
    cal = parse(response)
    (ev,) = cal.walk("VEVENT")
    assert str(ev["UID"]) == f"feature-{events['soon']}@localhost"
    assert f'evenement-{events["soon"]}.ics' in response.headers["Content-Disposition"]
    # An event that is over can still be saved from its page.
    assert len(parse(client.get(f"/api/v1/features/{events['over']}.ics"))
               .walk("VEVENT")) == 1


def test_one_event_answers_404_for_places_and_unknown_ids_and_400_for_words(
        client, events, clean_db):
    for fid in (events["place"], 999_999_999):
        response = client.get(f"/api/v1/features/{fid}.ics")
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
    with clean_db.begin() as conn:
        conn.execute(text("UPDATE feature SET status = 'hidden' WHERE id = :i"),
                     {"i": events["soon"]})
    assert client.get(f"/api/v1/features/{events['soon']}.ics").status_code == 404
    response = client.get("/api/v1/features/abc.ics")
    assert response.status_code == 400
    assert response.get_json()["invalid_params"][0]["name"] == "id"
