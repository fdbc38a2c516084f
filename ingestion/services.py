"""The city's services from its open data: libraries, pools, town halls, baths, Wi-Fi.

Three Paris files describe overlapping sets of places (sources and licences in
``data/cities/paris/README.md``; how matches are made and counted in
``docs/services.md``):

* ``paris-bibliotheques``: the BnF's directory of libraries (CCFr), Paris rows: name,
  address, phone, website, declared hours, access conditions and an access note;
* ``paris-ilots-fraicheur``: the city's "cool places" list, which holds its pools,
  town halls, bains-douches and 17 libraries with this season's hours per day;
* ``paris-wifi``: the sites with free Paris Wi-Fi (libraries, town halls, MVACs,
  parks, museums) and their number of hotspots.

**One place, one feature.** Each file is imported as its own seed (every row counted,
published or refused with its reason), but a row that describes a place another file
already publishes is refused as ``merged`` and what it adds goes into that place's
feature: the cool-places list's hours (the city's own, more recent than the
directory's) and its name (the directory keeps old names of renamed libraries, kept in
``other_names``); the Wi-Fi list's hotspots (``wifi``, ``wifi_hotspots``). The order of
precedence: the directory of libraries, then the cool places, then Wi-Fi. The merged
feature lists every source that describes it in ``attributes.sources`` and carries
every source's credit in its ``attribution`` (:func:`apply_credits`, run after the
seed imports). The matching rules are :mod:`ingestion.placematch`.

What is carried of access and hours: the directory's access note is kept as text
(``access_note``) and becomes ``step_free_access`` only when it says so without a
"with help" or "partial" (:func:`access_from_note`); hours become
``attributes.hours`` slots where they parse (:mod:`ingestion.hours`) beside the text,
always kept in ``opening_hours``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.city import City, city_slug, load_city
from geo.models import ModerationAction
from geo.publish import revise_feature

from .hours import day_columns_hours, parse_hours
from .mapping import Mapped, RefuseRow
from .placematch import Match, Place, best_match, fold_name, metres, place_number
from .readers import SourceRow, open_source

__all__ = [
    "SERVICE_MAPPERS",
    "SERVICE_SOURCES",
    "SOURCE_COOL",
    "SOURCE_LIBRARIES",
    "SOURCE_WIFI",
    "ServiceIndex",
    "access_from_note",
    "apply_credits",
    "build_index",
    "cool_row",
    "library_row",
    "wifi_row",
]

SOURCE_LIBRARIES = "paris-bibliotheques"
SOURCE_COOL = "paris-ilots-fraicheur"
SOURCE_WIFI = "paris-wifi"
SERVICE_SOURCES = (SOURCE_LIBRARIES, SOURCE_COOL, SOURCE_WIFI)

# The cool-places types that are services a resident looks for, and their category.
COOL_TYPES = {"Piscine": "piscine", "Baignade extérieure": "piscine",
              "Bibliothèque": "bibliotheque", "Bains-douches": "bains-douches",
              "Mairie d'arrondissement": "mairie"}
LIBRARY_TYPES = (("municipale", "municipal"), ("universitaire", "university"),
                 ("specialise", "specialised"), ("associative", "association"),
                 ("nationale", "national"))
TWIN_METRES = 60.0
DAY_COLUMNS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _s(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    if value is None and key and f"\ufeff{key}" in props:  # a CSV's byte-order mark
        value = props[f"\ufeff{key}"]
    return "" if value is None else " ".join(str(value).split())


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 1].rstrip() + "…"


_SMALL = frozenset(["de", "du", "des", "la", "le", "les", "et", "d", "l", "à", "au", "aux",
                    "en", "sur", "sous"])


def _nice(name: str) -> str:
    """A name the source wrote in capitals, in ordinary case ("Bibliothèque Goutte d'Or")."""
    if not name.isupper():
        return name
    name = re.sub(r"\b(\d+) ?(?:EME|E)\b", r"\1e", re.sub(r"\b1 ?ER\b", "1er", name))
    words = []
    for i, w in enumerate(name.lower().split()):
        words.append(w if i and w in _SMALL else w[:1].upper() + w[1:])
    return " ".join(words).replace(" D ", " d'").replace(" L ", " l'")


def _ordinal(n: int) -> str:
    return "1er" if n == 1 else f"{n}e"


def _townhall_title(name: str) -> str:
    number = place_number(name)
    if number == 0:
        return "Mairie de Paris Centre"
    return f"Mairie du {_ordinal(number)} arrondissement" if number else _nice(name)


def _url(value: str) -> str | None:
    v = value.strip()
    return v if re.match(r"^https?://[^\s/$.?#][^\s]*$", v, re.I) and len(v) <= 500 else None


_STEP_FREE = re.compile(r"\b(acces|accessible|accessibilite)\b")
_WHO = re.compile(r"handicap|mobilite reduite|totalement|entierement|^accessible$")
_DOUBT = re.compile(r"partiel|avec aide|aide|sauf|non accessible|pas accessible|inaccessible")


def access_from_note(note: str | None) -> list[str]:
    """``["step_free_access"]`` when a directory's access note says so unambiguously.

    >>> access_from_note("Accès handicapés"), access_from_note("Accès handicapés avec aide")
    (['step_free_access'], [])
    """
    first = fold_name((note or "").split("\n")[0])
    if not first or _DOUBT.search(first) or len(first) > 120:
        return []
    return ["step_free_access"] if _STEP_FREE.search(first) and _WHO.search(first) else []


def _wifi_kind(name: str) -> str:
    folded = fold_name(name)
    if re.search(r"\b(bibliotheque|mediatheque)\b", folded):
        return "library"
    if folded.startswith("mairie"):
        return "townhall"
    if "vie associative" in folded:
        return "mvac"
    if folded.startswith("piscine"):
        return "pool"
    return "other"


def _cool_kind(props: Mapping[str, Any]) -> str:
    kind = _s(props, "type")
    folded = fold_name(_s(props, "nom"))
    if kind == "Mairie d'arrondissement":
        return "townhall" if folded.startswith("mairie") else \
            "mvac" if "vie associative" in folded else "other"
    return {"Bibliothèque": "library", "Piscine": "pool", "Baignade extérieure": "pool",
            "Bains-douches": "baths"}.get(kind, "other")


def _library_public(props: Mapping[str, Any]) -> bool:
    kind = fold_name(_s(props, "typeinst"))
    return _s(props, "conditionacces_code") == "T" or "municipale" in kind


ID_COLUMNS = {SOURCE_LIBRARIES: "sql_6", SOURCE_COOL: "identifiant", SOURCE_WIFI: "Code Site"}
NAME_COLUMNS = {SOURCE_LIBRARIES: "nometablissement", SOURCE_COOL: "nom",
                SOURCE_WIFI: "Nom du site"}


def _ref(source: str, row: SourceRow, repeated: frozenset[str]) -> str:
    """The row's identifier, stable across runs and unique within its file.

    With the row's name and point when the source left it empty or gave it to two rows
    (three cool-places ids and two Wi-Fi sites).
    """
    key = _s(row.props, ID_COLUMNS[source])
    if key and key not in repeated:
        return key
    said = f"{_s(row.props, NAME_COLUMNS[source])}|{row.x}|{row.y}"
    return f"{key or 'h'}-{hashlib.sha256(said.encode()).hexdigest()[:10]}"


def _repeated(rows: Iterable[SourceRow], source: str) -> frozenset[str]:
    seen: Counter[str] = Counter(_s(r.props, ID_COLUMNS[source]) for r in rows)
    return frozenset(k for k, n in seen.items() if n > 1)


def _cool_hours(props: Mapping[str, Any]) -> tuple[str, list[dict[str, str]] | None]:
    """The per-day columns as one text ("lundi : fermé ; mardi : 16h00 - 18h30"), slots."""
    cells = {d: props.get(f"horaires_{d}") for d in DAY_COLUMNS}
    if all(v in (None, "") for v in cells.values()):
        return "", None
    if all(" ".join(str(v or "").split()) in ("", "-") for v in cells.values()):
        # every day "-": closed for the whole period (works, season); no slot to trust
        return "fermé tous les jours", None
    parts = []
    for day, value in cells.items():
        v = " ".join(str(value or "").split())
        parts.append(f"{day} : {'fermé' if v in ('', '-') else v}")
    return " ; ".join(parts), day_columns_hours({f"horaires_{d}": v for d, v in cells.items()})


@dataclass
class _Additions:
    """What merged rows of other sources add to a place's feature."""

    sources: list[str] = field(default_factory=list)
    cool: list[dict[str, Any]] = field(default_factory=list)
    wifi: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ServiceIndex:
    """Which rows are one place: built once from the three files, then read by the mappers.

    ``merged[(source, ref)]`` is the :class:`~ingestion.placematch.Match` a row was
    merged into; ``additions[(source, ref)]`` what a published place receives.
    """

    merged: dict[tuple[str, str], Match] = field(default_factory=dict)
    additions: dict[tuple[str, str], _Additions] = field(default_factory=dict)
    repeated: dict[str, frozenset[str]] = field(default_factory=dict)
    primaries: list[Place] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def match_new(self, source: str, ref: str, row: SourceRow, kind: str) -> Match | None:
        """A row the index was not built from (a newer file, synchronised): matched now.

        What it adds reaches its place when that place's own source is imported again.
        """
        if (source, ref) in self.seen or row.x is None or row.y is None or kind == "other":
            return None
        here = Place(source, ref, _s(row.props, NAME_COLUMNS[source]), kind, row.x, row.y)
        pool = [p for p in self.primaries if p.source != source]
        return best_match(here, pool)

    def ref(self, source: str, row: SourceRow) -> str:
        """The stable reference of a row of one of the three sources."""
        return _ref(source, row, self.repeated.get(source, frozenset()))

    def add(self, row_source: str, row_ref: str, match: Match, props: dict[str, Any]) -> None:
        """Record that a row is merged into ``match.place`` and what it brings."""
        self.merged[(row_source, row_ref)] = match
        extra = self.additions.setdefault((match.place.source, match.place.ref), _Additions())
        if row_source not in extra.sources:
            extra.sources.append(row_source)
        (extra.cool if row_source == SOURCE_COOL else extra.wifi).append(props)

    # ---- the mappers ----------------------------------------------------------------
    def library_row(self, row: SourceRow) -> Mapped:
        """A row of the directory of libraries (CCFr)."""
        p, ref = row.props, self.ref(SOURCE_LIBRARIES, row)
        if not _library_public(p):
            raise RefuseRow(ref, "not_open_to_public",
                            f"access {_s(p, 'conditionacces') or 'not stated'}: not a "
                            "library a resident can walk into")
        twin = self.merged.get((SOURCE_LIBRARIES, ref))
        if twin is not None:
            raise RefuseRow(ref, "duplicate", f"listed twice by the source: the same name "
                            f"and place as {twin.place.ref} ({twin.metres:.0f} m)")
        kind = fold_name(_s(p, "typeinst"))
        attrs: dict[str, Any] = {
            "library_type": next((v for k, v in LIBRARY_TYPES if k in kind), "other")}
        address = " ".join(x for x in (_s(p, "nomrue"), _s(p, "codepostal"), "Paris") if x)
        attrs["address"] = _cut(address, 200)
        if _s(p, "telephone"):
            attrs["phone"] = _cut(_s(p, "telephone"), 50)
        website = _url(_s(p, "accesweb"))
        if website:
            attrs["website"] = website
        declared = "\n".join(str(p.get(k) or "").strip() for k in
                             ("heuresouverture", "fermetureannuelle") if p.get(k))
        slots = parse_hours(str(p.get("heuresouverture") or "")) \
            if p.get("heuresouverture") else None
        if declared:
            attrs["opening_hours"] = _cut(declared, 600)
            if slots:
                attrs["hours"] = slots
        note = str(p.get("noteaccessetab") or "").strip()
        if note:
            attrs["access_note"] = _cut(note, 500)
            access = access_from_note(note)
            if access:
                attrs["accessibility"] = access
        title = _s(p, "nometablissement") or "Bibliothèque"
        title = self._merge(SOURCE_LIBRARIES, ref, attrs, title)
        return {"category": "bibliotheque", "title": _cut(title, 120), "description": "",
                "attributes": attrs}, ref

    def cool_row(self, row: SourceRow) -> Mapped:
        """A row of the cool-places list: pools, town halls, baths, libraries kept."""
        p, ref = row.props, self.ref(SOURCE_COOL, row)
        kind = _s(p, "type")
        if kind not in COOL_TYPES:
            raise RefuseRow(ref, "not_a_service",
                            f"{kind or 'no type'}: a heat-wave amenity, not in the services "
                            "layer")
        match = self.merged.get((SOURCE_COOL, ref))
        if match is None and _cool_kind(p) == "library":
            match = self.match_new(SOURCE_COOL, ref, row, "library")
        if match is not None:
            raise RefuseRow(ref, "merged", f"the same place as {match.place.ref} of "
                            f"{match.place.source} ({match.rule}, {match.metres:.0f} m): "
                            "published there with what this row adds")
        category = COOL_TYPES[kind]
        name = _s(p, "nom")
        attrs: dict[str, Any] = {}
        if category == "mairie":
            ckind = _cool_kind(p)
            if ckind != "townhall":
                category = "service-municipal"
                attrs["service_type"] = "Maison de la Vie Associative et Citoyenne" \
                    if ckind == "mvac" else "Centre Paris Anim'" \
                    if "anim" in fold_name(name) else "Service municipal"
            title = _townhall_title(name) if ckind == "townhall" else _nice(name)
        else:
            title = _nice(name)
        if category == "piscine":
            attrs["pool_type"] = "open_air_bathing" if kind == "Baignade extérieure" else "pool"
        address = " ".join(x for x in (_s(p, "adresse"), _s(p, "arrondissement"), "Paris") if x)
        attrs["address"] = _cut(address, 200)
        self._cool_into(attrs, p)
        title = self._merge(SOURCE_COOL, ref, attrs, title)
        return {"category": category, "title": _cut(title, 120), "description": "",
                "attributes": attrs}, ref

    def wifi_row(self, row: SourceRow) -> Mapped:
        """A row of the Paris Wi-Fi sites."""
        p, ref = row.props, self.ref(SOURCE_WIFI, row)
        state = _s(p, "Etat du site")
        if state != "Opérationnel":
            raise RefuseRow(ref, "not_in_service", f"Wi-Fi site {state or 'of unknown state'}")
        match = self.merged.get((SOURCE_WIFI, ref)) or \
            self.match_new(SOURCE_WIFI, ref, row, _wifi_kind(_s(p, "Nom du site")))
        if match is not None:
            raise RefuseRow(ref, "merged", f"the same place as {match.place.ref} of "
                            f"{match.place.source} ({match.rule}, {match.metres:.0f} m): "
                            "published there with its Wi-Fi")
        attrs: dict[str, Any] = {}
        address = " ".join(x for x in (_nice(_s(p, "Adresse")), _s(p, "Code postal")) if x)
        if address:
            attrs["address"] = _cut(address, 200)
        self._wifi_into(attrs, [p])
        title = _nice(_s(p, "Nom du site")) or "Paris Wi-Fi"
        title = self._merge(SOURCE_WIFI, ref, attrs, title)
        return {"category": "wifi", "title": _cut(title, 120), "description": "",
                "attributes": attrs}, ref

    # ---- what merged rows add -------------------------------------------------------
    @staticmethod
    def _cool_into(attrs: dict[str, Any], p: Mapping[str, Any]) -> None:
        """The city's hours (preferred over a directory's), cool room, charged."""
        said, slots = _cool_hours(p)
        if said:
            if attrs.get("opening_hours"):
                attrs["opening_hours_declared"] = attrs["opening_hours"]
            attrs["opening_hours"] = _cut(said, 600)
            attrs.pop("hours", None)
            if slots:
                attrs["hours"] = slots
            if _s(p, "horaires_periode"):
                attrs["hours_period"] = _cut(_s(p, "horaires_periode"), 100)
        attrs["cool_room"] = True
        if _s(p, "payant") in ("Oui", "Non"):
            attrs["paying"] = _s(p, "payant") == "Oui"

    @staticmethod
    def _wifi_into(attrs: dict[str, Any], rows: Iterable[Mapping[str, Any]]) -> None:
        total = 0
        for p in rows:
            with contextlib.suppress(ValueError):
                total += int(float(_s(p, "Nombre de bornes") or 0))
        attrs["wifi"] = True
        if total:
            attrs["wifi_hotspots"] = total

    def _merge(self, source: str, ref: str, attrs: dict[str, Any], title: str) -> str:
        extra = self.additions.get((source, ref))
        attrs["sources"] = [source, *(extra.sources if extra else [])]
        if extra is None:
            return title
        for p in extra.cool:
            self._cool_into(attrs, p)
            name = _s(p, "nom")
            if name and fold_name(name) != fold_name(title):
                # the city's list has the current name; the directory an older one
                attrs["other_names"] = _cut(title, 300)
                title = _nice(name)
        if extra.wifi:
            self._wifi_into(attrs, extra.wifi)
        return title


