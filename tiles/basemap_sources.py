"""The basemap's sources: where they are, their digest, and their rows as map features.

Each reader turns one open-data file into :class:`LayerData` (Web Mercator geometries,
properties, first zoom) using the pure rules of :mod:`tiles.basemap_rules`. Lengths and
areas are measured on the Mercator geometry and scaled by the local scale factor
(``cos φ`` for lengths, ``cos² φ`` for areas): within a city that is exact to a few
parts in ten thousand, and needs no reprojection library.

A source that is missing leaves its layer empty; a city without a ``streets`` source
has no basemap at all (:meth:`BasemapSources.available`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo.city import AreaLevel, City
from geo.tilemath import lonlat_to_mercator, mercator_to_lonlat

from . import basemap_rules as rules
from .errors import TilesError

__all__ = ["BasemapSourceError", "BasemapSources", "LayerData", "derive_idfm", "read_layers"]


class BasemapSourceError(TilesError, ValueError):
    """A basemap source file cannot be read (truncated, not the expected format)."""


@dataclass
class LayerData:
    """One layer's features: geometries (EPSG:3857), properties, first zoom of each."""

    name: str
    geoms: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    props: list[dict[str, Any]] = field(default_factory=list)
    minzoom: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))

    @classmethod
    def of(cls, name: str, rows: Sequence[tuple[Any, dict[str, Any], int]]) -> LayerData:
        """A layer from (geometry in EPSG:3857, properties, first zoom) rows."""
        geoms = np.empty(len(rows), dtype=object)
        geoms[:] = [r[0] for r in rows]
        return cls(name, geoms, [r[1] for r in rows],
                   np.array([r[2] for r in rows], dtype=np.int8))

    def __len__(self) -> int:
        return len(self.props)


@dataclass(frozen=True)
class BasemapSources:
    """The files a city's basemap is built from, one per layer (``None``: not given).

    :meth:`from_city` reads them from the city's ``basemap.sources``; ``boundaries``
    pairs the city's area levels with their files, first level first (Paris: the 20
    arrondissements, then the 80 quartiers administratifs): the level says which
    properties hold each area's code, name and key (``city.json``).
    """

    streets: Path | None = None
    water: Path | None = None
    stations: Path | None = None
    rail: Path | None = None
    parks: Path | None = None
    boundaries: tuple[tuple[AreaLevel, Path], ...] = ()

    @classmethod
    def from_city(cls, city: City) -> BasemapSources:
        """The sources ``city.json`` lists under ``basemap.sources`` (by ``layer``)."""
        by_layer: dict[str, list[Path]] = defaultdict(list)
        for source in city.basemap:
            by_layer[source.layer].append(source.file)
        boundaries = by_layer.get("boundaries", [])

        def first(layer: str) -> Path | None:
            return (by_layer.get(layer) or [None])[0]

        return cls(streets=first("streets"), water=first("water"),
                   stations=first("stations"), rail=first("rail"), parks=first("parks"),
                   boundaries=tuple(zip(city.levels, boundaries, strict=False)))

    def files(self) -> list[Path]:
        """Every source file that exists (the digest covers exactly these)."""
        paths = [self.streets, self.water, self.stations, self.rail, self.parks,
                 *(path for _, path in self.boundaries)]
        return [p for p in paths if _exists(p)]

    def available(self) -> bool:
        """Whether this city has a basemap at all: its streets are the minimum."""
        return _exists(self.streets)

    def digest(self, salt: str = "") -> str:
        """SHA-256 over the name and bytes of every source file, and ``salt``.

        The builder salts it with its version and the build's extent, so a new builder
        or a different bbox rebuilds even when no file changed.
        """
        h = hashlib.sha256(salt.encode())
        for path in self.files():
            h.update(path.name.encode() + b"\0")
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()


# ---------------------------------------------------------------------------- helpers

