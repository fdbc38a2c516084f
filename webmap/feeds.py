"""Atom 1.0 feeds (RFC 4287) of newly published items, for feed readers.

``GET /feeds/features.atom?category=&area=&lang=``: the 50 most recently published
items, overall, of some categories (slugs, comma-separated) and/or in one area (the
code of an area of any of the city's levels, e.g. Paris's ``75111`` or ``7511103``), the
same parameters and answers as ``/api/v1/events.ics``.

* Each entry's summary names its areas, deepest first, by their own names: the words
  come from the city's data, never from the code, so another city reads its own.
* Entry ids are tag URIs (RFC 4151) of the feature id, ``tag:<host>,2026:feature/<id>``:
  the id is the stable public identifier, so a reader never shows an item twice, and
  ``updated`` (the feature's ``updated_at``) tells it when one changed.
* Each entry links to the map's permalink ``/#map=17/<lat>/<lon>&f=<id>``.
* Written with ElementTree: text is escaped, and characters XML 1.0 cannot carry are
  dropped, so a resident's text cannot break the document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import text

from geo.db import get_engine

from .ogc.params import BadParameter, check_known, parse_slugs, single

__all__ = ["atom_feed", "bp"]

bp = Blueprint("feeds", __name__)

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
LIMIT = 50
_AREA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")  # an area code, any city's
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

_SELECT = """
SELECT f.id, f.title, f.description, f.category, f.published_at, f.updated_at,
       ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat, c.label_fr, c.label_en,
       ARRAY(SELECT ar.name FROM unnest(f.area_ids) WITH ORDINALITY u(id, n)
             JOIN area ar ON ar.id = u.id ORDER BY u.n DESC) AS area_names
FROM feature f
JOIN category c ON c.slug = f.category
WHERE f.status = 'published'
"""


def _clean(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, value: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if value is not None:
        el.text = _clean(value)
    return el


def atom_feed(rows: list[Any], *, host: str, root: str, self_url: str, lang: str,
              title: str) -> bytes:
    """The Atom document of ``rows`` (features, newest first)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": lang})
    _sub(feed, "id", f"tag:{host},2026:features{self_url.partition('?')[1]}"
                     f"{self_url.partition('?')[2]}")
    _sub(feed, "title", title)
    _sub(feed, "updated", _iso(max((r.updated_at for r in rows), default=EPOCH)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=root)
    author = _sub(feed, "author")
    _sub(author, "name", "Carte citoyenne")
    _sub(feed, "generator", "Carte citoyenne")
    for r in rows:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"tag:{host},2026:feature/{r.id}")
        _sub(entry, "title", r.title)
        _sub(entry, "published", _iso(r.published_at))
        _sub(entry, "updated", _iso(r.updated_at))
        _sub(entry, "link", rel="alternate", type="text/html",
             href=f"{root}#map=17/{r.lat:.5f}/{r.lon:.5f}&f={r.id}")
        _sub(entry, "category", term=r.category,
             label=_clean(r.label_en if lang == "en" else r.label_fr))
        where = ", ".join(r.area_names or ())  # deepest first: "Folie-Méricourt, 11e ..."
        label = r.label_en if lang == "en" else r.label_fr
        summary = " — ".join(p for p in (label, where, r.description or "") if p)
        _sub(entry, "summary", summary, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


@bp.get("/feeds/features.atom")
def features_atom() -> Response:
    """Newly published items as an Atom feed, by category and area."""
    check_known(request.args, ("category", "area", "lang"))
    lang = request.args.get("lang", "fr")
    if lang not in ("fr", "en"):
        raise BadParameter("lang", "must be fr or en")
    args = request.args.to_dict(flat=False)
    slugs = parse_slugs(single(args, "category"), name="category")
    area = single(args, "area")
    sql, params = _SELECT, {"limit": LIMIT}
    names = []
    with get_engine(current_app.config["DATABASE_URL"]).connect() as conn:
        if slugs is not None:
            known = dict(conn.execute(text(
                "SELECT slug, CASE WHEN :l = 'en' THEN label_en ELSE label_fr END "
                "FROM category WHERE active AND slug = ANY(:s)"),
                {"s": slugs, "l": lang}).all())
            unknown = [s for s in slugs if s not in known]
            if unknown:
                raise BadParameter("category", f"unknown category {unknown[0]!r}; "
                                               "see /api/v1/categories")
            sql += " AND f.category = ANY(:categories)"
            params["categories"] = slugs
            names += [known[s] for s in slugs]
        if area is not None:
            if not _AREA.match(area):
                raise BadParameter("area", "an area code, as listed at "
                                           "/ogc/collections/areas/items")
            area_name = conn.execute(text("SELECT name FROM area WHERE code = :c"),
                                     {"c": area}).scalar_one_or_none()
            if area_name is None:
                raise BadParameter("area", f"no area has the code {area}")
            # Any level: the GIN index of area_ids answers the containment.
            sql += " AND f.area_ids @> ARRAY[(SELECT id FROM area WHERE code = :area)]"
            params["area"] = area
            names.append(area_name)
        rows = conn.execute(text(sql + " ORDER BY f.published_at DESC, f.id DESC LIMIT :limit"),
                            params).all()
    base = "Carte citoyenne : nouveautés" if lang == "fr" else "Carte citoyenne: new items"
    title = base + (f" — {', '.join(names)}" if names else "")
    body = atom_feed(rows, host=request.host.split(":")[0] or "localhost",
                     root=request.url_root, self_url=request.url, lang=lang, title=title)
    return Response(body, 200, {"Content-Type": MEDIA_TYPE,
                                "Cache-Control": "public, max-age=300"})
