"""Residents report a message to the moderators; full missions offer their waiting list.

* ``message_report``: a resident reports a message they *received* (never their own),
  with an optional reason, once per message. It stays open until a moderator decides:
  hiding the message (``hidden``), stopping its sender's messages (``stopped``) or
  dismissing the report with a reason (``dismissed``); who and when are kept on the
  row. The moderators' messages page lists messages with open reports first, with the
  count and the reasons. Reports are rate-limited per resident (``reporter_idx``).
* ``community_moderation.action`` also takes ``dismiss_report`` (the audit of a
  dismissal; hiding and stopping keep their own actions).
* ``mission_week_full_idx``: the few full missions (confirmed at capacity), so "Missions
  pour moi" can list them after the others, with their waiting list, without walking
  every mission when none is full.

Branch: on ``0021_mission_zone`` (the head of the community branch: ``mission_week``'s
last change), depending on ``0012_residents`` (``message``, ``resident``,
``community_moderation``).

Revision ID: 0023_message_reports
Revises: 0021_mission_zone
Create Date: 2026-12-07
"""

from alembic import op

revision = "0023_message_reports"
down_revision = "0021_mission_zone"
branch_labels = None
depends_on = ("0012_residents",)

UPGRADE = r"""
CREATE TABLE message_report (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id   bigint NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  reporter_id  bigint NOT NULL REFERENCES resident(id),
  reason       text CHECK (reason IS NULL
                           OR (carte_nonblank(reason) AND char_length(reason) <= 1000)),
  created_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  resolved_by  integer REFERENCES app_user(id),
  resolution   text CHECK (resolution IN ('hidden', 'stopped', 'dismissed')),
  UNIQUE (message_id, reporter_id),
  CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX message_report_open_idx ON message_report (message_id)
  WHERE resolved_at IS NULL;
CREATE INDEX message_report_reporter_idx ON message_report (reporter_id, created_at);

ALTER TABLE community_moderation DROP CONSTRAINT community_moderation_action_check;
ALTER TABLE community_moderation ADD CONSTRAINT community_moderation_action_check
  CHECK (action IN ('hide_message', 'show_message', 'block_resident', 'unblock_resident',
                    'dismiss_report'));

CREATE INDEX mission_week_full_idx ON mission_week (feature_id)
  WHERE capacity IS NOT NULL AND confirmed >= capacity;
"""

DOWNGRADE = r"""
DROP INDEX mission_week_full_idx;
DELETE FROM community_moderation WHERE action = 'dismiss_report';
ALTER TABLE community_moderation DROP CONSTRAINT community_moderation_action_check;
ALTER TABLE community_moderation ADD CONSTRAINT community_moderation_action_check
  CHECK (action IN ('hide_message', 'show_message', 'block_resident', 'unblock_resident'));
DROP TABLE message_report;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
