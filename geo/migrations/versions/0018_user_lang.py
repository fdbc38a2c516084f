"""A moderator's language: alerts and digests reach each moderator in their own.

Set from the moderation pages' language each time a moderator logs in (and when they
switch language while logged in), so nobody has a setting to find. French (the city's
language) until then.

A branch of its own on ``0001`` (which created ``app_user``).

Revision ID: 0018_user_lang
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0018_user_lang"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE app_user ADD COLUMN lang text NOT NULL DEFAULT 'fr' "
               "CHECK (lang ~ '^[a-z]{2,3}$')")


def downgrade() -> None:
    op.execute("ALTER TABLE app_user DROP COLUMN lang")
