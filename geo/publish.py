"""Publication: the only way a feature is created or changed.

Every change, whoever makes it (a moderator's approval, an edit, a partner import, an
unpublish after flags), goes through :func:`publish_feature` or :func:`revise_feature`,
which in one transaction (the caller's session) write the feature, a
``feature_version`` row keeping the state, a ``moderation_event`` with before and
after, and mark the tiles of the old and new positions dirty. Changes are optimistic:
the caller says which version it saw, and a concurrent change raises
:class:`~geo.errors.VersionConflict` instead of being silently overwritten. Imports
(:func:`publish_import_rows`) write the same set-based, with one audit event per
statement that all their versions point to.
"""

from __future__ import annotations

import json
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
    "reserve_event_id",
    "revise_feature",
    "set_status_many",
    "snapshot",
    "version_snapshot_sql",
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
    for alias in ("f", "upd"):
        sql = sql.replace("{snapshot:" + alias + "}", _snapshot_sql(alias))
    return sql.replace("{version_columns}", _VERSION_COLUMNS)


_VERSION_COLUMNS = ("feature_id, version, status, category, title, description, starts_at, "
                    "ends_at, attributes, geom, changed_by, event_id")

# An import writes one audit event, not one per feature: the event of the publication
# (no feature; the run, and how many features it created and revised), which every
# version it wrote points to (``feature_version.event_id``). Each version row holds the
# feature's state, the version below it the state before. Per-feature events repeated
# the versions (90,000 rows of audit for one moderator's click, burying the decision
# in the audit page) and cost a fifth of a publication: an insert, four indexes and
# four foreign-key checks per row. The event is written last, when its counts are
# known, under an id taken first: the versions' foreign key to it is checked at
# commit (deferred, migration 0020). :func:`version_snapshot_sql` gives a feature's
# history back, per feature, with before and after.

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
), ver AS (
  INSERT INTO feature_version ({version_columns})
  SELECT ins.id, ins.version, ins.status, ins.category, ins.title, ins.description,
         ins.starts_at, ins.ends_at, ins.attributes, ins.geom, :actor, :event
  FROM ins
)
SELECT count(*), array_agg(ST_X(geom)), array_agg(ST_Y(geom)) FROM ins
"""))

# Changed rows: a new version of the feature already published from the same (source, ref).
_REVISE = text(_expand("""
WITH old AS (
  SELECT f.id AS fid, f.geom AS old_geom, r.*
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
), ver AS (
  INSERT INTO feature_version ({version_columns})
  SELECT upd.id, upd.version, upd.status, upd.category, upd.title, upd.description,
         upd.starts_at, upd.ends_at, upd.attributes, upd.geom, :actor, :event
  FROM upd
)
SELECT count(*), array_agg(ST_X(upd.geom)) || array_agg(ST_X(o.old_geom)),
       array_agg(ST_Y(upd.geom)) || array_agg(ST_Y(o.old_geom))
