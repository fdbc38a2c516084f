"""Imports: runs, their files as received, and a lean append-only landing table of rows.

``submission`` is built for residents' submissions one at a time (foreign keys checked
row by row, eight indexes, a unique idempotency key): a bulk COPY into it runs at
~18k rows/s. File imports land instead in ``import_row``: one primary key, plain
CHECKs, and one STATEMENT-level trigger that checks, set-based, the run and every
category and area the rows name (one anti-join per COPY, not one lookup per row).

* ``import_run``: one per ``carte import``, with its options, its summary, its status
  (running -> pending -> published or refused; failed with its error) and who decided.
* ``import_file_part``: the file exactly as received, in parts (bytea is capped at 1 GB;
  parts keep memory flat), committed before any row is read: nothing is ever lost.
* ``import_row``: every row as read (its raw bytes and their SHA-256, or where its bytes
  are in the stored file), its outcome and errors, and the normalised record.
  Append-only. ``import_row_raw(run, row)`` gives any row's bytes.
* ``moderation_event.import_run_id``: run-level decisions (publish, refuse) are audited.

Revision ID: 0003_imports
Revises: 0002_ingestion
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003_imports"
down_revision = "0002_ingestion"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TYPE import_run_status AS ENUM ('running', 'pending', 'published', 'refused', 'failed');
CREATE TYPE import_row_outcome AS ENUM ('valid', 'invalid', 'unchanged');

CREATE TABLE import_run (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source        text NOT NULL CHECK (carte_nonblank(source)),
  file_name     text NOT NULL,
  file_sha256   bytea NOT NULL CHECK (octet_length(file_sha256) = 32),
  file_size     bigint NOT NULL CHECK (file_size >= 0),
  content_type  text,
  crs           text,
  -- No FK: checked by the importer, and the caller may still be loading categories in
  -- its own open transaction (the run is committed apart, first).
  category      text,
  options       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
  status        import_run_status NOT NULL DEFAULT 'running',
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  summary       jsonb CHECK (summary IS NULL OR jsonb_typeof(summary) = 'object'),
  decided_at    timestamptz,
  decided_by    integer REFERENCES app_user(id),
  reason        text,
  CHECK (status = 'running' OR finished_at IS NOT NULL),
  CHECK (status NOT IN ('refused', 'failed') OR carte_nonblank(reason)),
  CHECK (status NOT IN ('published', 'refused') OR decided_at IS NOT NULL)
);
CREATE INDEX import_run_source_idx ON import_run (source, id);
CREATE INDEX import_run_status_idx ON import_run (status, id);

CREATE TABLE import_file_part (
  run_id  bigint NOT NULL REFERENCES import_run(id),
  part    integer NOT NULL CHECK (part >= 0),
  data    bytea NOT NULL,
  PRIMARY KEY (run_id, part)
);

CREATE TABLE import_row (
  run_id             bigint NOT NULL,
  row_number         integer NOT NULL CHECK (row_number >= 1),
  ref                text NOT NULL,
  -- The row's bytes: in ``raw`` when the row is not a slice of the stored file (GeoJSON
  -- features re-serialised, GDAL rows, rows of a gzipped file), else where they are in
  -- the file (byte offset, length): a simple CSV's lines are not copied a second time.
  -- Read them with import_row_raw(run_id, row_number), whichever way they are kept.
  raw                bytea,
  raw_offset         bigint CHECK (raw_offset >= 0),
  raw_length         integer CHECK (raw_length >= 0),
  -- Computed by PostgreSQL on the other core: ~1 µs a row there, ~3 µs in Python.
  -- NULL for file slices (re-imports compare those with the previous file's bytes).
  row_hash           bytea GENERATED ALWAYS AS (sha256(raw)) STORED,
  outcome            import_row_outcome NOT NULL,
  changed            boolean NOT NULL DEFAULT false,
  errors             jsonb CHECK (errors IS NULL OR jsonb_typeof(errors) = 'array'),
  category           text,
  title              text CHECK (title IS NULL
                                 OR (carte_nonblank(title) AND char_length(title) <= 120)),
  description        text CHECK (description IS NULL OR char_length(description) <= 2000),
  starts_at          timestamptz,
  ends_at            timestamptz,
  attributes         jsonb CHECK (attributes IS NULL OR jsonb_typeof(attributes) = 'object'),
  -- carte_is_lonlat's rule, spelt out (a third cheaper per row on a COPY); the column
  -- type already refuses anything but a point in SRID 4326, an empty point has no X.
  geom               geometry(Point, 4326) CHECK (geom IS NULL OR coalesce(
                       ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90, false)),
  arrondissement_id  integer,
  quartier_id        integer,
  PRIMARY KEY (run_id, row_number),
  CHECK (raw IS NOT NULL OR (raw_offset IS NOT NULL AND raw_length IS NOT NULL)),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at),
  CHECK ((outcome = 'invalid') = (errors IS NOT NULL)),
  CHECK (outcome <> 'valid'
         OR (geom IS NOT NULL AND title IS NOT NULL AND category IS NOT NULL
             AND attributes IS NOT NULL))
);

-- Parts stored uncompressed: import_row_raw reads a row's few bytes with a slice of
-- the part's TOAST chunks instead of decompressing 16 MB.
ALTER TABLE import_file_part ALTER COLUMN data SET STORAGE EXTERNAL;

-- One way for every reader to get a row's bytes as read, across part boundaries.
CREATE FUNCTION import_row_raw(p_run bigint, p_row integer) RETURNS bytea
LANGUAGE sql STABLE STRICT AS $$
  SELECT coalesce(r.raw, (
    SELECT coalesce(string_agg(substring(d.data
             FROM (greatest(r.raw_offset - f.start, 0) + 1)::integer
             FOR (least(r.raw_offset + r.raw_length, f.start + f.size)
                  - greatest(r.raw_offset, f.start))::integer), ''::bytea ORDER BY f.part),
             ''::bytea)
    FROM (SELECT p.part, octet_length(p.data)::bigint AS size,
                 coalesce(sum(octet_length(p.data)::bigint) OVER (ORDER BY p.part
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start
          FROM import_file_part p WHERE p.run_id = p_run) f
    JOIN import_file_part d ON d.run_id = p_run AND d.part = f.part
    WHERE f.start < r.raw_offset + r.raw_length AND f.start + f.size > r.raw_offset))
  FROM import_row r WHERE r.run_id = p_run AND r.row_number = p_row
$$;

-- The foreign keys of import_row, checked once per statement on its transition table.
CREATE FUNCTION carte_import_row_refs() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad text;
BEGIN
  -- One scan of the new rows; the few distinct references are then looked up.
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
CREATE TRIGGER import_row_refs AFTER INSERT ON import_row
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION carte_import_row_refs();

-- What was imported is never rewritten nor deleted (TRUNCATE, an admin's act, is not).
CREATE FUNCTION carte_import_row_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'import_row is append-only: rows cannot be changed nor deleted'
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER import_row_append_only BEFORE UPDATE OR DELETE ON import_row
  FOR EACH STATEMENT EXECUTE FUNCTION carte_import_row_append_only();
CREATE TRIGGER import_file_part_append_only BEFORE UPDATE OR DELETE ON import_file_part
  FOR EACH STATEMENT EXECUTE FUNCTION carte_import_row_append_only();

ALTER TABLE moderation_event ADD COLUMN import_run_id bigint REFERENCES import_run(id);
ALTER TABLE moderation_event DROP CONSTRAINT moderation_event_check;
ALTER TABLE moderation_event ADD CONSTRAINT moderation_event_check
  CHECK (submission_id IS NOT NULL OR feature_id IS NOT NULL OR import_run_id IS NOT NULL);
CREATE INDEX moderation_event_import_run_idx ON moderation_event (import_run_id)
  WHERE import_run_id IS NOT NULL;
"""

DOWNGRADE = r"""
DROP INDEX moderation_event_import_run_idx;
ALTER TABLE moderation_event DROP CONSTRAINT moderation_event_check;
ALTER TABLE moderation_event ADD CONSTRAINT moderation_event_check
  CHECK (submission_id IS NOT NULL OR feature_id IS NOT NULL);
ALTER TABLE moderation_event DROP COLUMN import_run_id;
DROP FUNCTION import_row_raw(bigint, integer);
DROP TABLE import_row;
DROP FUNCTION carte_import_row_refs();
DROP TABLE import_file_part;
DROP FUNCTION carte_import_row_append_only();
DROP TABLE import_run;
DROP TYPE import_row_outcome;
DROP TYPE import_run_status;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
