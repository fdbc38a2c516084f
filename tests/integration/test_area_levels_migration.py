"""Migration ``0008_area_levels`` on a database that holds areas and features.

A deployed Paris database has its arrondissements and quartiers (an enum ``kind``) and
features placed in them; after the upgrade the same rows carry their level as text and
their depth from the parent chain, the features still point at the same areas, and a
city whose level is called otherwise can be stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from geo import migrate

SQUARE = "MULTIPOLYGON(((2.3 48.8, 2.4 48.8, 2.4 48.9, 2.3 48.9, 2.3 48.8)))"


@pytest.fixture
def old_db(cluster) -> Iterator[Engine]:
    admin = create_engine(cluster.url.replace("/carte?", "/postgres?"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS carte_area_levels"))
        conn.execute(text("CREATE DATABASE carte_area_levels"))
    eng = create_engine(cluster.url.replace("/carte?", "/carte_area_levels?"))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE carte_area_levels WITH (FORCE)"))
        admin.dispose()


def _areas(conn) -> dict[str, tuple[str, int]]:
    return {code: (kind, depth) for code, kind, depth in conn.execute(text(
        "SELECT code, kind, depth FROM area ORDER BY code"))}


def test_existing_areas_get_their_level_and_depth_and_features_keep_them(old_db):
    assert migrate.upgrade(old_db, "0004_filters") == "0004_filters"
    with old_db.begin() as conn:
        ids = {}
        for code, kind, parent in (("75056", "city", None), ("75104", "arrondissement", "75056"),
                                   ("7510401", "quartier", "75104")):
            ids[code] = conn.execute(text(
                "INSERT INTO area (kind, code, name, parent_id, geom) VALUES "
                "(CAST(:k AS area_kind), :c, :c, :p, ST_GeomFromText(:g, 4326)) RETURNING id"),
                {"k": kind, "c": code, "p": ids.get(parent), "g": SQUARE}).scalar_one()
        conn.execute(text(
            "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) "
            "VALUES ('jardin', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf')"))
        feature = conn.execute(text(
            "INSERT INTO feature (category, title, geom, arrondissement_id, quartier_id) "
            "VALUES ('jardin', 'Jardin', ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), :a, :q) "
            "RETURNING id"), {"a": ids["75104"], "q": ids["7510401"]}).scalar_one()

    migrate.upgrade(old_db)
    with old_db.begin() as conn:
        assert _areas(conn) == {"75056": ("city", 0), "75104": ("arrondissement", 1),
                                "7510401": ("quartier", 2)}
        # 0016_area_refs: the two level columns became area_ids, positional by depth.
        assert conn.execute(text(
            "SELECT area_ids FROM feature WHERE id = :f"),
            {"f": feature}).scalar_one() == [ids["75104"], ids["7510401"]]
        # A level of another city is stored as its slug.
        conn.execute(text(
            "INSERT INTO area (kind, depth, code, name, parent_id, geom) VALUES "
            "('district', 1, 'LY1', 'Presqu''île', :p, ST_GeomFromText(:g, 4326))"),
            {"p": ids["75056"], "g": SQUARE})
    with pytest.raises(IntegrityError), old_db.begin() as conn:  # a child at depth 0
        conn.execute(text(
            "INSERT INTO area (kind, depth, code, name, parent_id, geom) VALUES "
            "('district', 0, 'LY2', 'Rive', :p, ST_GeomFromText(:g, 4326))"),
            {"p": ids["75056"], "g": SQUARE})
    with pytest.raises(IntegrityError), old_db.begin() as conn:  # not a slug
        conn.execute(text(
            "INSERT INTO area (kind, depth, code, name, parent_id, geom) VALUES "
            "('Quartier 1', 1, 'LY3', 'Rive', :p, ST_GeomFromText(:g, 4326))"),
            {"p": ids["75056"], "g": SQUARE})

    # Down again (once the other city's row is gone): Paris's enum, the same rows.
    with old_db.begin() as conn:
        conn.execute(text("DELETE FROM area WHERE code = 'LY1'"))
    migrate.downgrade(old_db, "0004_filters")
    with old_db.begin() as conn:
        assert conn.execute(text(
            "SELECT code, kind::text FROM area ORDER BY code")).all() == [
            ("75056", "city"), ("75104", "arrondissement"), ("7510401", "quartier")]
