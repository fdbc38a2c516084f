"""Rows mapped to the submission contract: mappers, stable references, reprojection.

A mapper turns one source row into the keys :func:`ingestion.validation.validate_submission`
reads, plus a reference stable across runs; kept apart so seeds and partners can write
their own without importing the import machinery.
"""

from __future__ import annotations

import hashlib
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
        return data, _stable_ref(props, row.raw)

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

