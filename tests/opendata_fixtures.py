"""Fixtures of the open-data tests: categories, published features and a private submission.

Features are created through :func:`geo.publish.publish_feature`, the one path the
product uses. The submission carries known personal values (:data:`SECRETS`) that no
public output may ever contain.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.models import ModerationAction
from geo.publish import FeatureDraft, publish_feature, revise_feature

SECRET_EMAIL = "odile.secret-7e1f@example.org"
SECRET_CLIENT_KEY = "ck-9d2b7c1e5a4f-private"
SECRET_TOKEN_HASH = hashlib.sha256(b"tracking-token-od").hexdigest()
SECRET_NOTE = "moderator-note-zq81: doublon probable"
SECRETS = (SECRET_EMAIL, SECRET_CLIENT_KEY, SECRET_TOKEN_HASH, SECRET_NOTE)

CATEGORIES = [
    ("jardin-od", "place", "Jardin partagé", "Shared garden", "{families,everyone}"),
    ("fete-od", "event", "Fête des voisins", "Neighbours' party", "{families}"),
    ("atelier-od", "place", "Atelier", "Workshop", "{seniors}"),
]


class Seeded(NamedTuple):
    """What the ``od_data`` fixture created."""

    engine: Engine
    ids: dict[str, int]  # name -> feature id
    published: int
    by_category: dict[str, int]


def seed_categories(engine: Engine) -> None:
    with engine.begin() as conn:
        for slug, kind, fr, en, audiences in CATEGORIES:
            conn.execute(text(
                "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon, audiences)"
                " VALUES (:slug, :kind, :fr, :en, '#2e7d32', 'leaf', CAST(:aud AS text[]))"
                " ON CONFLICT (slug) DO NOTHING"),
                {"slug": slug, "kind": kind, "fr": fr, "en": en, "aud": audiences})


def _draft(category: str, title: str, lon: float, lat: float, **kw) -> FeatureDraft:
    return FeatureDraft(category=category, title=title, lon=lon, lat=lat, **kw)


@pytest.fixture
def od_data(clean_db: Engine) -> Seeded:
    """Seven features: six published (three categories), one unpublished; one submission."""
    seed_categories(clean_db)
    ids: dict[str, int] = {}
    with Session(clean_db) as s, s.begin():
        # A submission with personal data, then the feature made from it.
        sub_id = s.execute(text(
            "INSERT INTO submission (source, content_type, raw, client_key, email, status, "
            "category, title, description, geom, tracking_token_hash, reason) VALUES "
            "('resident', 'application/json', convert_to(:raw, 'UTF8'), :ck, :email, 'pending',"
            " 'jardin-od', 'Jardin Saint-Merri', 'Au pied de l''église', "
            " ST_SetSRID(ST_MakePoint(2.3509, 48.8590), 4326), decode(:tok, 'hex'), :note)"
            " RETURNING id"),
            {"raw": f'{{"email": "{SECRET_EMAIL}"}}', "ck": SECRET_CLIENT_KEY,
             "email": SECRET_EMAIL, "tok": SECRET_TOKEN_HASH, "note": SECRET_NOTE}).scalar_one()
        f = publish_feature(s, _draft("jardin-od", "Jardin Saint-Merri", 2.3509, 48.8590,
                                      description="Au pied de l'église",
                                      attributes={"audiences": ["children"],
                                                  "accessibility": ["step_free"]}),
                            submission_id=sub_id, reason=SECRET_NOTE, max_zoom=2)
        ids["merri"] = f.id
        s.execute(text("UPDATE submission SET status = 'approved', feature_id = :f, "
                       "decided_at = now() WHERE id = :s"), {"f": f.id, "s": sub_id})
        ids["formula"] = publish_feature(s, _draft(
            "jardin-od", "=HYPERLINK(\"http://evil\")", 2.2945, 48.8584,
            description="+33 1 23 45 67 89\tcall",
            attributes={"note": "-2+3", "audiences": ["seniors"]}),
            max_zoom=2).id
        ids["html"] = publish_feature(s, _draft(
            "atelier-od", "<script>alert('x')</script> & co", 2.3700, 48.8530,
            description="Réparations « vélo » — 日本語", attributes={}),
            source="partner-asso", attribution="Association Vélo Paris (ODbL)",
            max_zoom=2).id
        ids["party"] = publish_feature(s, _draft(
            "fete-od", "Fête rue Oberkampf", 2.3790, 48.8650,
            starts_at=datetime(2026, 5, 29, 18, tzinfo=UTC),
            ends_at=datetime(2026, 5, 29, 23, tzinfo=UTC)), max_zoom=2).id
        ids["soup"] = publish_feature(s, _draft(
            "fete-od", "Disco Soupe", 2.3400, 48.8800,
            starts_at=datetime(2026, 6, 12, 10, tzinfo=UTC)), max_zoom=2).id
        ids["outside"] = publish_feature(s, _draft(
            "atelier-od", "Atelier à Montreuil", 2.4400, 48.8600,
            attributes={"accessibility": ["step_free", "adapted_toilets"]}), max_zoom=2).id
        gone = publish_feature(s, _draft("jardin-od", "Retiré", 2.3500, 48.8500), max_zoom=2)
        ids["gone"] = gone.id
        revise_feature(s, gone.id, {"status": "unpublished"}, expected_version=1,
                       action=ModerationAction.unpublish, reason=SECRET_NOTE, max_zoom=2)
        # A resident's flag, with a client key.
        s.execute(text("INSERT INTO flag (feature_id, reason, client_key) VALUES "
                       "(:f, :r, :ck)"), {"f": ids["merri"], "r": SECRET_NOTE,
                                           "ck": SECRET_CLIENT_KEY + "-flag"})
    return Seeded(clean_db, ids, 6, {"jardin-od": 2, "fete-od": 2, "atelier-od": 2})
