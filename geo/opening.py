"""Open now? Opening hours as weekly slots, read at a moment of the city's clock.

A place's ``attributes.hours`` are weekly slots ``{"day": "mon".."sun", "from": "HH:MM",
"to": "HH:MM"}`` (``to`` may be ``"24:00"``; a span past midnight is two slots, the
second on the next day). The questions residents ask of them: is it open at this
moment, until when (a slot that runs to midnight and one that starts at midnight the
next day are one opening), and if closed, when does it open again; and for a walk,
is it open at some time of a window. The map page asks the same in JavaScript
(``webmap/static/map/services.js``), with the same rules.

Times are local wall-clock times of the city (``datetime`` with the city's tzinfo):
the slots are written in local time, so a daylight-saving change needs nothing here.
Pure functions, no I/O.

>>> from datetime import datetime
>>> slots = [{"day": "mon", "from": "09:00", "to": "19:00"}]
>>> state = open_state(slots, datetime(2026, 12, 7, 10, 0))  # a Monday
>>> state.is_open, state.until
(True, datetime.datetime(2026, 12, 7, 19, 0))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

__all__ = ["DAYS", "OpenState", "open_during", "open_state", "openings"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60


class OpenState(NamedTuple):
    """Open or not at a moment; ``until`` (when open) or ``opens`` (when closed).

    ``until`` is ``None`` for a place open round the clock, ``opens`` ``None`` for a
    place with no opening in its week.
    """

    is_open: bool
    until: datetime | None = None
    opens: datetime | None = None


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def openings(slots: Iterable[Mapping[str, str]]) -> list[tuple[int, int]]:
    """The week's openings as merged ``[start, end)`` minutes from Monday 00:00.

    Slots that touch (Monday to 24:00, Tuesday from 00:00) become one opening; an
    opening that runs past Sunday midnight continues on Monday (the week wraps).
    """
    spans = sorted((DAYS.index(s["day"]) * 1440 + _minutes(s["from"]),
                    DAYS.index(s["day"]) * 1440 + _minutes(s["to"]))
                   for s in slots if s.get("day") in DAYS and s.get("from") and s.get("to"))
    merged: list[list[int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    if len(merged) > 1 and merged[0][0] == 0 and merged[-1][1] == WEEK:
        first = merged.pop(0)  # Sunday night into Monday morning: one opening
        merged[-1][1] = WEEK + first[1]
    return [(a, b) for a, b in merged]


def _week_minute(at: datetime) -> int:
    return at.weekday() * 1440 + at.hour * 60 + at.minute


def open_state(slots: Sequence[Mapping[str, str]], at: datetime) -> OpenState:
    """Whether the place is open at ``at`` (local time), until when or from when."""
    spans = openings(slots)
    if not spans:
        return OpenState(False)
    if spans == [(0, WEEK)]:
        return OpenState(True)  # round the clock
    now = _week_minute(at)
    base = at.replace(second=0, microsecond=0) - timedelta(minutes=now)  # Monday 00:00
    for a, b in spans:
        for shift in (-WEEK, 0):  # an opening that wrapped past Sunday midnight
            if a + shift <= now < b + shift:
                return OpenState(True, until=base + timedelta(minutes=b + shift))
    nxt = min((a if a > now else a + WEEK) for a, _ in spans)
    return OpenState(False, opens=base + timedelta(minutes=nxt))


def open_during(slots: Sequence[Mapping[str, str]], start: datetime, end: datetime) -> bool:
    """Whether the place is open at some moment of ``[start, end)`` (local times)."""
    if end <= start:
        return open_state(slots, start).is_open
    spans = openings(slots)
    if not spans:
        return False
    s = _week_minute(start)
    e = s + int((end - start).total_seconds() // 60)
    for a, b in spans:
        for shift in range(-WEEK, e + WEEK, WEEK):
            if a + shift < e and s < b + shift:
                return True
    return False
