"""When a dated feature is over, in one place: the list, the tiles and the walk agree.

An event occupies ``[starts_at, ends_at]``. An event without ``ends_at`` lasts until
the end of its start day **in the city's time zone** (a Disco Soupe announced for
Saturday 10:00 is still on the map on Saturday afternoon, gone on Sunday): its end is
the next local midnight. A feature with neither date (a place) never ends; one with
only ``ends_at`` ends then.

Seen from an instant ``t``, a feature is still *live* (not over) when

* ``ends_at >= t``, or
* it has no ``ends_at`` and ``starts_at >= local_midnight(t)`` (its day is today or later),
* or it is undated.

Both comparisons are on plain columns, so PostgreSQL answers "what ended between two
checks" from two small partial B-tree indexes (migration ``0004_filters``) without any
time-zone arithmetic in an index expression: the zone is applied in Python to the one
instant being asked about.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ENDED_BETWEEN_SQL",
    "city_zone",
    "live_sql",
    "local_midnight",
    "next_local_midnight",
    "zone_named",
]

@lru_cache(maxsize=8)
def zone_named(name: str) -> ZoneInfo:
    """The zone called ``name`` (cached); an unknown name is a ``ValueError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (the city's time_zone)") from exc


@lru_cache(maxsize=8)
def _configured(slug: str, data: str) -> str:
    """The ``time_zone`` of the city's ``city.json`` (read once per process).

    A city that cannot be read is a :class:`~geo.errors.CityConfigError`: guessing a
    zone would put another city's dates on this one.
    """
    from .city import load_city

    return load_city(slug, environ={"CARTE_DATA_DIR": data}, check_files=False).time_zone


def city_zone(environ: Mapping[str, str] | None = None) -> ZoneInfo:
    """The city's time zone: the ``time_zone`` of ``data/cities/<CARTE_CITY>/city.json``.

    One source: the form's local times, bare dates of the filters, an event's "end of
    its day", the map's "today" and the calendars all read it.
    """
    from .city import city_slug
    from .config import data_dir

    env = os.environ if environ is None else environ
    return zone_named(_configured(city_slug(env), str(data_dir(env))))


def local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``moment``'s day in ``zone``, as an aware UTC datetime."""
    local = moment.astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return midnight.astimezone(UTC)


def next_local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    """The end (exclusive) of ``moment``'s day in ``zone``, in UTC; DST days included."""
    local = moment.astimezone(zone)
    day = datetime(local.year, local.month, local.day) + timedelta(days=1)
    return day.replace(tzinfo=zone).astimezone(UTC)


def live_sql(alias: str = "f", *, since: str = ":live_from", since_day: str = ":live_day"
             ) -> str:
    """SQL condition: the row ``alias`` is not over at the instant bound as ``since``.

    ``since_day`` must be bound to ``local_midnight(since)``. ``coalesce`` of the two
    comparisons picks the one that applies (explicit end first), undated rows are true.
    """
    a = alias
    return f"coalesce({a}.ends_at >= {since}, {a}.starts_at >= {since_day}, true)"


ENDED_BETWEEN_SQL = """
    SELECT ST_X(geom), ST_Y(geom) FROM feature
    WHERE status = 'published' AND ends_at >= %(last)s AND ends_at < %(now)s
    UNION ALL
    SELECT ST_X(geom), ST_Y(geom) FROM feature
    WHERE status = 'published' AND ends_at IS NULL
      AND starts_at >= %(last_day)s AND starts_at < %(now_day)s
"""
"""Positions of the published features that went from live to over in ``[last, now)``.

Two range scans of the partial indexes of migration ``0004_filters`` (psycopg
parameters ``last``, ``now`` and their local midnights ``last_day``, ``now_day``).
"""
