"""Fixtures and helpers of the moderation tests (imported by name from the test modules).

Pending submissions are inserted straight into ``submission`` (as ingestion would leave
them), so these tests depend on nothing but the schema and geo.publish.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from moderation.accounts import hash_password
from tests.dbclean import empty_mutable_tables

PASSWORD = "correct horse battery staple"
MOD = "mod@example.org"
ADMIN = "admin@example.org"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

CATEGORIES = ("INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
              "('jardin-test', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf'), "
              "('soupe-test', 'event', 'Disco Soupe', 'Disco Soup', '#c62828', 'pot') "
              "ON CONFLICT (slug) DO NOTHING")


@pytest.fixture
def mdb(clean_db):
    """A clean database with two test categories, a moderator and an admin."""
    with clean_db.begin() as conn:
        conn.execute(text(CATEGORIES))
    with clean_db.begin() as conn:
        # One argon2 hash per test session (hashing costs ~0.2 s); logins still verify it.
        for email, role in ((MOD, "moderator"), (ADMIN, "admin")):
            conn.execute(text("INSERT INTO app_user (email, role, password_hash) "
                              "VALUES (:e, CAST(:r AS user_role), :h)"),
                         {"e": email, "r": role, "h": _password_hash()})
    yield clean_db
    # Categories are reference data other tests count: leave none of ours behind.
    with clean_db.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug IN ('jardin-test', 'soupe-test')"))


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def mod_app(app):
    app.config.update(CHANGES_SETTLE_SECONDS=0, MODERATION_FLAG_THRESHOLD=3)
    return app


def csrf_of(client, path: str = "/auth/login") -> str:
    """The CSRF token of a page's forms."""
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no csrf token on {path}: {page.status}"
    return match.group(1)


def login(client, email: str = MOD, password: str = PASSWORD):
    """Log in through the form; returns the response."""
    token = csrf_of(client)
    return client.post("/auth/login", data={"csrf_token": token, "email": email,
                                            "password": password})


@pytest.fixture
def moderator(mod_app, mdb):
    client = mod_app.test_client()
    assert login(client).status_code == 303
    return client


@pytest.fixture
def admin(mod_app, mdb):
    client = mod_app.test_client()
    assert login(client, ADMIN).status_code == 303
    return client


def post(client, path: str, data: dict | None = None, *, page: str = "/moderation/"):
    """POST a moderation form with a valid CSRF token taken from ``page``."""
    return client.post(path, data={"csrf_token": csrf_of(client, page), **(data or {})})


@pytest.fixture
def real_categories(mdb):
    """The product's categories (data/categories.json), with their own fields."""
    from pathlib import Path

    from ingestion.categories import load_categories, read_categories

    specs = read_categories(Path(__file__).parents[1] / "data" / "categories.json")
    with mdb.begin() as conn:
        before = dict(conn.execute(text("SELECT slug, active FROM category")).all())
    with Session(mdb) as s, s.begin():
        load_categories(s, specs)
    yield {spec.slug: spec for spec in specs}
    with mdb.begin() as conn:
        empty_mutable_tables(conn)
        added = [spec.slug for spec in specs if spec.slug not in before]
        if added:
            conn.execute(text("DELETE FROM category WHERE slug = ANY(:s)"), {"s": added})
        # load_categories deactivated the others (other packages' test categories): put
        # them back as they were, or a later test finds its categories gone.
        for slug, active in before.items():
            conn.execute(text("UPDATE category SET active = :a WHERE slug = :s"),
                         {"a": active, "s": slug})


def pending(engine, *, title: str = "Jardin des Rosiers", lon: float = 2.3580,
            lat: float = 48.8570, category: str = "jardin-test", source: str = "api",
            age_minutes: float = 10, duplicate_of: int | None = None, spam: float = 0.0,
            description: str = "Un jardin partagé.", attributes: dict | None = None,
            client_key: str = "ck123", starts_at: datetime | None = None,
            ends_at: datetime | None = None, received_at: datetime | None = None) -> int:
    """Insert a pending submission as ingestion would leave it; returns its id."""
    with engine.begin() as conn:
        return conn.execute(text("""
            INSERT INTO submission (source, raw, status, category, title, description, geom,
                                    area_ids, received_at,
                                    possible_duplicate_of, spam_score, spam_reasons,
                                    email, client_key, attributes, starts_at, ends_at)
            SELECT :source, CAST(:raw AS bytea), 'pending', :cat, :title, :desc, p.g,
                   ARRAY[(SELECT id FROM area WHERE depth = 1 AND ST_Contains(geom, p.g)),
                         (SELECT id FROM area WHERE depth = 2 AND ST_Contains(geom, p.g))],
                   :at, :dup, :spam, CAST(:reasons AS jsonb), 'resident@example.net', :ck,
                   CAST(:attrs AS jsonb), :starts, :ends
            FROM (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g) p
            RETURNING id
        """), {"source": source, "raw": b'{"raw": true}', "cat": category, "title": title,
               "desc": description, "lon": lon, "lat": lat,
               "at": received_at or datetime.now(UTC) - timedelta(minutes=age_minutes),
               "dup": duplicate_of,
               "spam": spam, "reasons": '["many links"]' if spam else "[]", "ck": client_key,
               "attrs": json.dumps(attributes or {}), "starts": starts_at,
               "ends": ends_at}).scalar_one()


def published(engine, *, title: str = "Jardin Saint-Merri", lon: float = 2.3522,
              lat: float = 48.8566, category: str = "jardin-test") -> int:
    """A published feature (through geo.publish); returns its id."""
    with Session(engine) as s, s.begin():
        return publish_feature(s, FeatureDraft(category=category, title=title, lon=lon,
                                               lat=lat), max_zoom=14).id


def row(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()
