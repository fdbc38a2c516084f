"""Moderation: account recovery tokens, client blocks, and their audit actions.

* ``account_token``: single-use links sent by e-mail (password reset, invitation).
  Only the SHA-256 of the random token is stored, with its purpose, expiry and the
  time it was used, so a leaked table hands out no link and a link works once.
* ``client_block``: a moderator stops an abuser: the keyed client hash that sent an
  item (and optionally a network range) is refused on submissions and flags until
  ``until``, with a reason; lifting a block keeps its row (who, when) for the record.
* ``moderation_action`` gains ``block`` and ``unblock``: blocks are audited with the
  decisions.

A branch of its own on ``0002_moderation`` (moderation's tables only).

Revision ID: 0006_mod_accounts
Revises: 0002_moderation
Create Date: 2026-12-07
"""

from alembic import op

revision = "0006_mod_accounts"
down_revision = "0002_moderation"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TYPE moderation_action ADD VALUE IF NOT EXISTS 'block';
ALTER TYPE moderation_action ADD VALUE IF NOT EXISTS 'unblock';

CREATE TABLE account_token (
  token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  user_id     integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('reset', 'invite')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  CHECK (expires_at > created_at)
);
CREATE INDEX account_token_user_idx ON account_token (user_id);

CREATE TABLE client_block (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_key  text CHECK (client_key IS NULL OR carte_nonblank(client_key)),
  network     cidr,
  reason      text NOT NULL CHECK (carte_nonblank(reason)),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  integer REFERENCES app_user(id),
  until       timestamptz NOT NULL,
  lifted_at   timestamptz,
  lifted_by   integer REFERENCES app_user(id),
  submission_id bigint,
  feature_id  bigint,
  flag_id     bigint,
  CHECK (client_key IS NOT NULL OR network IS NOT NULL),
  CHECK (until > created_at)
);
CREATE INDEX client_block_key_idx ON client_block (client_key) WHERE lifted_at IS NULL;
CREATE INDEX client_block_network_idx ON client_block USING gist (network inet_ops)
  WHERE lifted_at IS NULL;
"""

DOWNGRADE = r"""
DROP TABLE client_block;
DROP TABLE account_token;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
