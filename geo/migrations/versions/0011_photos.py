"""Residents' photos: one row per received file, its status and public derivatives.

A row is written when a file arrives (``quarantined``: kept as received, never
public), then marked ``ready`` with the keys of its re-encodings or ``refused`` with
the reason code. It belongs to a submission, a correction, or (uploaded ahead with
``POST /api/v1/photos``) to nobody yet, reachable only by the uploader's token, of
which we keep the hash. Approval sets ``feature_id``: public photos are exactly
``feature_id IS NOT NULL AND status = 'ready'`` on a published feature.

Revision ID: 0011_photos
Revises: 0001
Depends on: 0010_mail_corrections (the correction table)
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011_photos"
down_revision = "0001"
branch_labels = None
depends_on = ("0010_mail_corrections",)

UPGRADE = r"""
CREATE TABLE photo (
  id bigserial PRIMARY KEY,
  submission_id bigint REFERENCES submission(id),
  correction_id bigint REFERENCES correction(id),
  feature_id bigint REFERENCES feature(id),
  upload_token_hash text UNIQUE,
  status text NOT NULL DEFAULT 'quarantined'
    CHECK (status IN ('quarantined', 'ready', 'refused', 'hidden', 'removed')),
  refusal_reason text,
  original_name text,
  original_sha256 text,
  media_type text,
  width int,
  height int,
  display_key text,
  thumb_key text,
  licence text NOT NULL DEFAULT 'CC-BY-SA-4.0' CHECK (licence IN ('CC-BY-SA-4.0', 'CC0-1.0')),
  author text,
  alt text,
  position smallint,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  decided_by bigint REFERENCES app_user(id),
  CHECK (status <> 'ready' OR (display_key IS NOT NULL AND thumb_key IS NOT NULL))
);
CREATE INDEX photo_feature_idx ON photo (feature_id) WHERE feature_id IS NOT NULL;
CREATE INDEX photo_submission_idx ON photo (submission_id) WHERE submission_id IS NOT NULL;
CREATE INDEX photo_correction_idx ON photo (correction_id) WHERE correction_id IS NOT NULL;
CREATE INDEX photo_display_key_idx ON photo (display_key) WHERE display_key IS NOT NULL;
CREATE INDEX photo_thumb_key_idx ON photo (thumb_key) WHERE thumb_key IS NOT NULL;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS photo")
