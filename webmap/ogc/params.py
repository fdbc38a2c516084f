"""Query parameters of the public feature APIs, parsed and checked as plain values.

Shared by ``/api/v1/features`` and ``/ogc/``. Everything here is pure: strings in,
typed values out, or a :class:`BadParameter` naming the parameter. Nothing that a
client can type reaches SQL unchecked, and nothing a client types can make a 500:
pygeoapi answers 500 to a 3-D bbox, an offset beyond bigint or a non-numeric id, and
200 to a NaN bbox (MEASURED.md); each of those is a 400 here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from geo.types import BBox

from ..errors import WebmapError

__all__ = [
    "BIGINT_MAX",
    "DAYS",
    "BadParameter",
    "Interval",
    "check_known",
    "parse_bbox",
    "parse_choice",
    "parse_datetime",
    "parse_days",
    "parse_feature_id",
    "parse_hours",
    "parse_instant",
    "parse_int",
    "parse_lonlat",
    "parse_slugs",
    "parse_window",
    "single",
]

BIGINT_MAX = 2**63 - 1
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class BadParameter(WebmapError, ValueError):
    """A query parameter is missing, malformed or out of range (answered as 400)."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class Interval(NamedTuple):
    """A closed time interval; ``None`` at either end means open."""

    start: datetime | None
    end: datetime | None


def check_known(args: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse parameters the API does not define, so a typo is not silently ignored.

    OGC API – Features Part 1 requires a 400 for an unknown parameter
    (``/req/core/query-param-unknown``).
    """
    allowed = set(allowed)
    for name in args:
        if name not in allowed:
            raise BadParameter(name, "unknown parameter; known: " + ", ".join(sorted(allowed)))


def _number(name: str, raw: str) -> float:
    raw = raw.strip()
    # float() would also accept "nan", "inf", "1_000" and "١": only plain decimals here.
    if not _NUMBER.match(raw):
        raise BadParameter(name, f"{raw!r} is not a number")
    value = float(raw)
    if not math.isfinite(value):
        raise BadParameter(name, f"{raw!r} is not a finite number")
    return value


def parse_bbox(raw: str | None, *, allow_3d: bool = False, name: str = "bbox") -> BBox | None:
    """``west,south,east,north`` in degrees (EPSG:4326 / CRS84), checked.

    Parameters
    ----------
    raw
        The parameter as received, ``None`` when absent.
    allow_3d
        Accept six numbers ``west,south,zmin,east,north,zmax`` as OGC API – Features
        allows; the heights are checked and then ignored (our points are 2-D).

    Raises
    ------
    BadParameter
        Wrong count, not finite, outside the globe, or inverted.
    """
    if raw is None:
        return None
    parts = raw.split(",")
    counts = (4, 6) if allow_3d else (4,)
    if len(parts) not in counts:
        want = "4 or 6" if allow_3d else "4"
        raise BadParameter(name, f"expected {want} comma-separated numbers "
                                 f"(west,south,east,north), got {len(parts)}")
    values = [_number(name, p) for p in parts]
    if len(values) == 6:
        w, s, zmin, e, n, zmax = values
        if zmin > zmax:
            raise BadParameter(name, "minimum height is above maximum height")
    else:
        w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise BadParameter(name, "longitudes must be between -180 and 180")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        raise BadParameter(name, "latitudes must be between -90 and 90")
    if w > e:
        raise BadParameter(name, "west is greater than east (inverted box)")
    if s > n:
        raise BadParameter(name, "south is greater than north (inverted box)")
    return (w, s, e, n)


def parse_int(raw: str | None, *, name: str, default: int, minimum: int,
              maximum: int) -> int:
    """A bounded decimal integer; out of bounds is an error, not silently clamped."""
    if raw is None:
        return default
    raw = raw.strip()
    if not re.fullmatch(r"\+?\d{1,30}", raw):
        raise BadParameter(name, f"{raw!r} is not a whole number")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise BadParameter(name, f"must be between {minimum} and {maximum}, got {raw}")
    return value


def parse_feature_id(raw: str, *, name: str = "featureId") -> int:
    """A feature id: a positive bigint. Anything else is a 400, never a 500."""
    if not re.fullmatch(r"\d{1,20}", raw):
        raise BadParameter(name, f"{raw[:40]!r} is not a feature id (a positive whole number)")
    value = int(raw)
    if not 1 <= value <= BIGINT_MAX:
        raise BadParameter(name, f"{raw} is out of range")
    return value


def parse_slugs(raw: str | None, *, name: str) -> list[str] | None:
    """A comma-separated list of slugs (``jardin-partage,disco-soupe``)."""
    if raw is None:
        return None
    slugs = [s.strip() for s in raw.split(",")]
    for slug in slugs:
        if not _SLUG.match(slug):
            raise BadParameter(name, f"{slug[:40]!r} is not a valid value "
                                     "(lower-case letters, digits, - and _)")
    return slugs


def _instant(raw: str, name: str, *, end: bool, zone: tzinfo = UTC) -> datetime:
    """One date-time, or a bare date meaning that whole day in ``zone``.

    A date-time without an offset is read in ``zone`` too. Anything Python cannot hold
    once converted to UTC (``9999-12-31T23:59:59-14:00`` is in the year 10000) is a
    400, never an ``OverflowError`` out of a view.
    """
    text = raw.strip()
    if len(text) > 40:
        raise BadParameter(name, "too long to be a date-time")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            # A date alone means the whole day: its end is the last instant of it.
            moment = datetime.combine(day, time(), tzinfo=zone)
            if end:
                moment = (datetime.combine(day, time()) + timedelta(days=1)).replace(
                    tzinfo=zone) - timedelta(microseconds=1)
            return moment.astimezone(UTC)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ][0-9:.,+\-Zz]{2,30}", text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)
    except ValueError as exc:
        raise BadParameter(name, f"{text[:40]!r} is not an RFC 3339 date-time") from exc
    except OverflowError as exc:
        raise BadParameter(name, f"{text!r} is out of the supported range of dates") from exc


def parse_instant(raw: str | None, *, name: str = "at", zone: tzinfo = UTC) -> datetime | None:
    """One RFC 3339 date-time (in ``zone`` when no offset is given)."""
    if raw is None:
        return None
    return _instant(raw, name, end=False, zone=zone)


def parse_window(raw_from: str | None, raw_to: str | None, *, zone: tzinfo
                 ) -> Interval | None:
    """The map's date window ``from``/``to``: date-times, or bare dates in the city's zone.

    A bare ``from`` starts at that day's local midnight; a bare ``to`` ends at the last
    instant of that local day (so ``from=2026-06-13&to=2026-06-14`` is a whole weekend).

    Raises
    ------
    BadParameter
        Malformed, out of range, or ``to`` before ``from`` (named ``to``).
    """
    start = None if raw_from is None else _instant(raw_from, "from", end=False, zone=zone)
    end = None if raw_to is None else _instant(raw_to, "to", end=True, zone=zone)
    if start is None and end is None:
        return None
    if start is not None and end is not None and end < start:
        raise BadParameter("to", "the window ends before it starts (to < from)")
    return Interval(start, end)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day slugs of ``days`` and of the availability / opening-hours slots."""
_HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"
_HOURS = re.compile(rf"({_HHMM})-({_HHMM}|24:00)")


def parse_days(raw: str | None, *, name: str = "days") -> tuple[str, ...] | None:
    """``mon,sat,sun``: days of the week (each once, in week order)."""
    if raw is None:
        return None
    wanted = {d.strip().lower() for d in raw.split(",")}
    unknown = sorted(d for d in wanted if d not in DAYS)
    if unknown:
        raise BadParameter(name, f"{unknown[0][:20]!r} is not a day; days are "
                                 + ",".join(DAYS))
    return tuple(d for d in DAYS if d in wanted)


def parse_hours(raw: str | None, *, name: str = "hours") -> tuple[str, str] | None:
    """``HH:MM-HH:MM`` (24-hour clock, ``24:00`` allowed as the end), start before end."""
    if raw is None:
        return None
    m = _HOURS.fullmatch(raw.strip())
    if m is None:
        raise BadParameter(name, f"{raw[:20]!r} is not HH:MM-HH:MM (e.g. 18:00-21:30)")
    if m[2] <= m[1]:
        raise BadParameter(name, "the end is not after the start (a window within one day)")
    return m[1], m[2]


def parse_lonlat(raw: str | None, *, name: str) -> tuple[float, float] | None:
    """``lon,lat`` in degrees: two finite numbers on the globe."""
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) != 2:
        raise BadParameter(name, "expected lon,lat (two comma-separated numbers)")
    lon, lat = (_number(name, p) for p in parts)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadParameter(name, "lon must be within -180..180 and lat within -90..90")
    return lon, lat


