"""The basemap's cartographic rules, pure: which class a street has, what shows at which zoom.

No file is read here and no geometry is touched: every function takes the few values a
source row carries (a street type, a name, a length, an area, a line label) and returns a
decision, so each rule is unit-tested on its own and documented in one place. The
TileJSON ``vector_layers`` descriptions are written from the same tables, so what the
archive says it holds is what the builder selects.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = [
    "BOUNDARY_MINZOOM",
    "LAYER_FIELDS",
    "MAXZOOM",
    "MINZOOM",
    "PLACE_MINZOOM",
    "RAIL_MINZOOM",
    "STATION_MINZOOM",
    "STREET_CLASSES",
    "STREET_MINZOOM",
    "WATER_NAMES",
    "french_title",
    "layer_descriptions",
    "layer_minzoom",
    "park_minzoom",
    "rail_colour",
    "rail_line",
    "simplify_tolerance",
    "station_order",
    "street_class",
    "water_kind",
    "water_minzoom",
]

MINZOOM, MAXZOOM = 11, 16

STREET_CLASSES = ("periph", "major", "medium", "minor", "path")
# The first zoom at which each class is drawn (it stays to MAXZOOM and is overzoomed).
STREET_MINZOOM = {"periph": 11, "major": 11, "medium": 13, "minor": 14, "path": 15}

# Street types (``C_DESI``) by the role they usually play in Paris traffic.
_MAJOR_TYPES = {"BD", "AUT"}  # boulevards, the two motorway stubs
_AXIS_TYPES = {"AV", "QU", "CRS", "PONT"}  # avenues, quais, cours, bridges
# Road tunnels (souterrains): drawn, but never above the streets over them. The routes
# and chaussées of the two bois are long but quiet: the length rule gives them medium.
_TUNNEL_TYPES = {"SOUT"}
_BOIS_TYPES = {"RTE", "CHAU"}
_PATH_TYPES = {
    "PAS", "IMP", "VLA", "SQ", "CITE", "COUR", "PROM", "PRT", "PORT", "ESPL", "GAL",
    "SENT", "SEN", "PASS", "ECH", "HAM", "PARV", "TERR", "RLE", "PTTE", "PER", "BELV",
    "JAR", "GRIL", "PARC", "ARC", "PAPL", "BASS", "VOIE",
}
# Lengths (metres) that lift a street by one class: a long street is a through route
# whatever its legal type (Rue de Rivoli, 3 km, is a major axis; Rue de Vaugirard too).
_MAJOR_LENGTH = 2500.0
_AXIS_MAJOR_LENGTH = 800.0
_MEDIUM_LENGTH = 700.0
_PATH_MINOR_LENGTH = 600.0


def _fold(text: str) -> str:
    """Lower case without accents: names are compared the way people type them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def street_class(desi: str, name: str, length_m: float) -> str:
    """The importance class of a street, from its legal type, its name and its length.

    ``voie.csv`` has no road class (motorway, primary, residential...): ``C_DESI`` is the
    street's legal type. Boulevards and long avenues and quais carry the traffic of
    Paris; a street of any type longer than 2.5 km crosses several quartiers; passages,
    impasses, villas and cités are paths; the routes of the bois are long but quiet
    (medium at most) and road tunnels are drawn below the streets over them (minor).
    The Boulevard Périphérique is one ``BD`` row, recognised by its name, and has a
    class of its own.

    Parameters
    ----------
    desi
        ``C_DESI``, e.g. ``"BD"``, ``"RUE"``, ``"PAS"`` (case and spaces ignored).
    name
        The full name, e.g. ``"Boulevard Périphérique"``.
    length_m
        The street's length in metres.
    """
    desi = desi.strip().upper()
    if "peripherique" in _fold(name):
        return "periph"
    if desi in _TUNNEL_TYPES:
        return "minor"
    if desi in _BOIS_TYPES:
        return "medium" if length_m >= _MEDIUM_LENGTH else "minor"
    if desi in _MAJOR_TYPES or length_m >= _MAJOR_LENGTH:
        return "major"
    if desi in _AXIS_TYPES:
        return "major" if length_m >= _AXIS_MAJOR_LENGTH else "medium"
    if desi in _PATH_TYPES:
        return "minor" if length_m >= _PATH_MINOR_LENGTH else "path"
    if length_m >= _MEDIUM_LENGTH:
        return "medium"
    return "minor"