def _places(index: ServiceIndex, rows: Iterable[SourceRow], source: str,
            kind: Callable[[Mapping[str, Any]], str],
            renamable: Callable[[Mapping[str, Any]], bool] = lambda p: False,
            keep: Callable[[Mapping[str, Any]], bool] = lambda p: True,
            ) -> list[tuple[Place, dict[str, Any]]]:
    out = []
    for row in rows:
        if row.x is None or row.y is None or not keep(row.props):
            continue
        out.append((Place(source, index.ref(source, row), _s(row.props, NAME_COLUMNS[source]),
                          kind(row.props), row.x, row.y, renamable(row.props)), row.props))
    return out


def _read(index: ServiceIndex, source: str, path: Path) -> list[SourceRow]:
    rows = list(open_source(path).rows)
    index.repeated[source] = _repeated(rows, source)
    index.seen.update((source, index.ref(source, r)) for r in rows)
    return rows


def build_index(libraries: Path | None, cool: Path | None, wifi: Path | None) -> ServiceIndex:
    """Match the three files' rows (any may be missing): which row goes into which place."""
    index = ServiceIndex()
    primaries = index.primaries
    if libraries is not None:
        for place, _ in _places(index, _read(index, SOURCE_LIBRARIES, libraries),
                                SOURCE_LIBRARIES, lambda p: "library",
                                renamable=lambda p: "municipale" in fold_name(_s(p, "typeinst")),
                                keep=_library_public):
            # The directory itself lists a few libraries twice (same name, same spot).
            twin = next((c for c in primaries if fold_name(c.name) == fold_name(place.name)
                         and metres((c.lon, c.lat), (place.lon, place.lat)) < TWIN_METRES),
                        None)
            if twin is not None:
                index.merged[(SOURCE_LIBRARIES, place.ref)] = Match(
                    twin, "twin", metres((twin.lon, twin.lat), (place.lon, place.lat)))
            else:
                primaries.append(place)
    if cool is not None:
        services = _places(index, _read(index, SOURCE_COOL, cool), SOURCE_COOL, _cool_kind,
                           keep=lambda p: _s(p, "type") in COOL_TYPES)
        libs = list(primaries)
        for place, props in services:
            match = best_match(place, libs) if place.kind == "library" else None
            if match is not None:
                index.add(SOURCE_COOL, place.ref, match, props)
            else:
                primaries.append(place)
    if wifi is not None:
        for place, props in _places(index, _read(index, SOURCE_WIFI, wifi), SOURCE_WIFI,
                                    lambda p: _wifi_kind(_s(p, "Nom du site")),
                                    keep=lambda p: _s(p, "Etat du site") == "Opérationnel"):
            match = best_match(place, primaries) if place.kind != "other" else None
            if match is not None:
                index.add(SOURCE_WIFI, place.ref, match, props)
    return index


