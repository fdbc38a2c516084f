"""Opening hours: the common French (and English) ways of writing them, as weekly slots.

Why a parser of our own: the city's exports write hours the way people do
("lun-ven 9h-17h", "tous les jours 10h-22h", "6 h - 22 h", "24 h / 24",
"du lundi au vendredi de 9h à 12h et de 14h à 18h", "Lundi : 10h-19h ; Mardi : fermé",
"06h30 - 07h45 / 11h45 - 19h45"), and the map filters places by day and hour. The
slots have the shape of the ``availability`` field type, so one overlap test serves
volunteer missions and opening hours alike::

    [{"day": "mon", "from": "09:00", "to": "17:00"}, ...]

The parser is deliberately strict: a word it does not know ("Voir fiche équipement",
"sur rendez-vous", "horaires saisonniers") makes the whole text unparsed (``None``), so
a filter never trusts a half-read text. The text itself is always kept by the caller.
A span past midnight ("6 h - 1 h") becomes two slots, the second on the next day.

Pure functions, no I/O.

>>> parse_hours("lun-ven 9h-17h")[0]
{'day': 'mon', 'from': '09:00', 'to': '17:00'}
>>> parse_hours("Voir fiche équipement") is None
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DAYS",
    "Slot",
    "day_columns_hours",
    "format_hours",
    "market_hours",
    "parse_hours",
]

Slot = dict[str, str]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = DAYS[:5]
DAY_NAMES_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

# Every spelling of a day we accept (folded: lower case, no accents, no final dot).
_DAY_WORDS: dict[str, int] = {}
for _i, _words in enumerate((
        ("lundi", "lun", "lu", "monday", "mon", "mo"),
        ("mardi", "mar", "ma", "tuesday", "tue", "tues", "tu"),
        ("mercredi", "mer", "merc", "me", "wednesday", "wed", "we"),
        ("jeudi", "jeu", "je", "thursday", "thu", "thur", "thurs", "th"),
        ("vendredi", "ven", "vend", "ve", "friday", "fri", "fr"),
        ("samedi", "sam", "sa", "saturday", "sat"),
        ("dimanche", "dim", "di", "sunday", "sun", "su"))):
    for _w in _words:
        _DAY_WORDS[_w] = _i
for _w in ("lundis", "mardis", "mercredis", "jeudis", "vendredis", "samedis", "dimanches",
           "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays",
           "sundays"):
    _DAY_WORDS[_w] = _DAY_WORDS[_w[:-1]]

_FILLERS = frozenset({"de", "du", "d", "le", "les", "la", "l", "h", "ouvert", "ouverte",
                      "ouverts", "open", "opened", "horaires", "horaire", "hours", "on",
                      "from", "the", "en", "heures", "inclus", "compris", "y", "et", "and",
                      "puis", "then", "uniquement", "only", "seulement", "non", "stop",
                      "continu", "continue", "sans", "interruption", "nonstop"})
_EXCEPT = frozenset({"sauf", "except", "excepte", "hors"})
_CLOSED = frozenset({"ferme", "fermes", "fermee", "fermees", "fermeture", "closed",
                     "close", "repos"})
_RANGE = frozenset({"-", "a", "au", "to", "till", "until", "jusqu", "jusqua", "through"})
_LIST = frozenset({",", "/", "+", "&", "et", "and"})
_GROUP = frozenset({";", "|", "\n", "."})

_TOKEN = re.compile(r"""
    (?P<always>24\s*h?\s*(?:/|sur)\s*24(?:\s*h)?(?:\s*(?:,|et)?\s*7\s*j?\s*(?:/|sur)\s*7)?
              |24\s*/\s*7|h\s*24|non[\s-]?stop)
  | (?P<everyday>tous\s+les\s+jours|7\s*j(?:ours)?\s*(?:/|sur)\s*7|every\s*day|daily
              |chaque\s+jour)
  | (?P<weekend>week[\s-]?ends?|fins?\s+de\s+semaine)
  | (?P<weekdays>(?:en\s+)?semaine|weekdays?|jours\s+ouvres)
  | (?P<time>(?P<h>\d{1,2})\s*(?:h|:|heures?)\s*(?P<m>\d{2})?\s*(?P<ampm1>am|pm)?
              |(?P<h2>\d{1,2})\s*(?P<ampm2>am|pm)
              |(?P<bare>\d{1,2})(?!\d))
  | (?P<noon>midi|noon)
  | (?P<midnight>minuit|midnight)
  | (?P<word>[a-z]+)\.?
  | (?P<punct>[-,/+&;|\n.:])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212":
        bare = bare.replace(dash, "-")
    return bare.replace("\u2019", "'").replace("'", " ").replace("\u00a0", " ")


