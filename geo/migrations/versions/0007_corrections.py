"""Corrections and closures residents propose for published features.

``correction`` keeps, like ``submission``, the raw body first (``status = 'received'``)
and what validation made of it: ``changes`` (field → proposed value, only the fields
that differ), ``closed`` (the place is reported closed), a ``comment``, an optional
private ``email``. ``base_version`` is the feature version the diff was made against,
so a moderator sees it as a diff and approval cannot silently overwrite a later edit.
Approving creates a new feature version (``geo.publish.revise_feature``); refusing
keeps the moderator's reason, which the resident reads on the tracking page.
The ``echange-temps`` number field ``hours`` becomes ``duration_hours``, with its data.
``submission_status`` gains ``withdrawn``: a resident takes back a pending pin from
the tracking page.

A branch of its own on ``0001`` (``app_user`` comes from ``0002_moderation``).

Revision ID: 0007_corrections
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0007_corrections"
down_revision = "0001"
branch_labels = None
depends_on = ("0002_moderation",)

UPGRADE = r"""
ALTER TYPE submission_status ADD VALUE IF NOT EXISTS 'withdrawn';

CREATE TABLE correction (
  id bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now(),
  feature_id bigint NOT NULL REFERENCES feature(id),
  base_version integer,
  raw bytea NOT NULL,
  content_type text,
  client_key text,
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'pending', 'invalid', 'approved', 'refused', 'withdrawn')),
  errors jsonb,
  changes jsonb NOT NULL DEFAULT '{}',
  closed boolean NOT NULL DEFAULT false,
  comment text,
  email text,
  lang text,
  tracking_token_hash bytea UNIQUE,
  reason text,
  decided_at timestamptz,
  decided_by bigint REFERENCES app_user(id),
  new_version integer
);
CREATE INDEX correction_pending_idx ON correction (received_at) WHERE status = 'pending';
CREATE INDEX correction_feature_idx ON correction (feature_id);
CREATE INDEX correction_client_idx ON correction (client_key, received_at);

-- Like submissions, what was received is never rewritten nor deleted.
CREATE FUNCTION carte_correction_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'correction % is append-only: it cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.raw IS DISTINCT FROM OLD.raw OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR NEW.feature_id IS DISTINCT FROM OLD.feature_id THEN
    RAISE EXCEPTION 'correction %: what was received cannot be changed', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER correction_append_only BEFORE UPDATE OR DELETE ON correction
  FOR EACH ROW EXECUTE FUNCTION carte_correction_append_only();

-- echange-temps: the number field "hours" is now "duration_hours" (data/categories.json):
-- attributes.hours means opening/availability slots everywhere else (filters read it).
UPDATE feature SET attributes = (attributes - 'hours')
    || jsonb_build_object('duration_hours', attributes -> 'hours')
  WHERE category = 'echange-temps' AND jsonb_typeof(attributes -> 'hours') = 'number';
UPDATE submission SET attributes = (attributes - 'hours')
    || jsonb_build_object('duration_hours', attributes -> 'hours')
  WHERE category = 'echange-temps' AND jsonb_typeof(attributes -> 'hours') = 'number';
"""

DOWNGRADE = r"""
UPDATE feature SET attributes = (attributes - 'duration_hours')
    || jsonb_build_object('hours', attributes -> 'duration_hours')
  WHERE category = 'echange-temps' AND attributes ? 'duration_hours';
UPDATE submission SET attributes = (attributes - 'duration_hours')
    || jsonb_build_object('hours', attributes -> 'duration_hours')
  WHERE category = 'echange-temps' AND attributes ? 'duration_hours';
DROP TABLE correction;
DROP FUNCTION carte_correction_append_only();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
