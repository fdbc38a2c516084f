"""Addresses of the city's address file, offline: search as you type, and geocoding.

A city's address file (``addresses`` in its ``city.json``; Paris: the 158,048 points of
the Base Adresse Nationale in ``data/cities/paris/adresses-75.csv.gz``) folds into
streets (name and postcode; ~7,600 in Paris), each holding its house numbers. Two uses
of one index, so that the map's search and ``carte import`` agree on where an address
is:

* :meth:`AddressIndex.search`: the map's search box (forgiving, prefix on the last
  word, at most a few hits);
* :meth:`AddressIndex.geocode`: one address line of an imported row to one point, with
  its match quality (``exact``: the number on that street; ``street``: the street
  without that number, at its middle number; ``none``: refused, with the reason).

Searching scans the streets' folded names (lower case, no accents), so a query costs a
fraction of a millisecond per thousand streets and the index needs a few megabytes; it
is built once per process, from the file kept in the checkout. Pure: no web framework,
so the importer (``ingestion`` imports only ``geo``) and the web search share it.

>>> fold("Rue de l'Émile-Zola")
'rue de l emile zola'
"""

from __future__ import annotations

import csv
import gzip
import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from geo.city import City

__all__ = [
    "NO_SHORTCUTS",
    "PREFIX_WORDS",
    "QUALITIES",
    "RULES",
    "STOP_WORDS",
    "STREET_TYPES",
    "AddressIndex",
    "Geocoder",
    "Hit",
    "Match",
    "Query",
    "Shortcuts",
    "address_file",
    "file_sha256",
    "fold",
    "house_lines",
    "load_index",
    "parse_query",
    "ready_index",
    "shortcuts_of",
    "warm",
]

_REP = {"bis": "b", "ter": "t", "quater": "q"}
# A house number and its repetition ("12", "12 bis", "12b"); "10 r de rivoli" is a
# street type, not the repetition letter "r".
_NUMBER = re.compile(r"^\s*(\d+)\s*(bis|ter|quater|(?!r\b)[a-z])?\b[\s,]*", re.IGNORECASE)


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: what search compares.

    Ligatures are spelt out ("Manœuvre" is "manoeuvre"), as people type them.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", bare).split())


class Hit(NamedTuple):
    """One search result."""

    label: str
    lon: float
    lat: float


QUALITIES = ("exact", "street", "none")
"""Match qualities of :meth:`AddressIndex.geocode`, best first."""


class Match(NamedTuple):
    """Where an address line was found.

    ``quality`` is one of :data:`QUALITIES`; the point is ``None`` when not found;
    ``label`` is the address as the file writes it; ``reason`` says why not exact.
    """

    quality: str
    lon: float | None
    lat: float | None
    label: str
    reason: str = ""


# Street types as people abbreviate them (La Poste's and the city's own short forms).
STREET_TYPES = {
    "r": "rue", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
    "blvd": "boulevard", "bvd": "boulevard", "boul": "boulevard", "pl": "place",
    "qu": "quai", "qua": "quai", "imp": "impasse", "all": "allee", "sq": "square",
    "pas": "passage", "pass": "passage", "psg": "passage", "crs": "cours", "ch": "chemin",
    "chem": "chemin", "rte": "route", "vla": "villa", "prom": "promenade", "pte": "porte",
    "fg": "faubourg", "fbg": "faubourg", "st": "saint", "ste": "sainte", "sts": "saints",
    "gal": "general", "gl": "general", "mal": "marechal", "pdt": "president",
    "pr": "professeur", "dr": "docteur", "cdt": "commandant", "hab": "hameau",
    "sen": "sentier", "cite": "cite", "rpt": "rond point", "esp": "esplanade",
    "ct": "cite", "vil": "villa", "che": "chemin", "ham": "hameau",  # the RNA's
}
STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au",
                        "aux"})
_POSTCODE = re.compile(r"^\d{5}$")  # a French postcode: narrows the streets


