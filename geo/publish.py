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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import func
from sqlalchemy.orm import Session

from .areas import locate
from .dirty import DEFAULT_MAX_ZOOM, mark_points_dirty
from .errors import FeatureNotFound, VersionConflict
from .models import Feature, FeatureStatus, FeatureVersion, ModerationAction, ModerationEvent

__all__ = [
    "EDITABLE",
    "FeatureDraft",
    "feature_lonlat",
    "publish_feature",
    "revise_feature",
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
        arrondissement_id=where.arrondissement.id if where.arrondissement else None,
        quartier_id=where.quartier.id if where.quartier else None,
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
        feature.arrondissement_id = where.arrondissement.id if where.arrondissement else None
        feature.quartier_id = where.quartier.id if where.quartier else None
    feature.version += 1
    feature.updated_at = func.now()
    session.flush()
    session.refresh(feature)
    _record(session, feature, action=action, actor_id=actor_id, submission_id=submission_id,
            reason=reason, before=before, lonlat=new)
    mark_points_dirty(session, {old, new}, max_zoom=max_zoom)
    return feature