# Parks: the first zoom by area (m²). Big parks and the two bois are city landmarks.
_PARK_ZOOMS = ((200_000.0, 11), (50_000.0, 12), (10_000.0, 13), (2_500.0, 14),
               (500.0, 15))


def park_minzoom(area_m2: float) -> int:
    """First zoom at which a green space of ``area_m2`` is drawn.

    At z11 a 256-pixel tile is about 13 km wide: a 2,500 m² square would be a fraction
    of a pixel, so small spaces wait for the zooms where they are a visible patch.
    """
    for threshold, zoom in _PARK_ZOOMS:
        if area_m2 >= threshold:
            return zoom
    return MAXZOOM


def water_kind(lib_classe: str | None, in_river: bool) -> str:
    """``river``, ``canal``, ``basin`` or ``lock`` of a ``plan-de-voirie-voies-deau`` row.

    The source's ``lib_classe`` says bief / embranchement / bassin / écluse but not
    which biefs are the Seine: ``in_river`` tells (the builder finds the Seine as the
    largest connected body of biefs and branches).
    """
    text = _fold(lib_classe or "")
    if "ecluse" in text:
        return "lock"
    if "bassin" in text:
        return "basin"
    return "river" if in_river else "canal"


# The name a water polygon carries, by kind: inside Paris every river polygon is the
# Seine; the canals' pieces are not named in the source (left empty).
WATER_NAMES = {"river": "La Seine"}


def water_minzoom(area_m2: float) -> int:
    """Water is drawn from the first zoom, except slivers of a few hundred m²."""
    return MINZOOM if area_m2 >= 1000.0 else 14


# Rail lines and stations, by mode.
RAIL_MINZOOM = {"metro": 11, "rer": 11, "train": 11, "tram": 12}
STATION_MINZOOM = {"rer": 12, "train": 12, "metro": 13, "tram": 14}
_MODES = {"METRO": "metro", "RER": "rer", "TRAMWAY": "tram", "TRAIN": "train", "TER": "train",
          "VAL": "metro", "NAVETTE": "metro"}
_MODE_RANK = {"metro": 0, "rer": 1, "train": 2, "tram": 3}
_FALLBACK_COLOUR = {"metro": "#8C8C8C", "rer": "#8C8C8C", "tram": "#8C8C8C",
                    "train": "#AAAAAA"}
_HEX = re.compile(r"#?([0-9A-Fa-f]{6})")


def rail_line(mode: str, res_com: str) -> tuple[str, str] | None:
    """(mode, line) of an IDFM row, e.g. ``("METRO", "METRO 7")`` → ``("metro", "7")``.

    Line labels are the ones riders read on the signs: ``"7"``, ``"3bis"``, ``"B"``,
    ``"T3a"``, ``"L"``, ``"TER"``. ``None`` for a mode the basemap does not draw.
    """
    kind = _MODES.get(mode.strip().upper())
    if kind is None:
        return None
    label = res_com.strip()
    if label.upper().startswith("FUNICULAIRE"):
        return kind, "Funiculaire"
    if label.upper().startswith("TER"):
        return "train", "TER"
    head, _, tail = label.partition(" ")
    tail = tail.strip() or head
    if kind == "tram":
        return kind, "T" + tail
    return kind, tail


def rail_colour(mode: str, hexa: str | None) -> str:
    """The official web colour as ``#RRGGBB`` (upper case), or a neutral grey."""
    m = _HEX.fullmatch((hexa or "").strip())
    return f"#{m[1].upper()}" if m else _FALLBACK_COLOUR.get(mode, "#8C8C8C")


def _line_key(line: str) -> tuple[int, str]:
    digits = re.match(r"T?(\d+)", line)
    return (int(digits[1]) if digits else 999, line)


