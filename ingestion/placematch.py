"""One place, one feature: telling when two source rows describe the same place.

The city publishes the same library in its cool-places list, its Wi-Fi list and (through
the BnF) its directory of libraries, each with its own spelling of the name
("BIBLIOTHEQUE GOUTTE D OR", "Bibliothèque Goutte d'Or") and its own point, a few to a
hundred metres apart (the building's centre, its entrance, the Wi-Fi box). The rules
here decide which rows are one place; they are deliberately conservative, since a false
match hides a real place while a missed one only shows a place twice.

Two places of the same *kind* (``library``, ``townhall``, ``mvac``, ``pool``, ``baths``)
match when

1. **number**: town halls and Maisons de la Vie Associative et Citoyenne name their
   arrondissement ("MAIRIE DU 11 EME", "MAIRIE DU 11E"): same number, less than
   :data:`NUMBER_METRES` apart (an annex never matches by number);
2. **name**: they share a significant word of their folded names (generic words such
   as "bibliothèque", "médiathèque", "de", "paris" left out) and lie less than
   :data:`NAME_METRES` apart;
3. **position**: two libraries less than :data:`POSITION_METRES` apart when the
   directory's row is a city library (the city renamed several libraries: "Couronnes"
   is now "Naguib Mahfouz", "Europe" "Jean d'Ormesson"; the directory still has the
   old names at the same address).

Rules are tried in that order and the nearest candidate of the first rule that finds
one wins. Pure functions, no I/O.

>>> name_tokens("BIBLIOTHEQUE GOUTTE D OR") == name_tokens("Bibliothèque Goutte d'Or")
True
>>> place_number("MAIRIE DU 11 EME"), place_number("MAIRIE PARIS CENTRE")
(11, 0)
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "NAME_METRES",
    "NUMBER_METRES",
    "POSITION_METRES",
    "Match",
    "Place",
    "best_match",
    "fold_name",
    "metres",
    "name_tokens",
    "place_number",
]

NAME_METRES = 150.0
NUMBER_METRES = 400.0
POSITION_METRES = 25.0

GENERIC = frozenset([
    "bibliotheque", "bibliotheques", "mediatheque", "mediatheques", "de", "du", "des", "la",
    "le", "les", "d", "l", "et", "en", "a", "au", "aux", "paris", "ville", "municipale",
    "municipal", "arrondissement", "arr", "eme", "er", "e", "mairie", "piscine", "bain",
    "bains", "douche", "douches", "maison", "vie", "associative", "citoyenne", "centre", "the",
    "of", "library", "pour", "tous", "nationale", "national", "france",
])


class Place(NamedTuple):
    """A row of a source, as the matcher sees it."""

    source: str
    ref: str
    name: str
    kind: str
    lon: float
    lat: float
    renamable: bool = False  # a city library: may have been renamed since the source


class Match(NamedTuple):
    """Which place a row was matched to, by which rule, at which distance (m)."""

    place: Place
    rule: str
    metres: float


def fold_name(name: str) -> str:
    """Lower case, no accents, words separated by single spaces."""
    bare = unicodedata.normalize("NFKD", name or "")
    bare = "".join(c for c in bare if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", " ", bare).strip()


def name_tokens(name: str) -> frozenset[str]:
    """The words of a name that tell it apart (three letters or more, not generic)."""
    return frozenset(w for w in fold_name(name).split()
                     if len(w) >= 3 and w not in GENERIC and not w.isdigit())


_NUMBER = re.compile(r"\b(\d{1,2})\s*(?:e|er|eme|ieme)?\b")


def place_number(name: str) -> int | None:
    """The arrondissement a town hall or a MVAC names: 1–20, 0 for "Paris Centre"."""
    folded = fold_name(name)
    if re.search(r"\bcentre\b", folded) and "mairie" in folded:
        return 0
    m = _NUMBER.search(folded)
    if m and 1 <= int(m.group(1)) <= 20:
        return int(m.group(1))
    return None


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


def best_match(row: Place, candidates: Iterable[Place]) -> Match | None:
    """The place ``row`` describes among ``candidates``, or ``None`` (see the rules above)."""
    here = (row.lon, row.lat)
    same_kind = [(metres(here, (c.lon, c.lat)), c) for c in candidates if c.kind == row.kind]
    if not same_kind:
        return None
    found: dict[str, list[tuple[float, Place]]] = {"number": [], "name": [], "position": []}
    number = place_number(row.name) if row.kind in ("townhall", "mvac") else None
    annex = "annexe" in fold_name(row.name)
    tokens = name_tokens(row.name)
    for d, c in same_kind:
        if number is not None and not annex and d < NUMBER_METRES \
                and place_number(c.name) == number and "annexe" not in fold_name(c.name):
            found["number"].append((d, c))
        if d < NAME_METRES and tokens & name_tokens(c.name):
            found["name"].append((d, c))
        if row.kind == "library" and d < POSITION_METRES and (c.renamable or row.renamable):
            found["position"].append((d, c))
    for rule in ("number", "name", "position"):
        if found[rule]:
            d, c = min(found[rule], key=lambda x: x[0])
            return Match(c, rule, d)
    return None