@lru_cache(maxsize=4)
def _cached_index(files: tuple[tuple[str, Path | None, float], ...]) -> ServiceIndex:
    by = {source: path for source, path, _ in files}
    return build_index(by.get(SOURCE_LIBRARIES), by.get(SOURCE_COOL), by.get(SOURCE_WIFI))


def _index_of(city: City) -> ServiceIndex:
    files = tuple((d.source, d.file, d.file.stat().st_mtime if d.file.is_file() else 0.0)
                  for d in city.seeds if d.source in SERVICE_SOURCES)
    return _cached_index(files)


def _configured_index() -> ServiceIndex:
    """The index of the configured city's service files (``CARTE_CITY``).

    Called once per row: the city's configuration is read once per process (reading it
    per row made the three seeds 6 s instead of 1 s), the index once per set of files
    (their modification times are its key, so a new file is matched again).
    """
    return _index_of(_configured_city(city_slug()))


@lru_cache(maxsize=4)
def _configured_city(slug: str) -> City:
    return load_city(slug, check_files=False)


def library_row(row: SourceRow) -> Mapped:
    """Mapper of ``paris-bibliotheques`` (see :meth:`ServiceIndex.library_row`)."""
    return _configured_index().library_row(row)


def cool_row(row: SourceRow) -> Mapped:
    """Mapper of ``paris-ilots-fraicheur`` (see :meth:`ServiceIndex.cool_row`)."""
    return _configured_index().cool_row(row)


