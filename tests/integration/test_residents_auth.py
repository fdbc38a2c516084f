"""Residents sign in by a single-use, expiring magic link read from the real SMTP server."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from community.residents import get_resident
from tests.resident_fixtures import make_resident, sign_in


def test_a_resident_row_keeps_a_keyed_hash_and_the_session_knows_them(app, client, clean_db):
    resident = sign_in(client, "Ana@Example.org", display_name="Ana")
    again = make_resident(app, "ana@example.org")
    assert again.id == resident.id
    with Session(clean_db) as s:
        row = s.execute(text("SELECT email, email_hash FROM resident")).one()
        assert row.email.lower() == "ana@example.org"
        assert len(row.email_hash) == 64 and "ana" not in row.email_hash
        assert get_resident(s, resident.id).public_name() == "Ana"
