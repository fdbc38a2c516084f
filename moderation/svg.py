"""Small server-rendered maps: a point inside its first-level area's outline, as inline SVG.

No tiles, no script, nothing from another host: the outlines (simplified to ~10 m) are
read once per process and drawn in one shared frame (an equirectangular projection
around the city's centre, y down, :class:`Frame`), defined once per page in ``<defs>``
and reused by ``<use>``. The edit map's script reads the frame from the SVG's
``data-lon0`` and ``data-lat0``, so nothing here or there assumes a city.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import NamedTuple

from markupsafe import Markup, escape
from shapely import wkb
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["Frame", "Outline", "city_outline", "defs", "mini_map", "outlines"]

SCALE = 10_000.0  # SVG units per degree of latitude
_cache: dict[tuple[str, Frame], dict[str, Outline]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Frame:
    """The shared SVG frame: equirectangular around ``(lon0, lat0)``, y down.

    Built from the city's centre (``Frame(city.centre.lon, city.centre.lat)``): at the
    centre's latitude a degree of longitude is ``cos(lat0)`` of a degree of latitude.
    """

    lon0: float
    lat0: float

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """(lon, lat) to SVG units."""
        return ((lon - self.lon0) * SCALE * math.cos(math.radians(self.lat0)),
                (self.lat0 - lat) * SCALE)


class Outline(NamedTuple):
    """An area's outline as an SVG path in the shared frame, with its bounds.

    ``kind`` is the area's level as the city's ``city.json`` names it (Paris:
    ``arrondissement``), or ``city`` for the service area's outline: required, so that
    no city's word stands in for another's.
    """

    code: str
    name: str
    path: str
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy (SVG units)
    kind: str  # the level's slug (area.kind), or "city"


def city_outline(found: dict[str, Outline]) -> Outline | None:
    """The service area's outline among ``found``, if the areas are loaded."""
    return next((o for o in found.values() if o.kind == "city"), None)


def _path(geom: MultiPolygon | Polygon, frame: Frame) -> str:
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    parts = []
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            pts = [frame.project(x, y) for x, y in ring.coords]
            parts.append("M" + "L".join(f"{x:.0f},{y:.0f}" for x, y in pts) + "Z")
    return "".join(parts)


def outlines(session: Session, cache_key: str, frame: Frame) -> dict[str, Outline]:
    """City and first-level area outlines by area code (cached per database and frame)."""
    with _lock:
        cached = _cache.get((cache_key, frame))
    if cached:
        return cached
    rows = session.execute(text("""
        SELECT code, name, kind::text AS kind,
               ST_AsBinary(ST_SimplifyPreserveTopology(geom, 0.0001)) AS g
        FROM area WHERE depth <= 1
    """)).all()
    result = {}
    for code, name, kind, g in rows:
        geom = wkb.loads(bytes(g))
        x0, y0 = frame.project(geom.bounds[0], geom.bounds[3])
        x1, y1 = frame.project(geom.bounds[2], geom.bounds[1])
        result[code] = Outline(code, name, _path(geom, frame), (x0, y0, x1, y1), kind)
    if result:
        with _lock:
            _cache[(cache_key, frame)] = result
    return result


def defs(used: dict[str, Outline]) -> Markup:
    """One hidden SVG defining each outline used on the page."""
    paths = "".join(f'<path id="area-{o.code}" d="{o.path}"/>' for o in used.values())
    # Paths and numbers are ours (area codes match ^[0-9A-Za-z]+$); no user text.
    svg = (f'<svg class="defs" aria-hidden="true" focusable="false" width="0" '
           f'height="0"><defs>{paths}</defs></svg>')
    return Markup(svg)  # noqa: S704


def mini_map(outline: Outline | None, lon: float, lat: float, *, frame: Frame,
             size: int = 120, label: str = "",
             others: tuple[tuple[float, float], ...] = ()) -> Markup:
    """An inline SVG of the point (and optional other points) inside ``outline``."""
    px, py = frame.project(lon, lat)
    if outline is not None:
        x0, y0, x1, y1 = outline.bounds
    else:
        x0, y0, x1, y1 = px - 50, py - 50, px + 50, py + 50
    pad = max(x1 - x0, y1 - y0) * 0.08
    x0, y0, x1, y1 = min(x0, px) - pad, min(y0, py) - pad, max(x1, px) + pad, max(y1, py) + pad
    w, h = x1 - x0, y1 - y0
    r = max(w, h) / 40
    shape = f'<use href="#area-{outline.code}" class="area"/>' if outline else ""
    extra = "".join(
        f'<circle class="other" cx="{ox:.0f}" cy="{oy:.0f}" r="{r * 0.8:.0f}"/>'
        for ox, oy in (frame.project(*o) for o in others))
    # Numbers only, and the label escaped.
    return Markup(  # noqa: S704
        f'<svg class="minimap" role="img" width="{size}" height="{size}" '
        f'viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" preserveAspectRatio="xMidYMid meet" '
        f'data-x0="{x0:.1f}" data-y0="{y0:.1f}" data-w="{w:.1f}" data-h="{h:.1f}" '
        f'data-lon0="{frame.lon0!r}" data-lat0="{frame.lat0!r}">'
        f'<title>{escape(label)}</title>{shape}{extra}'
        f'<circle class="point" cx="{px:.0f}" cy="{py:.0f}" r="{r:.0f}"/></svg>')