def wifi_row(row: SourceRow) -> Mapped:
    """Mapper of ``paris-wifi`` (see :meth:`ServiceIndex.wifi_row`)."""
    return _configured_index().wifi_row(row)


#: The mappers of the three service sources, by source name (``ingestion.seed.MAPPERS``
#: holds them too, so seeds and ``carte sources sync`` read the files the same way).
SERVICE_MAPPERS: dict[str, Callable[[SourceRow], Mapped]] = {
    SOURCE_LIBRARIES: library_row, SOURCE_COOL: cool_row, SOURCE_WIFI: wifi_row}


def apply_credits(session: Session, city: City) -> int:
    """Give each merged service feature every source's credit (returns features changed).

    An import run attributes its rows to its own source; a place published from the
    directory of libraries with the city's hours and Wi-Fi must credit all three.
    """
    credits = {d.source: d.attribution for d in city.seeds if d.source in SERVICE_SOURCES}
    if not credits:
        return 0
    rows = session.execute(text(
        "SELECT id, version, attribution, attributes->'sources' FROM feature "
        "WHERE source = ANY(:s) "
        "AND jsonb_array_length(coalesce(attributes->'sources', '[]'::jsonb)) > 1"),
        {"s": list(credits)}).all()
    changed = 0
    for fid, version, current, sources in rows:
        parts: list[str] = []
        for s in sources:
            if credits.get(s) and credits[s] not in parts:
                parts.append(credits[s])
        credit = " · ".join(parts)
        if credit != current:
            # a new version like any change: the change feed, tiles and downloads follow
            revise_feature(session, fid, {"attribution": credit}, expected_version=version,
                           action=ModerationAction.import_,
                           reason="credits of the sources merged into this place")
            changed += 1
    return changed
