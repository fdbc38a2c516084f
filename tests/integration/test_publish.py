"""Publication writes the feature, its version, the audit event and dirty tiles together."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo.errors import VersionConflict
from geo.models import (
    Feature,
    FeatureStatus,
    FeatureVersion,
    ModerationAction,
    ModerationEvent,
    TileDirty,
)
from geo.publish import FeatureDraft, feature_lonlat, publish_feature, revise_feature
from geo.tilemath import tiles_for_point


@pytest.fixture
def db(clean_db):
    with clean_db.begin() as conn:
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) VALUES "
            "('jardin-test', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf') "
            "ON CONFLICT DO NOTHING"))
    yield clean_db
    with clean_db.begin() as conn:
        conn.execute(text("TRUNCATE feature, submission, tile_dirty CASCADE"))
        conn.execute(text("DELETE FROM category WHERE slug = 'jardin-test'"))


def publish(db, **kw):
    draft = FeatureDraft(category="jardin-test", title="Jardin Saint-Merri", lon=2.3522,
                         lat=48.8566, **kw)
    with Session(db) as s, s.begin():
        return publish_feature(s, draft, max_zoom=14).id


def test_publish_writes_version_event_area_and_dirty_tiles(db):
    fid = publish(db)
    with Session(db) as s:
        f = s.get(Feature, fid)
        assert f.status == FeatureStatus.published and f.version == 1
        assert len(f.area_ids) == 2 and None not in f.area_ids
        assert s.scalar(select(func.count()).select_from(FeatureVersion)) == 1
        event = s.scalars(select(ModerationEvent)).one()
        assert event.action == ModerationAction.approve and event.before is None
        assert event.after["title"] == "Jardin Saint-Merri"
        dirty = {(t.z, t.x, t.y) for t in s.scalars(select(TileDirty))}
    assert dirty == {tuple(t) for t in tiles_for_point(2.3522, 48.8566, max_zoom=14)}


def test_moving_a_feature_marks_both_columns_and_relocates_it(db):
    fid = publish(db)
    with Session(db) as s, s.begin():
        s.execute(text("TRUNCATE tile_dirty"))
        f = revise_feature(s, fid, {"lon": 2.2945, "lat": 48.8584, "title": "Déplacé"},
                           expected_version=1, action=ModerationAction.edit, max_zoom=14)
        assert f.version == 2 and feature_lonlat(f) == pytest.approx((2.2945, 48.8584))
    with Session(db) as s:
        dirty = {(t.z, t.x, t.y) for t in s.scalars(select(TileDirty))}
        versions = s.scalars(select(FeatureVersion.title).order_by(FeatureVersion.version)).all()
        assert versions == ["Jardin Saint-Merri", "Déplacé"]   # the previous state is kept
        event = s.scalars(select(ModerationEvent).where(
            ModerationEvent.action == ModerationAction.edit)).one()
        assert event.before["title"] == "Jardin Saint-Merri" and event.after["version"] == 2
    old = {tuple(t) for t in tiles_for_point(2.3522, 48.8566, max_zoom=14)}
    new = {tuple(t) for t in tiles_for_point(2.2945, 48.8584, max_zoom=14)}
    assert dirty == old | new


def test_a_stale_version_is_a_conflict_and_writes_nothing(db):
    fid = publish(db)
    with Session(db) as s, s.begin():
        revise_feature(s, fid, {"status": "unpublished"}, expected_version=1,
                       action=ModerationAction.unpublish, reason="duplicate")
    with pytest.raises(VersionConflict, match="version 2, not 1"), Session(db) as s, s.begin():
        revise_feature(s, fid, {"title": "overwrite"}, expected_version=1,
                       action=ModerationAction.edit)
    with Session(db) as s:
        f = s.get(Feature, fid)
        assert (f.title, f.status, f.version) == ("Jardin Saint-Merri",
                                                  FeatureStatus.unpublished, 2)


def test_only_editable_fields(db):
    fid = publish(db)
    with pytest.raises(ValueError, match="source"), Session(db) as s:
        revise_feature(s, fid, {"source": "x"}, expected_version=1, action=ModerationAction.edit)
