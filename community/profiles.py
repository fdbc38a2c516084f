"""A resident's availability, skills and area, set once and used to match missions.

* **Availability** uses the slot shape of the categories' ``availability`` field type
  (``{"day": "mon".."sun", "from": "HH:MM", "to": "HH:MM"}``), the one the filters and
  missions use; unlike a submission's slots, a resident's may run past midnight (a
  ``to`` not after its ``from``: "Friday 22:00–02:00").
* For matching, slots become the **minutes of the week** they cover (Monday 00:00 = 0,
  10,080 minutes a week): :func:`week_ranges` here, and the SQL function
  ``carte_week_minutes`` (migration ``0014_signups``) for missions, which follow the
  same rule; two sets of slots overlap when their ranges do (``int4multirange &&``,
  answered by a GiST index).
* **Skills** are free tags (lower-cased, trimmed, at most :data:`MAX_SKILLS`).
* **Area**: an area of the city (its id) or a point and a radius in metres; "Missions
  for me" orders by distance from the point (or the area's centre) and keeps only
  missions within the radius when one is given.

Every function works in the caller's transaction.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .errors import InvalidCommunityInput

__all__ = [
    "DAYS",
    "MAX_SKILLS",
    "MAX_SLOTS",
    "WEEK",
    "Profile",
    "clean_skills",
    "clean_slots",
    "get_profile",
    "multirange_literal",
    "save_profile",
    "week_ranges",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 1440
MAX_SLOTS = 28
MAX_SKILLS = 20
MAX_SKILL_LENGTH = 40
RADIUS_RANGE = (100, 50_000)
_FROM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_TO = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


@dataclass(frozen=True)
class Profile:
    """What a resident said once about when, what and where they can help."""

    resident_id: int
    availability: list[dict[str, str]] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    area_id: int | None = None
    area_name: str | None = None
    lon: float | None = None
    lat: float | None = None
    radius_m: int | None = None

    @property
    def empty(self) -> bool:
        """No availability given yet: nothing can be matched."""
        return not self.availability


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def clean_slots(value: Any, *, name: str = "availability") -> list[dict[str, str]]:
    """Check slots ``[{day, from, to}]``; the same list, or :class:`InvalidCommunityInput`.

    A ``to`` not after ``from`` runs past midnight; ``24:00`` ends a day.
    """
    if not isinstance(value, list):
        raise InvalidCommunityInput({name: "a list of {day, from, to} slots"})
    if len(value) > MAX_SLOTS:
        raise InvalidCommunityInput({name: f"at most {MAX_SLOTS} slots"})
    out: list[dict[str, str]] = []
    for i, slot in enumerate(value):
        if not isinstance(slot, Mapping):
            raise InvalidCommunityInput({f"{name}/{i}": "a slot is an object {day, from, to}"})
        day, start, end = slot.get("day"), slot.get("from"), slot.get("to")
        if day not in DAYS:
            raise InvalidCommunityInput({f"{name}/{i}/day": "one of " + ", ".join(DAYS)})
        if not isinstance(start, str) or not _FROM.match(start):
            raise InvalidCommunityInput({f"{name}/{i}/from": "HH:MM (00:00 to 23:59)"})
        if not isinstance(end, str) or not _TO.match(end):
            raise InvalidCommunityInput({f"{name}/{i}/to": "HH:MM (00:01 to 24:00)"})
        item = {"day": str(day), "from": start, "to": end}
        if item not in out:
            out.append(item)
    out.sort(key=lambda s: (DAYS.index(s["day"]), s["from"], s["to"]))
    return out


def week_ranges(slots: Iterable[Mapping[str, str]]) -> list[tuple[int, int]]:
    """The minutes of the week that ``slots`` cover, as sorted, merged ``[start, end)``.

    The rule of the SQL function ``carte_week_minutes`` (a test holds them equal):
    a slot whose end is not after its start runs into the next day, and Sunday night
    wraps to Monday morning. Malformed slots are skipped.
    """
    spans: list[tuple[int, int]] = []
    for slot in slots:
        day, start, end = slot.get("day"), slot.get("from"), slot.get("to")
        if day not in DAYS or not isinstance(start, str) or not isinstance(end, str) \
                or not _FROM.match(start) or not _TO.match(end):
            continue
        base = DAYS.index(day) * 1440
        a, b = base + _minutes(start), base + _minutes(end)
        if b <= a:
            b += 1440
        spans.append((a, min(b, WEEK)))
        if b > WEEK:
            spans.append((0, b - WEEK))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def multirange_literal(ranges: Sequence[tuple[int, int]]) -> str:
    """``ranges`` as a PostgreSQL ``int4multirange`` literal (``{[0,60),[120,180)}``)."""
    return "{" + ",".join(f"[{a},{b})" for a, b in ranges) + "}"


def clean_skills(value: Any) -> list[str]:
    """Skills as tags: a list or a comma-separated string; trimmed, lower-cased, unique."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidCommunityInput({"skills": "a list of words, or words separated by commas"})
    out: list[str] = []
    for raw in value:
        tag = " ".join(unicodedata.normalize("NFC", raw).split()).lower()
        tag = "".join(ch for ch in tag if unicodedata.category(ch)[0] != "C")
        if not tag:
            continue
        if len(tag) > MAX_SKILL_LENGTH:
            raise InvalidCommunityInput({"skills": f"each skill at most {MAX_SKILL_LENGTH} "
                                                   "characters"})
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_SKILLS:
        raise InvalidCommunityInput({"skills": f"at most {MAX_SKILLS} skills"})
    return out