def _exists(path: Path | None) -> bool:
    return path is not None and path.is_file()


def _to_mercator(geoms: np.ndarray) -> np.ndarray:
    def project(xy: np.ndarray) -> np.ndarray:
        mx, my = lonlat_to_mercator(xy[:, 0], xy[:, 1])
        return np.column_stack([mx, my])
    return shapely.transform(geoms, project)


def _scale(lat_deg: np.ndarray) -> np.ndarray:
    """Mercator's local scale factor ``cos φ``: true metres = Mercator metres × it."""
    return np.cos(np.radians(lat_deg))


def _scale_merc(geoms_merc: Any) -> np.ndarray:
    """``cos φ`` at the centroid of Mercator geometries (true m = Mercator m × it)."""
    _, lat = mercator_to_lonlat(0.0, shapely.get_y(shapely.centroid(geoms_merc)))
    return _scale(lat)


def _lat_of(geoms_lonlat: np.ndarray) -> np.ndarray:
    return shapely.get_y(shapely.centroid(geoms_lonlat))


def _features(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["features"]


def _geometries(features: Sequence[dict[str, Any]]) -> np.ndarray:
    return shapely.from_geojson([json.dumps(f["geometry"]) for f in features])


def _csv_rows(text: io.TextIOBase) -> Iterator[dict[str, str]]:
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # geometries of big parks exceed 128 KiB
    try:
        yield from csv.DictReader(text, delimiter=";")
    finally:
        csv.field_size_limit(limit)


# ---------------------------------------------------------------------------- readers

def read_streets(path: Path) -> LayerData:
    """``voie.csv``: one line per named street, its class from type, name and length."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(_csv_rows(f))
    missing = {"C_DESI", "L_LONGMIN", "Geometry"} - set(rows[0] if rows else ())
    if missing:
        raise ValueError(f"no column {', '.join(sorted(missing))}")
    rows = [r for r in rows if r.get("Geometry")]
    geoms = shapely.from_geojson([r["Geometry"] for r in rows])
    merc = _to_mercator(geoms)
    lengths = shapely.length(merc) * _scale(_lat_of(geoms))
    # Pieces of one street that meet end to end become one line: a longer run for
    # the street's name to be placed along.
    merc = shapely.line_merge(merc)
    out = []
    for g, r, length in zip(merc, rows, lengths, strict=True):
        name = (r.get("L_LONGMIN") or "").strip()
        desi = (r.get("C_DESI") or "").strip().upper()
        cls = rules.street_class(desi, name, float(length))
        out.append((g, {"name": name, "class": cls, "kind": desi},
                    rules.STREET_MINZOOM[cls]))
    # Paths first, the périphérique last: a renderer that draws in feature order puts
    # the main streets on top of the lanes they cross.
    rank = {c: i for i, c in enumerate(reversed(rules.STREET_CLASSES))}
    out.sort(key=lambda row: rank[row[1]["class"]])
    return LayerData.of("streets", out)


def read_water(path: Path) -> LayerData:
    """The waterways' polygons; the Seine is the largest connected body of biefs."""
    feats = _features(path)
    geoms = shapely.make_valid(_geometries(feats))
    classes = [(f["properties"].get("lib_classe") or "") for f in feats]
    merc = _to_mercator(geoms)
    areas = shapely.area(merc) * _scale(_lat_of(geoms)) ** 2
    flowing = [i for i, c in enumerate(classes)
               if "bief" in c or "embranchement" in c]
    river: set[int] = set()
    if flowing:
        # Touching biefs and branches form bodies of water; the biggest is the Seine.
        # Canals are chains of biefs cut by locks (écluses); a big body with no lock
        # near it is the Seine too (the reach beside the Bois de Boulogne is not
        # joined to the rest in this source).
        scale = 1 / float(_scale_merc(shapely.union_all(merc[flowing])))  # Mercator m / m
        body = shapely.union_all(shapely.buffer(merc[flowing], 0.5))
        parts = shapely.get_parts(body)
        biggest = parts[int(np.argmax(shapely.area(parts)))]
        locks = shapely.union_all(merc[[i for i, c in enumerate(classes) if "cluse" in c]])
        for part in parts:
            lockless = shapely.is_empty(locks) or not shapely.dwithin(part, locks,
                                                                      100 * scale)
            if not (part is biggest or shapely.dwithin(part, biggest, 20 * scale)
                    or (lockless and shapely.area(part) >= 200_000 * scale ** 2)):
                continue
            river |= {i for i in flowing if shapely.intersects(part, merc[i])}
    # The source cuts the water along its map sheets: the pieces of one kind are joined
    # (a hair's breadth of buffer closes the seams), so the Seine is one feature a tile,
    # labelled once, and no seam shows between sheets.
    pieces: dict[str, list[Any]] = defaultdict(list)
    for i, (g, c, a) in enumerate(zip(merc, classes, areas, strict=True)):
        if shapely.is_empty(g) or a < 20.0:  # slivers of a few m² (one has no class)
            continue
        pieces[rules.water_kind(c, i in river)].append(g)
    out = []
    for kind, geoms in pieces.items():
        body = shapely.union_all(shapely.buffer(geoms, 0.05, join_style="mitre"))
        for part in shapely.get_parts(body):
            area = float(shapely.area(part) * _scale_merc(part) ** 2)
            out.append((part, {"kind": kind, "name": rules.WATER_NAMES.get(kind, "")},
                        rules.water_minzoom(area)))
    return LayerData.of("water", out)


_PARK_NAME, _PARK_TYPE, _PARK_CAT = "Nom de l'espace vert", "Typologie d'espace vert", "Catégorie"


def read_parks(path: Path) -> LayerData:
    """Green spaces with a polygon (``Geo Shape``); green walls are not ground."""
    with zipfile.ZipFile(path) as z:
        member = next(n for n in z.namelist() if n.endswith(".csv"))
        with z.open(member) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            rows = [r for r in _csv_rows(text)
                    if r.get("Geo Shape") and "mur" not in r.get(_PARK_TYPE, "").lower()]
    geoms = shapely.make_valid(shapely.from_geojson([r["Geo Shape"] for r in rows]))
    merc = _to_mercator(geoms)
    areas = shapely.area(merc) * _scale(_lat_of(geoms)) ** 2
    out = []
    for g, r, a in zip(merc, rows, areas, strict=True):
        g = shapely.get_parts(g)
        polys = [p for p in g if shapely.get_type_id(p) in (3, 6)]
        if not polys or a < 1.0:
            continue
        geom = polys[0] if len(polys) == 1 else shapely.multipolygons(
            [q for p in polys for q in shapely.get_parts(p)])
        out.append((geom, {"name": rules.french_title(r.get(_PARK_NAME) or ""),
                           "kind": r.get(_PARK_TYPE) or "",
                           "category": r.get(_PARK_CAT) or "",
                           "area_m2": round(float(a))},
                    rules.park_minzoom(float(a))))
    # Big parks first: a renderer draws small gardens over the Bois, not under them.
    out.sort(key=lambda row: -row[1]["area_m2"])
    return LayerData.of("parks", out)


def _line_colours(features: Sequence[dict[str, Any]]) -> dict[tuple[str, str], str]:
    colours: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for f in features:
        p = f["properties"]
        ml = rules.rail_line(p.get("mode") or "", p.get("res_com") or "")
        if ml and p.get("colourweb_hexa"):
            colours[ml][rules.rail_colour(ml[0], p["colourweb_hexa"])] += 1
    return {ml: c.most_common(1)[0][0] for ml, c in colours.items()}


def read_rail(path: Path) -> tuple[LayerData, dict[tuple[str, str], str]]:
    """Track lines with mode, line and official colour; also the colour of each line."""
    feats = _features(path)
    colours = _line_colours(feats)
    merc = _to_mercator(_geometries(feats))
    # The source cuts each line into segments between stations: joined here into one
    # feature per line (and tile), so a renderer has fewer features to draw and long
    # runs to place the line's label along.
    segments: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for g, f in zip(merc, feats, strict=True):
        p = f["properties"]
        ml = rules.rail_line(p.get("mode") or "", p.get("res_com") or "")
        if ml is None or shapely.is_empty(g):
            continue
        colour = colours.get(ml) or rules.rail_colour(ml[0], p.get("colourweb_hexa"))
        segments[(*ml, colour)].append(g)
    out = []
    for (mode, line, colour), parts in segments.items():
        merged = shapely.line_merge(shapely.multilinestrings(
            [q for g in parts for q in shapely.get_parts(g)]))
        out.append((merged, {"mode": mode, "line": line, "colour": colour},
                    rules.RAIL_MINZOOM[mode]))
    return LayerData.of("rail", out), colours


def read_stations(path: Path, colours: dict[tuple[str, str], str]) -> LayerData:
    """One point per station (IDFM zone de correspondance), its lines joined."""
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for f in _features(path):
        p = f["properties"]
        groups[p.get("id_ref_zdc") or p.get("nom_gares")].append(f)
    out = []
    for members in groups.values():
        lines = []
        for f in members:
            p = f["properties"]
            ml = rules.rail_line(p.get("mode") or "", p.get("res_com") or "")
            if ml:
                lines.append(ml)
        if not lines:
            continue
        ordered = rules.station_order(lines)
        coords = np.array([f["geometry"]["coordinates"][:2] for f in members], dtype=float)
        lon, lat = coords.mean(axis=0)
        mx, my = lonlat_to_mercator(lon, lat)
        names = Counter((f["properties"].get("nom_gares") or "").strip() for f in members)
        mode, line = ordered[0]
        out.append((shapely.points(float(mx), float(my)),
                    {"name": names.most_common(1)[0][0], "mode": mode,
                     "lines": ", ".join(ln for _, ln in ordered),
                     "colour": colours.get((mode, line), rules.rail_colour(mode, None))},
                    min(rules.STATION_MINZOOM[m] for m, _ in ordered)))
    return LayerData.of("stations", out)


def _label_point(poly: Any) -> Any:
    """A point well inside a polygon, where a label reads as belonging to it.

    The pole of inaccessibility (the inside point furthest from the outline) rather
    than the centroid, which can fall outside a crescent-shaped quartier.
    """
    # maximum_inscribed_circle: a line from the circle's centre to the outline.
    return shapely.get_point(shapely.maximum_inscribed_circle(poly, 1.0), 0)


def _short(level: AreaLevel, name: str) -> str:
    """A label's short form: the name without its level's word ("4e arrondissement": "4e")."""
    for word in level.names.values():
        if name.endswith(" " + word) and len(name) > len(word) + 1:
            return name[:-len(word) - 1]
    return name


def _property(props: dict[str, Any], name: str | None) -> str:
    value = props.get(name) if name else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _minzoom(by_depth: dict[int, int], depth: int) -> int:
    return by_depth.get(depth, by_depth[max(by_depth)])


def read_areas(boundaries: Sequence[tuple[AreaLevel, Path]]) -> tuple[LayerData, LayerData]:
    """Outlines (each shared edge once per level) and label points of the areas.

    ``boundaries``: each level of the city with its file, first level first. A line
    carries its level's slug (``level``: Paris's ``arrondissement``, ``quartier``); a
    label its area's display name (``city.json``'s ``display_names``, else the file's
    name), short form and code.
    """
    lines, places = [], []
    drawn = None  # the upper levels' edges: a deeper level's line is not drawn over them
    for depth, (area_level, path) in enumerate(boundaries, start=1):
        level = area_level.slug
        if path is None or not path.is_file():
            continue
        feats = _features(path)
        merc = _to_mercator(shapely.make_valid(_geometries(feats)))
        edges = shapely.line_merge(shapely.union_all(shapely.boundary(merc)))
        if drawn is not None:
            # The two files trace shared edges with slightly different vertices.
            edges = shapely.line_merge(shapely.difference(edges, shapely.buffer(drawn, 5.0)))
            drawn = shapely.union(drawn, edges)
        else:
            drawn = edges
        for part in shapely.get_parts(edges):
            if part.length < 20.0:  # slivers left by the difference
                continue
            lines.append((part, {"level": level}, _minzoom(rules.BOUNDARY_MINZOOM, depth)))
        for g, f in zip(merc, feats, strict=True):
            p = f["properties"] or {}
            key = _property(p, area_level.key_field)
            name = area_level.display_name(key, _property(p, area_level.name_field))
            places.append((_label_point(g), {"name": name, "short": _short(area_level, name),
                                             "level": level,
                                             "code": _property(p, area_level.code_field)},
                           _minzoom(rules.PLACE_MINZOOM, depth)))
    return LayerData.of("boundaries", lines), LayerData.of("places", places)


_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError,
               csv.Error, zipfile.BadZipFile, shapely.errors.GEOSException)


