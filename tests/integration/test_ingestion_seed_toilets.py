"""The city's public toilets in the demo seed: the one source that states accessibility.

``sanisettesparis.geojson`` (615 toilets) says for each whether a wheelchair user can
use it (``acces_pmr``), when it opens (``horaire``) and whether it has a baby-changing
table: the profile's "step-free access" and the day-and-hour filter work on them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures


@pytest.fixture
def db(categories_loaded, clean_db):
    return clean_db


def seed_toilets(engine):
    from geo.city import load_city
    from ingestion.importer import run_import
    from ingestion.seed import seeds_of

    entry = next(x for x in seeds_of(load_city("paris")) if x.source == "paris-sanisettes")
    with Session(engine) as s, s.begin():
        return run_import(entry.file, session=s, source=entry.source, mapper=entry.mapper,
                          publish=True, attribution=entry.attribution, buffer_m=0.0)


def test_toilets_carry_what_their_source_says_and_nothing_more(db):
    summary = seed_toilets(db)
    assert summary.read == 615
    assert summary.read == summary.accepted + summary.refused
    with db.connect() as conn:
        rows = conn.execute(text(
            "SELECT title, attributes FROM feature WHERE source = 'paris-sanisettes'")).all()
    assert len(rows) == summary.published
    adapted = [a for _, a in rows if "adapted_toilets" in a.get("accessibility", [])]
    lacking = [a for _, a in rows if "adapted_toilets" in a.get("accessibility_lacks", [])]
    unknown = [a for _, a in rows if "accessibility" not in a
               and "accessibility_lacks" not in a]
    assert len(adapted) + len(lacking) + len(unknown) == len(rows)
    assert len(adapted) > 450 and len(lacking) > 90 and len(unknown) <= 2
    # "Non" says the cabin is not adapted; it does not say there is a step.
    assert all("step_free_access" not in a.get("accessibility_lacks", []) for _, a in rows)
    # Hours: "6 h - 22 h" and "24 h / 24" parse; "Voir fiche équipement" stays text only.
    texts = {a.get("opening_hours") for _, a in rows}
    assert {"6 h - 22 h", "24 h / 24", "Voir fiche équipement"} <= texts
    for _, a in rows:
        if a.get("opening_hours") == "Voir fiche équipement":
            assert "hours" not in a
        elif a.get("opening_hours") == "6 h - 1 h":
            assert {"day": "sat", "from": "00:00", "to": "01:00"} in a["hours"]
    assert all(a.get("audiences") == ["families"] for _, a in rows if a.get("baby_changing"))
    assert all(t and not t.isupper() for t, _ in rows)


def test_the_profile_filters_find_known_suitable_and_hide_known_unsuitable(client, db):
    """What the map's profile asks of /api/v1/features, answered from seeded data."""
    seed_toilets(db)
    with db.connect() as conn:
        total, known, lacks = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE attributes->'accessibility' ? "
            "'adapted_toilets'), count(*) FILTER (WHERE attributes->'accessibility_lacks' ? "
            "'adapted_toilets') FROM feature WHERE source = 'paris-sanisettes'")).one()

    def ids(query):
        body = client.get("/api/v1/features?category=toilettes&limit=10000" + query)
        assert body.status_code == 200, body.get_data(as_text=True)
        return {f["id"] for f in body.get_json()["features"]}

    assert len(ids("")) == total
    assert len(ids("&accessible=adapted_toilets")) == known
    assert len(ids("&accessible=adapted_toilets&accessible_match=not_unsuitable")) \
        == total - lacks
