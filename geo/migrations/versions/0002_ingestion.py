"""Ingestion: shared rate-limit counters, a title trigram index for duplicate checks.

Rate limits must hold across every gunicorn worker (and every host), so the counters
live in PostgreSQL: one row per client key, bucket and fixed window, incremented with
an upsert. Rows of past windows are deleted as new ones are written.

Revision ID: 0002_ingestion
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002_ingestion"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE UNLOGGED TABLE rate_counter (
  client_key    text NOT NULL CHECK (client_key ~ '^[0-9a-f]{8,64}$'),
  bucket        text NOT NULL CHECK (bucket ~ '^[a-z_]{1,32}$'),
  window_start  timestamptz NOT NULL,
  hits          integer NOT NULL DEFAULT 1 CHECK (hits >= 1),
  PRIMARY KEY (client_key, bucket, window_start)
);
CREATE INDEX rate_counter_window_idx ON rate_counter (window_start);

CREATE INDEX feature_title_trgm ON feature USING gin (title gin_trgm_ops);
CREATE INDEX submission_source_received_idx ON submission (source, received_at);
"""

DOWNGRADE = r"""
DROP INDEX submission_source_received_idx;
DROP INDEX feature_title_trgm;
DROP TABLE rate_counter;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
