"""Helpers shared by the tile tests: published features written straight into PostGIS."""

from __future__ import annotations

from sqlalchemy import Engine, text

CATEGORIES = ("jardin-partage", "disco-soupe", "fete-voisins")

# Inside Paris (Bois de Boulogne to Bois de Vincennes, south to north).
WEST, SOUTH, EAST, NORTH = 2.26, 48.82, 2.41, 48.90


def ensure_categories(engine: Engine) -> None:
    with engine.begin() as conn:
        for i, slug in enumerate(CATEGORIES):
            conn.execute(text(
                "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon, position) "
                "VALUES (:s, 'place', :s, :s, '#336699', 'pin', :p) "
                "ON CONFLICT (slug) DO NOTHING"), {"s": slug, "p": 100 + i})


def insert_features(engine: Engine, n: int, *, seed: float = 0.42, status: str = "published",
                    title: str = "Jardin n°") -> None:
    """``n`` features spread over Paris, deterministic for a seed, round-robin categories."""
    ensure_categories(engine)
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": seed})
        conn.execute(text("""
            INSERT INTO feature (category, title, geom, status)
            SELECT (ARRAY[:c0, :c1, :c2])[1 + i % 3], :t || i,
                   ST_SetSRID(ST_MakePoint(:w + random() * (:e - :w),
                                           :s + random() * (:n - :s)), 4326),
                   CAST(:status AS feature_status)
            FROM generate_series(1, :count) AS i"""),
            {"c0": CATEGORIES[0], "c1": CATEGORIES[1], "c2": CATEGORIES[2], "t": title,
             "w": WEST, "e": EAST, "s": SOUTH, "n": NORTH, "count": n, "status": status})
