"""``GET /api/v1/walk``: parameters, candidate places from PostGIS, the planned walk.

Candidates are the 200 published features nearest to the start, of the asked
categories, happening during the walk if they are dated (events, missions), and within
walking reach (half the budget at walking speed, as the crow flies, since a walk that
goes out must have time to visit something); they go to :func:`webmap.walk.plan_walk`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from geo.models import Feature, FeatureStatus

from ..walk import DEFAULT_DETOUR, DEFAULT_SPEED_KMH, Stop, great_circle_metres, plan_walk

__all__ = ["BadParameter", "WalkParams", "candidates", "parse", "plan"]

MAX_CANDIDATES = 200
MAX_MINUTES = 8 * 60


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


def parse(args: Mapping[str, str]) -> WalkParams:
    """Check the query parameters; :class:`BadParameter` names the first wrong one."""
    lon = _number(args, "lon", -180, 180)
    lat = _number(args, "lat", -90, 90)
    minutes = _number(args, "minutes", 5, MAX_MINUTES)
    speed = _number(args, "speed", 1, 8, DEFAULT_SPEED_KMH)
    raw_at = args.get("at") or ""
    if raw_at:
        try:
            at = datetime.fromisoformat(raw_at)
        except ValueError:
            raise BadParameter("at", "must be an ISO 8601 date and time") from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    else:
        at = datetime.now(UTC)
    cats = tuple(c for c in (args.get("category") or "").split(",") if c)
    if len(cats) > 50:
        raise BadParameter("category", "at most 50 categories")
    return WalkParams(lon, lat, minutes, cats, at, speed)


def candidates(session: Session, params: WalkParams) -> list[dict[str, Any]]:
    """Published features the walk may visit, nearest first."""
    start = func.ST_SetSRID(func.ST_MakePoint(params.lon, params.lat), 4326)
    reach_m = params.speed_kmh * 1000 / 60 * params.minutes / 2
    end = params.at + timedelta(minutes=params.minutes)
    stmt = (select(Feature.id, Feature.title, Feature.category,
                   func.ST_X(Feature.geom), func.ST_Y(Feature.geom),
                   Feature.starts_at, Feature.ends_at)
            # Nearest first through the GiST index (a KNN scan that stops at the limit);
            # a distance filter here would make PostgreSQL collect every point in reach
            # first, half of Paris for a two-hour walk.
            .where(Feature.status == FeatureStatus.published,
                   or_(Feature.starts_at.is_(None), Feature.starts_at <= end),
                   or_(Feature.ends_at.is_(None), Feature.ends_at >= params.at))
            .order_by(Feature.geom.op("<->")(start)).limit(MAX_CANDIDATES))
    if params.categories:
        stmt = stmt.where(Feature.category.in_(params.categories))
    return [{"id": i, "title": t, "category": c, "lon": x, "lat": y,
             "starts_at": s.isoformat() if s else None, "ends_at": e.isoformat() if e else None}
            for i, t, c, x, y, s, e in session.execute(stmt)
            if great_circle_metres((params.lon, params.lat), (x, y)) <= reach_m]


def plan(params: WalkParams, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The walk as JSON: stops in order with their legs, totals and a line to draw."""
    by_id = {str(r["id"]): r for r in rows}
    walk = plan_walk((params.lon, params.lat),
                     [Stop(str(r["id"]), r["lon"], r["lat"]) for r in rows],
                     budget_minutes=params.minutes, speed_kmh=params.speed_kmh,
                     detour=params.detour)
    per_minute = params.speed_kmh * 1000 / 60
    clock, stops = 0.0, []
    for stop, leg in zip(walk.stops, walk.legs_m, strict=True):
        clock += leg / per_minute
        stops.append({**by_id[stop.id], "leg_m": round(leg), "arrive_min": round(clock)})
        clock += stop.dwell_minutes
    return {
        "start": [params.lon, params.lat],
        "stops": stops,
        "distance_m": round(walk.distance_m),
        "minutes": round(walk.minutes),
        "speed_kmh": params.speed_kmh,
        "detour": params.detour,
        "line": {"type": "LineString",
                 "coordinates": [[params.lon, params.lat]] + [[s["lon"], s["lat"]]
                                                              for s in stops]},
    }