@dataclass
class _Group:
    """Days and the times said for them: one "lun-ven 9h-17h" of a longer text."""

    days: set[int] = field(default_factory=set)
    ranges: list[tuple[int, int]] = field(default_factory=list)  # minutes from 0:00
    closed: bool = False


class _Unparsed(Exception):
    """The text holds something the parser does not understand."""


def _minutes(h: int, m: int, ampm: str | None) -> int:
    if ampm:
        if not 1 <= h <= 12:
            raise _Unparsed
        h = h % 12 + (12 if ampm == "pm" else 0)
    if h > 24 or m > 59 or (h == 24 and m):
        raise _Unparsed
    return h * 60 + m


def _tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for m in _TOKEN.finditer(_fold(text)):
        kind = m.lastgroup
        if kind == "space":
            continue
        if kind == "time":
            if m.group("h") is not None:
                value = _minutes(int(m.group("h")), int(m.group("m") or 0), m.group("ampm1"))
            elif m.group("h2") is not None:
                value = _minutes(int(m.group("h2")), 0, m.group("ampm2"))
            else:
                value = _minutes(int(m.group("bare")), 0, None)
            out.append(("time", value))
        elif kind == "noon":
            out.append(("time", 12 * 60))
        elif kind == "midnight":
            out.append(("time", 24 * 60))
        elif kind == "word":
            word = m.group().rstrip(".")
            if word in _DAY_WORDS:
                out.append(("day", _DAY_WORDS[word]))
            elif word in _EXCEPT:
                out.append(("except", None))
            elif word in _CLOSED:
                out.append(("closed", None))
            elif word in _RANGE:
                out.append(("range", None))
            elif word in ("et", "and"):
                out.append(("list", None))
            elif word in _FILLERS:
                continue
            else:
                raise _Unparsed
        elif kind == "punct":
            p = m.group()
            if p == "-":
                out.append(("range", None))
            elif p in _GROUP:
                out.append(("group", None))
            elif p == ":":
                continue
            else:
                out.append(("list", p))
        elif kind == "other":
            raise _Unparsed
        else:
            out.append((kind, None))  # always, everyday, weekend, weekdays
    return out


