"""Address search over the Base Adresse Nationale file for Paris, without a geocoder.

The 158,048 address points of ``data/paris/adresses-75.csv.gz`` fold into ~7,600
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

from geo.config import data_dir

__all__ = ["AddressIndex", "Hit", "fold", "load_index", "paris_addresses", "ready_index",
           "warm"]

_REP = {"bis": "b", "ter": "t", "quater": "q"}
_NUMBER = re.compile(r"^\s*(\d+)\s*(bis|ter|quater|[a-z])?\b[\s,]*", re.IGNORECASE)


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


class _Street(NamedTuple):
    folded: str
    tokens: frozenset[str]
    name: str
    postcode: str
    numbers: dict[str, tuple[float, float]]  # "12", "12 bis" -> (lon, lat)


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

    def search(self, query: str, *, limit: int = 8) -> list[Hit]:
        """Addresses or streets matching ``query`` ("12 rue de rivoli", "rivoli 75004").

        Every word of the query must appear in the street name or be its postcode; the
        last word may be a prefix, so results come while typing. With a house number
        the address itself is returned, otherwise the street (at its middle number).
        """
        m = _NUMBER.match(query)
        number = None
        if m and len(query) > m.end():
            rep = (m.group(2) or "").lower()
            number = m.group(1) + (f" {_REP.get(rep, rep)}" if rep else "")
            query = query[m.end():]
        words = fold(query).split()
        if not words or (len(words[-1]) < 2 and len(words) == 1):
            return []
        *full, last = words
        candidates: set[int] = set()
        for word in self._words[bisect_left(self._words, last):]:
            if not word.startswith(last):
                break
            candidates |= self._postings[word]
        for w in full:
            candidates &= self._postings.get(w, set())
        hits: list[tuple[int, Hit]] = []
        for s in (self._streets[i] for i in candidates):
            if number is not None:
                point = s.numbers.get(number)
                if point is None:
                    continue
                shown = number.replace(" b", " bis").replace(" t", " ter")
                hits.append((len(s.folded), Hit(f"{shown} {s.name}, {s.postcode} Paris",
                                                *point)))
            else:
                keys = sorted(s.numbers, key=_number_key)
                lon, lat = s.numbers[keys[len(keys) // 2]]
                hits.append((len(s.folded), Hit(f"{s.name}, {s.postcode} Paris", lon, lat)))
        hits.sort(key=lambda h: (h[0], h[1].label))
        return [h for _, h in hits[:limit]]


def _number_key(number: str) -> tuple[int, str]:
    digits, _, rest = number.partition(" ")
    return (int(digits) if digits.isdigit() else 0, rest)


def _read(path: Path) -> AddressIndex:
    streets: dict[tuple[str, str], _Street] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        for row in reader:
            key = (row["nom_voie"], row["code_postal"])
            street = streets.get(key)
            if street is None:
                folded = fold(row["nom_voie"])
                street = streets[key] = _Street(folded, frozenset(folded.split()),
                                                row["nom_voie"], row["code_postal"], {})
            number = row["numero"] + (f" {row['rep'].lower()}" if row["rep"] else "")
            street.numbers[number] = (float(row["lon"]), float(row["lat"]))
    return AddressIndex(list(streets.values()))


_cache: dict[Path, AddressIndex] = {}
_lock = threading.Lock()


def paris_addresses() -> Path:
    """The BAN file of Paris shipped in ``data/``."""
    return data_dir() / "paris" / "adresses-75.csv.gz"


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