class Shortcuts(NamedTuple):
    """How residents of a city name its areas in a search, read from its ``city.json``.

    ``aliases``: folded word -> area code (Paris: "75019", "19e", "19eme" -> "75119");
    a bare number ("19") is an alias only right after one of ``city_words`` ("paris
    19"), where it cannot be a house number. ``postcodes``: an area's 5-digit aliases,
    which narrow the address search. ``level_words`` ("arrondissement", "arr") are
    skipped after an alias. Nothing of a city is in the code: a city without aliases
    has none of these shortcuts.
    """

    aliases: Mapping[str, str]
    city_words: frozenset[str]
    postcodes: Mapping[str, frozenset[str]]
    level_words: frozenset[str]

    @classmethod
    def of_city(cls, city: City) -> Shortcuts:
        """The shortcuts of ``city``: its levels' aliases, its names as city words."""
        aliases: dict[str, str] = {}
        postcodes: dict[str, set[str]] = {}
        level_words: set[str] = set()
        for level in city.levels:
            for name in level.names.values():
                level_words.update(fold(name).split())
            for code, words in level.aliases.items():
                for word in words:
                    aliases[fold(word)] = code
                    if _POSTCODE.match(word):
                        postcodes.setdefault(code, set()).add(word)
        if "arrondissement" in level_words:  # how the French abbreviate it
            level_words.update({"arr", "arrdt", "ardt"})
        city_words = {w for name in city.names.values() for w in fold(name).split()}
        return cls(MappingProxyType(aliases), frozenset(city_words | {"france"}),
                   MappingProxyType({k: frozenset(v) for k, v in postcodes.items()}),
                   frozenset(level_words))


_SHORTCUTS: dict[tuple[str, str], Shortcuts] = {}


def shortcuts_of(city: City) -> Shortcuts:
    """:meth:`Shortcuts.of_city`, computed once per city (a search asks at every key)."""
    key = (city.slug, str(city.folder))
    found = _SHORTCUTS.get(key)
    if found is None:
        found = _SHORTCUTS[key] = Shortcuts.of_city(city)
    return found


NO_SHORTCUTS = Shortcuts(MappingProxyType({}), frozenset({"france"}), MappingProxyType({}),
                         frozenset())
# Geocoding reads the street part of a line (:func:`street_part`): the town and country
# are already cut off, so no word is dropped as a city word ("Avenue de France").
_STREET_ONLY = Shortcuts(MappingProxyType({}), frozenset(), MappingProxyType({}),
                         frozenset())
_POSTCODE_IN_LINE = re.compile(r"(?<!\d)\d{5}(?!\d)")


def street_part(address: str) -> tuple[str, str]:
    """The number and street of a one-line postal address, and the postcode written in it.

    A partner writes "12, rue de Reuilly, 75012 Paris, France": what follows the postcode
    (town, country) and the parts after the street's comma are not the street.

    >>> street_part("12, rue de Reuilly, 75012 Paris, France")
    ('12, rue de Reuilly', '75012')
    >>> street_part("150 avenue de France")
    ('150 avenue de France', '')
    """
    m = _NUMBER.match(address)
    start = m.end() if m and len(address) > m.end() else 0
    rest, code = address[start:], ""
    found = _POSTCODE_IN_LINE.search(rest)
    if found:
        code, rest = found.group(0), rest[:found.start()]
    first = rest.split(",")[0]
    return (address[:start] + (first if first.strip() else rest)).strip(), code


# Words that open what comes before the street in an address line: a building, a stair,
# a floor, a flat, a residence ("Bât. B, 12 rue X", "Escalier 3, 5 rue Y"), or where the
# place stands from a door ("face au 118 boulevard de Clichy"), folded.
PREFIX_WORDS = frozenset({
    "bat", "batiment", "bt", "bloc", "esc", "escalier", "etage", "etg", "et", "niveau",
    "niv", "appartement", "appart", "appt", "apt", "app", "porte", "hall", "entree",
    "immeuble", "imm", "tour", "residence", "res", "cour", "bureau", "bureaux", "local",
    "lot", "logement", "log", "chez", "co", "rdc", "box", "face", "oppose", "opposee",
    "devant", "angle", "vis", "pres", "derriere", "cote"})
# Building words that may also close a line after its street ("12 rue X bât. B"); only
# unambiguous ones ("tour", "porte", "cour" name streets).
_SUFFIX_WORDS = frozenset({"bat", "batiment", "esc", "escalier", "etage", "etg", "appt",
                           "apt", "appartement", "residence"})
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2011": "-", "\u2010": "-",
                         "\u2212": "-"})
