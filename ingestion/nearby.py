"""Published items a new pin may duplicate: asked by the form *before* it sends.

The intake links a submission to one possible duplicate after the fact, for the
moderator; this lets the resident see them first, with their distance, and open one,
propose a correction to it, or say theirs is different. Two kinds of neighbours of the
same category: anything within the duplicate distance, and a similar title (pg_trgm)
within a wider radius (the same garden pinned at the other gate).

One statement: the published-geometry GiST index bounds the search to a box of the
wider radius, then true distances (geography) and title similarity are computed on
the few rows left (see ``bench/duplicates_nearby.py``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

__all__ = ["WIDE_M", "Nearby", "nearby", "nearby_with_pending"]

WIDE_M = 300.0  # metres within which a similar title still counts as a likely duplicate

# Titles are compared on their skeletons (``title_skeleton``, 0019_pending_duplicates):
# "Jаrdin" typed with a Cyrillic "а", or in fullwidth letters, is "jardin".
# Pending submissions are counted, never listed: they are not public (their text, their
# exact place and their author stay with the moderators); the count tells the resident
# that someone already proposed a similar place here, so they may wait for it.
_NEARBY = text("""
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt,
                      title_skeleton(:title) AS skel),
    pend AS (
      SELECT count(*) AS n FROM (
        SELECT ST_Distance(s.geom::geography, p.pt::geography) AS d,
               CASE WHEN :title = '' THEN 0 ELSE similarity(title_skeleton(s.title), p.skel)
               END AS sim
        FROM submission s, p
        WHERE s.status = 'pending' AND s.category = :category
          AND s.geom && ST_Expand(p.pt, :deg)
      ) c WHERE d <= :metres OR (sim >= :threshold AND d <= :wide)
    )
    SELECT pend.n AS pending, c.id, c.title, c.lon, c.lat, c.d, c.sim
    FROM pend LEFT JOIN LATERAL (
      SELECT id, title, lon, lat, d, sim FROM (
        SELECT f.id, f.title, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat,
               ST_Distance(f.geom::geography, p.pt::geography) AS d,
               CASE WHEN :title = '' THEN 0 ELSE similarity(title_skeleton(f.title), p.skel)
               END AS sim
        FROM feature f, p
        WHERE f.status = 'published' AND f.category = :category
          AND f.geom && ST_Expand(p.pt, :deg)
      ) c
      WHERE d <= :metres OR (sim >= :threshold AND d <= :wide)
      ORDER BY d, id LIMIT :limit
    ) c ON true
""")


class Nearby(NamedTuple):
    """Published neighbours (listed) and how many similar pending submissions (counted)."""

    items: list[dict[str, Any]]
    pending: int


def nearby_with_pending(conn: Connection, *, lon: float, lat: float, category: str,
                        title: str = "", metres: float = 50.0, threshold: float = 0.4,
                        wide_m: float = WIDE_M, limit: int = 5) -> Nearby:
    """Published items of ``category`` near ``(lon, lat)``, and the pending ones' count.

    One statement: both searches are bounded by a GiST index (published geometries,
    submission geometries) to a box of the wider radius.
    """
    reach = max(metres, wide_m if title else metres)
    # A box in degrees that holds the circle (longitude degrees shrink with latitude).
    deg = reach / (111_320.0 * max(math.cos(math.radians(lat)), 0.01)) * 1.01
    rows = conn.execute(_NEARBY, {"lon": lon, "lat": lat, "category": category,
                                  "title": title, "deg": deg, "metres": metres,
                                  "threshold": threshold, "wide": reach,
                                  "limit": limit}).all()
    items = [{"id": r.id, "title": r.title, "lon": round(float(r.lon), 6),
              "lat": round(float(r.lat), 6), "distance_m": round(float(r.d)),
              "similarity": round(float(r.sim), 2)} for r in rows if r.id is not None]
    return Nearby(items, int(rows[0].pending) if rows else 0)


def nearby(conn: Connection, *, lon: float, lat: float, category: str, title: str = "",
           metres: float = 50.0, threshold: float = 0.4, wide_m: float = WIDE_M,
           limit: int = 5) -> list[dict[str, Any]]:
    """Published items of ``category`` near ``(lon, lat)``: id, title, place, metres, similarity."""
    return nearby_with_pending(conn, lon=lon, lat=lat, category=category, title=title,
                               metres=metres, threshold=threshold, wide_m=wide_m,
                               limit=limit).items
