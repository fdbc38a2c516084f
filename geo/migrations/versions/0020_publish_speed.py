"""Publishing an import: its versions point to one audit event, checked at commit.

``feature_version.event_id`` becomes ``DEFERRABLE INITIALLY DEFERRED``: an import's
publication writes its 90,000 versions under one event id taken first, and writes the
event last, when it knows how many features it created and revised (the event is
immutable, so it cannot be filled in afterwards). The check still runs, at commit.
See :mod:`geo.publish`.

And a feature's past versions no longer re-check their category against ``category``.

``feature_version`` copies a feature row as it was; the row's category was checked by
``feature.category``'s foreign key when it was written, in the same transaction. The
second check on the copy cost 3.5 µs a row (an index probe and a ``FOR KEY SHARE``
lock on the same category row, once per row): 0.31 s of a 90,000-row import's
publication, ~7 % of it, for a guarantee already held. It also made history block the
removal of a category nothing is published in any more; a past version keeps the slug
it had, as the audit keeps its "before" text.

Revision ID: 0020_publish_speed
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0020_publish_speed"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE feature_version DROP CONSTRAINT feature_version_category_fkey")
    op.execute("ALTER TABLE feature_version ALTER CONSTRAINT feature_version_event_id_fkey "
               "DEFERRABLE INITIALLY DEFERRED")


def downgrade() -> None:
    op.execute("ALTER TABLE feature_version ALTER CONSTRAINT feature_version_event_id_fkey "
               "NOT DEFERRABLE")
    op.execute("ALTER TABLE feature_version ADD CONSTRAINT feature_version_category_fkey "
               "FOREIGN KEY (category) REFERENCES category(slug)")
