"""Publication: the only way a feature is created or changed.

Every change, whoever makes it (a moderator's approval, an edit, a partner import, an
unpublish after flags), goes through :func:`publish_feature` or :func:`revise_feature`,
which in one transaction (the caller's session) write the feature, a
``feature_version`` row keeping the state, a ``moderation_event`` with before and
after, and mark the tiles of the old and new positions dirty. Changes are optimistic:
the caller says which version it saw, and a concurrent change raises
:class:`~geo.errors.VersionConflict` instead of being silently overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from geoalchemy2.shape import to_shape
from sqlalchemy import func, text
from sqlalchemy.orm import Session

from .areas import locate
from .dirty import DEFAULT_MAX_ZOOM, mark_dirty, mark_points_dirty
from .errors import FeatureNotFound, VersionConflict
from .models import Feature, FeatureStatus, FeatureVersion, ModerationAction, ModerationEvent
from .tilemath import Tile, lonlat_to_tile

__all__ = [
    "EDITABLE",
    "FeatureDraft",
    "feature_lonlat",
    "publish_feature",
    "publish_import_rows",
    "revise_feature",
    "set_status_many",
    "snapshot",
]

EDITABLE = frozenset({"category", "title", "description", "starts_at", "ends_at",
                      "attributes", "lon", "lat", "status", "merged_into", "attribution"})


@dataclass(frozen=True)
class FeatureDraft:
    """What a new feature is made of (already validated and normalised)."""

    category: str
    title: str
    lon: float
    lat: float
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _point(lon: float, lat: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def feature_lonlat(feature: Feature) -> tuple[float, float]:
    """A feature's position as ``(lon, lat)``."""
    pt = to_shape(feature.geom)
    return float(pt.x), float(pt.y)


def snapshot(feature: Feature, lonlat: tuple[float, float] | None = None) -> dict[str, Any]:
    """The public state of a feature as JSON-ready values (for audit before/after)."""
    lon, lat = lonlat or feature_lonlat(feature)
    return {
        "id": feature.id,
        "version": feature.version,
        "status": str(feature.status),
        "category": feature.category,
        "title": feature.title,
        "description": feature.description,
        "starts_at": feature.starts_at.isoformat() if feature.starts_at else None,
        "ends_at": feature.ends_at.isoformat() if feature.ends_at else None,
        "attributes": dict(feature.attributes or {}),
        "lon": lon,
        "lat": lat,
        "merged_into": feature.merged_into,
    }


def _record(session: Session, feature: Feature, *, action: ModerationAction,
            actor_id: int | None, submission_id: int | None, reason: str | None,
            before: dict[str, Any] | None, lonlat: tuple[float, float]) -> ModerationEvent:
    after = snapshot(feature, lonlat)
    event = ModerationEvent(actor_id=actor_id, action=action, submission_id=submission_id,
                            feature_id=feature.id, reason=reason, before=before, after=after)
    session.add(event)
    session.flush()
    session.add(FeatureVersion(
        feature_id=feature.id, version=feature.version, status=feature.status,
        category=feature.category, title=feature.title, description=feature.description,
        starts_at=feature.starts_at, ends_at=feature.ends_at,
        attributes=dict(feature.attributes or {}), geom=_point(*lonlat),
        changed_by=actor_id, event_id=event.id))
    return event


def publish_feature(session: Session, draft: FeatureDraft, *, source: str = "resident",
                    source_ref: str | None = None, attribution: str | None = None,
                    submission_id: int | None = None, actor_id: int | None = None,
                    action: ModerationAction = ModerationAction.approve,
                    reason: str | None = None,
                    max_zoom: int = DEFAULT_MAX_ZOOM) -> Feature:
    """Create a published feature, its first version, its audit event and dirty tiles.

    The caller's session holds the transaction: nothing is visible until it commits,
    and then all of it is.
    """
    where = locate(session, draft.lon, draft.lat)
    feature = Feature(
        status=FeatureStatus.published, category=draft.category, title=draft.title,
        description=draft.description, starts_at=draft.starts_at, ends_at=draft.ends_at,
        attributes=dict(draft.attributes), geom=_point(draft.lon, draft.lat),
        area_ids=where.ids,
        source=source, source_ref=source_ref, attribution=attribution,
        submission_id=submission_id, version=1)
    session.add(feature)
    session.flush()
    _record(session, feature, action=action, actor_id=actor_id, submission_id=submission_id,
            reason=reason, before=None, lonlat=(draft.lon, draft.lat))
    mark_points_dirty(session, [(draft.lon, draft.lat)], max_zoom=max_zoom)
    return feature


