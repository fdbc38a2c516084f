"""A partial index of the submissions still ``received`` (stored, not yet validated).

The serving processes' catch-up asks every few seconds for rows a crash left
``received``. Through the ``(source, received_at)`` index it read the whole last day of
submissions to find none (8.6 million rows at 100 submissions/s); this index holds only
the handful of rows in flight, so the question costs the same at any volume.

A branch of its own on ``0001``.

Revision ID: 0017_received_index
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0017_received_index"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX submission_received_idx ON submission (id) "
               "WHERE status = 'received'")


def downgrade() -> None:
    op.execute("DROP INDEX submission_received_idx")
