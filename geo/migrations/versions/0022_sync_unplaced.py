"""Sources located by address: a sync is also held when its addresses mostly fail.

``0015_sources`` allowed two reasons to hold a sync for a moderator (``retire_share``:
it would retire too much; ``empty``: the download was empty). A source whose rows are
placed by their address (``geocode`` of a source in ``city.json``) adds a third,
``unplaced_share``: the rows geocoded this time were not found for more than the
source's ``max_unplaced_share`` (a partner that changed its address columns, a broken
export), so the run waits instead of publishing a map of refusals
(:mod:`ingestion.sync`). Only the CHECK of ``source_sync_run.hold_reason`` changes.

Revision ID: 0022_sync_unplaced
Revises: 0015_sources
Create Date: 2026-12-07
"""

from alembic import op

revision = "0022_sync_unplaced"
down_revision = "0015_sources"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE source_sync_run DROP CONSTRAINT source_sync_run_hold_reason_check;
ALTER TABLE source_sync_run ADD CONSTRAINT source_sync_run_hold_reason_check
  CHECK (hold_reason IS NULL OR hold_reason IN ('retire_share', 'empty', 'unplaced_share'));
"""

# Going down cannot say why such a run was held: refuse while one is on record.
DOWNGRADE = r"""
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM source_sync_run WHERE hold_reason = 'unplaced_share') THEN
    RAISE EXCEPTION 'sync runs held for unplaced addresses exist: decide or delete them '
                    'before downgrading below 0022_sync_unplaced';
  END IF;
END $$;
ALTER TABLE source_sync_run DROP CONSTRAINT source_sync_run_hold_reason_check;
ALTER TABLE source_sync_run ADD CONSTRAINT source_sync_run_hold_reason_check
  CHECK (hold_reason IS NULL OR hold_reason IN ('retire_share', 'empty'));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