FROM upd JOIN old o ON o.fid = upd.id
"""))


def version_snapshot_sql(v: str) -> str:
    """:func:`snapshot` of the ``feature_version`` row aliased ``v`` (SQL jsonb).

    For the audit of versions written under an import's one event: the "after" of such
    a version is its own row, the "before" the row of the version below it.
    """
    return (f"jsonb_build_object('id', {v}.feature_id, 'version', {v}.version, 'status', "
            f"{v}.status::text, 'category', {v}.category, 'title', {v}.title, "
            f"'description', {v}.description, 'starts_at', to_jsonb({v}.starts_at), "
            f"'ends_at', to_jsonb({v}.ends_at), 'attributes', {v}.attributes, "
            f"'lon', ST_X({v}.geom), 'lat', ST_Y({v}.geom), 'merged_into', NULL)")


def _mark_many_dirty(session: Session, lons: np.ndarray, lats: np.ndarray, *,
                     max_zoom: int) -> int:
    """:func:`geo.dirty.mark_points_dirty` for many points, vectorised.

    The points are projected once, at ``max_zoom``; each zoom above is the unique set
    of the one below shifted by a bit, so 90,000 points cost a few milliseconds (a
    projection and a 2-D ``np.unique`` per zoom took 1.6 s).
    """
    tiles: set[Tile] = set()
    if len(lons):
        xs, ys = lonlat_to_tile(lons, lats, max_zoom)
        keys = np.unique((xs << 32) | ys)
        for z in range(max_zoom, -1, -1):
            tiles.update(Tile(z, int(k >> 32), int(k & 0xFFFFFFFF)) for k in keys.tolist())
            xs, ys = (keys >> 32) >> 1, (keys & 0xFFFFFFFF) >> 1
            keys = np.unique((xs << 32) | ys)
    return mark_dirty(session, tiles)


@contextmanager
def _bulk_plan(session: Session) -> Iterator[None]:
    """Plan the next statements for bulk work, then restore the settings.

    * ``enable_nestloop = off``: the rows of a run are COPYed in the same transaction,
      so the planner has no statistics for them: it estimates one row per CTE and
      joins the inserted features with their events by a nested loop, 100,000 x
      100,000 comparisons for a 100,000-row publication (hours); a hash join takes a
      second.
    * ``jit = off``: the statement's cost passes the JIT thresholds, and compiling its
      expressions took ~0.3 s of a 4.6 s publication, for nothing: each row's work is
      index and trigger maintenance, which JIT does not speed up.

    Both are local to the transaction.
    """
    names = ("enable_nestloop", "jit")
    was = {n: session.execute(text("SELECT current_setting(:n)"), {"n": n}).scalar_one()
           for n in names}
    for n in names:
        session.execute(text("SELECT set_config(:n, 'off', true)"), {"n": n})
    try:
        yield
    finally:
        for n in names:
            session.execute(text("SELECT set_config(:n, :v, true)"), {"n": n, "v": was[n]})


def publish_import_rows(session: Session, *, run_id: int, source: str,
                        attribution: str | None, actor_id: int | None = None,
                        reason: str | None = None,
                        max_zoom: int = DEFAULT_MAX_ZOOM,
                        refs: list[str] | None = None,
                        event_id: int | None = None) -> tuple[int, int]:
    """Publish the valid rows of an import run, set-based: ``(created, revised)``.

    ``refs``: only the rows of these references (a source sync publishes its new rows
    and revises its changed ones, leaving moderators' edits to a merge); ``None``: all.

    Writes what :func:`publish_feature` (a new ``(source, ref)``) and
    :func:`revise_feature` (a ref already on the map whose content changed) write per
    row, in a few statements: features, versions, dirty tiles, and one audit event that
    the versions point to (see above) rather than one per feature. A row identical to
    its published feature writes nothing.

    ``event_id``: the caller's event (from :func:`reserve_event_id`), which it must
    insert before the transaction commits, e.g. a moderator's decision on the run
    carrying the counts; ``None``: an ``import`` event with the run, the source and the
    counts is written here when anything changed.
    """
    reason = reason or f"import from {source}"
    own_event = event_id is None
    event = reserve_event_id(session) if own_event else event_id
    params = {"run": run_id, "source": source, "attribution": attribution,
              "actor": actor_id, "reason": reason, "refs": refs, "event": event}
    with _bulk_plan(session):
        # one row each: the count and the points as two float8[] (the tiles to mark
        # dirty: new and old positions of revised features), since turning 90,000
        # result rows into numpy took a second
        revised, rx, ry = session.execute(_REVISE, params).one()
        created, cx, cy = session.execute(_CREATE, params).one()
    lons = np.array((rx or []) + (cx or []), dtype=float)
    lats = np.array((ry or []) + (cy or []), dtype=float)
    _mark_many_dirty(session, lons, lats, max_zoom=max_zoom)
    if own_event and (created or revised):
        session.execute(_IMPORT_EVENT, {
            "id": event, "actor": actor_id, "reason": reason, "run": run_id,
            "after": json.dumps({"source": source, "created": int(created),
                                 "revised": int(revised)})})
    return int(created), int(revised)


_IMPORT_EVENT = text(
    "INSERT INTO moderation_event (id, actor_id, action, reason, after, import_run_id) "
    "OVERRIDING SYSTEM VALUE VALUES (:id, :actor, 'import', :reason, CAST(:after AS jsonb), :run)")


def reserve_event_id(session: Session) -> int:
    """An audit event id to write versions under before the event itself is written.

    The event must be inserted with this id (``OVERRIDING SYSTEM VALUE``: the id is an
    identity) in the same transaction: the versions' foreign key to it is checked at
    commit.
    """
    return int(session.execute(text(
        "SELECT nextval(pg_get_serial_sequence('moderation_event', 'id'))")).scalar_one())


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
    with _bulk_plan(session):
        rows = session.execute(_SET_STATUS, {
            "ids": list(feature_ids), "status": str(status), "action": str(action),
            "reason": reason, "actor": actor_id, "run": run_id}).all()
    if rows:
        arr = np.array([(x, y) for _, x, y in rows], dtype=float)
        _mark_many_dirty(session, arr[:, 0], arr[:, 1], max_zoom=max_zoom)
    return [int(i) for i, _, _ in rows]
