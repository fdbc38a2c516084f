"""The filter parameters of ``/api/v1/features`` and the walk: one meaning, checked values.

TEAM.md "Filter parameters": date window in the city's zone, accessibility known or
not unsuitable, availability and opening-hours slots, nearest first; every bad value a
400 problem+json naming the parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.dbclean import empty_mutable_tables
from tests.tiles_fixtures import CATEGORIES, ensure_categories
from webmap.walk import great_circle_metres

CENTRE = (2.3522, 48.8566)  # Hôtel de Ville


@pytest.fixture(autouse=True)
def _leave_no_categories(engine):
    """Categories are reference data shared by the session: remove the tile tests' own."""
    yield
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:slugs)"),
                     {"slugs": list(CATEGORIES)})


def _add(engine, title, lonlat=CENTRE, **kw) -> int:
    with Session(engine) as session, session.begin():
        return publish_feature(session, FeatureDraft(
            category=kw.pop("category", CATEGORIES[0]), title=title, lon=lonlat[0],
            lat=lonlat[1], **kw)).id


@pytest.fixture
def places(clean_db):
    ensure_categories(clean_db)
    ids = {
        "ramp": _add(clean_db, "Jardin avec rampe", (2.3530, 48.8570),
                     attributes={"accessibility": ["step_free_access", "seating"]}),
        "stairs": _add(clean_db, "Jardin en escalier", (2.3540, 48.8560),
                       attributes={"accessibility_lacks": ["step_free_access"]}),
        "unknown": _add(clean_db, "Jardin sans information", (2.3500, 48.8575)),
        "saturday": _add(clean_db, "Mission du samedi matin", (2.3510, 48.8550),
                         category=CATEGORIES[1],
                         attributes={"availability": [
                             {"day": "sat", "from": "09:00", "to": "12:00"}]}),
        "weekdays": _add(clean_db, "Bibliothèque", (2.3560, 48.8580),
                         attributes={"hours": [
                             {"day": d, "from": "10:00", "to": "19:00"}
                             for d in ("mon", "tue", "wed", "thu", "fri")]}),
        "night": _add(clean_db, "Café de nuit", (2.3600, 48.8590),
                      attributes={"hours": [{"day": "fri", "from": "22:00", "to": "02:00"}]}),
    }
    return clean_db, ids


def _ids(client, query: str) -> list[int]:
    response = client.get("/api/v1/features?" + query)
    assert response.status_code == 200, response.get_json()
    return [f["id"] for f in response.get_json(force=True)["features"]]


def test_accessibility_known_or_not_unsuitable(client, places):
    _, ids = places
    assert _ids(client, "accessible=step_free_access") == [ids["ramp"]]
    kept = set(_ids(client, "accessible=step_free_access&accessible_match=not_unsuitable"))
    assert ids["stairs"] not in kept and {ids["ramp"], ids["unknown"]} <= kept
    assert set(_ids(client, "accessible=true&accessible_match=not_unsuitable")) == \
        set(ids.values()) - {ids["stairs"]}


def test_days_and_hours_overlap_slots_and_keep_features_without_any(client, places):
    _, ids = places
    slotless = {ids["ramp"], ids["stairs"], ids["unknown"]}
    assert set(_ids(client, "days=sat")) == slotless | {ids["saturday"]}
    assert set(_ids(client, "days=sat&hours=11:30-13:00")) == slotless | {ids["saturday"]}
    assert set(_ids(client, "days=sat&hours=12:00-13:00")) == slotless  # touching is not
    assert set(_ids(client, "hours=18:00-20:00")) == slotless | {ids["weekdays"]}
    # A slot past midnight (22:00-02:00) covers the late evening and the small hours.
    assert ids["night"] in _ids(client, "days=fri&hours=23:00-23:30")
    assert ids["night"] in _ids(client, "days=fri&hours=01:00-01:30")
    assert ids["night"] not in _ids(client, "days=fri&hours=03:00-04:00")


