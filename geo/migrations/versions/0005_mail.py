"""Mail: residents' addresses apart from submissions, the outbox, subscriptions.

* ``resident_address``: every e-mail address a resident gave, once (case-insensitive).
  Submissions reference it by id; a BEFORE trigger moves an address written into
  ``submission.email`` (what intake writes) into this table, so no submission row ever
  holds one: ``carte residents forget`` deletes one row here (and what references it)
  and the address is gone everywhere, while the append-only submission is untouched.
* ``submission.lang``: the language the resident wrote in (``fr``/``en``), so that the
  decision reaches them in it.
* ``mail_outbox``: messages rendered when the decision is taken, in the same
  transaction; ``carte worker`` claims due rows with ``FOR UPDATE SKIP LOCKED``, sends
  them and records the outcome, with exponential backoff on failure.
* ``mail_subscription``: double opt-in subscriptions to new items of a category and/or
  an area. ``mail_schedule``: the worker's periodic tasks (digest, fan-out cursor).
* ``resident_erasure``: the audit of ``carte residents forget`` (a keyed hash, never the
  address). The append-only rule of ``submission`` lets an erasure (and only an
  erasure, ``SET LOCAL carte.erasure = 'on'``) blank the address out of the raw bytes.

A branch of its own on ``0001`` (submission, category, area and app_user are there).

Revision ID: 0005_mail
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0005_mail"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE resident_address (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email       text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX resident_address_email_key ON resident_address (lower(email));

ALTER TABLE submission
  ADD COLUMN resident_address_id bigint REFERENCES resident_address(id) ON DELETE SET NULL,
  ADD COLUMN lang text CHECK (lang IN ('fr', 'en'));
CREATE INDEX submission_resident_address_idx ON submission (resident_address_id)
  WHERE resident_address_id IS NOT NULL;

INSERT INTO resident_address (email)
  SELECT DISTINCT ON (lower(email)) email FROM submission WHERE email IS NOT NULL
  ORDER BY lower(email), id;
UPDATE submission s SET resident_address_id = r.id, email = NULL
  FROM resident_address r WHERE s.email IS NOT NULL AND lower(s.email) = lower(r.email);

CREATE FUNCTION carte_submission_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO resident_address (email) VALUES (NEW.email)
    ON CONFLICT ((lower(email))) DO UPDATE SET email = resident_address.email
    RETURNING id INTO NEW.resident_address_id;
  NEW.email := NULL;
  RETURN NEW;
END $$;
-- Named to run before submission_append_only (BEFORE triggers fire by name).
CREATE TRIGGER submission_address BEFORE INSERT OR UPDATE OF email ON submission
  FOR EACH ROW WHEN (NEW.email IS NOT NULL) EXECUTE FUNCTION carte_submission_address();
ALTER TABLE submission ADD CONSTRAINT submission_email_kept_apart CHECK (email IS NULL);

CREATE TABLE mail_outbox (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at       timestamptz NOT NULL DEFAULT now(),
  to_addr          text NOT NULL CHECK (to_addr ~ '^[^@\s]+@[^@\s]+$'),
  address_id       bigint REFERENCES resident_address(id) ON DELETE CASCADE,
  template         text NOT NULL,
  lang             text NOT NULL CHECK (lang IN ('fr', 'en')),
  message_id       text NOT NULL UNIQUE,
  subject          text NOT NULL,
  body_text        text NOT NULL,
  body_html        text,
  headers          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(headers) = 'object'),
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  sent_at          timestamptz,
  CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_outbox_to_idx ON mail_outbox (lower(to_addr));

CREATE TABLE mail_subscription (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address_id    bigint NOT NULL REFERENCES resident_address(id) ON DELETE CASCADE,
  category      text REFERENCES category(slug),
  area_id       integer REFERENCES area(id),
  lang          text NOT NULL CHECK (lang IN ('fr', 'en')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  confirmed_at  timestamptz,
  UNIQUE NULLS NOT DISTINCT (address_id, category, area_id)
);
CREATE INDEX mail_subscription_confirmed_idx ON mail_subscription (category, area_id)
  WHERE confirmed_at IS NOT NULL;

CREATE TABLE mail_schedule (
  name      text PRIMARY KEY,
  last_at   timestamptz NOT NULL DEFAULT now(),
  cursor    bigint NOT NULL DEFAULT 0
);

-- An erasure (``carte residents forget``) may blank an address out of the bytes as
-- received, and only when it says so (SET LOCAL carte.erasure = 'on'); the rest of
-- the append-only rule is unchanged.
CREATE OR REPLACE FUNCTION carte_submission_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'submission % is append-only: it cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.raw IS DISTINCT FROM OLD.raw
      AND coalesce(current_setting('carte.erasure', true), '') <> 'on')
     OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR NEW.source IS DISTINCT FROM OLD.source
     OR NEW.content_type IS DISTINCT FROM OLD.content_type THEN
    RAISE EXCEPTION 'submission %: what was received cannot be changed', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE TABLE resident_erasure (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  email_hash  text NOT NULL,
  removed     jsonb NOT NULL
);
CREATE TRIGGER resident_erasure_immutable BEFORE UPDATE OR DELETE ON resident_erasure
  FOR EACH ROW EXECUTE FUNCTION carte_audit_immutable();
"""

DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION carte_submission_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'submission % is append-only: it cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.raw IS DISTINCT FROM OLD.raw OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR NEW.source IS DISTINCT FROM OLD.source
     OR NEW.content_type IS DISTINCT FROM OLD.content_type THEN
    RAISE EXCEPTION 'submission %: what was received cannot be changed', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
DROP TABLE resident_erasure;
DROP TABLE mail_schedule;
DROP TABLE mail_subscription;
DROP TABLE mail_outbox;
ALTER TABLE submission DROP CONSTRAINT submission_email_kept_apart;
DROP TRIGGER submission_address ON submission;
DROP FUNCTION carte_submission_address();
UPDATE submission s SET email = r.email FROM resident_address r
  WHERE r.id = s.resident_address_id;
ALTER TABLE submission DROP COLUMN lang, DROP COLUMN resident_address_id;
DROP TABLE resident_address;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
