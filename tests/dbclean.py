"""Emptying the test database between tests: one definition of "reference data".

The areas, categories, Alembic's revision and PostGIS's SRS table survive; every other
table (whatever later migrations add) is truncated with its identities restarted.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

REFERENCE_TABLES = frozenset({"area", "category", "alembic_version", "spatial_ref_sys"})


def empty_mutable_tables(conn: Connection) -> None:
    """Truncate every public table that is not reference data, in one statement."""
    tables = conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
    mutable = [t for t in tables if t not in REFERENCE_TABLES]
    if mutable:
        conn.execute(text(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in mutable) + " RESTART IDENTITY CASCADE"))
