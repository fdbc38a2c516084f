"""Another city than Paris for a test module: its environment and a database of its own.

A test of "any city" runs the product with ``CARTE_CITY`` naming one of the test cities
under ``tests/data/cities/`` (``lyonnaise``: one level of districts; ``troisniveaux``:
three levels), in a database created beside the session's ``carte`` database so that
Paris's areas and categories do not leak into it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from geo import migrate
from geo.city import City, load_city

TEST_DATA = Path(__file__).resolve().parent / "data"


@contextmanager
def city_environment(slug: str) -> Iterator[City]:
    """``CARTE_CITY=slug`` with the tests' data folder, restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("CARTE_CITY", "CARTE_DATA_DIR")}
    os.environ.update(CARTE_CITY=slug, CARTE_DATA_DIR=str(TEST_DATA))
    try:
        yield load_city()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def city_database(cluster, name: str) -> Iterator[Engine]:
    """A new, migrated database ``name`` on the tests' cluster, dropped afterwards."""
    admin = create_engine(cluster.url.replace("/carte?", "/postgres?"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(cluster.url.replace("/carte?", f"/{name}?"))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