_REP_TEXT = r"(bis|ter|quater|[a-z](?![a-z]))"
# "12-14", "12/14", "12 à 14", "12 et 14", "12 bis-14" and "10?18" (a dash an export
# could not encode) at the start of a line: a range of house numbers.
_RANGE = re.compile(rf"^\s*(\d+)\s*{_REP_TEXT}?\s*(?:-|/|\?|\bet\b|\bà\b|\ba\b|\bau\b)"
                    rf"\s*(\d+)\s*{_REP_TEXT}?(?=[\s,]|$)", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![\w])\d+")


# A door at the start of a text: number, "bis" or a letter (not "r", the street type), a
# range ("-14", "/14", "à 14"), then the next word (a street type, for :func:`_opens_street`).
_DOOR = re.compile(r"^\d+\s*(?:bis|ter|quater|(?!r\b)[a-z](?![a-z]))?\s*(?:(?:-|/|\?|\bet\b|"
                   r"\bà\b|\ba\b|\bau\b)\s*\d+\s*(?:bis|ter|quater|(?!r\b)[a-z](?![a-z]))?)?"
                   r"[\s,]+([^\s,]+)", re.IGNORECASE)


def _opens_street(text: str) -> bool:
    """Whether ``text`` starts with a door: "12 rue...", "12 bis-14 av...", "3, bd...".

    >>> _opens_street("118 boulevard de Clichy"), _opens_street("3 40 rue de Reuilly")
    (True, False)
    """
    m = _DOOR.match(text)
    if m is None:
        return False
    word = fold(m.group(1))
    return word in _TYPE_WORDS or word in _TYPE_ABBREVIATIONS


def _prefix_dropped(line: str) -> str:
    """``line`` without what comes before its house number and street.

    Leading comma-separated parts that open with a :data:`PREFIX_WORDS` word or name a
    floor ("3e étage") are dropped while a part is left; then a line that does not
    start with a number is read from its first "number street-type" on, when it has one
    ("Bât B 12 rue X", "face au 118 boulevard de Clichy"). A line without such a door
    ("Square du 8 Mai 1945") is left as it is.
    """
    parts = line.split(",")
    while len(parts) > 1:
        words = fold(parts[0]).split()
        if not words or not (words[0] in PREFIX_WORDS or {"etage", "etg"} & set(words)):
            break
        rest = ",".join(parts[1:])  # "Cour des Petites Écuries, 12": a street, kept
        if not any(_opens_street(rest[m.start():]) for m in _DIGITS.finditer(rest)):
            break
        parts = parts[1:]
    line = ",".join(parts).strip()
    if line[:1].isdigit():
        return line
    for m in _DIGITS.finditer(line):
        if _opens_street(line[m.start():]):
            return line[m.start():]
    return line


_LINE_WORD = re.compile(r"[^\s,]+")


def town_dropped(address: str, towns: Iterable[str]) -> str:
    """The line without the town written at its end ("12 rue de Rivoli Paris").

    People write the town after the street, as on a letter; the address file's streets
    hold no town, and without a comma the street reading takes it for a word of the
    street's name. Any of ``towns`` (accents and case aside) and "France" are dropped
    from the end, a postcode among them kept (it narrows the street), but not a town
    that names the street ("rue de Paris"). ``""`` when nothing but the town is left
    ("Paris", "75004 Paris"); the line unchanged when it does not end with a town.

    >>> town_dropped("12 rue de Rivoli Paris 75004 France", ["Paris"])
    '12 rue de Rivoli 75004'
    >>> town_dropped("12 rue de Paris", ["Paris"])
    '12 rue de Paris'
    >>> town_dropped("75004 Paris", ["Paris"])
    ''
    """
    folded = {fold(t) for t in towns if t.strip()} | {"france"}
    kept: list[str] = []
    words = list(_LINE_WORD.finditer(address))
    while words:
        for town in folded:
            k = len(town.split())
            if len(words) >= k and fold(" ".join(m.group() for m in words[-k:])) == town \
                    and (len(words) == k or fold(words[-k - 1].group()) not in STOP_WORDS):
                del words[-k:]
                break
        else:
            if not (words[-1].group().isdigit() and len(words[-1].group()) == 5):
                break
            kept.insert(0, words.pop().group())  # a postcode after the town
    if not words:
        return ""
    return " ".join([address[:words[-1].end()], *kept])


