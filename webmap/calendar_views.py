"""Events as iCalendar (RFC 5545): a feed residents subscribe to, and one event to save.

* ``GET /api/v1/events.ics?category=&area=&lang=`` the upcoming published events (those
  not over yet, by the same rule as the live map: :func:`geo.events.live_sql`),
  optionally of some categories (slugs, comma-separated) and in one area (an
  arrondissement or quartier code, e.g. ``75111`` or ``7511103``).
* ``GET /api/v1/features/{id}.ics`` one published event, past or not (404 for an
  unknown id or a feature that is not an event, 400 for an id that is not a number).

Why these choices:

* ``UID`` is ``feature-<id>@<host>``: the feature id is the stable public identifier,
  so a calendar that subscribed updates the event in place instead of duplicating it.
* ``DTSTAMP`` and ``LAST-MODIFIED`` are the feature's ``updated_at`` and ``SEQUENCE`` its
  version, so the same data gives byte-identical output (stable for caches and for
  clients that compare), and an edit is seen as a newer revision.
* Times are written in UTC (``...Z``), valid everywhere without a ``VTIMEZONE``; an
  event without an end lasts until the end of its day in the city's time zone, as on
  the map.
* Escaping and line folding are the ``icalendar`` package's: text with commas,
  semicolons, newlines or a forged ``BEGIN:VEVENT`` stays inside its property.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from icalendar import Calendar, Event, vGeo, vText
from sqlalchemy import text

from geo.db import get_engine
from geo.events import live_sql, local_midnight, next_local_midnight

from .api_features import city_tz
from .city import current_city
from .ogc.params import BadParameter, check_known, parse_feature_id, parse_slugs, single
from .web import problem

__all__ = ["bp", "event_calendar"]

bp = Blueprint("calendar", __name__)

MEDIA_TYPE = "text/calendar; charset=utf-8"
FEED_LIMIT = 5000
PRODID = "-//Carte citoyenne//Evenements//FR"
_AREA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")  # an area code, any city's

_SELECT = """
SELECT f.id, f.title, f.description, f.starts_at, f.ends_at, f.attributes,
       f.version, f.published_at, f.updated_at, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat,
       c.label_fr, c.label_en, a.name AS arrondissement_name, q.name AS quartier_name
FROM feature f
JOIN category c ON c.slug = f.category
LEFT JOIN area a ON a.id = f.area_ids[1]
LEFT JOIN area q ON q.id = f.area_ids[2]
WHERE f.status = 'published' AND c.kind = 'event' AND f.starts_at IS NOT NULL
"""


def _lang() -> str:
    raw = request.args.get("lang")
    if raw is None:
        return "fr"
    if raw not in ("fr", "en"):
        raise BadParameter("lang", "must be fr or en")
    return raw


def _location(row: Any) -> str:
    address = (row.attributes or {}).get("address")
    if isinstance(address, str) and address.strip():
        return address.strip()
    return ", ".join(x for x in (row.quartier_name, row.arrondissement_name,
                                 current_city().name()) if x)


def _event(row: Any, *, host: str, root: str, lang: str) -> Event:
    zone = city_tz()
    end = row.ends_at or next_local_midnight(row.starts_at, zone)
    event = Event()
    event.add("uid", f"feature-{row.id}@{host}")
    event.add("dtstamp", row.updated_at.astimezone(UTC))
    event.add("last-modified", row.updated_at.astimezone(UTC))
    event.add("created", row.published_at.astimezone(UTC))
    event.add("sequence", max(int(row.version or 1) - 1, 0))
    event.add("dtstart", row.starts_at.astimezone(UTC))
    event.add("dtend", max(end, row.starts_at).astimezone(UTC))
    event.add("summary", row.title)
    if row.description:
        event.add("description", row.description)
    event.add("location", _location(row))
    event.add("geo", vGeo((round(row.lat, 6), round(row.lon, 6))))
    event.add("url", f"{root}#map=17/{row.lat:.5f}/{row.lon:.5f}&f={row.id}")
    event.add("categories", [row.label_en if lang == "en" else row.label_fr])
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def event_calendar(rows: list[Any], *, host: str, root: str, lang: str,
                   name: str) -> bytes:
    """The ``VCALENDAR`` of ``rows`` (feature rows as :data:`_SELECT` reads them)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    # X- properties have no registered type: icalendar would not escape a plain str.
    cal.add("x-wr-calname", vText(name))
    cal.add("x-wr-timezone", vText(city_tz().key))
    for row in rows:
        cal.add_component(_event(row, host=host, root=root, lang=lang))
    return cal.to_ical()


def _answer(body: bytes, *, filename: str, max_age: int) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = MEDIA_TYPE
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.add_etag()
    return response.make_conditional(request)


def _host() -> str:
    return request.host.split(":")[0] or "localhost"


@bp.get("/api/v1/events.ics")
def events_feed() -> Response:
    """Upcoming published events as one calendar, by category and area."""
    check_known(request.args, ("category", "area", "lang"))
    lang = _lang()
    slugs = parse_slugs(single(request.args.to_dict(flat=False), "category"),
                        name="category")
    area = single(request.args.to_dict(flat=False), "area")
    sql = _SELECT + " AND " + live_sql("f")
    now = datetime.now(UTC)
    params: dict[str, Any] = {"live_from": now, "live_day": local_midnight(now, city_tz()),
                              "limit": FEED_LIMIT}
    with get_engine(current_app.config["DATABASE_URL"]).connect() as conn:
        if slugs is not None:
            known = set(conn.execute(text(
                "SELECT slug FROM category WHERE active AND slug = ANY(:s)"),
                {"s": slugs}).scalars())
            unknown = [s for s in slugs if s not in known]
            if unknown:
                raise BadParameter("category", f"unknown category {unknown[0]!r}; "
                                               "see /api/v1/categories")
            sql += " AND f.category = ANY(:categories)"
            params["categories"] = slugs
        if area is not None:
            if not _AREA.match(area):
                raise BadParameter("area", "an area code, as listed at "
                                           "/ogc/collections/areas/items")
            if conn.execute(text("SELECT 1 FROM area WHERE code = :c"),
                            {"c": area}).first() is None:
                raise BadParameter("area", f"no area has the code {area}")
            # Any level: the GIN index of area_ids answers the containment.
            sql += " AND f.area_ids @> ARRAY[(SELECT id FROM area WHERE code = :area)]"
            params["area"] = area
        rows = conn.execute(text(sql + " ORDER BY f.starts_at, f.id LIMIT :limit"),
                            params).all()
    name = "Carte citoyenne : événements" if lang == "fr" else "Carte citoyenne: events"
    body = event_calendar(rows, host=_host(), root=request.url_root, lang=lang, name=name)
    return _answer(body, filename="evenements.ics", max_age=300)


@bp.get("/api/v1/features/<raw_id>.ics")
def feature_ics(raw_id: str) -> Response:
    """One published event as a calendar of one ``VEVENT``."""
    check_known(request.args, ("lang",))
    lang = _lang()
    fid = parse_feature_id(raw_id, name="id")
    with get_engine(current_app.config["DATABASE_URL"]).connect() as conn:
        row = conn.execute(text(_SELECT + " AND f.id = :id"), {"id": fid}).first()
    if row is None:
        return problem(404, "Not Found",
                       detail=f"no published event has the id {fid}")
    body = event_calendar([row], host=_host(), root=request.url_root, lang=lang,
                          name=row.title)
    return _answer(body, filename=f"evenement-{fid}.ics", max_age=60)
