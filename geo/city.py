"""A city as configuration: the typed value read from ``data/cities/<slug>/city.json``.

Everything that makes the product *Paris* rather than another place — the service area
and its area levels, the projected CRS used for distances and imports, the time zone,
the languages, the centre and bounds of the map, the categories, the seed datasets with
their licences, the basemap sources, the address file of the search, the attribution
lines and the moderators' contact — is one folder of configuration and data.
``CARTE_CITY`` picks the folder (default ``paris``); :func:`load_city` reads it.

Why JSON rather than TOML: every other data file of the product is JSON
(``categories.json``, the boundaries), the field paths :func:`check_city` reports
(``areas.levels[1].code_field``) read the same in the file, and tests write broken
cities with :func:`json.dumps` (the standard library reads TOML but cannot write it).

Paths in ``city.json`` are relative to the city's folder. Reading is pure apart from
the file checks: :func:`check_city` returns every problem at once, field by field, so
that ``carte city check`` can print them all; :func:`load_city` refuses an invalid
city with :class:`~geo.errors.CityConfigError` naming the first few.
"""

from __future__ import annotations

import json
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from .config import data_dir
from .errors import CityConfigError

__all__ = [
    "DEFAULT_CITY",
    "AddressFile",
    "AreaLevel",
    "BasemapSource",
    "Bounds",
    "Centre",
    "City",
    "Contact",
    "Dataset",
    "Geocoding",
    "Problem",
    "ServiceArea",
    "check_city",
    "cities_dir",
    "city_folder",
    "city_slug",
    "load_city",
    "parse_every",
]

DEFAULT_CITY = "paris"
CITY_FILE = "city.json"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Web Mercator, the map's projection, stops at this latitude.
_MAX_LAT = 85.05112878


class Problem(NamedTuple):
    """One thing wrong in a city folder: the field (a path into ``city.json``) and why."""

    field: str
    problem: str


@dataclass(frozen=True)
class Centre:
    """Where the map opens (EPSG:4326) and at which zoom."""

    lon: float
    lat: float
    zoom: int


