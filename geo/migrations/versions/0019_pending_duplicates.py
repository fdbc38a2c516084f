"""Duplicates among pending submissions, compared on look-alike-proof title skeletons.

``submission.possible_duplicate_submission_id``: the intake links a new submission to a
near-identical one still *pending* (same category, within the duplicate distance, a
similar title), so two residents pinning the same garden the same morning reach the
moderator as a pair, before either is published. Found through the existing GiST
index on ``submission.geom``.

``title_skeleton(text)``: what a title looks like, for comparing titles only (never
stored or shown): compatibility-decomposed (NFKD: fullwidth "Ｊ" is "J", "é" is "e" +
accent), the Cyrillic and Greek letters that look Latin mapped to the Latin letter
they imitate, lower-cased ("Jаrdin" with a Cyrillic "а" is "jardin"), combining marks
and zero-width characters removed. A small table of the two scripts residents of a
French city can type by mistake or in bad faith, rather than Unicode's whole
confusables list (which maps far more, e.g. "rn" to "m", and would merge real titles).
Computed on the few rows the geometry index leaves, so no skeleton column or trigram
index is kept.

A branch on ``0017_received_index`` (the newest revision altering ``submission``).

Revision ID: 0019_pending_duplicates
Revises: 0017_received_index
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019_pending_duplicates"
down_revision = "0017_received_index"
branch_labels = None
depends_on = None

# Cyrillic and Greek letters -> the lower-case Latin letter they look like. Capitals are
# listed too, mapped before lower(): under a "C" collation lower() leaves non-ASCII alone.
CONFUSABLE_FROM = ("аеорсухвкмнтѕіјԁԛԝӏһґαβεζηικμνορτυχς"
                   "АВЕКМНОРСТХЅІЈԚԜӀҺΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
CONFUSABLE_TO = ("aeopcyxbkmhtsijdqwlhrabeznikmvoptuxc"
                 "abekmhopctxsijqwlhabezhikmnoptyx")
# Combining marks (after NFKD) and invisible characters that split a word.
STRIP = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f" \
        "\u200b-\u200f\u2060-\u2064\u00ad\u034f\u180e\ufeff]"


def upgrade() -> None:
    assert len(CONFUSABLE_FROM) == len(CONFUSABLE_TO)
    op.execute("ALTER TABLE submission ADD COLUMN possible_duplicate_submission_id bigint "
               "REFERENCES submission(id) ON DELETE SET NULL")
    # The moderator of the earlier one is told of the later ones: a lookup the other way.
    op.execute("CREATE INDEX submission_dup_submission_idx ON submission "
               "(possible_duplicate_submission_id) "
               "WHERE possible_duplicate_submission_id IS NOT NULL")
    op.execute(f"""
        CREATE FUNCTION title_skeleton(t text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT regexp_replace(lower(translate(normalize(coalesce(t, ''), NFKD),
                                                '{CONFUSABLE_FROM}', '{CONFUSABLE_TO}')),
                                '{STRIP}', '', 'g')
        $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION title_skeleton(text)")
    op.execute("ALTER TABLE submission DROP COLUMN possible_duplicate_submission_id")