def station_order(lines: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A station's (mode, line) pairs in the order a sign lists them, without repeats.

    Metro first (1, 2, ... 14), then RER, trains and trams: the first one gives the
    station's ``mode`` and ``colour``.
    """
    unique = set(lines)
    return sorted(unique, key=lambda ml: (_MODE_RANK.get(ml[0], 9), *_line_key(ml[1])))


# Administrative outlines and their label points.
# By depth (1: the city's first level of areas); deeper levels than listed take the last.
BOUNDARY_MINZOOM = {1: 11, 2: 13, 3: 14}
PLACE_MINZOOM = {1: 11, 2: 13, 3: 14}

_SMALL_WORDS = {"de", "du", "des", "la", "le", "les", "et", "a", "au", "aux", "en", "sur",
                "sous", "l", "d"}


def french_title(text: str) -> str:
    """Title case for the upper-case names of ``espaces_verts``, French style.

    ``"JARDIN DE L'HOTEL DE SENS"`` → ``"Jardin de l'Hotel de Sens"``: articles and
    prepositions stay lower case except at the start (accents the source dropped are not
    guessed back).
    """
    words = re.split(r"(\s+|-|')", text.strip().lower())
    out: list[str] = []
    first = True
    for word in words:
        if not word or not word.strip() or word in ("-", "'"):
            out.append(word)
            continue
        if first or _fold(word) not in _SMALL_WORDS:
            word = word[:1].upper() + word[1:]
        first = False
        out.append(word)
    return "".join(out)


def simplify_tolerance(zoom: int, units: float = 1.0) -> float:
    """Douglas-Peucker tolerance in Web Mercator metres: ``units`` of a 4096 tile at ``zoom``.

    One extent unit is the resolution the tile is quantised to anyway, so simplifying to
    it costs nothing visible and drops most vertices at low zooms.
    """
    tile_m = 2 * 20037508.342789244 / (1 << zoom)
    return units * tile_m / 4096


# The properties of each layer, as TileJSON ``vector_layers[].fields`` says them.
LAYER_FIELDS: dict[str, dict[str, str]] = {
    "water": {"kind": "String", "name": "String"},
    "parks": {"name": "String", "kind": "String", "category": "String", "area_m2": "Number"},
    "boundaries": {"level": "String"},
    "places": {"name": "String", "short": "String", "level": "String", "code": "String"},
    "streets": {"name": "String", "class": "String", "kind": "String"},
    "rail": {"mode": "String", "line": "String", "colour": "String"},
    "stations": {"name": "String", "mode": "String", "lines": "String", "colour": "String"},
}


def layer_descriptions() -> dict[str, str]:
    """What each layer holds and from which zoom, written from the tables above."""
    streets = "; ".join(f"{c} from z{z}" for c, z in STREET_MINZOOM.items())
    parks = ", ".join(f">= {int(a):,} m² from z{z}" for a, z in _PARK_ZOOMS)
    rail = ", ".join(f"{m} from z{z}" for m, z in RAIL_MINZOOM.items())
    stations = ", ".join(f"{m} from z{z}" for m, z in STATION_MINZOOM.items())
    return {
        "water": "The Seine, canals, basins and locks (Ville de Paris plan de voirie), "
                 "pieces of one kind joined; kind river|canal|basin|lock, name "
                 "'La Seine' on the river (empty otherwise); from z11, bodies under "
                 "1,000 m² from z14.",
        "parks": "Green spaces of espaces_verts (green walls left out); kind is the "
                 f"typology, category the source category; {parks}, the rest from z16.",
        "boundaries": "Outlines, each edge once: level arrondissement from z11, quartier "
                      "(the edges inside an arrondissement) from z13.",
        "places": "Label points inside each area (pole of inaccessibility): "
                  "arrondissements from z11 (name '4e arrondissement', short '4e'), "
                  "quartiers from z13 (short = name); code is the INSEE code.",
        "streets": "Every named street of Paris (Ville de Paris voie), name = full "
                   "official name, kind = street type (C_DESI), class from type, name and "
                   f"length: {streets}.",
        "rail": "IDFM rail tracks with their official line colour: " + rail + ".",
        "stations": "IDFM stations, one point per station (lines joined, metro first): "
                    + stations + ".",
    }


def layer_minzoom() -> dict[str, int]:
    """The first zoom at which each layer holds anything (TileJSON ``vector_layers``)."""
    return {
        "water": MINZOOM,
        "parks": min(z for _, z in _PARK_ZOOMS),
        "boundaries": min(BOUNDARY_MINZOOM.values()),
        "places": min(PLACE_MINZOOM.values()),
        "streets": min(STREET_MINZOOM.values()),
        "rail": min(RAIL_MINZOOM.values()),
        "stations": min(STATION_MINZOOM.values()),
    }


def ordered_layers() -> Sequence[str]:
    """Layer order in a tile: drawn bottom to top by a renderer that keeps it."""
    return ("water", "parks", "boundaries", "streets", "rail", "stations", "places")