def _read(path: Path, reader: Any, *args: Any) -> Any:
    """``reader(path, *args)``, its failure turned into an error naming the file."""
    try:
        return reader(path, *args)
    except _UNREADABLE as exc:
        raise BasemapSourceError(f"basemap source {path.name} cannot be read: "
                                 f"{type(exc).__name__}: {exc}") from exc


def read_layers(sources: BasemapSources) -> dict[str, LayerData]:
    """Every layer of the basemap, from the source files that exist.

    Raises
    ------
    BasemapSourceError
        A source exists but cannot be read (truncated, another format): the message
        names the file, so whoever updated ``data/`` knows which one to fix.
    """
    layers = {name: LayerData(name) for name in rules.ordered_layers()}
    assert sources.streets is not None, "read_layers needs sources.available()"
    layers["streets"] = _read(sources.streets, read_streets)
    if sources.water is not None and sources.water.is_file():
        layers["water"] = _read(sources.water, read_water)
    if sources.parks is not None and sources.parks.is_file():
        layers["parks"] = _read(sources.parks, read_parks)
    colours: dict[tuple[str, str], str] = {}
    if sources.rail is not None and sources.rail.is_file():
        layers["rail"], colours = _read(sources.rail, read_rail)
    if sources.stations is not None and sources.stations.is_file():
        layers["stations"] = _read(sources.stations, read_stations, colours)
    try:
        layers["boundaries"], layers["places"] = read_areas(sources.boundaries)
    except _UNREADABLE as exc:
        names = [p.name for _, p in sources.boundaries if p]
        raise BasemapSourceError(f"basemap sources {' / '.join(names)} cannot be read: "
                                 f"{type(exc).__name__}: {exc}") from exc
    return layers


# ---------------------------------------------------------------------------- derived

def derive_idfm(source: Path, target: Path, bbox: tuple[float, float, float, float]) -> int:
    """Keep the features of an IDFM GeoJSON whose geometry intersects ``bbox``.

    How ``data/cities/paris/basemap/*.paris.geojson`` were made from the whole-region files
    (see data/cities/paris/README.md): same properties, same coordinates, compact JSON. Returns the
    number of features kept.
    """
    with open(source, encoding="utf-8") as f:
        collection = json.load(f)
    box = shapely.box(*bbox)
    geoms = _geometries(collection["features"])
    keep = [f for f, g in zip(collection["features"], geoms, strict=True)
            if shapely.intersects(g, box)]
    collection["features"] = keep
    target.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")),
                      encoding="utf-8")
    return len(keep)