def test_near_orders_by_true_distance_and_pages_without_overlap(client, places):
    _, ids = places
    body = client.get(f"/api/v1/features?near={CENTRE[0]},{CENTRE[1]}").get_json(force=True)
    got = [f["id"] for f in body["features"]]
    dist = {f["id"]: great_circle_metres(CENTRE, f["geometry"]["coordinates"])
            for f in body["features"]}
    assert sorted(got, key=dist.__getitem__) == got and set(got) == set(ids.values())
    seen, url = [], f"/api/v1/features?near={CENTRE[0]},{CENTRE[1]}&limit=4"
    while url:
        page = client.get(url).get_json(force=True)
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = "{0.path}?{0.query}".format(urlsplit(nxt[0])) if nxt else None
    assert seen == got


def test_bare_dates_are_days_in_paris(client, clean_db):
    ensure_categories(clean_db)
    # 23:30 on 12 June in Paris is 21:30 UTC; 00:30 on the 13th is 22:30 UTC on the 12th.
    late = _add(clean_db, "Concert de 23 h 30", starts_at=datetime(2026, 6, 12, 21, 30,
                                                                     tzinfo=UTC),
                ends_at=datetime(2026, 6, 12, 21, 45, tzinfo=UTC))
    after = _add(clean_db, "Bal de 0 h 30", starts_at=datetime(2026, 6, 12, 22, 30, tzinfo=UTC),
                 ends_at=datetime(2026, 6, 12, 23, 0, tzinfo=UTC))
    assert _ids(client, "from=2026-06-12&to=2026-06-12") == [late]
    assert _ids(client, "from=2026-06-13&to=2026-06-13") == [after]
    assert _ids(client, "from=2026-06-12T23:50:00%2B02:00&to=2026-06-13") == [after]
    # "at" an instant in Paris time (no offset: the city's zone).
    assert _ids(client, "at=2026-06-12T23:35:00") == [late]


@pytest.mark.parametrize(("query", "param"), [
    ("from=9999-12-31T23:59:59-14:00", "from"),
    ("to=9999-12-31", "to"),
    ("at=0001-01-01T00:00:00%2B14:00", "at"),
    ("from=2026-06-14&to=2026-06-13", "to"),
    ("from=2026-06-13T10:00:00Z&to=2026-06-13T09:00:00Z", "to"),
    ("from=" + quote("2026-06-13\x00"), "from"),
    ("from=NaN", "from"),
    ("to=2026-02-30", "to"),
    ("at=2026-06-13&to=2026-06-14", "at"),
    ("hours=12:00-09:00", "hours"),
    ("hours=09:00-09:00", "hours"),
    ("hours=9-17", "hours"),
    ("hours=" + quote("09:00\x00-10:00"), "hours"),
    ("days=monday", "days"),
    ("days=" + quote("mon\x00"), "days"),
    ("accessible=" + quote("ramp\x00"), "accessible"),
    ("accessible_match=all", "accessible_match"),
    ("near=nan,48.85", "near"),
    ("near=2.35,inf", "near"),
    ("near=2.35", "near"),
    ("near=200,48", "near"),
    ("near=2.35,48.85&near=2.36,48.86", "near"),
    ("audience=" + quote("kids\x00"), "audience"),
])
def test_bad_values_are_400_naming_the_parameter(client, engine, query, param):
    response = client.get("/api/v1/features?" + query)
    assert response.status_code == 400, query
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["invalid_params"][0]["name"] == param


def test_the_walk_honours_the_profile(client, places):
    _, ids = places
    base = f"/api/v1/walk?lon={CENTRE[0]}&lat={CENTRE[1]}&minutes=90"
    everything = {s["id"] for s in client.get(base).get_json()["stops"]}
    assert {ids["ramp"], ids["stairs"], ids["unknown"]} <= everything
    known = {s["id"] for s in client.get(base + "&accessible=step_free_access"
                                         ).get_json()["stops"]}
    assert known == {ids["ramp"]}
    kinder = {s["id"] for s in client.get(
        base + "&accessible=step_free_access&accessible_match=not_unsuitable&days=sat"
        "&hours=10:00-11:00").get_json()["stops"]}
    assert ids["stairs"] not in kinder and ids["weekdays"] not in kinder
    assert {ids["ramp"], ids["unknown"], ids["saturday"]} <= kinder
    for query, name in (("&hours=11:00-10:00", "hours"), ("&accessible_match=x",
                                                         "accessible_match"),
                        ("&at=9999-12-31T23:59:59-14:00", "at"), ("&near=1,2", "near")):
        response = client.get(base + query)
        assert response.status_code == 400
        assert response.get_json()["invalid_params"][0]["name"] == name