def get_profile(session: Session, resident_id: int) -> Profile:
    """The resident's profile (an empty one if never set)."""
    row = session.execute(text("""
        SELECT p.availability, p.skills, p.area_id, a.name AS area_name,
               ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.radius_m
        FROM resident_profile p LEFT JOIN area a ON a.id = p.area_id
        WHERE p.resident_id = :r"""), {"r": resident_id}).first()
    if row is None:
        return Profile(resident_id=resident_id)
    return Profile(resident_id=resident_id, availability=list(row.availability or []),
                   skills=list(row.skills or []), area_id=row.area_id,
                   area_name=row.area_name, lon=row.lon, lat=row.lat,
                   radius_m=row.radius_m)


def _check_point(lon: Any, lat: Any, radius_m: Any) -> tuple[float, float, int | None]:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidCommunityInput({"point": "longitude and latitude in degrees"}) from None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise InvalidCommunityInput({"point": "longitude -180..180, latitude -90..90"})
    if radius_m in (None, ""):
        return x, y, None
    try:
        r = int(radius_m)
    except (TypeError, ValueError):
        raise InvalidCommunityInput({"radius_m": "a whole number of metres"}) from None
    if not RADIUS_RANGE[0] <= r <= RADIUS_RANGE[1]:
        raise InvalidCommunityInput({"radius_m": f"between {RADIUS_RANGE[0]} and "
                                                 f"{RADIUS_RANGE[1]} metres"})
    return x, y, r


def save_profile(session: Session, resident_id: int, *, availability: Any,
                 skills: Any = None, area_id: int | None = None,
                 lon: Any = None, lat: Any = None, radius_m: Any = None) -> Profile:
    """Check and store the resident's profile (replacing the previous one).

    Raises
    ------
    InvalidCommunityInput
        A slot, skill, area or point that cannot be used (``errors`` names the field).
    """
    slots = clean_slots(availability)
    tags = clean_skills(skills)
    point: tuple[float, float, int | None] | None = None
    if lon not in (None, "") or lat not in (None, ""):
        point = _check_point(lon, lat, radius_m)
    elif radius_m not in (None, ""):
        raise InvalidCommunityInput({"radius_m": "a radius needs a point"})
    if area_id is not None and session.execute(
            text("SELECT 1 FROM area WHERE id = :a"), {"a": area_id}).first() is None:
        raise InvalidCommunityInput({"area": "no such area"})
    session.execute(text("""
        INSERT INTO resident_profile (resident_id, availability, skills, area_id, geom,
                                      radius_m, updated_at)
        VALUES (:r, CAST(:av AS jsonb), :sk, :area,
                CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                     ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END, :rad, now())
        ON CONFLICT (resident_id) DO UPDATE SET
          availability = EXCLUDED.availability, skills = EXCLUDED.skills,
          area_id = EXCLUDED.area_id, geom = EXCLUDED.geom, radius_m = EXCLUDED.radius_m,
          updated_at = now()"""),
        {"r": resident_id, "av": json.dumps(slots), "sk": tags, "area": area_id,
         "lon": point[0] if point else None, "lat": point[1] if point else None,
         "rad": point[2] if point else None})
    return get_profile(session, resident_id)
