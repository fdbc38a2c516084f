"""Address search over the Base Adresse Nationale file for Paris, without a geocoder.

The 158,048 address points of ``data/cities/paris/adresses-75.csv.gz`` fold into ~7,600
streets (name and postcode), each holding its house numbers. Searching scans the
streets' folded names (lower case, no accents), so a query costs a fraction of a
millisecond per thousand streets and the index needs a few megabytes; it is built once
per process, on the first search, from the gzip file kept in the checkout.

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
from pathlib import Path
from typing import NamedTuple

from geo.city import City

__all__ = [
    "STOP_WORDS",
    "STREET_TYPES",
    "AddressIndex",
    "Hit",
    "Query",
    "address_file",
    "arrondissement_postcodes",
    "fold",
    "load_index",
    "parse_query",
    "ready_index",
    "warm",
]

_REP = {"bis": "b", "ter": "t", "quater": "q"}
# A house number and its repetition ("12", "12 bis", "12b"); "10 r de rivoli" is a
# street type, not the repetition letter "r".
_NUMBER = re.compile(r"^\s*(\d+)\s*(bis|ter|quater|(?!r\b)[a-z])?\b[\s,]*", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: what search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", bare).split())


class Hit(NamedTuple):
    """One search result."""

    label: str
    lon: float
    lat: float


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
}
STOP_WORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "et", "a", "au",
                        "aux"})
CITY_WORDS = frozenset({"paris", "france"})
_POSTCODE = re.compile(r"^75(0[0-9][0-9]|116)$")
_ORDINAL = re.compile(r"^(\d{1,2})(?:e|er|eme|ieme|em)$")


class Query(NamedTuple):
    """What a free-form search says, once folded and taken apart.

    ``words`` are the name's words (street types expanded, "de"/"la" and "paris"
    left out); ``postcodes`` narrow to an arrondissement when the query names one
    ("75004", "4e", "paris 4"); ``number`` is the house number, if any.
    """

    number: str | None
    words: tuple[str, ...]
    last_is_prefix: bool
    postcodes: frozenset[str]
    arrondissement: int | None


def arrondissement_postcodes(n: int) -> frozenset[str]:
    """Postcodes of arrondissement ``n`` (the 16th has two)."""
    return frozenset({f"750{n:02d}", "75116"} if n == 16 else {f"750{n:02d}"})


def parse_query(text: str) -> Query:
    """Take a free-form query apart ("10, r de Rivoli 75004 Paris").

    >>> parse_query("10, r de Rivoli 75004 Paris").words
    ('rue', 'rivoli')
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
    arrondissement = None
    after_city = False
    for i, word in enumerate(raw):
        last = i == len(raw) - 1
        ordinal = _ORDINAL.match(word)
        if _POSTCODE.match(word):
            arrondissement = 16 if word == "75116" else int(word[3:])
        elif ordinal and 1 <= int(ordinal.group(1)) <= 20:
            arrondissement = int(ordinal.group(1))
        elif after_city and word.isdigit() and 1 <= int(word) <= 20:
            arrondissement = int(word)  # "paris 19"
        elif word in ("arr", "arrdt", "ardt", "arrondissement") and arrondissement:
            pass
        elif word in CITY_WORDS:
            after_city = True
            continue
        elif word in STOP_WORDS and not (last and not words):
            pass
        else:
            words.append(word if last and not trailing_space else STREET_TYPES.get(word, word))
        after_city = False
    if arrondissement:
        postcodes = set(arrondissement_postcodes(arrondissement))
    last_is_prefix = bool(words) and not trailing_space and raw[-1] == words[-1]
    return Query(number, tuple(words), last_is_prefix, frozenset(postcodes), arrondissement)


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

    def __len__(self) -> int:
        return sum(len(s.numbers) for s in self._streets)

    def _prefixed(self, prefix: str) -> set[int]:
        out: set[int] = set()
        for word in self._words[bisect_left(self._words, prefix):]:
            if not word.startswith(prefix):
                break
            out |= self._postings[word]
        return out

    def search(self, query: str, *, limit: int = 8, locality: str = "") -> list[Hit]:
        """Addresses or streets matching a free-form ``query``.

        Forgiving the way people type: "10 rue de rivoli paris", "10 r de rivoli",
        "10, rue de Rivoli 75004", "10 rue rivoli", "rivoli 4e". Every name word of
        the query must be a word of the street (street types abbreviated or not,
        "de"/"la" optional), the last one may be unfinished; a postcode or an
        arrondissement narrows the streets. With a house number the door itself is
        returned, otherwise the street (at its middle number). Streets whose name
        starts with what was typed come first, then shorter names.
        """
        q = parse_query(query)
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


_cache: dict[Path, AddressIndex] = {}
_lock = threading.Lock()


def address_file(city: City) -> Path | None:
    """The city's address file (``addresses`` of its ``city.json``), ``None`` without one.

    Paris: the BAN file ``data/cities/paris/adresses-75.csv.gz``.
    """
    return city.addresses.file if city.addresses is not None else None


def load_index(path: Path) -> AddressIndex:
    """The index of ``path``, read once per process (later calls reuse it)."""
    with _lock:
        index = _cache.get(path)
        if index is None:
            index = _cache[path] = _read(path)
        return index


def ready_index(path: Path) -> AddressIndex | None:
    """The index if it is built, else ``None`` (and its building is started).

    A search never waits the second or so the index takes to build: it answers with
    features and areas meanwhile.
    """
    index = _cache.get(path)
    if index is None:
        warm(path)
    return index


def warm(path: Path) -> None:
    """Build the index of ``path`` in a background thread, unless it is built or underway."""
    with _lock:
        if path in _cache or path in _warming:
            return
        _warming.add(path)

    def build() -> None:
        try:
            load_index(path)
        finally:
            _warming.discard(path)

    threading.Thread(target=build, name="address-index", daemon=True).start()


_warming: set[Path] = set()
