"""``GET /api/v1/walk``: parameters, candidate places from PostGIS, the planned walk.

Candidates are the 200 published features nearest to the start (true distance, through
the geography index), of the asked categories, not over and happening during the walk
if they are dated (events, missions: the window ``[at, at + minutes]``, ``at`` now by
default), within walking reach (half the budget at walking speed, as the crow flies,
since a walk that goes out must have time to visit something), and fitting the
walker's profile with the same filter parameters and meaning as the map and the list
(``audience``, ``accessible`` + ``accessible_match``, ``days`` / ``hours``: see
:mod:`webmap.api_features`); they go to :func:`webmap.walk.plan_walk`.

**Open during the walk** (services, markets, gardens: places with ``attributes.hours``
slots): every stop says whether it is open when the walker arrives (``open``: true,
false, or null when its hours are not known, with ``closes_at`` / ``opens_at`` in the
city's local time). With ``open=1`` places closed for the whole walk are left out, and
a stop the plan reaches while it is closed is dropped and the walk planned again
(:func:`geo.opening.open_during`, :func:`geo.opening.open_state`); places whose hours
are not known stay, flagged ``open: null``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.opening import open_during, open_state

from ..api_features import city_tz, filter_from_args
from ..ogc import params as ogc_params
from ..ogc.queries import FeatureFilter, MapWindow
from ..walk import DEFAULT_DETOUR, DEFAULT_SPEED_KMH, Stop, great_circle_metres, plan_walk

__all__ = ["BadParameter", "WalkParams", "candidates", "parse", "plan"]

MAX_CANDIDATES = 200
MAX_MINUTES = 8 * 60
PROFILE_PARAMS = ("category", "audience", "accessible", "accessible_match", "days", "hours")
KNOWN = ("lon", "lat", "minutes", "speed", "at", "open", *PROFILE_PARAMS)
REPLANS = 3  # rounds of dropping stops reached while closed (open=1)


class BadParameter(ValueError):
    """A query parameter of the walk is missing or wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class WalkParams:
    """What the walker asked for."""

    lon: float
    lat: float
    minutes: float
    categories: tuple[str, ...]
    at: datetime
    speed_kmh: float = DEFAULT_SPEED_KMH
    detour: float = DEFAULT_DETOUR
    profile: FeatureFilter = field(default_factory=FeatureFilter)
    open_only: bool = False
    zone: tzinfo = UTC  # the city's, for opening hours