def house_lines(address: str) -> list[str]:
    """The readings of an address line to try, best first.

    Its building, floor or position prefix dropped (:func:`_prefix_dropped`); a range
    of numbers read as its first number, then its last ("12-14 rue W"), each keeping
    its "bis"/"ter"; a trailing building part cut off ("12 rue X bât. B"); the line as
    written last.

    >>> house_lines("Bât. B, 12 rue X")
    ['12 rue X', 'Bât. B, 12 rue X']
    >>> house_lines("Escalier 3, 5 rue Y")[0]
    '5 rue Y'
    >>> house_lines("12 bis-14 rue W")
    ['12 bis rue W', '14 rue W', '12 bis-14 rue W']
    >>> house_lines("face au 40-42 rue Beauregard")[:2]
    ['40 rue Beauregard', '42 rue Beauregard']
    """
    line = _prefix_dropped(address.translate(_DASHES).strip())
    out = [line]
    m = _RANGE.match(line)
    if m:
        rest = line[m.end():].lstrip(" ,")
        first = " ".join(x for x in (m.group(1), m.group(2)) if x)
        last = " ".join(x for x in (m.group(3), m.group(4)) if x)
        out = [f"{first} {rest}", f"{last} {rest}"]
    words = line.split()
    for k, word in enumerate(words[2:], start=2):
        if fold(word) in _SUFFIX_WORDS:
            out.append(" ".join(words[:k]).rstrip(" ,"))
            break
    if address.strip() not in out:  # as written, last: never worse than before
        out.append(address.strip())
    return out


class Query(NamedTuple):
    """What a free-form search says, once folded and taken apart.

    ``words`` are the name's words (street types expanded, "de"/"la" and the city's
    name left out); ``area`` is the code of the area the query names with one of the
    city's :class:`Shortcuts` ("75004", "4e", "paris 4" for Paris's 4th), and
    ``postcodes`` narrow the streets (the area's, or a postcode typed); ``number`` is the
    house number, if any.
    """

    number: str | None
    words: tuple[str, ...]
    last_is_prefix: bool
    postcodes: frozenset[str]
    area: str | None


def parse_query(text: str, shortcuts: Shortcuts = NO_SHORTCUTS) -> Query:
    """Take a free-form query apart ("10, r de Rivoli 75004 Paris").

    Without the city's :class:`Shortcuts`, "Paris" is a word like any other; with
    them, the city's name is left out and "75004" names an area.

    >>> q = parse_query("10, r de Rivoli 75004 Paris")
    >>> q.number, q.words, sorted(q.postcodes)
    ('10', ('rue', 'rivoli', 'paris'), ['75004'])
    """
    number = None
    m = _NUMBER.match(text)
    if m and len(text) > m.end():
        rep = (m.group(2) or "").lower()
        number = m.group(1) + (f" {_REP.get(rep, rep)}" if rep else "")
        text = text[m.end():]
    raw = fold(text).split()
    trailing_space = text[-1:].isspace() or text[-1:] in ",;"
    words: list[str] = []
    postcodes: set[str] = set()
    area = None
    after_city = False
    for i, word in enumerate(raw):
        last = i == len(raw) - 1
        alias = shortcuts.aliases.get(word)
        if alias is not None and (not word.isdigit() or len(word) == 5 or after_city):
            area = alias
        elif _POSTCODE.match(word):
            postcodes.add(word)
        elif word in shortcuts.level_words and area:
            pass
        elif word in shortcuts.city_words:
            after_city = True
            continue
        elif word in STOP_WORDS and not (last and not words):
            pass
        else:
            words.append(word if last and not trailing_space else STREET_TYPES.get(word, word))
        after_city = False
    if area:
        postcodes |= shortcuts.postcodes.get(area, frozenset())
    last_is_prefix = bool(words) and not trailing_space and raw[-1] == words[-1]
    return Query(number, tuple(words), last_is_prefix, frozenset(postcodes), area)


class _Street(NamedTuple):
    folded: str
    tokens: frozenset[str]
    name: str
    postcode: str
    numbers: dict[str, tuple[float, float]]  # "12", "12 bis" -> (lon, lat)


def _core(folded: str) -> str:
    """The name without its type and linking words: "rue de rivoli" -> "rivoli"."""
    words = folded.split()
    if words and words[0] in _TYPE_WORDS:
        words = words[1:]
    while words and words[0] in STOP_WORDS:
        words = words[1:]
    return " ".join(words)


_TYPE_WORDS = frozenset(STREET_TYPES.values()) | {"villa", "cite", "voie", "sentier",
                                                  "hameau", "port", "pont", "galerie"}
