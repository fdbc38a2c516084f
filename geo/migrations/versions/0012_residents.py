"""Residents: a light identity (magic links), relayed messages between them, blocks.

* ``resident``: one row per person who signed in by e-mail. The address is kept only
  to relay messages to them (never shown to another resident, never public); lookups
  go through ``email_hash``, a keyed HMAC of the lower-cased address, so the unique
  index does not need the address itself. Deleting an account anonymises the row
  (address, hash and name gone, ``deleted_at`` set): what the resident contributed
  stays, attributed to "a resident", and the foreign keys of the ledger and sign-ups
  keep pointing at a row.
* ``magic_link``: single-use sign-in links; only the SHA-256 of the random token is
  stored, with the address it was sent to (blanked once used or expired-and-swept),
  the client key (rate limit per client) and where to go after signing in.
* ``message_thread`` / ``message``: a conversation between two residents, usually
  about a feature ("answer an offer"); moderators can hide a message (who, when, why).
* ``resident_block``: a resident blocks another; no message passes either way.
* ``community_moderation``: the audit of moderators' actions on messages and residents.
* ``submission.resident_id``: what a signed-in resident submitted (the organiser of the
  item it became).

Revision ID: 0012_residents
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012_residents"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE resident (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email_hash    text UNIQUE CHECK (email_hash IS NULL OR email_hash ~ '^[0-9a-f]{64}$'),
  email         text CHECK (email IS NULL OR (email ~ '^[^@\s]+@[^@\s]+$'
                                              AND length(email) <= 254)),
  display_name  text CHECK (display_name IS NULL
                            OR (carte_nonblank(display_name) AND char_length(display_name) <= 60)),
  lang          text NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  messaging_blocked_at timestamptz,
  messaging_blocked_reason text,
  -- a live account has its address; a deleted one has nothing left that names it
  CHECK ((deleted_at IS NULL AND email IS NOT NULL AND email_hash IS NOT NULL)
      OR (deleted_at IS NOT NULL AND email IS NULL AND email_hash IS NULL
          AND display_name IS NULL))
);

CREATE TABLE magic_link (
  token_hash          bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  resident_email_hash text NOT NULL CHECK (resident_email_hash ~ '^[0-9a-f]{64}$'),
  email               text,
  client_key          text,
  next_path           text CHECK (next_path IS NULL OR next_path LIKE '/%'),
  lang                text NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  expires_at          timestamptz NOT NULL,
  used_at             timestamptz,
  CHECK (expires_at > created_at)
);
CREATE INDEX magic_link_email_idx ON magic_link (resident_email_hash, created_at);
CREATE INDEX magic_link_client_idx ON magic_link (client_key, created_at);

CREATE TABLE message_thread (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  feature_id       bigint REFERENCES feature(id) ON DELETE SET NULL,
  starter_id       bigint NOT NULL REFERENCES resident(id),
  recipient_id     bigint NOT NULL REFERENCES resident(id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_message_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (starter_id <> recipient_id)
);
CREATE UNIQUE INDEX message_thread_pair_idx ON message_thread
  (coalesce(feature_id, 0), LEAST(starter_id, recipient_id), GREATEST(starter_id, recipient_id));
CREATE INDEX message_thread_starter_idx ON message_thread (starter_id, last_message_at DESC);
CREATE INDEX message_thread_recipient_idx ON message_thread (recipient_id, last_message_at DESC);

CREATE TABLE message (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  thread_id     bigint NOT NULL REFERENCES message_thread(id) ON DELETE CASCADE,
  sender_id     bigint NOT NULL REFERENCES resident(id),
  body          text NOT NULL CHECK (carte_nonblank(body) AND char_length(body) <= 4000),
  created_at    timestamptz NOT NULL DEFAULT now(),
  spam_score    real NOT NULL DEFAULT 0,
  spam_reasons  jsonb NOT NULL DEFAULT '[]',
  hidden_at     timestamptz,
  hidden_by     integer REFERENCES app_user(id),
  hidden_reason text
);
CREATE INDEX message_thread_idx ON message (thread_id, created_at);
CREATE INDEX message_sender_idx ON message (sender_id, created_at);

CREATE TABLE resident_block (
  blocker_id  bigint NOT NULL REFERENCES resident(id),
  blocked_id  bigint NOT NULL REFERENCES resident(id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (blocker_id, blocked_id),
  CHECK (blocker_id <> blocked_id)
);
CREATE INDEX resident_block_blocked_idx ON resident_block (blocked_id);

CREATE TABLE community_moderation (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     integer REFERENCES app_user(id),
  action       text NOT NULL CHECK (action IN ('hide_message', 'show_message',
                                               'block_resident', 'unblock_resident')),
  message_id   bigint REFERENCES message(id) ON DELETE SET NULL,
  resident_id  bigint REFERENCES resident(id),
  reason       text NOT NULL CHECK (carte_nonblank(reason))
);

ALTER TABLE submission ADD COLUMN resident_id bigint REFERENCES resident(id);
CREATE INDEX submission_resident_idx ON submission (resident_id) WHERE resident_id IS NOT NULL;
"""

DOWNGRADE = r"""
ALTER TABLE submission DROP COLUMN resident_id;
DROP TABLE community_moderation;
DROP TABLE resident_block;
DROP TABLE message;
DROP TABLE message_thread;
DROP TABLE magic_link;
DROP TABLE resident;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
