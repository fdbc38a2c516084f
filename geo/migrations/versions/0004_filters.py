"""Indexes of the shared filters (list, filtered tiles, walk) and of event expiry.

* ``feature_published_ends_idx`` and ``feature_published_day_events_idx``: what ended
  between two checks of the tile watcher (:data:`geo.events.ENDED_BETWEEN_SQL`), two
  range scans over the few dated rows instead of a scan of every feature.
* ``feature_accessibility_gin``: ``accessible=...`` with ``accessible_match=known``
  (``attributes -> 'accessibility' ?& slugs``) is a restrictive filter; with this index
  PostgreSQL ANDs it with the map box as two bitmaps.
* ``feature_published_geog_gist``: ``near=lon,lat`` orders by the true distance on the
  sphere (``geography <->``), nearest first, through an index scan that stops at the page
  size. Ordering by ``geometry <->`` would rank in degrees, and a degree of longitude is
  a third shorter than one of latitude in Paris.

A branch of its own on ``0001`` (only the ``feature`` table is touched), so that it
never fights another package's chain.

Revision ID: 0004_filters
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0004_filters"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE INDEX feature_published_ends_idx ON feature (ends_at)
  WHERE status = 'published' AND ends_at IS NOT NULL;
CREATE INDEX feature_published_day_events_idx ON feature (starts_at)
  WHERE status = 'published' AND ends_at IS NULL AND starts_at IS NOT NULL;
CREATE INDEX feature_accessibility_gin ON feature USING gin ((attributes -> 'accessibility'))
  WHERE status = 'published';
CREATE INDEX feature_published_geog_gist ON feature USING gist ((geom::geography))
  WHERE status = 'published';
"""

DOWNGRADE = r"""
DROP INDEX feature_published_geog_gist;
DROP INDEX feature_accessibility_gin;
DROP INDEX feature_published_day_events_idx;
DROP INDEX feature_published_ends_idx;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
