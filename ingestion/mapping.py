"""Rows mapped to the submission contract: mappers, stable references, reprojection.

A mapper turns one source row into the keys :func:`ingestion.validation.validate_submission`
reads, plus a reference stable across runs; kept apart so seeds and partners can write
their own without importing the import machinery.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from .categories import CategorySpec, FieldSpec
from .errors import CrsError
from .readers import SourceRow

Mapped = tuple[dict[str, Any], str]  # the submission contract's keys, and a stable ref
Mapper = Callable[[SourceRow], Mapped]


class RefuseRow(Exception):
    """Raised by a mapper to refuse a row with its own reason (counted, kept, written).

    A seed file may hold rows another seed already publishes (the jardins partagés of
    ``espaces_verts``): refusing them with a reason keeps ``read == accepted + refused``.
    """

    def __init__(self, ref: str, code: str, message: str) -> None:
        super().__init__(message)
        self.ref, self.code, self.message = ref, code, message

TITLE_KEYS = ("title", "titre", "name", "nom", "Nom", "libelle", "label", "Nom complet",
              "Nom de l'espace vert")
DESCRIPTION_KEYS = ("description", "desc", "Description")
REF_KEYS = ("source_ref", "id", "ID", "identifiant", "Identifiant", "gid", "ref", "fid")
# A row without coordinates but with an address line is geocoded against the city's
# address file (:mod:`geo.geocode`): the mapper puts the line under ADDRESS_KEY and its
# postcode under POSTCODE_KEY; neither is stored.
ADDRESS_KEY, POSTCODE_KEY = "_address", "_postcode"
ADDRESS_COLUMNS = ("address", "adresse", "Adresse", "addr", "adr")
POSTCODE_COLUMNS = ("postcode", "code_postal", "cp", "CP", "zip", "adrs_codepostal")
TRUE = {"1", "true", "oui", "yes", "vrai", "o", "y"}
FALSE = {"0", "false", "non", "no", "faux", "n"}
WGS84 = CRS.from_epsg(4326)


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """CSV and shapefile cells are strings or numbers: give them the field's type."""
    if not isinstance(value, str):
        return value
    v = value.strip()
    if spec.type == "boolean":
        return True if v.lower() in TRUE else False if v.lower() in FALSE else value
    if spec.type in ("integer", "number"):
        try:
            num = float(v.replace(",", "."))
        except ValueError:
            return value
        return int(num) if spec.type == "integer" and num.is_integer() else num
    return v


def _stable_ref(props: Mapping[str, Any], raw: bytes) -> str:
    for key in REF_KEYS:
        value = props.get(key)
        if value not in (None, ""):
            return str(value)[:200]
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def generic_mapper(categories: Mapping[str, CategorySpec], *, category: str | None,
                   title_template: str | None = None) -> Mapper:
    """Map a row by its column names: title/name/nom, description, the category's fields.

    ``title_template`` (``"{numero} {nom_voie}"``) builds titles from columns.
    """
    def mapper(row: SourceRow) -> Mapped:
        props = row.props
        slug = category or props.get("category") or props.get("categorie")
        data: dict[str, Any] = {"category": slug}
        if title_template:
            data["title"] = title_template.format_map(
                defaultdict(str, {k: "" if v is None else v for k, v in props.items()}))
        else:
            data["title"] = next((props[k] for k in TITLE_KEYS if props.get(k)), None)
        data["description"] = next((props[k] for k in DESCRIPTION_KEYS if props.get(k)), None)
        for key in ("starts_at", "ends_at", "email"):
            if props.get(key):
                data[key] = props[key]
        cat = categories.get(slug) if isinstance(slug, str) else None
        attrs: dict[str, Any] = {}
        if cat is not None:
            for spec in cat.fields:
                if props.get(spec.name) not in (None, ""):
                    attrs[spec.name] = _coerce(spec, props[spec.name])
        data["attributes"] = attrs
        if row.x is None or row.y is None:  # no position: geocode its address, if any
            line = next((props[k] for k in ADDRESS_COLUMNS if props.get(k)), None)
            if isinstance(line, str):
                data[ADDRESS_KEY] = line
                data[POSTCODE_KEY] = str(next((props[k] for k in POSTCODE_COLUMNS
                                               if props.get(k)), ""))
        return data, _stable_ref(props, row.raw)

    return mapper


