"""Features, submissions and import rows reference their areas generically: ``area_ids``.

Until now each of these tables had one column per area level, named after Paris's
(``arrondissement_id``, ``quartier_id``), so a city had at most two levels. They become
one ``area_ids integer[]``, positional by depth: ``area_ids[1]`` is the area of the
first level (Paris: the arrondissement), ``area_ids[2]`` of the second (the quartier),
``area_ids[3]`` of a third..., ``NULL`` at a level where the point is in no area, ``{}``
when it is in none (or not placed yet).

Why an array and not a link table: every reader needs either "the area of depth d"
(the public ``arrondissement``/``quartier`` properties, the moderation queue, search,
the calendar and the feed: one ``LEFT JOIN area ON id = area_ids[d]``, as before) or
"is it in area X, whatever its level" (the ``area=`` filters: ``area_ids @> ARRAY[X]``,
answered by a GIN index). A link table would need a join or a sub-select per level
for the first, and gives nothing more for the second; the array also keeps the COPY of
an import one column per row. The cost: no foreign key per element. Areas are upserted
by code and never deleted (``geo.areas.load_areas``), so ids stay valid; import rows
keep their statement-level reference check (the trigger below, on the elements).

Branch: on ``0003_imports`` (the newest revision creating one of the three tables),
after ``0008_area_levels`` (area depths).

Revision ID: 0016_area_refs
Revises: 0003_imports
Create Date: 2026-12-07
"""

from alembic import op

revision = "0016_area_refs"
down_revision = "0003_imports"
branch_labels = None
depends_on = ("0008_area_levels",)

UPGRADE = r"""
ALTER TABLE feature ADD COLUMN area_ids integer[] NOT NULL DEFAULT '{}';
ALTER TABLE submission ADD COLUMN area_ids integer[] NOT NULL DEFAULT '{}';
ALTER TABLE import_row ADD COLUMN area_ids integer[] NOT NULL DEFAULT '{}';

UPDATE feature SET area_ids = ARRAY[arrondissement_id, quartier_id]
  WHERE arrondissement_id IS NOT NULL OR quartier_id IS NOT NULL;
UPDATE submission SET area_ids = ARRAY[arrondissement_id, quartier_id]
  WHERE arrondissement_id IS NOT NULL OR quartier_id IS NOT NULL;
ALTER TABLE import_row DISABLE TRIGGER import_row_append_only;
UPDATE import_row SET area_ids = ARRAY[arrondissement_id, quartier_id]
  WHERE arrondissement_id IS NOT NULL OR quartier_id IS NOT NULL;
ALTER TABLE import_row ENABLE TRIGGER import_row_append_only;

DROP INDEX IF EXISTS submission_pending_arrondissement_idx;
DROP INDEX IF EXISTS submission_pending_quartier_idx;
ALTER TABLE feature DROP COLUMN arrondissement_id, DROP COLUMN quartier_id;
ALTER TABLE submission DROP COLUMN arrondissement_id, DROP COLUMN quartier_id;

CREATE INDEX feature_area_ids_idx ON feature USING gin (area_ids);
CREATE INDEX submission_pending_area_ids_idx ON submission USING gin (area_ids)
  WHERE status = 'pending';

CREATE OR REPLACE FUNCTION carte_import_row_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad text;
BEGIN
  -- One scan of the new rows; the few distinct references are then looked up.
  WITH d AS (SELECT DISTINCT run_id, category FROM new_rows),
       ar AS (SELECT DISTINCT x.id FROM new_rows n, unnest(n.area_ids) AS x(id)
              WHERE x.id IS NOT NULL)
  SELECT coalesce(
    (SELECT 'run ' || d.run_id FROM d
      WHERE NOT EXISTS (SELECT 1 FROM import_run r WHERE r.id = d.run_id) LIMIT 1),
    (SELECT 'category ' || quote_literal(d.category) FROM d WHERE d.category IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM category c WHERE c.slug = d.category) LIMIT 1),
    (SELECT 'area ' || ar.id FROM ar
      WHERE NOT EXISTS (SELECT 1 FROM area a WHERE a.id = ar.id) LIMIT 1))
  INTO bad;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'import_row refers to a missing %', bad
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
ALTER TABLE import_row DROP COLUMN arrondissement_id, DROP COLUMN quartier_id;
"""

DOWNGRADE = r"""
ALTER TABLE import_row ADD COLUMN arrondissement_id integer, ADD COLUMN quartier_id integer;
ALTER TABLE import_row DISABLE TRIGGER import_row_append_only;
UPDATE import_row SET arrondissement_id = area_ids[1], quartier_id = area_ids[2];
ALTER TABLE import_row ENABLE TRIGGER import_row_append_only;
CREATE OR REPLACE FUNCTION carte_import_row_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad text;
BEGIN
  WITH d AS (SELECT DISTINCT run_id, category, arrondissement_id, quartier_id FROM new_rows)
  SELECT coalesce(
    (SELECT 'run ' || d.run_id FROM d
      WHERE NOT EXISTS (SELECT 1 FROM import_run r WHERE r.id = d.run_id) LIMIT 1),
    (SELECT 'category ' || quote_literal(d.category) FROM d WHERE d.category IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM category c WHERE c.slug = d.category) LIMIT 1),
    (SELECT 'area ' || d.arrondissement_id FROM d WHERE d.arrondissement_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM area a WHERE a.id = d.arrondissement_id) LIMIT 1),
    (SELECT 'area ' || d.quartier_id FROM d WHERE d.quartier_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM area a WHERE a.id = d.quartier_id) LIMIT 1))
  INTO bad;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'import_row refers to a missing %', bad
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
ALTER TABLE import_row DROP COLUMN area_ids;

DROP INDEX submission_pending_area_ids_idx;
DROP INDEX feature_area_ids_idx;
ALTER TABLE feature ADD COLUMN arrondissement_id integer REFERENCES area(id),
  ADD COLUMN quartier_id integer REFERENCES area(id);
ALTER TABLE submission ADD COLUMN arrondissement_id integer REFERENCES area(id),
  ADD COLUMN quartier_id integer REFERENCES area(id);
UPDATE feature SET arrondissement_id = area_ids[1], quartier_id = area_ids[2];
UPDATE submission SET arrondissement_id = area_ids[1], quartier_id = area_ids[2];
ALTER TABLE feature DROP COLUMN area_ids;
ALTER TABLE submission DROP COLUMN area_ids;
CREATE INDEX submission_pending_arrondissement_idx ON submission
  (arrondissement_id, received_at, id) WHERE status = 'pending';
CREATE INDEX submission_pending_quartier_idx ON submission
  (quartier_id, received_at, id) WHERE status = 'pending';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
