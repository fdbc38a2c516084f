"""Residents' addresses on correction proposals are kept apart too (merge of two branches).

Like ``0005_mail`` for submissions: the address intake writes into ``correction.email``
moves into ``resident_address`` (trigger), the correction keeps its id; an erasure
(``SET LOCAL carte.erasure = 'on'``) may blank the address out of the bytes as
received. Merges the mail and corrections branches.

Revision ID: 0010_mail_corrections
Revises: 0005_mail, 0007_corrections
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010_mail_corrections"
down_revision = ("0005_mail", "0007_corrections")
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE correction
  ADD COLUMN resident_address_id bigint REFERENCES resident_address(id) ON DELETE SET NULL;
CREATE INDEX correction_resident_address_idx ON correction (resident_address_id)
  WHERE resident_address_id IS NOT NULL;

INSERT INTO resident_address (email)
  SELECT DISTINCT ON (lower(email)) email FROM correction
  WHERE email IS NOT NULL AND email ~ '^[^@\s]+@[^@\s]+$'
  ORDER BY lower(email), id
  ON CONFLICT ((lower(email))) DO NOTHING;
UPDATE correction c SET resident_address_id = r.id, email = NULL
  FROM resident_address r WHERE c.email IS NOT NULL AND lower(c.email) = lower(r.email);

CREATE FUNCTION carte_correction_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resident_address (email) VALUES (NEW.email)
    ON CONFLICT ((lower(email))) DO UPDATE SET email = resident_address.email
    RETURNING id INTO NEW.resident_address_id;
  NEW.email := NULL;
  RETURN NEW;
END $$;
-- Named to run before correction_append_only (BEFORE triggers fire by name).
CREATE TRIGGER correction_address BEFORE INSERT OR UPDATE OF email ON correction
  FOR EACH ROW WHEN (NEW.email IS NOT NULL) EXECUTE FUNCTION carte_correction_address();

CREATE OR REPLACE FUNCTION carte_correction_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'correction % is append-only: it cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.raw IS DISTINCT FROM OLD.raw
      AND coalesce(current_setting('carte.erasure', true), '') <> 'on')
     OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR NEW.feature_id IS DISTINCT FROM OLD.feature_id THEN
    RAISE EXCEPTION 'correction %: what was received cannot be changed', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
"""

DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION carte_correction_append_only() RETURNS trigger
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
DROP TRIGGER correction_address ON correction;
DROP FUNCTION carte_correction_address();
UPDATE correction c SET email = r.email FROM resident_address r
  WHERE r.id = c.resident_address_id;
ALTER TABLE correction DROP COLUMN resident_address_id;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