# The RNA writes an address line in fixed columns: the number (and a second number of a
# range) in 10 characters, the street type abbreviated in 4, then the name; a type of 4
# letters touches the name ("QUAIde la Rapée", "COURSaint-Éloi").
_RNA_LINE = re.compile(r"^(?P<num>[\d ]{10})(?P<type>[A-Z][A-Z ]{3})(?P<name>\S.*)$")
_RNA_FIRST = re.compile(r"^\s*(\d+)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+33\s*|\b0)[1-9](?:[\s.-]*\d{2}){4}\b")


def rna_street_line(line: str) -> str:
    """An RNA address line as people write it.

    ``"33 35     AV  Ledru rollin"`` is ``"33 AV Ledru rollin"`` (the first number of a
    range), ``"78        QUAIde la Rapee"`` is ``"78 QUAI de la Rapee"``; a line not in
    that layout is kept as it is (spaces collapsed).
    """
    m = _RNA_LINE.match(line)
    if m is None:
        return " ".join(line.split())
    first = _RNA_FIRST.match(m["num"])
    parts = [first.group(1) if first else "", m["type"].strip(), m["name"].strip()]
    return " ".join(p for p in parts if p)


def _no_contact(text: str) -> str:
    """Text with any e-mail address or phone number blanked (public records only)."""
    return _PHONE.sub("…", _EMAIL.sub("…", text))


def _sentence_case(title: str) -> str:
    """The RNA writes names in capitals; a map label reads better in sentence case."""
    if title.upper() != title:
        return title
    low = title.lower()
    return low[:1].upper() + low[1:]


def rna_mapper(category: str) -> Mapper:
    """Map an RNA extract (``id, titre, objet, date_creat, adr1..3, adrs_codepostal``).

    The title is the association's name (sentence case), the description its stated
    purpose; the address is geocoded (the file has no coordinates). Associations the
    register marks as no longer active (``objet`` "plus d'activité") are refused with
    the reason ``inactive``: a map of local actors shows the living ones. No person's
    name, phone or e-mail is kept (the extract's columns hold none; any in the free
    text is blanked).
    """
    def mapper(row: SourceRow) -> Mapped:
        p = row.props
        ref = str(p.get("id") or "").strip() or _stable_ref({}, row.raw)
        purpose = " ".join(str(p.get("objet") or "").split())
        if purpose.lower() == "plus d'activité":
            raise RefuseRow(ref, "inactive",
                            "the register marks this association as no longer active")
        line = rna_street_line(str(p.get("adr2") or "").strip()
                               or str(p.get("adr1") or "").strip())
        created = str(p.get("date_creat") or "")
        attrs: dict[str, Any] = {"rna": ref}
        if created and not created.startswith("0001"):
            attrs["created"] = created[:10]
        data: dict[str, Any] = {
            "category": category,
            "title": _sentence_case(" ".join(str(p.get("titre") or "").split()))[:120],
            "description": _no_contact(purpose) or None,
            "attributes": attrs,
            ADDRESS_KEY: line,
            POSTCODE_KEY: str(p.get("adrs_codepostal") or "").strip(),
        }
        return data, ref

    return mapper


def to_lonlat_many(xs: np.ndarray, ys: np.ndarray, crs: str) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`ingestion.validation.to_lonlat`: lon, lat and a mask of good points.

    A point is good when it transforms to finite numbers inside the CRS's area of use
    (pyproj returns finite numbers outside it).
    """
    try:
        src = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError
        raise CrsError(f"unknown CRS {crs!r}") from exc
    if src == WGS84 or src.equals(WGS84, ignore_axis_order=True):
        lon, lat = xs.astype(float), ys.astype(float)
        return lon, lat, np.isfinite(lon) & np.isfinite(lat)
    tr = Transformer.from_crs(src, WGS84, always_xy=True)
    lon, lat = tr.transform(xs, ys)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    aou = src.area_of_use
    if aou is not None:
        tol = 0.5
        with np.errstate(invalid="ignore"):
            ok &= (lon >= aou.west - tol) & (lon <= aou.east + tol) \
                & (lat >= aou.south - tol) & (lat <= aou.north + tol)
    return lon, lat, ok