def parse_choice(raw: str | None, *, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of a few fixed words."""
    if raw is None:
        return default
    value = raw.strip()
    if value not in choices:
        raise BadParameter(name, f"must be one of {', '.join(choices)}")
    return value


def parse_datetime(raw: str | None, *, name: str = "datetime") -> Interval | None:
    """OGC ``datetime``: an instant, a date, or an interval ``a/b`` with ``..`` open ends.

    A single date-time is a zero-length interval; a single date is that whole day.
    """
    if raw is None:
        return None
    if "/" not in raw:
        return Interval(_instant(raw, name, end=False), _instant(raw, name, end=True)) \
            if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", raw) else \
            Interval(*([_instant(raw, name, end=False)] * 2))
    parts = raw.split("/")
    if len(parts) != 2:
        raise BadParameter(name, "an interval has exactly one '/'")
    start = None if parts[0].strip() in ("", "..") else _instant(parts[0], name, end=False)
    end = None if parts[1].strip() in ("", "..") else _instant(parts[1], name, end=True)
    if start is None and end is None:
        return None
    if start is not None and end is not None and start > end:
        raise BadParameter(name, "the interval ends before it starts")
    return Interval(start, end)


def single(args: Mapping[str, list[str]], name: str) -> str | None:
    """The one value of a parameter; repeating it is ambiguous, so an error."""
    values = args.get(name) or []
    if len(values) > 1:
        raise BadParameter(name, "given more than once")
    return values[0] if values else None
