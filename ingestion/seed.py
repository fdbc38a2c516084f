"""The demo's seed: the city's open data, published as features attributed to its source.

Which files, under which source name, into which category and with which attribution is
the city's configuration (``seeds`` of ``data/cities/<slug>/city.json``; Paris's sources
and licences in ``data/cities/paris/README.md``). Each Paris file has a small mapper
from its own columns to the submission contract (:data:`MAPPERS`, by source name); a
source without one is read by the importer's generic mapper (``name``/``title``,
``description``, the category's fields) into its dataset's category. Rows then go through
:func:`ingestion.importer.run_import` like any partner file. The service area here is
the city itself (no buffer): fountains in Paris cemeteries in the suburbs, the
placeholder points of "Du vert près de chez moi" and rows without geometry are
refused with their reason and counted, never dropped. The green spaces file also holds
the 142 jardins partagés the first seed publishes: they are refused there as
``already_seeded`` so that no garden is on the map twice.

What the sources say about hours, accessibility and audiences is carried, and only
that (counts per source: ``python -m ingestion.seedstats``, table in
data/cities/paris/README.md):
markets' days and hours and the green spaces' ``Ouverture 24h_24h`` become
``attributes.hours`` slots beside the text in ``attributes.opening_hours``; the
toilets' ``acces_pmr`` becomes ``accessibility`` / ``accessibility_lacks`` and their
baby-changing tables the ``families`` audience.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from geo.city import City
from geo.geocode import Geocoder

from .categories import load_categories, read_categories
from .hours import market_hours, parse_hours
from .importer import ImportSummary, Mapped, RefuseRow, run_import
from .mapping import rna_mapper
from .readers import SourceRow
from .services import SERVICE_MAPPERS, apply_credits

__all__ = ["MAPPERS", "Seed", "load_seed", "seeds_of"]


def _s(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    return "" if value is None else str(value).strip()


def _address(*parts: str) -> str:
    return " ".join(p for p in parts if p).strip()


def _espaces_verts_place(p: dict[str, Any]) -> dict[str, Any]:
    """Address, area and opening of a row of the city's ``espaces_verts`` export.

    Both the shared gardens (a derived file) and the green spaces carry these columns.
    """
    attrs: dict[str, Any] = {}
    address = _address(_s(p, "Adresse - Numéro"), _s(p, "Adresse - Complément"),
                       _s(p, "Adresse - type voie"), _s(p, "Adresse - Libellé voie"),
                       _s(p, "Code postal"))
    if address:
        attrs["address"] = address.lower().capitalize()
    area = _s(p, "Superficie totale réelle") or _s(p, "Surface calculée")
    try:
        if area and float(area) >= 0:
            attrs["area_m2"] = float(area)
    except ValueError:
        pass
    # "Ouverture 24h_24h" is the one statement about hours the export makes: "Oui" (also
    # written "O", "OUI") is open round the clock; "Non" is a fenced garden closed at
    # night, whose hours the export does not give. Empty says nothing.
    open_all_day = _s(p, "Ouverture 24h_24h").upper()
    if open_all_day in ("OUI", "O"):
        attrs["opening_hours"] = "24 h/24"
        attrs["hours"] = parse_hours("24 h / 24")
    elif open_all_day == "NON":
        attrs["opening_hours"] = "Pas ouvert 24 h/24"
    return attrs


def _garden(row: SourceRow) -> Mapped:
    p = row.props
    attrs: dict[str, Any] = {"garden_type": "shared", **_espaces_verts_place(p)}
    year = _s(p, "Année de l'ouverture")
    data = {"category": "jardin-partage", "title": _s(p, "Nom de l'espace vert"),
            "description": f"Jardin partagé ouvert en {year}." if year else "",
            "attributes": attrs}
    return data, _s(p, "Identifiant espace vert") or f"row{row.number}"


FOUNTAIN_TYPES = {"FONTAINE_BOIS": "Fontaine Bois", "FONTNE_WALLACE": "Fontaine Wallace",
                  "FONTAINE_2EN1": "Fontaine 2 en 1", "FONTAINE_ARCEAU": "Fontaine Arceau",
                  "BORNE_FONTAINE": "Borne-fontaine", "FTNE_PETILLANTE": "Fontaine pétillante",
                  "FONTAINE_TOTEM": "Fontaine Totem", "FTNE_POING_EAU": "Point d'eau",
                  "FONTAINE_ALBIEN": "Fontaine d'eau de l'Albien",
                  "FTNE_MILLENAIRE": "Fontaine du Millénaire"}


def _fountain(row: SourceRow) -> Mapped:
    p = row.props
    kind = FOUNTAIN_TYPES.get(_s(p, "type_objet"), _s(p, "type_objet").capitalize())
    street = _s(p, "voie").lower().capitalize()
    number = _s(p, "no_voirie_pair") or _s(p, "no_voirie_impair")
    attrs: dict[str, Any] = {"fountain_type": kind, "in_service": _s(p, "dispo") == "OUI"}
    if _s(p, "modele"):
        attrs["model"] = _s(p, "modele")
    if street:
        attrs["address"] = _address(number, street)
    description = ""
    if _s(p, "dispo") == "NON" and _s(p, "motif_ind"):
        description = f"Hors service : {_s(p, 'motif_ind')}"
    data = {"category": "fontaine", "title": f"{kind} – {street}" if street else kind,
            "description": description, "attributes": attrs}
    return data, _s(p, "gid") or f"row{row.number}"


def _hours(p: Mapping[str, Any]) -> str:
    out = []
    for label, start, end in (("semaine", "Heure début en semaine", "Heure fin en semaine"),
                              ("samedi", "Heure début le samedi", "Heure fin le samedi"),
                              ("dimanche", "Heure début le dimanche", "Heure fin le dimanche")):
        if _s(p, start) and _s(p, end):
            out.append(f"{label} {_s(p, start)}–{_s(p, end)}")
    return ", ".join(out)


def _market(row: SourceRow) -> Mapped:
    p = row.props
    attrs: dict[str, Any] = {
        k: v for k, v in {"products": _s(p, "Produit"), "days": _s(p, "Jours de tenue"),
                          "opening_hours": _hours(p), "address": _s(p, "Localisation")}.items()
        if v}
    slots = market_hours(p)  # the LUNDI..DIMANCHE flags with the hours of their day
    if slots:
        attrs["hours"] = slots
    title = _s(p, "Nom complet") or _s(p, "Nom court")
    data = {"category": "marche", "title": title.capitalize() if title.isupper() else title,
            "description": "", "attributes": attrs}
    return data, _s(p, "Identifiant marché") or f"row{row.number}"


def _greening(row: SourceRow) -> Mapped:
    p = row.props
    kind = _s(p, "type_veget").replace("?", "'")  # the export lost its apostrophes
    address = _s(p, "adresse")
    attrs = {k: v for k, v in {"greening_type": kind, "progress": _s(p, "avancement"),
                               "address": address}.items() if v and v != "-"}
    comment = _s(p, "commentair")
    data = {"category": "vegetalisation",
            "title": f"{kind} – {address}"[:120] if address else kind or "Végétalisation",
            "description": "" if comment in ("", "-") else comment, "attributes": attrs}
    return data, _s(p, "numero") or f"row{row.number}"


def _green_space(row: SourceRow) -> Mapped:
    p = row.props
    name = _s(p, "Nom de l'espace vert")
    # 107 rows have no identifier: their name and point identify them across exports.
    ref = _s(p, "Identifiant espace vert") or "h" + hashlib.sha256(
        f"{name}|{_s(p, 'Geo point')}|{_s(p, 'Catégorie')}".encode()).hexdigest()[:16]
    kind = _s(p, "Catégorie")
    if kind == "Jardin partage":
        raise RefuseRow(ref, "already_seeded", "a jardin partagé, published by the "
                        "paris-jardins-partages seed")
    attrs: dict[str, Any] = {"green_space_type": kind,
                             "typology": _s(p, "Typologie d'espace vert"),
                             **_espaces_verts_place(p)}
    year = _s(p, "Année de l'ouverture")
    if year.isdigit() and 1600 <= int(year) <= 2100:
        attrs["opened_in"] = int(year)
    title = name.capitalize() if name.isupper() else name
    data = {"category": "espace-vert", "title": title or kind or "Espace vert",
            "description": "", "attributes": {k: v for k, v in attrs.items() if v != ""}}
    return data, ref


TOILET_TYPES = {"SANISETTE": "Sanisette", "TOILETTES": "Toilettes",
                "WC PUBLICS PERMANENTS": "WC publics permanents", "URINOIR": "Urinoir",
                "URINOIR FEMME": "Urinoir femme", "LAVATORY": "Lavatory"}


def _toilet(row: SourceRow) -> Mapped:
    """A row of ``sanisettesparis``: the one seed that states accessibility.

    ``acces_pmr`` "Oui" is a cabin a wheelchair user can enter and use: step-free
    access and adapted toilets are both known present. "Non" says the toilet is not
    adapted; whether its entrance has a step is not said, so only ``adapted_toilets``
    is recorded as lacking. ``relais_bebe`` "Oui" (a baby-changing table) makes it a
    place for families; "Non" and empty say nothing about audiences.
    """
    p = row.props
    kind = TOILET_TYPES.get(_s(p, "type"), _s(p, "type").capitalize() or "Toilettes")
    address = " ".join(_s(p, "adresse").split()).lower().capitalize()
    attrs: dict[str, Any] = {"toilet_type": kind}
    if address:
        attrs["address"] = address
    text = _s(p, "horaire")
    if text:
        attrs["opening_hours"] = text
        slots = parse_hours(text)
        if slots:
            attrs["hours"] = slots
    pmr = _s(p, "acces_pmr").upper()
    if pmr == "OUI":
        attrs["accessibility"] = ["step_free_access", "adapted_toilets"]
    elif pmr == "NON":
        attrs["accessibility_lacks"] = ["adapted_toilets"]
    baby = _s(p, "relais_bebe").upper()
    if baby in ("OUI", "NON"):
        attrs["baby_changing"] = baby == "OUI"
    if baby == "OUI":
        attrs["audiences"] = ["families"]
    url = _s(p, "url_fiche_equipement")
    if url.startswith(("https://", "http://")):
        attrs["website"] = url
    # The export has no identifier: the type and position identify a toilet across runs.
    ref = "h" + hashlib.sha256(f"{_s(p, 'type')}|{row.x}|{row.y}".encode()).hexdigest()[:16]
    data = {"category": "toilettes", "title": f"{kind} – {address}"[:120] if address else kind,
            "description": "", "attributes": attrs}
    return data, ref


# The mappers of the Paris files, by the source name city.json gives each dataset.
MAPPERS: Mapping[str, Callable[[SourceRow], Mapped]] = {
    "paris-jardins-partages": _garden,
    "paris-fontaines": _fountain,
    "paris-marches": _market,
    "paris-du-vert": _greening,
    "paris-espaces-verts": _green_space,
    "paris-sanisettes": _toilet,
    **SERVICE_MAPPERS,  # libraries, cool places, Wi-Fi: one place, one feature (services.py)
    "paris-associations": rna_mapper("acteur-local"),  # RNA extract, geocoded (no points)
}


class Seed(NamedTuple):
    """One seed file of the city: its source name, mapper, category and attribution.

    ``mapper`` is ``None`` for a file the importer's generic mapper reads into ``category``.
    """

    file: Path
    source: str
    mapper: Callable[[SourceRow], Mapped] | None
    category: str
    attribution: str


def seeds_of(city: City) -> tuple[Seed, ...]:
    """The city's seed datasets, in the order of its ``city.json`` (the load order)."""
    return tuple(Seed(d.file, d.source, MAPPERS.get(d.source), d.category, d.attribution)
                 for d in city.seeds)


def load_seed(session: Session, city: City, *, refused_dir: Path | None = None,
              progress: Callable[[int], None] | None = None) -> list[ImportSummary]:
    """Load the city's categories, then import and publish every seed file (idempotent).

    The caller commits. Returns one summary per file; refused rows are written to
    ``refused_dir`` (one JSON-lines file per source) when it is given.
    """
    load_categories(session, read_categories(city.categories))
    session.flush()
    summaries = []
    geocoder = Geocoder.for_city(city)  # rows with an address and no point (read lazily)
    for seed in seeds_of(city):
        refused = refused_dir / f"{seed.source}.refused.jsonl" if refused_dir else None
        summaries.append(run_import(seed.file, session=session, source=seed.source,
                                    mapper=seed.mapper, publish=True,
                                    category=None if seed.mapper else seed.category,
                                    attribution=seed.attribution, buffer_m=0.0,
                                    refused_path=refused, progress=progress,
                                    geocoder=geocoder))
    apply_credits(session, city)  # merged services credit every source they come from
    return summaries
