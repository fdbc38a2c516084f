"""Moderation: server-side login sessions and login-failure counters.

Sessions live in the database, not in a signed cookie, so that logging out (or an
admin deactivating an account) really ends them on every gunicorn worker; only a hash
of the random session id is stored, so a leaked table does not hand out sessions.
Failed logins are counted here for the same reason: the limit must hold across workers.
Neither table holds an email or an address: accounts and clients are keyed hashes.

Revision ID: 0002_moderation
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002_moderation"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE user_session (
  id_hash       bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
  user_id       integer NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
CREATE INDEX user_session_user_idx ON user_session (user_id);
CREATE INDEX user_session_expires_idx ON user_session (expires_at);

CREATE TABLE login_failure (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  account_key  text NOT NULL CHECK (account_key ~ '^[0-9a-f]{32,64}$'),
  client_key   text NOT NULL CHECK (carte_nonblank(client_key))
);
CREATE INDEX login_failure_account_idx ON login_failure (account_key, at);
CREATE INDEX login_failure_client_idx ON login_failure (client_key, at);

-- Flags are rate-limited per client.
CREATE INDEX flag_client_idx ON flag (client_key, created_at);

-- The queue filtered by area, oldest first, without scanning every pending row.
CREATE INDEX submission_pending_arrondissement_idx ON submission
  (arrondissement_id, received_at, id) WHERE status = 'pending';
CREATE INDEX submission_pending_quartier_idx ON submission
  (quartier_id, received_at, id) WHERE status = 'pending';
"""

DOWNGRADE = r"""
DROP INDEX submission_pending_quartier_idx;
DROP INDEX submission_pending_arrondissement_idx;
DROP INDEX flag_client_idx;
DROP TABLE login_failure;
DROP TABLE user_session;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
