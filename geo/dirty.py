"""Marking tiles dirty: the queue between publication and the tile pipeline.

Called in the same transaction as the change that makes the tiles stale (approve,
edit, move, unpublish), so a committed change is always followed by a rebuild. A moved
point marks both its old and its new column of the pyramid.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from .tilemath import Tile, tiles_for_point

__all__ = ["DEFAULT_MAX_ZOOM", "mark_dirty", "mark_points_dirty"]

DEFAULT_MAX_ZOOM = 16

_INSERT = text("""
    INSERT INTO tile_dirty (z, x, y)
    SELECT * FROM unnest(CAST(:z AS smallint[]), CAST(:x AS int[]), CAST(:y AS int[]))
    ON CONFLICT (z, x, y) DO UPDATE SET marked_at = now()
""")


def mark_dirty(session: Session, tiles: Iterable[Tile]) -> int:
    """Queue ``tiles`` for rebuilding (idempotent). Returns how many were given."""
    unique = sorted(set(tiles))
    if unique:
        session.execute(_INSERT, {"z": [t.z for t in unique], "x": [t.x for t in unique],
                                  "y": [t.y for t in unique]})
    return len(unique)


def mark_points_dirty(session: Session, points: Iterable[tuple[float, float]], *,
                      max_zoom: int = DEFAULT_MAX_ZOOM) -> int:
    """Queue every tile, z0 to ``max_zoom``, that holds one of ``points`` (lon, lat)."""
    tiles: set[Tile] = set()
    for lon, lat in points:
        tiles.update(tiles_for_point(lon, lat, max_zoom=max_zoom))
    return mark_dirty(session, tiles)
