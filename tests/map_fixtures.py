"""Fixtures of the map tests: categories and published features, made the product's way.

Categories come from ``data/categories.json`` through ingestion's loader when it is
there; features through :func:`geo.publish.publish_feature`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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


# The garden category's form: an enum with labels, a website, a yes/no and structured
# opening hours, so that a place's panel has every kind of value to show.
GARDEN_FIELDS = """[
  {"name": "garden_type", "type": "enum", "required": false,
   "choices": ["shared", "edible"], "label_fr": "Type de jardin", "label_en": "Garden type",
   "choice_labels": {"shared": {"fr": "Jardin partagé", "en": "Shared garden"},
                     "edible": {"fr": "Bacs comestibles", "en": "Edible planters"}}},
  {"name": "free_picking", "type": "boolean", "required": false,
   "label_fr": "Cueillette libre", "label_en": "Free picking"},
  {"name": "website", "type": "url", "required": false, "label_fr": "Site web",
   "label_en": "Website"},
  {"name": "hours", "type": "availability", "required": false,
   "label_fr": "Horaires (jours et heures)", "label_en": "Opening times (days and hours)"},
  {"name": "opening_hours", "type": "text", "required": false, "label_fr": "Horaires",
   "label_en": "Opening hours", "max_length": 200}]"""
EVENT_FIELDS = ('[{"name": "opening_hours", "type": "text", "required": false,'
                ' "label_fr": "Horaires", "label_en": "Opening hours", "max_length": 200}]')


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
                 "fields": GARDEN_FIELDS if kind == "place" else EVENT_FIELDS})


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


PARIS = ZoneInfo("Europe/Paris")


def this_weekend(now: datetime) -> list[date]:
    """The days the page's "this weekend" covers: Saturday and Sunday (Sunday alone on
    a Sunday), in Paris."""
    today = now.astimezone(PARIS).date()
    if today.weekday() == 6:
        return [today]
    saturday = today + timedelta(days=5 - today.weekday())
    return [saturday, saturday + timedelta(days=1)]


def seed_panel_features(engine: Engine) -> dict[str, int]:
    """The map fixtures plus what a place's panel and the filters need, around the Hôtel
    de Ville: an event this weekend and one next week, places whose accessibility is
    known, known to be lacking, or unknown, a place with opening hours, two at one spot.
    """
    ids = seed_map_features(engine)
    now = datetime.now(UTC)
    weekend = this_weekend(now)
    weekend_start = max(now + timedelta(minutes=10),
                        datetime.combine(weekend[0], time(14, 0), PARIS).astimezone(UTC))
    next_week = datetime.combine(weekend[-1] + timedelta(days=3), time(10, 0), PARIS)
    twin = (2.3570, 48.8565)
    places = {
        "weekend": ("soupe-map", "Disco Soupe du week-end", 2.3550, 48.8562,
                    weekend_start, weekend_start + timedelta(hours=2), {}),
        "nextweek": ("soupe-map", "Disco Soupe de la semaine prochaine", 2.3520, 48.8562,
                     next_week, next_week + timedelta(hours=2), {}),
        "access_known": ("jardin-map", "Jardin de plain-pied", 2.3525, 48.8582, None, None,
                         {"accessibility": ["step_free_access", "seating"],
                          "garden_type": "edible", "free_picking": True,
                          "website": "https://example.org/jardin"}),
        "access_lacks": ("jardin-map", "Jardin sur la butte", 2.3545, 48.8590, None, None,
                         {"accessibility_lacks": ["step_free_access"],
                          "website": "javascript:alert(1)"}),
        "hours": ("jardin-map", "Jardin du lundi", 2.3515, 48.8568, None, None,
                  {"hours": [{"day": "mon", "from": "09:00", "to": "12:00"},
                             {"day": "wed", "from": "14:00", "to": "18:00"}],
                   "opening_hours": "lun 9h-12h, mer 14h-18h"}),
        "twin_a": ("jardin-map", "Jardin jumeau A", *twin, None, None, {}),
        "twin_b": ("jardin-map", "Jardin jumeau B", *twin, None, None, {}),
    }
    with Session(engine) as s, s.begin():
        for key, (cat, title, lon, lat, starts, ends, attrs) in places.items():
            ids[key] = publish_feature(s, FeatureDraft(
                category=cat, title=title, lon=lon, lat=lat, description=f"about {key}",
                starts_at=starts, ends_at=ends, attributes=attrs), max_zoom=2).id
    return ids
