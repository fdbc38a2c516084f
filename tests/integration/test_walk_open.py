"""Ma balade with the city's services: open during the walk, or said closed.

Every stop with opening hours says whether it is open when the walker gets there (in
the city's time); with ``open=1`` places closed for the whole walk are left out and a
stop the plan would reach after it closes is dropped. Places whose hours are unknown
stay, flagged ``open: null``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.dbclean import empty_mutable_tables
from tests.tiles_fixtures import CATEGORIES, ensure_categories

CENTRE = (2.3522, 48.8566)  # Hôtel de Ville
MONDAY_10H = "2026-12-07T10:00:00+01:00"  # a Monday, Paris time
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(autouse=True)
def _leave_no_categories(engine):
    yield
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:slugs)"),
                     {"slugs": list(CATEGORIES)})


def _add(engine, title, lonlat, hours=None) -> int:
    attrs = {"hours": [{"day": d, "from": a, "to": b} for d in EVERY_DAY
                       for a, b in hours]} if hours else {}
    with Session(engine) as session, session.begin():
        return publish_feature(session, FeatureDraft(
            category=CATEGORIES[0], title=title, lon=lonlat[0], lat=lonlat[1],
            attributes=attrs)).id


@pytest.fixture
def places(clean_db):
    ensure_categories(clean_db)
    return {
        "pool": _add(clean_db, "Piscine du matin", (2.3530, 48.8570), [("09:00", "12:00")]),
        "library": _add(clean_db, "Bibliothèque de l'après-midi", (2.3515, 48.8560),
                        [("14:00", "18:00")]),
        "garden": _add(clean_db, "Jardin aux horaires inconnus", (2.3510, 48.8572)),
        # About 600 m away: reached after 10:05, when it has closed.
        "early": _add(clean_db, "Bains-douches du petit matin", (2.3600, 48.8590),
                      [("07:00", "10:05")]),
    }


def walk(client, **extra):
    query = "&".join(f"{k}={v}" for k, v in extra.items())
    r = client.get(f"/api/v1/walk?lon={CENTRE[0]}&lat={CENTRE[1]}&minutes=60"
                   f"&at={MONDAY_10H.replace('+', '%2B')}&{query}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return {s["id"]: s for s in r.get_json()["stops"]}, r.get_json()


def test_every_stop_says_whether_it_is_open_at_arrival(client, places):
    stops, body = walk(client)
    assert body["open_only"] is False
    assert set(places.values()) <= set(stops)
    pool, library = stops[places["pool"]], stops[places["library"]]
    assert pool["open"] is True and pool["closes_at"] == "2026-12-07T12:00+01:00"
    assert library["open"] is False and library["opens_at"] == "2026-12-07T14:00+01:00"
    assert stops[places["garden"]]["open"] is None
    early = stops[places["early"]]
    assert early["arrive_min"] > 5 and early["open"] is False
    assert library["arrive_at"].startswith("2026-12-07T10:") and library["arrive_at"].endswith(
        "+01:00")
    assert "hours" not in pool  # the slots stay on the place, not in the walk


def test_open_during_the_walk_leaves_out_what_is_closed(client, places):
    stops, body = walk(client, open=1)
    assert body["open_only"] is True
    assert places["pool"] in stops and places["garden"] in stops
    assert places["library"] not in stops  # closed for the whole walk
    assert places["early"] not in stops  # open at the start, closed when reached
    assert all(s["open"] is not False for s in stops.values())


def test_an_afternoon_walk_finds_the_library_open(client, places):
    r = client.get(f"/api/v1/walk?lon={CENTRE[0]}&lat={CENTRE[1]}&minutes=60&open=1"
                   "&at=2026-12-07T15:00:00%2B01:00")
    stops = {s["id"]: s for s in r.get_json()["stops"]}
    assert places["library"] in stops and places["pool"] not in stops


def test_a_wrong_open_value_is_a_400_naming_it(client, places):
    r = client.get(f"/api/v1/walk?lon={CENTRE[0]}&lat={CENTRE[1]}&minutes=60&open=maybe")
    assert r.status_code == 400
    assert r.get_json()["invalid_params"][0]["name"] == "open"