def _groups(tokens: Sequence[tuple[str, object]]) -> tuple[list[_Group], set[int]]:
    """Read the tokens as groups of (days, times); also the days said to be closed."""
    groups: list[_Group] = []
    cur = _Group()
    excluded: set[int] = set()
    excepting = False
    excepted = 0  # days named since "sauf"
    day_from: int | None = None  # "lun-" waiting for its last day
    time_from: int | None = None  # "9h-" waiting for its end
    last: str | None = None
    last_day: int | None = None

    def push() -> None:
        nonlocal cur
        if cur.days or cur.ranges or cur.closed:
            groups.append(cur)
        cur = _Group()

    def add_days(days: Iterable[int]) -> None:
        nonlocal cur
        nonlocal excepted
        if excepting:
            excluded.update(days)
            excepted += 1
            return
        if cur.ranges or cur.closed:
            push()
        cur.days.update(days)

    for kind, value in tokens:
        if kind == "day":
            assert isinstance(value, int)
            if day_from is not None:
                span = [(day_from + k) % 7 for k in range((value - day_from) % 7 + 1)]
                day_from = None
                add_days(span)
            else:
                add_days([value])
            last_day = value
        elif kind in ("everyday", "weekend", "weekdays"):
            add_days(range(7) if kind == "everyday" else (5, 6) if kind == "weekend"
                     else range(5))
        elif kind == "range":
            if last == "day" and last_day is not None:
                day_from = last_day
            elif last == "time" and time_from is not None:
                pass  # the end comes next
            else:
                raise _Unparsed
        elif kind == "time":
            assert isinstance(value, int)
            if excepting:
                if not excepted:
                    raise _Unparsed  # "sauf 12h-14h": a break, not understood here
                excepting = False  # "tous les jours sauf le lundi 10h-18h"
            if time_from is None:
                time_from = value
            elif last == "range":
                cur.ranges.append((time_from, value))
                time_from = None
            else:
                raise _Unparsed
        elif kind == "always":
            if excepting:
                raise _Unparsed
            cur.ranges.append((0, 24 * 60))
        elif kind == "closed":
            if not cur.ranges and not excepting and (cur.days or not groups):
                cur.closed = True  # "Mardi : fermé", or a day's cell saying "Fermé"
            else:
                excepting, excepted = True, 0
        elif kind == "except":
            excepting, excepted = True, 0
        elif kind == "group":
            if time_from is not None or day_from is not None:
                raise _Unparsed
            push()
            excepting = False
        elif kind == "list":
            if day_from is not None:
                raise _Unparsed
            if value == "/" and time_from is not None and last == "time":
                kind = "range"  # "10h/18h"
        if kind == "time" and last == "time":
            raise _Unparsed
        last = kind
    if time_from is not None or day_from is not None:
        raise _Unparsed
    push()
    return groups, excluded


def _slots(groups: list[_Group], excluded: set[int],
           default_days: Sequence[int]) -> list[Slot]:
    # "9h-17h du lundi au vendredi": times first, then the days they apply to.
    merged: list[_Group] = []
    for g in groups:
        if merged and not merged[-1].days and merged[-1].ranges and g.days \
                and not g.ranges and not g.closed:
            merged[-1].days = g.days
        else:
            merged.append(g)
    found: set[tuple[int, int, int]] = set()
    previous: set[int] = set()
    for g in merged:
        if g.closed:
            previous = set()
            continue
        if not g.ranges:
            raise _Unparsed  # days without times ("le lundi"): nothing to filter on
        # "lundi au vendredi : 10 h - 12 h ; 14 h - 17 h": more times for the same days
        days = g.days or previous or set(default_days)
        previous = days
        for day in days - excluded:
            for start, end in g.ranges:
                if end == 0:
                    end = 24 * 60  # "18h-0h": until midnight
                if start == end:
                    raise _Unparsed
                if start < end:
                    found.add((day, start, end))
                else:  # "6 h - 1 h": into the next morning
                    found.add((day, start, 24 * 60))
                    found.add(((day + 1) % 7, 0, end))
    if not found and not any(g.closed for g in merged):
        raise _Unparsed
    return [{"day": DAYS[d], "from": _hhmm(s), "to": _hhmm(e)} for d, s, e in sorted(found)]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hours(text: str | None, *, days: Sequence[str] = DAYS) -> list[Slot] | None:
    """Weekly slots of an opening-hours text, or ``None`` when it cannot be read.

    Parameters
    ----------
    text
        What the source says ("lun-ven 9h-17h", "24 h / 24", "Mardi : fermé").
    days
        The days a text naming none applies to: every day by default ("6 h - 22 h"),
        one day for a per-day column ("horaires_lundi": "06h30 - 07h45 / 11h45 - 19h45").

    Returns
    -------
    list[dict] | None
        Sorted ``{"day", "from", "to"}`` slots (``to`` may be ``"24:00"``); an empty
        list when the text says closed on every day it names; ``None`` when any part
        of it is not understood.
    """
    if text is None or not text.strip() or len(text) > 500:
        return None
    try:
        groups, excluded = _groups(_tokens(text))
        return _slots(groups, excluded, [DAYS.index(d) for d in days])
    except _Unparsed:
        return None


