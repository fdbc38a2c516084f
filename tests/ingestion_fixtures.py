"""Fixtures of the ingestion tests (imported by name from the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from geo.config import data_dir
from tests.dbclean import empty_mutable_tables

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def categories_loaded(engine):
    """The real categories file, loaded for one test and taken away afterwards.

    Categories are reference data that ``clean_db`` keeps, so other packages' tests
    would otherwise see ours (and ours deactivate theirs): the table is put back as it
    was, after the rows that point at our categories are gone.
    """
    from sqlalchemy import text

    from ingestion.categories import load_categories, read_categories

    specs = read_categories(data_dir() / "categories.json")
    with engine.begin() as conn:
        before = dict(conn.execute(text("SELECT slug, active FROM category")).all())
    with Session(engine) as session, session.begin():
        load_categories(session, specs)
    yield engine
    mine = [s.slug for s in specs if s.slug not in before]
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:s)"), {"s": mine})
        for slug, active in before.items():
            conn.execute(text("UPDATE category SET active = :a WHERE slug = :s"),
                         {"a": active, "s": slug})


@pytest.fixture
def ingest_app(app, categories_loaded, clean_db):
    """The app with a generous rate limit (tests of the limit set their own)."""
    app.config["INGEST_RATE_LIMIT"] = "1000/60"
    return app


@pytest.fixture
def api(ingest_app):
    return ingest_app.test_client()


def good_submission(**over):
    """A valid resident's submission: a Disco Soupe in the 11th arrondissement."""
    start = datetime.now(UTC) + timedelta(days=3)
    body = {"lon": 2.3795, "lat": 48.8590, "title": "Disco Soupe du marché Popincourt",
            "description": "On épluche ensemble les invendus du marché.",
            "category": "disco-soupe", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
            "email": "Alice@Example.ORG", "attributes": {"bring_own_knife": True}}
    body.update(over)
    return body
