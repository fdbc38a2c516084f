"""Fixtures of the map tests: categories and published features, made the product's way.

Categories come from ``data/categories.json`` through ingestion's loader when it is
there; features through :func:`geo.publish.publish_feature`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from tests.dbclean import empty_mutable_tables

# Titles that try every way out of a text context: markup, folium's template literals,
# a backslash before a backtick, a closing script tag.
NASTY_TITLE = "<img src=x onerror=alert(1)>${alert(2)}\\`);alert(3);//</script>"

MAP_CATEGORIES = [
    ("jardin-map", "place", "Jardin partagé (test)", "Shared garden (test)", "#2e7d32",
     "{everyone}", "{step_free_access}"),
    ("soupe-map", "event", "Disco Soupe (test)", "Disco Soupe (test)", "#ef6c00",
     "{families}", "{}"),
]


def seed_map_categories(engine: Engine) -> None:
    """Two categories of our own, active (the ``category`` table is shared by the session
    and other tests reload the categories file, which deactivates the ones it lacks)."""
    with engine.begin() as conn:
        for slug, kind, fr, en, colour, audiences, access in MAP_CATEGORIES:
            conn.execute(text(
                "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon, fields,"
                " audiences, accessibility) VALUES (:slug, :kind, :fr, :en, :colour, 'leaf',"
                " CAST(:fields AS jsonb), CAST(:aud AS text[]), CAST(:acc AS text[]))"
                " ON CONFLICT (slug) DO UPDATE SET kind = excluded.kind,"
                " label_fr = excluded.label_fr, label_en = excluded.label_en,"
                " colour = excluded.colour, fields = excluded.fields,"
                " audiences = excluded.audiences, accessibility = excluded.accessibility,"
                " active = true"),
                {"slug": slug, "kind": kind, "fr": fr, "en": en, "colour": colour,
                 "aud": audiences, "acc": access,
                 "fields": '[{"name": "opening_hours", "type": "text", "required": false,'
                           ' "label_fr": "Horaires", "label_en": "Opening hours",'
                           ' "max_length": 200}]'})


def drop_map_data(engine: Engine) -> None:
    """Leave nothing behind: other tests count the categories (reference data)."""
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:slugs)"),
                     {"slugs": [c[0] for c in MAP_CATEGORIES]})


def seed_map_features(engine: Engine) -> dict[str, int]:
    """A few published places around the Hôtel de Ville, one with a hostile title."""
    seed_map_categories(engine)
    now = datetime.now(UTC)
    places = {
        "merri": ("jardin-map", "Jardin Saint-Merri", 2.3509, 48.8590, None, None),
        "nasty": ("jardin-map", NASTY_TITLE, 2.3540, 48.8570, None, None),
        "soupe": ("soupe-map", "Disco Soupe du marché", 2.3560, 48.8580,
                  now - timedelta(hours=1), now + timedelta(hours=3)),
        "past": ("soupe-map", "Soupe d'hier", 2.3530, 48.8575,
                 now - timedelta(days=2), now - timedelta(days=1)),
        "far": ("jardin-map", "Jardin de Belleville lointain", 2.3950, 48.8720, None, None),
    }
    ids = {}
    with Session(engine) as s, s.begin():
        for key, (cat, title, lon, lat, starts, ends) in places.items():
            ids[key] = publish_feature(s, FeatureDraft(
                category=cat, title=title, lon=lon, lat=lat, description=f"about {key}",
                starts_at=starts, ends_at=ends), max_zoom=2).id
    return ids
