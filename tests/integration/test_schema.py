"""The schema refuses invalid states by itself, whoever writes to it."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from geo import migrate

CATEGORY = ("INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) "
            "VALUES ('jardin', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf')")


@pytest.fixture
def db(clean_db):
    with clean_db.begin() as conn:
        conn.execute(text("DELETE FROM category WHERE slug = 'jardin'"))
        conn.execute(text(CATEGORY))
    yield clean_db
    with clean_db.begin() as conn:
        conn.execute(text("TRUNCATE feature, submission CASCADE"))
        conn.execute(text("DELETE FROM category WHERE slug = 'jardin'"))


def insert_feature(conn, wkt: str, title: str = "Jardin partagé"):
    return conn.execute(text(
        "INSERT INTO feature (category, title, geom) "
        "VALUES ('jardin', :title, ST_GeomFromText(:wkt, 4326)) RETURNING id"),
        {"title": title, "wkt": wkt}).scalar_one()


def test_a_valid_feature_is_stored(db):
    with db.begin() as conn:
        fid = insert_feature(conn, "POINT(2.35 48.85)")
        assert conn.execute(text("SELECT ST_X(geom) FROM feature WHERE id = :i"),
                            {"i": fid}).scalar_one() == pytest.approx(2.35)


@pytest.mark.parametrize("wkt", [
    "POINT(NaN NaN)", "POINT(2.35 NaN)", "POINT EMPTY", "POINT(2.35 500)", "POINT(181 48)",
    "POINT(-180.0001 0)", "LINESTRING(0 0, 1 1)",
])
def test_impossible_points_are_refused(db, wkt):
    with pytest.raises((IntegrityError, DBAPIError)), db.begin() as conn:
        insert_feature(conn, wkt)


@pytest.mark.parametrize("title", ["", "   ", "\u00a0\t", "x" * 121])
def test_empty_or_overlong_titles_are_refused(db, title):
    with pytest.raises(IntegrityError), db.begin() as conn:
        insert_feature(conn, "POINT(2.35 48.85)", title=title)


def test_unknown_status_is_refused(db):
    with pytest.raises(DBAPIError, match="invalid input value for enum"), db.begin() as conn:
        conn.execute(text("INSERT INTO submission (source, raw, status) "
                          "VALUES ('api', 'x', 'lost')"))


def test_a_pending_submission_needs_a_point_title_and_category(db):
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text("INSERT INTO submission (source, raw, status) "
                          "VALUES ('api', 'x', 'pending')"))


def test_an_invalid_submission_keeps_its_errors(db):
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text("INSERT INTO submission (source, raw, status) "
                          "VALUES ('api', 'x', 'invalid')"))


def test_what_was_received_cannot_be_rewritten_or_deleted(db):
    raw = b"{\"title\": \"\xff\x00 bytes as sent\"}"
    with db.begin() as conn:
        sid = conn.execute(text("INSERT INTO submission (source, raw) VALUES ('api', :raw) "
                                "RETURNING id"), {"raw": raw}).scalar_one()
    with pytest.raises(DBAPIError, match="cannot be changed"), db.begin() as conn:
        conn.execute(text("UPDATE submission SET raw = 'forged' WHERE id = :i"), {"i": sid})
    with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
        conn.execute(text("DELETE FROM submission WHERE id = :i"), {"i": sid})
    with db.begin() as conn:
        # Status moves on; the bytes stay exactly as received (invalid UTF-8 and NUL).
        conn.execute(text("UPDATE submission SET status = 'invalid', errors = '[]' "
                          "WHERE id = :i"), {"i": sid})
        assert conn.execute(text("SELECT raw FROM submission WHERE id = :i"),
                            {"i": sid}).scalar_one() == raw


def test_audit_trail_is_append_only(db):
    with db.begin() as conn:
        fid = insert_feature(conn, "POINT(2.35 48.85)")
        eid = conn.execute(text("INSERT INTO moderation_event (action, feature_id) "
                                "VALUES ('approve', :f) RETURNING id"), {"f": fid}).scalar_one()
    with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
        conn.execute(text("UPDATE moderation_event SET action = 'refuse' WHERE id = :i"),
                     {"i": eid})


@pytest.mark.parametrize("z,x,y", [(0, 1, 0), (3, 8, 0), (3, 0, -1), (25, 0, 0)])
def test_impossible_dirty_tiles_are_refused(db, z, x, y):
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(text("INSERT INTO tile_dirty (z, x, y) VALUES (:z, :x, :y)"),
                     {"z": z, "x": x, "y": y})


def test_geometry_columns_have_gist_indexes(engine):
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'"
        )).scalars().all()
    assert {"area", "feature", "submission"} <= set(rows)


def test_migrations_go_down_and_up_again(cluster):
    """A separate database: downgrade to nothing, then back to head."""
    admin = create_engine(cluster.url.replace("/carte?", "/postgres?"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS carte_migrations"))
        conn.execute(text("CREATE DATABASE carte_migrations"))
    eng = create_engine(cluster.url.replace("/carte?", "/carte_migrations?"))
    try:
        assert migrate.current_revision(eng) is None
        assert migrate.upgrade(eng) == migrate.head_revision()
        assert migrate.downgrade(eng, "base") is None
        with eng.connect() as conn:
            left = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')")).scalars().all()
        assert left == []
        assert migrate.upgrade(eng) == migrate.head_revision()
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE carte_migrations WITH (FORCE)"))
        admin.dispose()


def test_models_match_the_migrated_schema(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from geo.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    structural = [d for d in diff if isinstance(d, tuple)
                  and d[0] in ("add_table", "remove_table", "add_column", "remove_column")
                  and getattr(d[1], "name", "") != "spatial_ref_sys"]
    structural += [d[0] for d in diff if isinstance(d, list)
                   and d[0][0] in ("add_column", "remove_column")]
    assert structural == []