# Street-type abbreviations ("r", "av", "bd"), not the other shortened words ("st").
_TYPE_ABBREVIATIONS = frozenset(k for k, v in STREET_TYPES.items() if v in _TYPE_WORDS)


class AddressIndex:
    """Streets and their numbers, searched by folded words."""

    def __init__(self, streets: list[_Street]) -> None:
        self._streets = streets
        # An inverted index: word (street words and the postcode) -> streets holding it;
        # the sorted words let the last, unfinished word match as a prefix by bisection.
        postings: dict[str, set[int]] = {}
        for i, s in enumerate(streets):
            for token in (*s.tokens, s.postcode):
                postings.setdefault(token, set()).add(i)
        self._postings = postings
        self._words = sorted(postings)
        self._postcodes = frozenset(s.postcode for s in streets)
        self._departments = frozenset(code[:2] for code in self._postcodes)

    def __len__(self) -> int:
        return sum(len(s.numbers) for s in self._streets)

    def _prefixed(self, prefix: str) -> set[int]:
        out: set[int] = set()
        for word in self._words[bisect_left(self._words, prefix):]:
            if not word.startswith(prefix):
                break
            out |= self._postings[word]
        return out

    def search(self, query: str, *, limit: int = 8, locality: str = "",
               shortcuts: Shortcuts = NO_SHORTCUTS) -> list[Hit]:
        """Addresses or streets matching a free-form ``query``.

        Forgiving the way people type: "10 rue de rivoli paris", "10 r de rivoli",
        "10, rue de Rivoli 75004", "10 rue rivoli", "rivoli 4e". Every name word of
        the query must be a word of the street (street types abbreviated or not,
        "de"/"la" optional), the last one may be unfinished; a postcode or an area
        named by one of the city's ``shortcuts`` narrows the streets. With a house
        number the door itself is returned, otherwise the street (at its middle
        number). Streets whose name starts with what was typed come first, then shorter
        names.
        """
        q = parse_query(query, shortcuts)
        if not q.words or (len(q.words) == 1 and len(q.words[0]) < 2 and q.last_is_prefix):
            return []
        *full, last = q.words
        if q.last_is_prefix:
            candidates = self._prefixed(last)
            expanded = STREET_TYPES.get(last)
            if expanded:
                candidates |= self._postings.get(expanded, set())
        else:
            candidates = set(self._postings.get(last, set()))
        for w in full:
            candidates &= self._postings.get(w, set())
        typed = " ".join(q.words)
        hits: list[tuple[tuple[int, int, str], Hit]] = []
        for s in (self._streets[i] for i in candidates):
            if q.postcodes and s.postcode not in q.postcodes:
                continue
            plain = " ".join(w for w in s.folded.split() if w not in STOP_WORDS)
            rank = 0 if plain.startswith(typed) else 1 if _core(s.folded).startswith(
                " ".join(w for w in q.words if w not in _TYPE_WORDS)) else 2
            if q.number is not None:
                point = s.numbers.get(q.number)
                if point is None:
                    continue
                shown = q.number.replace(" b", " bis").replace(" t", " ter")
                label = f"{shown} {s.name}, {s.postcode} {locality}".rstrip()
            else:
                keys = sorted(s.numbers, key=_number_key)
                point = s.numbers[keys[len(keys) // 2]]
                label = f"{s.name}, {s.postcode} {locality}".rstrip()
            hits.append(((rank, len(s.folded), label), Hit(label, *point)))
        hits.sort(key=lambda h: h[0])
        return [h for _, h in hits[:limit]]


    def geocode(self, address: str, postcode: str = "", *, locality: str = "") -> Match:
        """The point of one address line ("4 PL de la Nation", "139 rue de Bercy").

        Strict where search is forgiving: every word of the street must be a word of the
        file's street (no prefix), ``postcode`` (or one in the line) narrows the streets;
        among the streets left, the one whose name (without its type) is exactly the
        line's comes first. ``exact``: that street has the number (or its base number
        when "bis"/"ter" is unknown there); ``street``: the street has no such number,
        or the line has none, and the point is the street's middle number; ``none``: no
        street, or several equally good streets that the number cannot tell apart.

        A building, floor or position before the address ("Bât. B, 12 rue X",
        "Escalier 3, 5 rue Y", "face au 3 rue Z") is left out, a range of numbers
        ("12-14 rue W") is tried at its first number then its last, "bis"/"ter" kept
        (:func:`house_lines`); the best reading wins. A postcode of the city's
        department that no street of the file has (a CEDEX, "75706") does not narrow.
        With ``locality`` (the city's name), the town written after the street is left
        out ("12 rue de Rivoli Paris", :func:`town_dropped`), and a line that is only the
        town is not found.
        """
        best: Match | None = None
        lines = house_lines(address.strip())
        if locality:
            bare = town_dropped(address.strip(), [locality])
            if not bare:  # "Paris": no street in it (a word search would find one)
                return Match("none", None, None, "", "only the town, no street")
            if bare != address.strip():  # its readings first, the line as written last
                first = house_lines(bare)
                lines = [*first, *(x for x in lines if x not in first)]
        for line in lines:
            found = self._geocode_line(line, postcode, locality=locality)
            if found.quality == "exact":
                return found
            if best is None or QUALITIES.index(found.quality) < QUALITIES.index(best.quality):
                best = found
        assert best is not None
        return best

    def _geocode_line(self, address: str, postcode: str, *, locality: str) -> Match:
        """:meth:`geocode` of one reading of the line (:func:`house_lines`)."""
        line, written = street_part(address)
        q = parse_query(line + " ", _STREET_ONLY)
        if not q.words:
            return Match("none", None, None, "", "no street name in the address")
        found: set[int] | None = None
        for word in q.words:  # a plural the register drops or adds still matches
            forms = {word, word + "s", word + "x", word[:-1] if word[-1:] in "sx" else word}
            streets_of = set().union(*(self._postings.get(f, set()) for f in forms))
            found = streets_of if found is None else found & streets_of
        postcodes = {postcode.strip()} if postcode.strip() else \
            ({written} if written else set(q.postcodes))
        if postcodes and not postcodes & self._postcodes and \
                {code[:2] for code in postcodes} <= self._departments:
            postcodes = set()  # a CEDEX ("75706"): the city's, but no street's postcode
        streets = [self._streets[i] for i in sorted(found or ())]
        if postcodes:
            streets = [st for st in streets if st.postcode in postcodes]
        where = f" in {', '.join(sorted(postcodes))}" if postcodes else ""
        if not streets:
            return Match("none", None, None, "",
                         f"no street named like {' '.join(q.words)!r}{where}")
        wanted = " ".join(w for w in q.words if w not in _TYPE_WORDS)

        def rank(st: _Street) -> tuple[int, int]:
            core = " ".join(w for w in _core(st.folded).split() if w not in STOP_WORDS)
            return (0 if core == wanted else 1 if core.rstrip("sx") == wanted.rstrip("sx")
                    else 2, len(st.tokens))

        best_rank = min(rank(st) for st in streets)
        best = [st for st in streets if rank(st) == best_rank]
        number = q.number
        if number:  # "034" is 34, "0000" is no number at all
            digits, _, rep = number.partition(" ")
            digits = digits.lstrip("0")
            number = (digits + (f" {rep}" if rep else "")) if digits else None
        base = number.split(" ")[0] if number else None
        if len(best) > 1 and number:
            with_number = [st for st in best if number in st.numbers or base in st.numbers]
            best = with_number or best
        if len({(st.folded, st.postcode) for st in best}) > 1:
            names = sorted({f"{st.name} ({st.postcode})" for st in best})
            return Match("none", None, None, "",
                         f"ambiguous: {len(names)} streets match ({'; '.join(names[:3])})")
        street = best[0]
        town = f", {street.postcode} {locality}".rstrip()
        if number:
            point = street.numbers.get(number) or street.numbers.get(base or "")
            if point is not None:
                shown = number.replace(" b", " bis").replace(" t", " ter")
                return Match("exact", point[0], point[1], f"{shown} {street.name}{town}")
        keys = sorted(street.numbers, key=_number_key)
        lon, lat = street.numbers[keys[len(keys) // 2]]
        reason = f"number {number} not on this street" if number else "no house number"
        return Match("street", lon, lat, f"{street.name}{town}", reason)


def _number_key(number: str) -> tuple[int, str]:
    digits, _, rest = number.partition(" ")
    return (int(digits) if digits.isdigit() else 0, rest)


def _read(path: Path) -> AddressIndex:
    streets: dict[tuple[str, str], _Street] = {}
    opener = gzip.open if path.suffix == ".gz" else open  # a city may ship it plain
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        for row in reader:
            key = (row["nom_voie"], row["code_postal"])
            street = streets.get(key)
            if street is None:
                folded = fold(row["nom_voie"])
                street = streets[key] = _Street(folded, frozenset(folded.split()),
                                                row["nom_voie"], row["code_postal"], {})
            rep = row.get("rep") or ""  # the BAN's "bis"/"ter"; optional in a city's file
            number = row["numero"] + (f" {rep.lower()}" if rep else "")
            street.numbers[number] = (float(row["lon"]), float(row["lat"]))
    return AddressIndex(list(streets.values()))


# path -> (the file's size and modification time when read, its index): a replaced
# address file (the city publishes a new BAN) is read again, not served stale.
_cache: dict[Path, tuple[tuple[int, int], AddressIndex]] = {}
_lock = threading.Lock()


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def address_file(city: City) -> Path | None:
    """The city's address file (``addresses`` of its ``city.json``), ``None`` without one.

    Paris: the BAN file ``data/cities/paris/adresses-75.csv.gz``.
    """
    return city.addresses.file if city.addresses is not None else None


def load_index(path: Path) -> AddressIndex:
    """The index of ``path``, read once per version of the file (later calls reuse it).

    A file replaced since it was read (another size or modification time) is read
    again: a worker that runs for weeks places addresses with the city's new file, as
    the fingerprint its syncs record says (:meth:`Geocoder.fingerprint`).
    """
    signature = _signature(path)
    with _lock:
        got = _cache.get(path)
        if got is None or got[0] != signature:
            got = _cache[path] = (signature or (0, 0), _read(path))
        return got[1]


def ready_index(path: Path) -> AddressIndex | None:
    """The index if it is built, else ``None`` (and its building is started).

    A search never waits the second or so the index takes to build: it answers with
    features and areas meanwhile.
    """
    got = _cache.get(path)
    if got is None or got[0] != _signature(path):
        warm(path)  # the file was replaced: the old index answers until the new is read
    return got[1] if got is not None else None


def warm(path: Path) -> None:
    """Build the index of ``path`` in a background thread, unless it is built or underway."""
    with _lock:
        got = _cache.get(path)
        if (got is not None and got[0] == _signature(path)) or path in _warming:
            return
        _warming.add(path)

    def build() -> None:
        try:
            load_index(path)
        finally:
            _warming.discard(path)

    threading.Thread(target=build, name="address-index", daemon=True).start()


_warming: set[Path] = set()


RULES = 3
"""The version of the geocoder's reading rules, part of :meth:`Geocoder.fingerprint`.

Raise it with any change that may place an address line elsewhere (2: building, floor
and position prefixes, ranges, CEDEX postcodes; 3: the town after the street, a line
that is only the town): the next ``carte sources sync`` of a
source then places its rows located by address again, as after a new address file.
"""
_FINGERPRINTS: dict[tuple[Path, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The SHA-256 of ``path`` (hex), computed once per size and modification time."""
    import hashlib

    st = path.stat()
    key = (path.resolve(), st.st_size, st.st_mtime_ns)
    found = _FINGERPRINTS.get(key)
    if found is None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        found = _FINGERPRINTS[key] = digest.hexdigest()
    return found


class Geocoder:
    """The importer's geocoder: the city's address index, read on first use.

    ``carte import`` and the seed pass one when the city has an address file; a file
    whose rows all have coordinates never reads it (the BAN index takes about a second
    to build).
    """

    def __init__(self, path: Path, *, locality: str = "") -> None:
        self.path, self.locality = Path(path), locality

    def __call__(self, address: str, postcode: str = "") -> Match:
        """:meth:`AddressIndex.geocode` of the city's index."""
        return load_index(self.path).geocode(address, postcode, locality=self.locality)

    def fingerprint(self) -> dict[str, str | int]:
        """What places an address here: the address file's SHA-256 and :data:`RULES`.

        A sync stores it with its run: a later sync whose fingerprint differs knows that
        the rows it placed by address may now lie elsewhere (a new BAN file, new rules).
        """
        return {"file": self.path.name, "sha256": file_sha256(self.path), "rules": RULES}

    @classmethod
    def for_city(cls, city: City) -> Geocoder | None:
        """The city's geocoder, ``None`` when it has no address file."""
        path = address_file(city)
        return None if path is None else cls(path, locality=city.name())
