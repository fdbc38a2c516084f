"""Sources that stay current: what each source last said per row, and every sync run.

* ``source_row``: per ``(source, ref)`` the feature it became, the hash of the content
  the source last gave for it (the *base* of a three-way merge with moderators' edits),
  where that content is (``run_id``, ``row_number`` of ``import_row``) and whether the
  row is ``active`` or was ``retired`` because it disappeared from the source. The
  hash makes "unchanged" a comparison of 32 bytes per row instead of a field-by-field
  join with ``feature``.
* ``source_sync_run``: one per ``carte sources sync`` (or scheduled job): where the
  rows came from, the import run that holds them, the report (read, new, changed,
  retired, unchanged, refused by reason) and its status: ``applied``; ``held`` (it would
  retire too much of the source, or the download was empty: a moderator confirms or
  discards it); ``confirmed``/``discarded`` (decided, audited); ``superseded`` (a later
  run of the source replaced a held one); ``failed`` (unreadable download, nothing done).
* ``carte_content_hash(...)``: the SHA-256 of a feature's public content (category,
  title, description, dates, attributes, position), the same for an ``import_row`` and
  a ``feature``; ``jsonb`` text is canonical (keys sorted), dates are epochs (the
  session's time zone cannot change the hash).

A branch of its own on ``0003_imports`` (the tables it refers to).

Revision ID: 0015_sources
Revises: 0003_imports
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015_sources"
down_revision = "0003_imports"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE FUNCTION carte_content_hash(p_category text, p_title text, p_description text,
                                   p_starts_at timestamptz, p_ends_at timestamptz,
                                   p_attributes jsonb, p_geom geometry) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to(jsonb_build_array(
    p_category, p_title, coalesce(p_description, ''), extract(epoch FROM p_starts_at),
    extract(epoch FROM p_ends_at), coalesce(p_attributes, '{}'::jsonb),
    round(ST_X(p_geom)::numeric, 7), round(ST_Y(p_geom)::numeric, 7))::text, 'UTF8'))
$$;

CREATE TABLE source_row (
  source        text NOT NULL CHECK (carte_nonblank(source)),
  ref           text NOT NULL,
  feature_id    bigint NOT NULL REFERENCES feature(id),
  content_hash  bytea NOT NULL CHECK (octet_length(content_hash) = 32),
  run_id        bigint REFERENCES import_run(id),
  row_number    integer,
  state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, ref)
);
CREATE INDEX source_row_feature_idx ON source_row (feature_id);

CREATE TABLE source_sync_run (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source         text NOT NULL CHECK (carte_nonblank(source)),
  location       text NOT NULL,
  trigger        text NOT NULL DEFAULT 'cli' CHECK (trigger IN ('cli', 'worker', 'web')),
  import_run_id  bigint REFERENCES import_run(id),
  status         text NOT NULL DEFAULT 'running' CHECK (status IN (
                   'running', 'applied', 'held', 'confirmed', 'discarded', 'superseded',
                   'failed')),
  hold_reason    text CHECK (hold_reason IS NULL OR hold_reason IN ('retire_share', 'empty')),
  report         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(report) = 'object'),
  error          text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  decided_at     timestamptz,
  decided_by     integer REFERENCES app_user(id),
  CHECK (status = 'running' OR finished_at IS NOT NULL),
  CHECK ((status = 'held') = (hold_reason IS NOT NULL) OR status IN ('confirmed',
         'discarded', 'superseded')),
  CHECK (status <> 'failed' OR carte_nonblank(error)),
  CHECK (status NOT IN ('confirmed', 'discarded') OR decided_at IS NOT NULL)
);
CREATE INDEX source_sync_run_source_idx ON source_sync_run (source, id);
CREATE INDEX source_sync_run_held_idx ON source_sync_run (id) WHERE status = 'held';
"""

DOWNGRADE = r"""
DROP TABLE source_sync_run;
DROP TABLE source_row;
DROP FUNCTION carte_content_hash(text, text, text, timestamptz, timestamptz, jsonb, geometry);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