def revise_feature(session: Session, feature_id: int, changes: Mapping[str, Any], *,
                   expected_version: int, action: ModerationAction,
                   actor_id: int | None = None, reason: str | None = None,
                   submission_id: int | None = None,
                   max_zoom: int = DEFAULT_MAX_ZOOM) -> Feature:
    """Change a feature (fields, position or status) as one new audited version.

    Parameters
    ----------
    changes
        New values for keys of :data:`EDITABLE`; ``lon`` and ``lat`` move the point.
    expected_version
        The version the caller saw. If the feature has moved on since, nothing is
        written and :class:`~geo.errors.VersionConflict` says so.

    Raises
    ------
    FeatureNotFound, VersionConflict, ValueError (a key that cannot be edited)
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    feature = session.get(Feature, feature_id, with_for_update=True, populate_existing=True)
    if feature is None:
        raise FeatureNotFound(f"no feature {feature_id}")
    if feature.version != expected_version:
        raise VersionConflict(feature_id, expected_version, feature.version)
    old = feature_lonlat(feature)
    before = snapshot(feature, old)
    new = (float(changes.get("lon", old[0])), float(changes.get("lat", old[1])))
    for key, value in changes.items():
        if key in ("lon", "lat"):
            continue
        setattr(feature, key, FeatureStatus(value) if key == "status" else value)
    if new != old:
        feature.geom = _point(*new)
        where = locate(session, *new)
        feature.area_ids = where.ids
    feature.version += 1
    feature.updated_at = func.now()
    session.flush()
    session.refresh(feature)
    _record(session, feature, action=action, actor_id=actor_id, submission_id=submission_id,
            reason=reason, before=before, lonlat=new)
    mark_points_dirty(session, {old, new}, max_zoom=max_zoom)
    return feature


def _snapshot_sql(f: str) -> str:
    """:func:`snapshot` of the feature row aliased ``f``, as a SQL jsonb expression."""
    return (f"jsonb_build_object('id', {f}.id, 'version', {f}.version, 'status', "
            f"{f}.status::text, 'category', {f}.category, 'title', {f}.title, "
            f"'description', {f}.description, 'starts_at', to_jsonb({f}.starts_at), "
            f"'ends_at', to_jsonb({f}.ends_at), 'attributes', {f}.attributes, "
            f"'lon', ST_X({f}.geom), 'lat', ST_Y({f}.geom), 'merged_into', {f}.merged_into)")


def _expand(sql: str) -> str:
    """Fill the constant fragments ``{snapshot:alias}`` and ``{version_columns}``."""
    for alias in ("f", "ins", "upd"):
        sql = sql.replace("{snapshot:" + alias + "}", _snapshot_sql(alias))
    return sql.replace("{version_columns}", _VERSION_COLUMNS)


_VERSION_COLUMNS = ("feature_id, version, status, category, title, description, starts_at, "
                    "ends_at, attributes, geom, changed_by, event_id")

# New features: the valid rows of the run whose (source, ref) is not on the map yet.
_CREATE = text(_expand("""
WITH src AS (
  SELECT r.* FROM import_row r
  WHERE r.run_id = :run AND r.outcome = 'valid'
    AND NOT EXISTS (SELECT 1 FROM feature f WHERE f.source = :source AND f.source_ref = r.ref)
    AND (CAST(:refs AS text[]) IS NULL OR r.ref IN (SELECT unnest(CAST(:refs AS text[]))))
  ORDER BY r.row_number
), ins AS (
  INSERT INTO feature (status, category, title, description, starts_at, ends_at, attributes,
                       geom, area_ids, source, source_ref, attribution,
                       version)
  SELECT 'published', category, title, coalesce(description, ''), starts_at, ends_at,
         attributes, geom, area_ids, :source, ref, :attribution, 1
  FROM src ORDER BY row_number
  RETURNING *
), ev AS (
  INSERT INTO moderation_event (actor_id, action, feature_id, reason, before, after,
                                import_run_id)
  SELECT :actor, 'import', ins.id, :reason, NULL, {snapshot:ins}, :run FROM ins
  ORDER BY ins.id
  RETURNING id, feature_id
), ver AS (
  INSERT INTO feature_version ({version_columns})
  SELECT ins.id, ins.version, ins.status, ins.category, ins.title, ins.description,
         ins.starts_at, ins.ends_at, ins.attributes, ins.geom, :actor, ev.id
  FROM ins JOIN ev ON ev.feature_id = ins.id
)
SELECT ST_X(geom), ST_Y(geom) FROM ins
"""))

# Changed rows: a new version of the feature already published from the same (source, ref).
_REVISE = text(_expand("""
WITH old AS (
  SELECT f.id AS fid, {snapshot:f} AS before, f.geom AS old_geom, r.*
  FROM import_row r JOIN feature f ON f.source = :source AND f.source_ref = r.ref
  WHERE r.run_id = :run AND r.outcome = 'valid'
    AND (CAST(:refs AS text[]) IS NULL OR r.ref IN (SELECT unnest(CAST(:refs AS text[]))))
    AND ((f.category, f.title, f.description, f.starts_at, f.ends_at, f.attributes)
         IS DISTINCT FROM (r.category, r.title, coalesce(r.description, ''), r.starts_at,
                           r.ends_at, r.attributes)
         OR NOT f.geom ~= r.geom)
  FOR UPDATE OF f
), upd AS (
  UPDATE feature f SET category = o.category, title = o.title,
         description = coalesce(o.description, ''), starts_at = o.starts_at,
         ends_at = o.ends_at, attributes = o.attributes, geom = o.geom,
         area_ids = CASE WHEN f.geom ~= o.geom THEN f.area_ids ELSE o.area_ids END,
         version = f.version + 1, updated_at = now()
  FROM old o WHERE f.id = o.fid
  RETURNING f.*
), ev AS (
  INSERT INTO moderation_event (actor_id, action, feature_id, reason, before, after,
                                import_run_id)
  SELECT :actor, 'import', upd.id, :reason, o.before, {snapshot:upd}, :run
  FROM upd JOIN old o ON o.fid = upd.id ORDER BY upd.id
  RETURNING id, feature_id
), ver AS (
  INSERT INTO feature_version ({version_columns})
  SELECT upd.id, upd.version, upd.status, upd.category, upd.title, upd.description,
         upd.starts_at, upd.ends_at, upd.attributes, upd.geom, :actor, ev.id
  FROM upd JOIN ev ON ev.feature_id = upd.id
)
SELECT ST_X(upd.geom), ST_Y(upd.geom), ST_X(o.old_geom), ST_Y(o.old_geom)
FROM upd JOIN old o ON o.fid = upd.id
"""))


def _mark_many_dirty(session: Session, lons: np.ndarray, lats: np.ndarray, *,
                     max_zoom: int) -> int:
    """:func:`geo.dirty.mark_points_dirty` for many points, vectorised per zoom."""
    tiles: set[Tile] = set()
    if len(lons):
        for z in range(max_zoom + 1):
            xs, ys = lonlat_to_tile(lons, lats, z)
            pairs = np.unique(np.stack([xs, ys], axis=1), axis=0)
            tiles.update(Tile(z, int(x), int(y)) for x, y in pairs.tolist())
    return mark_dirty(session, tiles)


@contextmanager
def _no_nested_loops(session: Session) -> Iterator[None]:
    """Plan the next statements without nested loops, then restore the setting.

    The rows of a run are COPYed in the same transaction, so the planner has no
    statistics for them: it estimates one row per CTE and joins the inserted features
    with their events by a nested loop, 100,000 x 100,000 comparisons for a 100,000-row
    publication (hours); a hash join takes a second. Local to the transaction.
    """
    was = session.execute(text("SELECT current_setting('enable_nestloop')")).scalar_one()
    session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_nestloop', :v, true)"), {"v": was})


def publish_import_rows(session: Session, *, run_id: int, source: str,
                        attribution: str | None, actor_id: int | None = None,
                        reason: str | None = None,
                        max_zoom: int = DEFAULT_MAX_ZOOM,
                        refs: list[str] | None = None) -> tuple[int, int]:
    """Publish the valid rows of an import run, set-based: ``(created, revised)``.

    ``refs``: only the rows of these references (a source sync publishes its new rows
    and revises its changed ones, leaving moderators' edits to a merge); ``None``: all.

    Writes exactly what :func:`publish_feature` (a new ``(source, ref)``) and
    :func:`revise_feature` (a ref already on the map whose content changed) write per
    row, in a few statements: features, versions, ``import`` audit events carrying the
    run id, and dirty tiles. A row identical to its published feature writes nothing.
    """
    reason = reason or f"import from {source}"
    params = {"run": run_id, "source": source, "attribution": attribution,
              "actor": actor_id, "reason": reason, "refs": refs}
    with _no_nested_loops(session):
        revised = session.execute(_REVISE, params).all()
        created = session.execute(_CREATE, params).all()
    pts = [(x, y) for x, y in created] + [(x, y) for x, y, _, _ in revised] + \
        [(ox, oy) for _, _, ox, oy in revised]
    if pts:
        arr = np.array(pts, dtype=float)
        _mark_many_dirty(session, arr[:, 0], arr[:, 1], max_zoom=max_zoom)
    return len(created), len(revised)


# Many features to one status (a source sync's retirements and returns), as
# revise_feature writes it per feature: a version, an audit event with before and after
# (carrying the import run), dirty tiles. Only features not already in that status.
_SET_STATUS = text(_expand("""
WITH old AS (
  SELECT f.id AS fid, {snapshot:f} AS before FROM feature f
  WHERE f.id = ANY(CAST(:ids AS bigint[])) AND f.status::text <> :status
  FOR UPDATE OF f
), upd AS (
  UPDATE feature f SET status = CAST(:status AS feature_status), version = f.version + 1,
         updated_at = now()
  FROM old o WHERE f.id = o.fid
  RETURNING f.*
), ev AS (
  INSERT INTO moderation_event (actor_id, action, feature_id, reason, before, after,
                                import_run_id)
  SELECT :actor, CAST(:action AS moderation_action), upd.id, :reason, o.before,
         {snapshot:upd}, :run
  FROM upd JOIN old o ON o.fid = upd.id ORDER BY upd.id
  RETURNING id, feature_id
), ver AS (
  INSERT INTO feature_version ({version_columns})
  SELECT upd.id, upd.version, upd.status, upd.category, upd.title, upd.description,
         upd.starts_at, upd.ends_at, upd.attributes, upd.geom, :actor, ev.id
  FROM upd JOIN ev ON ev.feature_id = upd.id
)
SELECT upd.id, ST_X(upd.geom), ST_Y(upd.geom) FROM upd
"""))


def set_status_many(session: Session, feature_ids: list[int], status: FeatureStatus, *,
                    action: ModerationAction, reason: str, actor_id: int | None = None,
                    run_id: int | None = None,
                    max_zoom: int = DEFAULT_MAX_ZOOM) -> list[int]:
    """Put many features in ``status`` at once; the ids that changed.

    What :func:`revise_feature` writes for a status change, set-based: a source sync
    retires a thousand rows gone from its source (``unpublished``, ``unpublish``, reason
    ``removed-at-source: ...``) in a few statements. Features already in ``status`` are
    left alone (no version, no event).
    """
    if not feature_ids:
        return []
    with _no_nested_loops(session):
        rows = session.execute(_SET_STATUS, {
            "ids": list(feature_ids), "status": str(status), "action": str(action),
            "reason": reason, "actor": actor_id, "run": run_id}).all()
    if rows:
        arr = np.array([(x, y) for _, x, y in rows], dtype=float)
        _mark_many_dirty(session, arr[:, 0], arr[:, 1], max_zoom=max_zoom)
    return [int(i) for i, _, _ in rows]