def _fmt_time(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}" if m else f"{h}h"


def _parse_hhmm(value: str) -> int:
    h, m = value.split(":")
    return int(h) * 60 + int(m)


def format_hours(slots: Iterable[Mapping[str, str]]) -> str:
    """French text of weekly slots, grouping days with the same times.

    >>> format_hours([{"day": d, "from": "09:00", "to": "17:00"} for d in DAYS[:5]])
    'du lundi au vendredi 9h-17h'
    """
    by_day: dict[int, list[tuple[int, int]]] = {}
    for s in slots:
        by_day.setdefault(DAYS.index(s["day"]), []).append(
            (_parse_hhmm(s["from"]), _parse_hhmm(s["to"])))
    runs: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for day in sorted(by_day):
        times = tuple(sorted(set(by_day[day])))
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == times:
            runs[-1] = (runs[-1][0], day, times)
        else:
            runs.append((day, day, times))
    parts = []
    for first, last, times in runs:
        text_times = " et ".join(f"{_fmt_time(a)}-{_fmt_time(b)}" for a, b in times)
        if first == 0 and last == 6:
            days = "tous les jours"
        elif first == last:
            days = DAY_NAMES_FR[first]
        elif last == first + 1:
            days = f"{DAY_NAMES_FR[first]} et {DAY_NAMES_FR[last]}"
        else:
            days = f"du {DAY_NAMES_FR[first]} au {DAY_NAMES_FR[last]}"
        parts.append(f"{days} {text_times}")
    return " ; ".join(parts)


DAY_COLUMNS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def day_columns_hours(values: Mapping[str, str | None]) -> list[Slot] | None:
    """Slots from one text per day (``{"lundi": "06h30 - 07h45 / 11h45 - 19h45", ...}``).

    Keys are French day names (any case, as a suffix: ``horaires_lundi`` works). A day
    whose cell is empty or says closed adds nothing; any cell that cannot be read makes
    the whole week unknown (``None``), and so does a week with no cell at all.
    """
    out: list[Slot] = []
    seen = False
    for key, value in values.items():
        folded = _fold(key)
        day = next((i for i, name in enumerate(DAY_COLUMNS_FR) if folded.endswith(name)),
                   None)
        if day is None or value is None or str(value).strip() in ("", "-", "\u2014"):
            continue
        seen = True
        slots = parse_hours(str(value), days=(DAYS[day],))
        if slots is None:
            return None
        out.extend(slots)
    if not seen:
        return None
    unique = sorted({(DAYS.index(s["day"]), s["from"], s["to"]) for s in out})
    return [{"day": DAYS[d], "from": a, "to": b} for d, a, b in unique]


_MARKET_FLAGS = ("LUNDI", "MARDI", "MERCREDI", "JEUDI", "VENDREDI", "SAMEDI", "DIMANCHE")
_MARKET_TIMES = {"week": ("Heure début en semaine", "Heure fin en semaine"),
                 "sat": ("Heure début le samedi", "Heure fin le samedi"),
                 "sun": ("Heure début le dimanche", "Heure fin le dimanche")}


def market_hours(row: Mapping[str, object]) -> list[Slot] | None:
    """Slots of a row of the city's ``marches-decouverts`` export.

    The ``LUNDI`` … ``DIMANCHE`` 0/1 flags say which days the market is held; the
    weekday hours apply Monday to Friday, the Saturday and Sunday ones to those days.
    ``None`` when no day is flagged or a flagged day has no (readable) hours: a
    market's days without its hours would make "open now" a guess.
    """
    out: list[Slot] = []
    for day, flag in enumerate(_MARKET_FLAGS):
        if str(row.get(flag) or "").strip() != "1":
            continue
        start_col, end_col = _MARKET_TIMES["week" if day < 5 else DAYS[day]]
        start = str(row.get(start_col) or "").strip()
        end = str(row.get(end_col) or "").strip()
        slots = parse_hours(f"{start}-{end}", days=(DAYS[day],)) if start and end else None
        if not slots:
            return None
        out.extend(slots)
    return out or None