def _number(args: Mapping[str, str], name: str, low: float, high: float,
            default: float | None = None) -> float:
    raw = args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadParameter(name, "required")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter(name, "must be a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise BadParameter(name, f"must be between {low:g} and {high:g}")
    return value


def parse(args: Any) -> WalkParams:
    """Check the query parameters; :class:`BadParameter` names the first wrong one.

    ``args`` is the request's ``MultiDict`` (or a plain mapping of single values).
    """
    multi = args.to_dict(flat=False) if hasattr(args, "to_dict") else \
        {k: [v] for k, v in args.items()}
    if multi.get("category") == [""]:
        del multi["category"]  # the page sends an empty list for "every category"
    first = {k: v[0] for k, v in multi.items() if v}
    lon = _number(first, "lon", -180, 180)
    lat = _number(first, "lat", -90, 90)
    minutes = _number(first, "minutes", 5, MAX_MINUTES)
    speed = _number(first, "speed", 1, 8, DEFAULT_SPEED_KMH)
    try:
        zone = city_tz()
        raw_at = ogc_params.single(multi, "at")
        at = ogc_params.parse_instant(raw_at or None, name="at", zone=zone) \
            or datetime.now(UTC)
        profile = filter_from_args({k: v for k, v in multi.items() if k != "at"},
                                   known=KNOWN, zone=zone)
        # The walk's own window: what is on at some point between leaving and arriving.
        window = MapWindow.of(at, at + timedelta(minutes=minutes), zone)
    except ogc_params.BadParameter as exc:
        raise BadParameter(exc.name, str(exc).removeprefix(f"{exc.name}: ")) from None
    except OverflowError:
        raise BadParameter("at", "out of the supported range of dates") from None
    cats = profile.categories or ()
    if len(cats) > 50:
        raise BadParameter("category", "at most 50 categories")
    raw_open = str(first.get("open", "")).strip().lower()
    if raw_open not in ("", "0", "1", "true", "false"):
        raise BadParameter("open", "must be 1 or 0")
    profile = replace(profile, window=window, near=(lon, lat))
    return WalkParams(lon, lat, minutes, tuple(cats), at, speed, profile=profile,
                      open_only=raw_open in ("1", "true"), zone=zone)


def candidates(session: Session, params: WalkParams) -> list[dict[str, Any]]:
    """Published features the walk may visit, nearest first."""
    reach_m = params.speed_kmh * 1000 / 60 * params.minutes / 2
    where, binds, _ = params.profile.where()
    # Nearest first through the geography GiST index (a KNN scan that stops at the
    # limit); a distance filter here would make PostgreSQL collect every point in reach
    # first, half of Paris for a two-hour walk.
    order = params.profile.distance(binds)
    sql = f"""SELECT f.id, f.title, f.category, ST_X(f.geom), ST_Y(f.geom), f.starts_at,
                     f.ends_at, f.attributes->'hours' FROM feature f WHERE {where}
              ORDER BY {order} LIMIT {MAX_CANDIDATES}"""  # noqa: S608 (constant fragments)
    rows = session.execute(text(sql), binds).all()
    start = params.at.astimezone(params.zone)
    end = start + timedelta(minutes=params.minutes)
    out = []
    for i, t, c, x, y, s, e, hours in rows:
        if great_circle_metres((params.lon, params.lat), (x, y)) > reach_m:
            continue
        slots = hours if _is_slots(hours) else None
        if params.open_only and slots is not None and not open_during(slots, start, end):
            continue  # closed for the whole walk
        out.append({"id": i, "title": t, "category": c, "lon": x, "lat": y,
                    "starts_at": s.isoformat() if s else None,
                    "ends_at": e.isoformat() if e else None, "hours": slots})
    return out


def _is_slots(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(s, dict) and s.get("day") and s.get("from") and s.get("to") for s in value)


def _opening(slots: list[dict[str, str]] | None, when: datetime) -> dict[str, Any]:
    """What a stop's hours say at the walker's arrival (local ``when``)."""
    if slots is None:
        return {"open": None}
    state = open_state(slots, when)
    if state.is_open:
        return {"open": True, **({"closes_at": state.until.isoformat(timespec="minutes")}
                                 if state.until else {})}
    return {"open": False, **({"opens_at": state.opens.isoformat(timespec="minutes")}
                              if state.opens else {})}


def plan(params: WalkParams, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The walk as JSON: stops in order with their legs, totals and a line to draw.

    Each stop says whether it is open at the walker's arrival; with ``open_only`` a
    stop reached while closed is dropped and the walk planned again without it.
    """
    by_id = {str(r["id"]): r for r in rows}
    per_minute = params.speed_kmh * 1000 / 60
    start = params.at.astimezone(params.zone)
    pool = list(rows)
    for _ in range(REPLANS + 1):
        walk = plan_walk((params.lon, params.lat),
                         [Stop(str(r["id"]), r["lon"], r["lat"]) for r in pool],
                         budget_minutes=params.minutes, speed_kmh=params.speed_kmh,
                         detour=params.detour)
        clock, stops = 0.0, []
        for stop, leg in zip(walk.stops, walk.legs_m, strict=True):
            clock += leg / per_minute
            row = {k: v for k, v in by_id[stop.id].items() if k != "hours"}
            arrive = start + timedelta(minutes=round(clock))
            stops.append({**row, "leg_m": round(leg), "arrive_min": round(clock),
                          "arrive_at": arrive.isoformat(timespec="minutes"),
                          **_opening(by_id[stop.id].get("hours"), arrive)})
            clock += stop.dwell_minutes
        closed = {str(s["id"]) for s in stops if s["open"] is False}
        if not params.open_only or not closed:
            break
        pool = [r for r in pool if str(r["id"]) not in closed]
    return {
        "start": [params.lon, params.lat],
        "stops": stops,
        "distance_m": round(walk.distance_m),
        "minutes": round(walk.minutes),
        "speed_kmh": params.speed_kmh,
        "detour": params.detour,
        "open_only": params.open_only,
        "line": {"type": "LineString",
                 "coordinates": [[params.lon, params.lat]] + [[s["lon"], s["lat"]]
                                                              for s in stops]},
    }
