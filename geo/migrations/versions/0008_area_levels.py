"""Area levels are the city's: an area has a level (any slug of its ``city.json``) and a depth.

Until now ``area.kind`` was an enum of Paris's levels (``city``, ``arrondissement``,
``quartier``), so no other city could be loaded. The level becomes text (the level's
``slug`` in ``city.json``, checked as one) and each area carries its ``depth``: 0 for the
city's outline, 1 for the first level, 2 for the second... computed here from the
parent chain of the rows already loaded. Code that places a point asks for a depth,
never for Paris's level names; the feature, submission and import-row tables keep
their two area columns, which hold the first and second level's area (see
``geo.published.AREA_COLUMNS``).

A branch of its own on ``0004_filters`` (the ``geo`` package's chain).

Revision ID: 0008_area_levels
Revises: 0004_filters
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008_area_levels"
down_revision = "0004_filters"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE area DROP CONSTRAINT area_check;
ALTER TABLE area ALTER COLUMN kind TYPE text USING kind::text;
DROP TYPE area_kind;
ALTER TABLE area ADD CONSTRAINT area_kind_slug CHECK (kind ~ '^[a-z][a-z0-9_]{0,62}$');
ALTER TABLE area ADD COLUMN depth smallint;
WITH RECURSIVE chain (id, depth) AS (
  SELECT id, 0 FROM area WHERE parent_id IS NULL
  UNION ALL
  SELECT a.id, c.depth + 1 FROM area a JOIN chain c ON a.parent_id = c.id
)
UPDATE area SET depth = chain.depth FROM chain WHERE chain.id = area.id;
ALTER TABLE area ALTER COLUMN depth SET NOT NULL;
ALTER TABLE area ADD CONSTRAINT area_depth_parent
  CHECK (depth >= 0 AND (depth = 0) = (parent_id IS NULL) AND (depth = 0) = (kind = 'city'));
CREATE INDEX area_depth_idx ON area (depth);
"""

DOWNGRADE = r"""
DROP INDEX area_depth_idx;
ALTER TABLE area DROP CONSTRAINT area_depth_parent;
ALTER TABLE area DROP COLUMN depth;
ALTER TABLE area DROP CONSTRAINT area_kind_slug;
CREATE TYPE area_kind AS ENUM ('city', 'arrondissement', 'quartier');
ALTER TABLE area ALTER COLUMN kind TYPE area_kind USING kind::area_kind;
ALTER TABLE area ADD CONSTRAINT area_check CHECK ((kind = 'city') = (parent_id IS NULL));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
