"""Possible duplicates: a published feature of the same category, near, with a similar title.

pg_trgm's ``similarity`` on titles plus a distance on the ground. The search box uses
the GiST index on ``feature.geom`` (a degree box that surely holds the radius), then
the exact geography distance; the trigram index serves the title test. Nothing is
merged or deleted here: the submission only points at the candidate for a moderator.
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["find_duplicate"]

_QUERY = text("""
    SELECT f.id
    FROM feature f
    WHERE f.status = 'published' AND f.category = :category
      AND ST_DWithin(f.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :deg)
      AND ST_DWithin(f.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                     :metres)
      AND similarity(f.title, :title) >= :threshold
    ORDER BY similarity(f.title, :title) DESC, f.id
    LIMIT 1
""")


def find_duplicate(session: Session, *, category: str, lon: float, lat: float, title: str,
                   distance_m: float = 50.0, threshold: float = 0.4) -> int | None:
    """The id of the most similar published feature within ``distance_m``, or ``None``."""
    deg = distance_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01)) * 1.01
    return session.execute(_QUERY, {"category": category, "lon": lon, "lat": lat,
                                    "deg": deg, "metres": distance_m, "title": title,
                                    "threshold": threshold}).scalar()
