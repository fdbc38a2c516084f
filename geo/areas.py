"""Administrative areas: loading the real Paris boundaries and locating a point in them.

The city outline is the union of the 20 official arrondissements rather than the
simplified GEOFLA outline (IoU 0.9957 against them): a point inside an arrondissement
is then always inside the city, which the service-area check relies on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .errors import AreaDataError
from .models import Area, AreaKind

__all__ = [
    "AreaLoadReport",
    "AreaRef",
    "Placement",
    "load_paris_areas",
    "locate",
    "locate_many",
]

CITY_CODE = "75056"
CITY_NAME = "Paris"
# Quartier and arrondissement boundaries leave slivers of a few m² between them; a
# point that falls in one still belongs to the nearest area within this distance.
SLIVER_TOLERANCE_DEG = 1e-4  # about 7 m in longitude, 11 m in latitude, at Paris


class AreaRef(NamedTuple):
    """An area as the rest of the product refers to it."""

    id: int
    code: str
    name: str


class Placement(NamedTuple):
    """Where a point lies: its arrondissement and quartier, or ``None`` outside."""

    arrondissement: AreaRef | None
    quartier: AreaRef | None


class AreaLoadReport(NamedTuple):
    """How many areas of each kind were loaded."""

    city: int
    arrondissements: int
    quartiers: int


def _read_features(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        features = doc["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AreaDataError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from exc
    return features


def _multipolygon(geometry: dict[str, Any], where: str) -> MultiPolygon:
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise AreaDataError(f"{where}: unreadable geometry ({exc})") from exc
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon) or geom.is_empty:
        raise AreaDataError(f"{where}: expected a polygon, got {geom.geom_type}")
    return geom


def _ordinal(n: int) -> str:
    return f"{n}{'er' if n == 1 else 'e'} arrondissement"


def _upsert(session: Session, *, kind: AreaKind, code: str, name: str,
            geom: MultiPolygon, parent_id: int | None) -> int:
    stmt = insert(Area).values(kind=kind, code=code, name=name, parent_id=parent_id,
                               geom=from_shape(geom, srid=4326))
    stmt = stmt.on_conflict_do_update(
        index_elements=[Area.code],
        set_={"kind": stmt.excluded.kind, "name": stmt.excluded.name,
              "parent_id": stmt.excluded.parent_id, "geom": stmt.excluded.geom,
              "loaded_at": func.now()},
    ).returning(Area.id)
    return session.execute(stmt).scalar_one()


def load_paris_areas(session: Session, directory: Path) -> AreaLoadReport:
    """Load (or reload) Paris, its 20 arrondissements and 80 quartiers. Idempotent.

    Parameters
    ----------
    session
        Open session; the caller commits.
    directory
        Holds ``arrondissements.geojson`` and ``quartier_paris.geojson`` as published by
        the Ville de Paris (EPSG:4326).
    """
    arrs = _read_features(directory / "arrondissements.geojson")
    quartiers = _read_features(directory / "quartier_paris.geojson")
    arr_geoms: dict[int, tuple[str, MultiPolygon]] = {}
    for i, f in enumerate(arrs):
        props = f.get("properties") or {}
        try:
            number, insee = int(props["c_ar"]), str(int(props["c_arinsee"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise AreaDataError(f"arrondissement #{i}: missing c_ar or c_arinsee") from exc
        arr_geoms[number] = (insee, _multipolygon(f.get("geometry"), f"arrondissement {insee}"))
    if len(arr_geoms) != 20:
        raise AreaDataError(f"expected 20 arrondissements, found {len(arr_geoms)}")

    city = shapely.union_all([g for _, g in arr_geoms.values()])
    city_id = _upsert(session, kind=AreaKind.city, code=CITY_CODE, name=CITY_NAME,
                      geom=_multipolygon(city.__geo_interface__, "city"), parent_id=None)
    arr_ids = {
        number: _upsert(session, kind=AreaKind.arrondissement, code=insee,
                        name=_ordinal(number), geom=geom, parent_id=city_id)
        for number, (insee, geom) in sorted(arr_geoms.items())
    }
    for i, f in enumerate(quartiers):
        props = f.get("properties") or {}
        try:
            code, name, arr = str(props["c_quinsee"]), str(props["l_qu"]), int(props["c_ar"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AreaDataError(f"quartier #{i}: missing c_quinsee, l_qu or c_ar") from exc
        if arr not in arr_ids:
            raise AreaDataError(f"quartier {code}: unknown arrondissement {arr}")
        _upsert(session, kind=AreaKind.quartier, code=code, name=name,
                geom=_multipolygon(f.get("geometry"), f"quartier {code}"),
                parent_id=arr_ids[arr])
    return AreaLoadReport(city=1, arrondissements=len(arr_ids), quartiers=len(quartiers))


_LOCATE_MANY = text("""
    SELECT p.ord, a.kind::text AS kind, a.id, a.code, a.name
    FROM unnest(:lons, :lats) WITH ORDINALITY AS p(lon, lat, ord)
    CROSS JOIN LATERAL (
        SELECT DISTINCT ON (area.kind) area.kind, area.id, area.code, area.name
        FROM area
        WHERE area.kind IN ('arrondissement', 'quartier')
          AND ST_DWithin(area.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326), :tol)
        ORDER BY area.kind,
                 ST_Distance(area.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)),
                 area.code
    ) AS a
""").bindparams(bindparam("lons"), bindparam("lats"), bindparam("tol"))


def locate_many(session: Session, points: Sequence[tuple[float, float]] | Iterable[
        tuple[float, float]]) -> list[Placement]:
    """Arrondissement and quartier of each ``(lon, lat)``, in one query, in input order."""
    pts = list(points)
    if not pts:
        return []
    found: list[dict[str, AreaRef]] = [{} for _ in pts]
    rows = session.execute(_LOCATE_MANY, {"lons": [float(p[0]) for p in pts],
                                          "lats": [float(p[1]) for p in pts],
                                          "tol": SLIVER_TOLERANCE_DEG})
    for ord_, kind, id_, code, name in rows:
        found[ord_ - 1][kind] = AreaRef(id_, code, name)
    return [Placement(f.get("arrondissement"), f.get("quartier")) for f in found]


def locate(session: Session, lon: float, lat: float) -> Placement:
    """Arrondissement and quartier containing ``(lon, lat)`` (EPSG:4326).

    >>> locate(session, 2.3522, 48.8566).arrondissement.name   # doctest: +SKIP
    '4e arrondissement'
    """
    return locate_many(session, [(lon, lat)])[0]


def city_outline(session: Session) -> Any:
    """The city's boundary as a shapely geometry, or ``None`` when areas are not loaded."""
    from geoalchemy2.shape import to_shape

    geom = session.execute(select(Area.geom).where(Area.kind == AreaKind.city)).scalar()
    return None if geom is None else to_shape(geom)
