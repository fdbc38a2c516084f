"""The "Que faire à Paris ?" sample shapes an events import; it is never seeded as live.

The shipped sample (147 past events of the 18th arrondissement, 2022–2024) is imported
into this test's throwaway database with the clock set to the sample's time: every
row kept, each event with its title, dates, venue, price, booking, accessibility
slugs and its paris.fr page, none of the organisers' prose; once the clock is back to
today the events are past, so the live map and the list never show them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import load_city
from ingestion.importer import run_import
from ingestion.quefaire import SOURCE, quefaire_event
from ingestion.validation import ValidationConfig
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures

SAMPLE = load_city("paris").folder / "services" / "que-faire-a-paris_75018_events.sample.geojson"
SAMPLE_TIME = datetime(2023, 6, 1, tzinfo=UTC)


def _import(engine):
    with Session(engine) as s, s.begin():
        return run_import(SAMPLE, session=s, source=SOURCE, mapper=quefaire_event,
                          publish=True, attribution="Que faire à Paris ? : © Ville de Paris",
                          buffer_m=0.0, now=SAMPLE_TIME,
                          config=ValidationConfig(past_tolerance=timedelta(days=800)))


def test_the_sample_is_not_a_seed_of_the_demo():
    assert SOURCE not in {s.source for s in load_city("paris").seeds}


def test_every_event_is_kept_with_what_the_map_needs_and_nothing_more(categories_loaded,
                                                                      clean_db, client):
    summary = _import(clean_db)
    assert summary.read == 147 == summary.accepted + summary.refused
    # Exhibitions running for months are longer than an event may last (31 days);
    # three events have no start date, one ends before it starts (01:00 the same day,
    # surely the next night's). Each is refused with its reason, counted.
    assert set(summary.refused_by_reason) <= {"too_long", "required", "order"}
    assert summary.refused_by_reason["required"] == 3
    assert summary.refused_by_reason["order"] == 1
    assert 40 <= summary.refused_by_reason["too_long"] <= 60
    source = {f["properties"]["id"]: f["properties"] for f in
              json.loads(SAMPLE.read_text(encoding="utf-8"))["features"]}
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT source_ref, title, description, starts_at, ends_at, attributes, "
            "category FROM feature WHERE source = :s"), {"s": SOURCE}).all()
    assert len(rows) == summary.published == summary.accepted
    for ref, title, description, starts, ends, attrs, category in rows:
        said = source[ref]
        assert category == "sortie" and description == ""
        assert title == " ".join(said["title"].split())[:120]
        assert starts == datetime.fromisoformat(said["date_start"])
        assert ends == datetime.fromisoformat(said["date_end"])
        assert attrs["source_url"] == said["url"] and attrs["source_url"].startswith(
            "https://www.paris.fr/")
        assert attrs.get("venue") == (said["address_name"] or None)
        for flag, slug in (("pmr", "step_free_access"), ("blind", "braille_or_large_print"),
                           ("deaf", "hearing_loop")):
            assert (slug in attrs.get("accessibility", [])) == (said[flag] == 1), (ref, flag)
            assert (slug in attrs.get("accessibility_lacks", [])) == (said[flag] == 0)
        assert set(attrs) <= {"venue", "address", "event_type", "price", "booking",
                              "booking_url", "source_url", "accessibility",
                              "accessibility_lacks", "audiences"}
    prices = {a.get("price") for *_, a, _ in rows}
    assert {"free", "paying"} <= prices
    assert any("step_free_access" in a.get("accessibility", []) for *_, a, _ in rows)
    # Past events: not on today's map nor in the list; asked for their time, they are.
    live = client.get("/api/v1/features?category=sortie").get_json()
    assert live["features"] == []
    then = client.get("/api/v1/features?category=sortie&from=2024-02-01&to=2024-02-29"
                      "&limit=500").get_json()
    assert 0 < len(then["features"]) <= len(rows)


def test_no_prose_image_or_contact_of_the_organisers_is_shipped():
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    keys = set().union(*(f["properties"] for f in doc["features"]))
    assert not keys & {"description", "lead_text", "date_description", "cover_url",
                       "cover_credit", "cover_alt", "contact_mail", "contact_phone",
                       "price_detail"}