@dataclass(frozen=True)
class Bounds:
    """The city's extent in EPSG:4326: west, south, east, north."""

    west: float
    south: float
    east: float
    north: float

    def contains(self, lon: float, lat: float) -> bool:
        """Whether ``(lon, lat)`` lies inside (edges included)."""
        return self.west <= lon <= self.east and self.south <= lat <= self.north

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)``, the order of TileJSON and GeoJSON bboxes."""
        return (self.west, self.south, self.east, self.north)


@dataclass(frozen=True)
class ServiceArea:
    """The outline inside which pins are accepted.

    ``dissolve``: the outline is the union of the file's polygons (Paris: the union of
    its 20 arrondissements, so that a point in an arrondissement is always in the city).
    """

    file: Path
    code: str
    dissolve: bool


@dataclass(frozen=True)
class AreaLevel:
    """One level of the city's areas (Paris: arrondissement, then quartier).

    ``public_name`` (default: ``slug``) is the level's property name in open data
    (``arrondissement``, ``quartier``), so that existing consumers keep their columns;
    :mod:`geo.published` derives every output's area fields from it.
    A child level names its ``parent`` level and the property (``parent_field``) whose
    value equals the parent's ``key_field``.
    """

    slug: str
    names: Mapping[str, str]
    file: Path
    code_field: str
    name_field: str
    key_field: str
    parent: str | None
    parent_field: str | None
    expected_count: int
    # The property name of this level in open data (``<public_name>`` holds an area's
    # code, ``<public_name>_name`` its name); Paris keeps ``arrondissement``/``quartier``.
    public_name: str = ""
    # How an area is named on the map and in open data, by its key (Paris: "4e
    # arrondissement" for key 4); an area whose key is not listed takes ``name_field``.
    display_names: Mapping[str, str] = dc_field(
        default_factory=lambda: MappingProxyType({}))
    # What residents type for an area in a search, by the area's code (Paris: "75019",
    # "19e", "19" after "paris" for 75119); :class:`geo.geocode.Shortcuts` reads them.
    aliases: Mapping[str, tuple[str, ...]] = dc_field(
        default_factory=lambda: MappingProxyType({}))
    # The level's word in the plural, by language (Paris: "arrondissements", "quartiers"):
    # what pages say of the level as a whole ("hors des arrondissements"). Optional: a
    # page without it words the sentence with ``names`` (the singular) instead.
    plural_names: Mapping[str, str] = dc_field(default_factory=lambda: MappingProxyType({}))
    # The level's word abbreviated, by language (Paris: "arr."), where space is short: a
    # search result's area name ending with the level's word ("11e arrondissement") is
    # shown with this instead ("11e arr."). Optional, any subset of the languages.
    short_names: Mapping[str, str] = dc_field(default_factory=lambda: MappingProxyType({}))

    def display_name(self, key: str, name: str) -> str:
        """The name an area of key ``key`` is shown under (its file's ``name`` else)."""
        return self.display_names.get(key, name)

    def label(self, language: str, *, plural: bool = False) -> str | None:
        """The level's word in ``language`` (lower case, as configured).

        ``plural=True``: the configured plural, ``None`` when the city gives none (the
        caller words its sentence with the singular then: guessing "+s" would write
        "citys"). A language the city does not offer falls back to its first one (the
        names are listed in the order of the city's languages).
        """
        table = self.plural_names if plural else self.names
        if not table:
            return None if plural else self.slug
        return table.get(language) or next(iter(table.values()))

    def shorten(self, name: str, language: str) -> str:
        """``name`` with the level's trailing word abbreviated ("11e arr."), else as is.

        The area's name is in the city's language, not necessarily the page's: each
        language's word is tried, the page's abbreviation preferred.
        """
        for lang, word in self.names.items():
            short = self.short_names.get(language) or self.short_names.get(lang)
            if short and name.lower().endswith(" " + word.lower()):
                return f"{name[:len(name) - len(word)]}{short}"
        return name


SOURCE_FORMATS = ("geojson", "csv", "ogcapi")
ON_NEW = ("publish", "queue")
DEFAULT_MAX_RETIRE_SHARE = 0.10
DEFAULT_MAX_UNPLACED_SHARE = 0.10
_EVERY = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_EVERY_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Geocoding:
    """How a source's rows are located by their address (``geocode`` of a source).

    A row without coordinates is placed by the city's address file, as ``carte import``
    places one: by default its address is the first of the columns ``address``,
    ``adresse``, ``Adresse``, ``addr``, ``adr`` and its postcode the first of
    ``postcode``, ``code_postal``, ``cp``, ``CP``, ``zip``, ``adrs_codepostal``
    (``"geocode": true``). ``address``/``postcode``: a column name, or a template of
    columns like ``carte import --title`` (``"{numero} {voie}"``).
    ``max_unplaced_share``: a sync whose rows geocoded this time fail for more than this
    share (and at least a few rows) waits for a moderator instead of publishing.
    """

    address: str | None = None
    postcode: str | None = None
    max_unplaced_share: float = DEFAULT_MAX_UNPLACED_SHARE


@dataclass(frozen=True)
class Dataset:
    """A seed dataset or partner source: where it is, under which source name, how synced.

    ``file`` (in the city folder) or ``url`` (http(s): a GeoJSON file, a CSV file or an
    OGC API – Features collection; ``format`` says which when the URL does not) is where
    ``carte sources sync`` reads the source's current rows; a seed has a file, and a
    ``url`` there means "the live dataset this file is a copy of" (sync reads the URL).
    ``on_new``: ``publish`` new rows at once, or ``queue`` them for a moderator.
    ``max_retire_share``: a sync that would retire more than this share of the source's
    rows on the map stops and waits for a moderator (a truncated download must not empty
    the map). ``every_s``: how often ``carte worker`` syncs it (``every``: ``"6h"``,
    ``"1d"``; ``None``: only by hand). ``geocode``: its rows are located by address
    (:class:`Geocoding`); ``None``: the importer's defaults.
    """

    file: Path | None
    source: str
    category: str
    licence: str
    attribution: str
    url: str | None = None
    format: str | None = None
    on_new: str = "publish"
    max_retire_share: float = DEFAULT_MAX_RETIRE_SHARE
    every_s: int | None = None
    geocode: Geocoding | None = None

    @property
    def location(self) -> str:
        """Where a sync reads the source: its URL, else its file."""
        return self.url or str(self.file)


def parse_every(value: str) -> int | None:
    """``"30m"``, ``"6h"``, ``"1d"``, ``"2w"`` as seconds; ``None`` when not of that form."""
    m = _EVERY.match(value or "")
    if not m or int(m.group(1)) < 1:
        return None
    return int(m.group(1)) * _EVERY_UNIT[m.group(2)]


@dataclass(frozen=True)
class BasemapSource:
    """A file the basemap builder reads for one of its layers."""

    layer: str
    file: Path
    licence: str
    attribution: str


@dataclass(frozen=True)
class AddressFile:
    """The address points the search reads (offline: no external geocoder)."""

    file: Path
    licence: str
    attribution: str


@dataclass(frozen=True)
class Contact:
    """Who residents and partners reach about moderation."""

    names: Mapping[str, str]
    email: str


@dataclass(frozen=True)
class City:
    """Everything the product needs to know about one city; see ``data/cities/README.md``."""

    slug: str
    folder: Path
    names: Mapping[str, str]
    languages: tuple[str, ...]
    default_language: str
    time_zone: str
    crs: str
    centre: Centre
    bounds: Bounds
    service_area: ServiceArea
    levels: tuple[AreaLevel, ...]
    categories: Path
    seeds: tuple[Dataset, ...]
    basemap: tuple[BasemapSource, ...]
    addresses: AddressFile | None
    attribution: tuple[str, ...]
    moderators: Contact
    # The extent of the basemap's tiles (``basemap.bbox``): the bounds plus a margin
    # where the streets and rail around the city are worth drawing. ``None``: ``bounds``.
    basemap_bbox: Bounds | None = None
    # Partner sources kept current by ``carte sources sync`` (``sources`` of city.json,
    # same entry schema as ``seeds``; ``file`` or ``url``).
    sources: tuple[Dataset, ...] = ()

    @property
    def synced(self) -> tuple[Dataset, ...]:
        """Every source ``carte sources sync`` knows: the seeds, then the partners."""
        return self.seeds + self.sources

    def source(self, name: str) -> Dataset:
        """The seed or partner source called ``name``; ``KeyError`` when none."""
        for dataset in self.synced:
            if dataset.source == name:
                return dataset
        raise KeyError(name)

    @property
    def basemap_extent(self) -> tuple[float, float, float, float]:
        """West, south, east, north of the basemap's tiles."""
        return (self.basemap_bbox or self.bounds).as_tuple()

    def name(self, language: str | None = None) -> str:
        """The city's name in ``language``, else in its default language."""
        return self.names.get(language or self.default_language) or \
            self.names[self.default_language]

    def level(self, slug: str) -> AreaLevel:
        """The area level called ``slug``; ``KeyError`` when the city has none."""
        for level in self.levels:
            if level.slug == slug:
                return level
        raise KeyError(slug)

    def level_labels(self, language: str) -> tuple[str, ...]:
        """Each level's word in ``language``, first level first.

        Paris: ``("arrondissement", "quartier")``. What pages call the areas, never a
        word written in the code.
        """
        return tuple(level.label(language) or level.slug for level in self.levels)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The city's time zone (bare dates and the forms' local times are in it)."""
        return zoneinfo.ZoneInfo(self.time_zone)


# --- where cities are -----------------------------------------------------------------

def cities_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of city folders: ``<data dir>/cities``."""
    return data_dir(environ) / "cities"


