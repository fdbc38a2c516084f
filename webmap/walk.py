"""The "Ma balade" planner: an ordered walk through places from a start point within a time budget.

Pure functions on plain values, so the planner is tested without a database or a
browser. The walking distance between two points is the great-circle distance times a
detour factor (streets are not straight lines: 1.3 is the usual figure for a dense
street grid such as Paris'), walked at a constant speed; each stop costs a dwell time.

The order comes from the nearest-neighbour heuristic (greedy: always the closest place
that still fits in the budget), then 2-opt (reverse any stretch of the path that makes
it shorter) until no reversal helps. The walk is an open path from the start: people
end their walk where they are, so the way back is not counted.

>>> start = (2.35, 48.85)
>>> w = plan_walk(start, [Stop("a", 2.351, 48.85), Stop("b", 2.36, 48.85)], budget_minutes=60)
>>> [s.id for s in w.stops]
['a', 'b']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "DEFAULT_DETOUR",
    "DEFAULT_DWELL_MINUTES",
    "DEFAULT_SPEED_KMH",
    "Stop",
    "Walk",
    "great_circle_metres",
    "path_metres",
    "plan_walk",
    "two_opt",
    "walking_metres",
]

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_SPEED_KMH = 4.5
DEFAULT_DETOUR = 1.3
DEFAULT_DWELL_MINUTES = 10.0

LonLat = tuple[float, float]


class Stop(NamedTuple):
    """A place the walk may visit."""

    id: str
    lon: float
    lat: float
    dwell_minutes: float = DEFAULT_DWELL_MINUTES


class Walk(NamedTuple):
    """The planned walk: stops in order and what it costs."""

    stops: list[Stop]
    legs_m: list[float]
    distance_m: float
    minutes: float


def great_circle_metres(a: LonLat, b: LonLat) -> float:
    """Haversine distance between two (lon, lat) points, in metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def walking_metres(a: LonLat, b: LonLat, *, detour: float = DEFAULT_DETOUR) -> float:
    """Estimated walking distance: the straight line lengthened by the detour factor."""
    return great_circle_metres(a, b) * detour


def path_metres(start: LonLat, stops: Sequence[Stop], *,
                detour: float = DEFAULT_DETOUR) -> float:
    """Walking length of the open path ``start -> stops[0] -> ... -> stops[-1]``."""
    total, here = 0.0, start
    for s in stops:
        total += walking_metres(here, (s.lon, s.lat), detour=detour)
        here = (s.lon, s.lat)
    return total


def two_opt(start: LonLat, stops: Sequence[Stop], *,
            detour: float = DEFAULT_DETOUR) -> list[Stop]:
    """Shorten an open path with a fixed start by reversing stretches of it (2-opt).

    Each pass tries every stretch ``stops[i..j]``; a reversal is kept when it makes the
    path strictly shorter, and passes repeat until none does. The result is never
    longer than the input.
    """
    route = list(stops)
    points = [start] + [(s.lon, s.lat) for s in route]

    def d(i: int, j: int) -> float:
        return walking_metres(points[i], points[j], detour=detour)

    improved = True
    while improved:
        improved = False
        n = len(points)
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                # Edges (i-1, i) and (j, j+1) become (i-1, j) and (i, j+1); the last stop
                # has no outgoing edge since the path is open.
                before = d(i - 1, i) + (d(j, j + 1) if j + 1 < n else 0.0)
                after = d(i - 1, j) + (d(i, j + 1) if j + 1 < n else 0.0)
                if after < before - 1e-9:
                    points[i:j + 1] = reversed(points[i:j + 1])
                    route[i - 1:j] = reversed(route[i - 1:j])
                    improved = True
    return route


def _minutes(metres: float, speed_kmh: float) -> float:
    return metres / (speed_kmh * 1000 / 60)


def plan_walk(start: LonLat, candidates: Sequence[Stop], *, budget_minutes: float,
              speed_kmh: float = DEFAULT_SPEED_KMH, detour: float = DEFAULT_DETOUR,
              max_stops: int = 12) -> Walk:
    """Plan a walk from ``start`` through as many ``candidates`` as the budget allows.

    Parameters
    ----------
    start
        (lon, lat) where the walk begins.
    candidates
        Places that match the walker's interests and are open or happening then.
    budget_minutes
        Time available, walking and dwelling included.
    speed_kmh, detour
        Walking speed and the street detour factor.
    max_stops
        A walk is for people, not a tour of everything: at most this many stops.

    Returns
    -------
    Walk
        Stops in visiting order, each leg's walking distance, the total distance and
        the total time (walk plus dwell), which never exceeds ``budget_minutes``.
    """
    if budget_minutes <= 0 or speed_kmh <= 0 or detour < 1:
        raise ValueError("budget and speed must be positive and detour at least 1")
    remaining = list(candidates)
    chosen: list[Stop] = []
    here, used = start, 0.0
    while remaining and len(chosen) < max_stops:
        costs = [walking_metres(here, (s.lon, s.lat), detour=detour) for s in remaining]
        order = sorted(range(len(remaining)), key=costs.__getitem__)
        for k in order:
            cost = _minutes(costs[k], speed_kmh) + remaining[k].dwell_minutes
            if used + cost <= budget_minutes:
                stop = remaining.pop(k)
                chosen.append(stop)
                used += cost
                here = (stop.lon, stop.lat)
                break
        else:
            break
    route = two_opt(start, chosen, detour=detour)
    legs, here = [], start
    for s in route:
        legs.append(walking_metres(here, (s.lon, s.lat), detour=detour))
        here = (s.lon, s.lat)
    distance = sum(legs)
    minutes = _minutes(distance, speed_kmh) + sum(s.dwell_minutes for s in route)
    return Walk(route, legs, distance, minutes)