def city_slug(environ: Mapping[str, str] | None = None) -> str:
    """The configured city: ``CARTE_CITY``, default ``paris``."""
    env = os.environ if environ is None else environ
    return (env.get("CARTE_CITY") or "").strip() or DEFAULT_CITY


def city_folder(slug: str, environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the city ``slug``; a slug is never a path (no ``..``, no ``/``)."""
    if not _SLUG.match(slug):
        raise CityConfigError(slug, [("CARTE_CITY", "a city slug is lower-case letters, "
                                      "digits and hyphens, e.g. paris")])
    return cities_dir(environ) / slug


def load_city(slug: str | None = None, *, folder: Path | None = None,
              environ: Mapping[str, str] | None = None, check_files: bool = True) -> City:
    """Read and check a city; ``slug`` defaults to ``CARTE_CITY`` (then ``paris``).

    ``check_files=False`` checks the configuration but not the data files it names (their
    existence, the boundaries' counts, the categories): what a web process needs to start
    (a renamed basemap source must not stop moderation); ``carte city check`` checks all.

    Raises
    ------
    CityConfigError
        The folder is missing or any field is wrong (all problems in ``.problems``).
    """
    if folder is None:
        slug = slug or city_slug(environ)
        folder = city_folder(slug, environ)
    city, problems = check_city(folder, check_files=check_files)
    if city is None:
        raise CityConfigError(slug or folder.name, [tuple(p) for p in problems])
    return city


# --- reading and checking ---------------------------------------------------------------

class _Reader:
    """Reads typed values out of the parsed JSON, recording a problem for each bad field.

    Every getter returns a usable default after recording its problem, so that one pass
    finds every problem of the file, not just the first.
    """

    def __init__(self, folder: Path, *, check_files: bool = True) -> None:
        self.folder = folder
        self.check_files = check_files
        self.problems: list[Problem] = []

    def bad(self, field: str, problem: str) -> None:
        self.problems.append(Problem(field, problem))

    def get(self, obj: Mapping[str, Any], key: str, field: str, kind: type | tuple[type, ...],
            what: str, default: Any, *, optional: bool = False) -> Any:
        if key not in obj or obj[key] is None:
            if not optional:
                self.bad(field, f"missing: expected {what}")
            return default
        value = obj[key]
        # JSON has no separate bool and int, Python does: true is not a count.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else
                                                    (kind,)):
            self.bad(field, f"expected {what}, got {json.dumps(value)}")
            return default
        if not isinstance(value, kind):
            self.bad(field, f"expected {what}, got {json.dumps(value, ensure_ascii=False)}")
            return default
        return value

    def text(self, obj: Mapping[str, Any], key: str, field: str, *,
             optional: bool = False) -> str:
        value = self.get(obj, key, field, str, "a string", "", optional=optional)
        if not optional and isinstance(value, str) and key in obj and not value.strip():
            self.bad(field, "empty: expected a non-empty string")
        return value.strip()

    def number(self, obj: Mapping[str, Any], key: str, field: str) -> float:
        return float(self.get(obj, key, field, (int, float), "a number", 0.0))

    def mapping(self, obj: Mapping[str, Any], key: str, field: str, *,
                optional: bool = False) -> dict[str, Any]:
        return self.get(obj, key, field, dict, "an object", {}, optional=optional)

    def items(self, obj: Mapping[str, Any], key: str, field: str, *,
              optional: bool = False) -> list[Any]:
        return self.get(obj, key, field, list, "a list", [], optional=optional)

    def file(self, obj: Mapping[str, Any], key: str, field: str) -> Path:
        name = self.text(obj, key, field)
        if not name:
            return self.folder
        path = (self.folder / name).resolve()
        if self.check_files and not path.is_file():
            self.bad(field, f"file not found: {name} (resolved to {path})")
        return path

    def names(self, obj: Mapping[str, Any], key: str, field: str,
              languages: tuple[str, ...]) -> Mapping[str, str]:
        raw = self.mapping(obj, key, field)
        out: dict[str, str] = {}
        for language in languages:
            value = raw.get(language)
            if not isinstance(value, str) or not value.strip():
                if raw or key in obj:
                    self.bad(f"{field}.{language}", "missing: a name in every language of "
                             "`languages`")
                continue
            out[language] = value.strip()
        return MappingProxyType(out)


def check_city(folder: Path, *,
               check_files: bool = True) -> tuple[City | None, list[Problem]]:
    """Read ``folder/city.json`` and check it; the city, or ``None`` and every problem.

    Checked: the JSON itself; every field's type; files exist; the CRS is a projected
    CRS pyproj knows whose area of use covers the bounds; the time zone exists; bounds
    are sane and contain the centre; languages include the default one; every level's
    parent exists and comes first; each boundary file holds the expected number of
    features, each with its code field; seed categories exist in the categories file.
    """
    folder = Path(folder)
    path = folder / CITY_FILE
    if not path.is_file():
        return None, [Problem(CITY_FILE, f"not found: {path}")]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [Problem(CITY_FILE, f"not valid JSON: {exc}")]
    if not isinstance(doc, dict):
        return None, [Problem(CITY_FILE, "expected a JSON object")]
    r = _Reader(folder, check_files=check_files)

    slug = r.text(doc, "slug", "slug")
    if slug and not _SLUG.match(slug):
        r.bad("slug", "lower-case letters, digits and hyphens only")
    elif slug and slug != folder.name:
        r.bad("slug", f"{slug!r} differs from the folder's name {folder.name!r}")

    languages = tuple(x for x in r.items(doc, "languages", "languages")
                      if isinstance(x, str))
    for i, language in enumerate(languages):
        if not _LANGUAGE.match(language):
            r.bad(f"languages[{i}]", f"{language!r} is not an ISO 639 code such as fr")
    if len(set(languages)) != len(languages):
        r.bad("languages", "a language is listed twice")
    if "languages" in doc and not languages:
        r.bad("languages", "empty: list at least one language")
    default_language = r.text(doc, "default_language", "default_language")
    if default_language and languages and default_language not in languages:
        r.bad("default_language", f"{default_language!r} is not in languages "
              f"{list(languages)}")
    names = r.names(doc, "names", "names", languages)

    time_zone = r.text(doc, "time_zone", "time_zone")
    if time_zone:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            r.bad("time_zone", f"unknown time zone {time_zone!r} (IANA names such as "
                  "Europe/Paris)")

    bounds = _bounds(r, doc)
    centre = _centre(r, doc, bounds)
    crs = _crs(r, doc, bounds)

    area = r.mapping(doc, "service_area", "service_area")
    service_area = ServiceArea(file=r.file(area, "file", "service_area.file"),
                               code=r.text(area, "code", "service_area.code"),
                               dissolve=bool(r.get(area, "dissolve", "service_area.dissolve",
                                                   bool, "true or false", False,
                                                   optional=True)))
    levels = _levels(r, r.mapping(doc, "areas", "areas"), languages)

    categories = r.file(doc, "categories", "categories")
    category_slugs = _category_slugs(r, categories)
    seeds = _datasets(r, doc, "seeds", categories, category_slugs, need_file=True)
    partners = _datasets(r, doc, "sources", categories, category_slugs, need_file=False)
    fields = [f"seeds[{i}]" for i in range(len(seeds))] + \
        [f"sources[{i}]" for i in range(len(partners))]
    sources = [s.source for s in seeds + partners]
    for i, source in enumerate(sources):
        if source and sources.index(source) != i:
            r.bad(f"{fields[i]}.source", f"{source!r} is used by "
                  f"{fields[sources.index(source)]} too: a source name identifies its rows "
                  "across imports")

    basemap = []
    raw_basemap = r.mapping(doc, "basemap", "basemap", optional=True)
    basemap_bbox = None
    if "bbox" in raw_basemap:
        basemap_bbox = _bounds(r, {"bounds": raw_basemap["bbox"]}, "basemap.bbox")
    for i, raw in enumerate(r.items(raw_basemap, "sources", "basemap.sources",
                                    optional=True)):
        field = f"basemap.sources[{i}]"
        if not isinstance(raw, dict):
            r.bad(field, "expected an object")
            continue
        basemap.append(BasemapSource(layer=r.text(raw, "layer", f"{field}.layer"),
                                     file=r.file(raw, "file", f"{field}.file"),
                                     licence=r.text(raw, "licence", f"{field}.licence"),
                                     attribution=r.text(raw, "attribution",
                                                        f"{field}.attribution")))

    addresses = None
    raw_addresses = r.mapping(doc, "addresses", "addresses", optional=True)
    if raw_addresses:
        addresses = AddressFile(file=r.file(raw_addresses, "file", "addresses.file"),
                                licence=r.text(raw_addresses, "licence", "addresses.licence"),
                                attribution=r.text(raw_addresses, "attribution",
                                                   "addresses.attribution"))

    attribution = []
    for i, line in enumerate(r.items(doc, "attribution", "attribution")):
        if not isinstance(line, str) or not line.strip():
            r.bad(f"attribution[{i}]", "expected a non-empty string")
        else:
            attribution.append(line.strip())

    raw_contact = r.mapping(doc, "moderators", "moderators")
    email = r.text(raw_contact, "email", "moderators.email")
    if email and not _EMAIL.match(email):
        r.bad("moderators.email", f"{email!r} is not an e-mail address")
    contact = Contact(names=r.names(raw_contact, "names", "moderators.names", languages),
                      email=email)

    if r.problems:
        return None, r.problems
    return City(slug=slug, folder=folder.resolve(), names=names, languages=languages,
                default_language=default_language, time_zone=time_zone, crs=crs,
                centre=centre, bounds=bounds, service_area=service_area,
                levels=tuple(levels), categories=categories, seeds=tuple(seeds),
                basemap=tuple(basemap), addresses=addresses,
                attribution=tuple(attribution), moderators=contact,
                basemap_bbox=basemap_bbox, sources=tuple(partners)), []


def _geocoding(r: _Reader, raw: Mapping[str, Any], field: str) -> Geocoding | None:
    """A source's ``geocode``: ``true``, or ``{address, postcode, max_unplaced_share}``."""
    value = raw.get("geocode")
    if value is None or value is False:
        return None
    if value is True:
        return Geocoding()
    if not isinstance(value, dict):
        r.bad(field, "expected true or an object {address, postcode, max_unplaced_share}")
        return None
    unknown = sorted(set(value) - {"address", "postcode", "max_unplaced_share"})
    if unknown:
        r.bad(field, f"unknown key(s) {', '.join(unknown)}: address, postcode, "
              "max_unplaced_share")
    columns = {}
    for key in ("address", "postcode"):
        text = r.text(value, key, f"{field}.{key}", optional=True) or None
        if text is not None and ("{" in text or "}" in text):
            try:
                text.format_map({})
            except KeyError:
                pass  # a column name: the template is fine
            except (ValueError, IndexError):
                r.bad(f"{field}.{key}", f"{text!r}: a column name or a template of "
                      "columns such as \"{numero} {voie}\"")
        columns[key] = text
    share = r.get(value, "max_unplaced_share", f"{field}.max_unplaced_share", (int, float),
                  "a share between 0 and 1", DEFAULT_MAX_UNPLACED_SHARE, optional=True)
    if not 0 <= share <= 1:
        r.bad(f"{field}.max_unplaced_share", f"{share}: a share between 0 and 1 (0.1 is "
              "10 %)")
    return Geocoding(address=columns["address"], postcode=columns["postcode"],
                     max_unplaced_share=float(share))


def _datasets(r: _Reader, doc: Mapping[str, Any], key: str, categories: Path,
              category_slugs: set[str] | None, *, need_file: bool) -> list[Dataset]:
    """The entries of ``seeds`` (a file each) or ``sources`` (a file or a URL each)."""
    out = []
    for i, raw in enumerate(r.items(doc, key, key, optional=True)):
        field = f"{key}[{i}]"
        if not isinstance(raw, dict):
            r.bad(field, "expected an object")
            continue
        url = r.text(raw, "url", f"{field}.url", optional=True) or None
        if url is not None and not url.startswith(("http://", "https://")):
            r.bad(f"{field}.url", f"{url!r}: an http:// or https:// URL")
        path: Path | None = None
        if need_file or "file" in raw or url is None:
            path = r.file(raw, "file", f"{field}.file")
        fmt = r.text(raw, "format", f"{field}.format", optional=True) or None
        if fmt is not None and fmt not in SOURCE_FORMATS:
            r.bad(f"{field}.format", f"{fmt!r}: one of {', '.join(SOURCE_FORMATS)}")
        on_new = r.text(raw, "on_new", f"{field}.on_new", optional=True) or "publish"
        if on_new not in ON_NEW:
            r.bad(f"{field}.on_new", f"{on_new!r}: publish or queue")
        share = r.get(raw, "max_retire_share", f"{field}.max_retire_share", (int, float),
                      "a share between 0 and 1", DEFAULT_MAX_RETIRE_SHARE, optional=True)
        if not 0 <= share <= 1:
            r.bad(f"{field}.max_retire_share", f"{share}: a share between 0 and 1 (0.1 "
                  "is 10 %)")
        every = r.text(raw, "every", f"{field}.every", optional=True)
        every_s = parse_every(every) if every else None
        if every and every_s is None:
            r.bad(f"{field}.every", f"{every!r}: a period such as 30m, 6h, 1d or 1w")
        dataset = Dataset(file=path, source=r.text(raw, "source", f"{field}.source"),
                          category=r.text(raw, "category", f"{field}.category"),
                          licence=r.text(raw, "licence", f"{field}.licence"),
                          attribution=r.text(raw, "attribution", f"{field}.attribution"),
                          url=url, format=fmt, on_new=on_new,
                          max_retire_share=float(share), every_s=every_s,
                          geocode=_geocoding(r, raw, f"{field}.geocode"))
        if dataset.category and category_slugs is not None and \
                dataset.category not in category_slugs:
            r.bad(f"{field}.category", f"no category {dataset.category!r} in "
                  f"{categories.name}")
        out.append(dataset)
    return out


def _bounds(r: _Reader, doc: Mapping[str, Any], field: str = "bounds") -> Bounds:
    raw = r.items(doc, "bounds", field)
    numbers = [x for x in raw if isinstance(x, int | float) and not isinstance(x, bool)]
    if "bounds" in doc and (len(raw) != 4 or len(numbers) != 4):
        r.bad(field, "expected four numbers: west, south, east, north (EPSG:4326)")
        return Bounds(0.0, 0.0, 0.0, 0.0)
    if len(numbers) != 4:
        return Bounds(0.0, 0.0, 0.0, 0.0)
    b = Bounds(*(float(x) for x in numbers))
    if not (-180 <= b.west < b.east <= 180):
        r.bad(field, f"west {b.west} and east {b.east} must satisfy "
              "-180 <= west < east <= 180 (longitude first)")
    if not (-_MAX_LAT <= b.south < b.north <= _MAX_LAT):
        r.bad(field, f"south {b.south} and north {b.north} must satisfy "
              f"-{_MAX_LAT} <= south < north <= {_MAX_LAT}")
    elif b.east - b.west > 10 or b.north - b.south > 10:
        r.bad(field, "more than 10 degrees across: a city, not a country")
    return b


def _centre(r: _Reader, doc: Mapping[str, Any], bounds: Bounds) -> Centre:
    raw = r.mapping(doc, "centre", "centre")
    lon, lat = r.number(raw, "lon", "centre.lon"), r.number(raw, "lat", "centre.lat")
    zoom = r.get(raw, "zoom", "centre.zoom", int, "a zoom level (integer)", 12)
    if isinstance(zoom, int) and not 0 <= zoom <= 19:
        r.bad("centre.zoom", f"{zoom} is not a zoom level between 0 and 19")
    if "lon" in raw and "lat" in raw and "bounds" in doc and bounds.west < bounds.east \
            and not bounds.contains(lon, lat):
        r.bad("centre", f"({lon}, {lat}) is outside bounds {list(bounds.as_tuple())} "
              "(lon, lat order?)")
    return Centre(lon=lon, lat=lat, zoom=zoom)


def _crs(r: _Reader, doc: Mapping[str, Any], bounds: Bounds) -> str:
    name = r.text(doc, "crs", "crs")
    if not name:
        return name
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(name)
    except CRSError:
        r.bad("crs", f"{name!r} is not a CRS pyproj knows (e.g. EPSG:2154)")
        return name
    if not crs.is_projected:
        r.bad("crs", f"{name} ({crs.name}) is not projected: distances and imports need "
              "metres, e.g. EPSG:2154")
        return name
    use = crs.area_of_use
    # pyproj returns finite numbers far outside a CRS's area of use: refuse the mismatch.
    if use is not None and bounds.west < bounds.east and not (
            use.west <= bounds.west and bounds.east <= use.east
            and use.south <= bounds.south and bounds.north <= use.north):
        r.bad("crs", f"{name} ({crs.name}) is meant for {use.name} "
              f"({use.west}, {use.south}, {use.east}, {use.north}), which does not cover "
              "the city's bounds")
    return name


def _levels(r: _Reader, areas: Mapping[str, Any],
            languages: tuple[str, ...]) -> list[AreaLevel]:
    levels: list[AreaLevel] = []
    # Per level: the values of its key field, and of its parent field, as read.
    keys: dict[str, tuple[set[str], set[str]] | None] = {}
    raw_levels = r.items(areas, "levels", "areas.levels")
    if "levels" in areas and not raw_levels:
        r.bad("areas.levels", "empty: a city has at least one level of areas")
    for i, raw in enumerate(raw_levels):
        field = f"areas.levels[{i}]"
        if not isinstance(raw, dict):
            r.bad(field, "expected an object")
            continue
        slug = r.text(raw, "slug", f"{field}.slug")
        if slug and not re.match(r"^[a-z][a-z0-9_]*$", slug):
            r.bad(f"{field}.slug", f"{slug!r}: lower-case letters, digits and _ only (it is a "
                  "column name in open data)")
        if slug and slug in {level.slug for level in levels}:
            r.bad(f"{field}.slug", f"{slug!r} is listed twice")
        parent = r.text(raw, "parent", f"{field}.parent", optional=True) or None
        if parent is not None and parent not in {level.slug for level in levels}:
            r.bad(f"{field}.parent", f"no level {parent!r} before this one (a parent level "
                  "comes first)")
        if parent is None and levels:
            r.bad(f"{field}.parent", f"missing: every level after the first has a parent "
                  f"(e.g. {levels[-1].slug!r})")
        parent_field = r.text(raw, "parent_field", f"{field}.parent_field",
                              optional=parent is None) or None
        count = r.get(raw, "expected_count", f"{field}.expected_count", int,
                      "a count of areas (integer)", 0)
        if isinstance(count, int) and count < 1:
            r.bad(f"{field}.expected_count", f"{count}: a level has at least one area")
        code_field = r.text(raw, "code_field", f"{field}.code_field")
        level = AreaLevel(slug=slug, names=r.names(raw, "names", f"{field}.names", languages),
                          file=r.file(raw, "file", f"{field}.file"), code_field=code_field,
                          name_field=r.text(raw, "name_field", f"{field}.name_field"),
                          key_field=r.text(raw, "key_field", f"{field}.key_field",
                                           optional=True) or code_field,
                          parent=parent, parent_field=parent_field, expected_count=count,
                          display_names=_display_names(r, raw, f"{field}.display_names"),
                          public_name=_public_name(r, raw, f"{field}.public_name") or slug,
                          aliases=_aliases(r, raw, f"{field}.aliases"),
                          plural_names=_optional_names(r, raw, "plural_names", field,
                                                       languages, every=True),
                          short_names=_optional_names(r, raw, "short_names", field,
                                                      languages, every=False))
        keys[slug] = _check_boundaries(r, field, level)
        if parent is not None and parent_field and keys.get(slug) is not None and \
                keys.get(parent) is not None:
            orphans = sorted(keys[slug][1] - keys[parent][0])
            if orphans:
                parent_key = next(lv.key_field for lv in levels if lv.slug == parent)
                r.bad(f"{field}.parent_field", f"{len(orphans)} value(s) of {parent_field!r} "
                      f"match no {parent!r} by its key field {parent_key!r}: {orphans[:5]}")
        levels.append(level)
    return levels


def _optional_names(r: _Reader, raw: Mapping[str, Any], key: str, field: str,
                    languages: tuple[str, ...], *, every: bool) -> Mapping[str, str]:
    """An optional ``{language: word}`` of a level; ``every``: all languages once given.

    A plural is a sentence's word in every language, so a partial one is an error; an
    abbreviation is a nicety, so any subset of the city's languages will do.
    """
    if key not in raw:
        return MappingProxyType({})
    if every:
        return r.names(raw, key, f"{field}.{key}", languages)
    found = r.mapping(raw, key, f"{field}.{key}")
    bad = [k for k, v in found.items()
           if k not in languages or not isinstance(v, str) or not v.strip()]
    if bad:
        r.bad(f"{field}.{key}", f"expected a non-empty word for languages of `languages` "
              f"only, not for {bad[:5]}")
    return MappingProxyType({k: v.strip() for k, v in found.items() if k not in bad})


def _public_name(r: _Reader, raw: Mapping[str, Any], field: str) -> str:
    name = r.text(raw, "public_name", field, optional=True)
    if name and not re.match(r"^[a-z][a-z0-9_]*$", name):
        r.bad(field, f"{name!r}: lower-case letters, digits and _ only (a column name in "
              "open data)")
    return name


def _display_names(r: _Reader, raw: Mapping[str, Any], field: str) -> Mapping[str, str]:
    names = r.mapping(raw, "display_names", field, optional=True)
    bad = [k for k, v in names.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        r.bad(field, f"expected a non-empty name for every key, not for {bad[:5]}")
    return MappingProxyType({str(k): v.strip() for k, v in names.items()
                             if isinstance(v, str) and v.strip()})


def _aliases(r: _Reader, raw: Mapping[str, Any], field: str
             ) -> Mapping[str, tuple[str, ...]]:
    found = r.mapping(raw, "aliases", field, optional=True)
    bad = [k for k, v in found.items()
           if not isinstance(v, list) or not all(isinstance(a, str) and a.strip() for a in v)]
    if bad:
        r.bad(field, f"expected a list of words for every area code, not for {bad[:5]}")
    return MappingProxyType({str(k): tuple(a.strip() for a in v) for k, v in found.items()
                             if k not in bad})


def _check_boundaries(r: _Reader, field: str,
                      level: AreaLevel) -> tuple[set[str], set[str]] | None:
    """The boundary file holds ``expected_count`` features, each with the level's fields.

    Returns the values of the level's key field and of its parent field (as strings: a
    file may write ``12`` where its parent writes ``"12"``), ``None`` when unreadable.
    """
    if not r.check_files or not level.file.is_file() or level.expected_count < 1:
        return None
    try:
        features = json.loads(level.file.read_text(encoding="utf-8"))["features"]
        props = [f.get("properties") or {} for f in features]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        r.bad(f"{field}.file", f"{level.file.name} is not a GeoJSON FeatureCollection")
        return None
    if len(features) != level.expected_count:
        r.bad(f"{field}.expected_count", f"{level.file.name} holds {len(features)} "
              f"features, not {level.expected_count}")
    for key in ("code_field", "name_field", "parent_field"):
        name = getattr(level, key)
        if not name:
            continue
        missing = sum(1 for p in props if p.get(name) in (None, ""))
        if missing:
            r.bad(f"{field}.{key}", f"{missing} of {len(features)} features of "
                  f"{level.file.name} have no property {name!r}")

    def values(name: str | None) -> set[str]:
        return {str(p[name]) for p in props if name and p.get(name) not in (None, "")}

    return values(level.key_field), values(level.parent_field)


def _category_slugs(r: _Reader, path: Path) -> set[str] | None:
    if not r.check_files or not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {c["slug"] for c in doc["categories"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        r.bad("categories", f"{path.name} is not a categories file (a \"categories\" list "
              "of objects with a \"slug\")")
        return None
