"""Fixtures of the services tests: the service seeds loaded once per module."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.dbclean import empty_mutable_tables

__all__ = ["SOURCES", "features", "seeded"]

SOURCES = ("paris-sanisettes", "paris-bibliotheques", "paris-ilots-fraicheur", "paris-wifi")


@pytest.fixture(scope="module")
def seeded(engine):
    """Categories and the four service seeds, as ``carte demo`` loads them."""
    from geo.city import load_city
    from ingestion.categories import load_categories, read_categories
    from ingestion.importer import run_import
    from ingestion.seed import seeds_of
    from ingestion.services import apply_credits

    city = load_city("paris")
    summaries, seconds = {}, {}
    specs = read_categories(city.categories)
    with engine.begin() as conn:
        empty_mutable_tables(conn)
        before = dict(conn.execute(text("SELECT slug, active FROM category")).all())
    with Session(engine) as s, s.begin():
        load_categories(s, specs)
    for seed in seeds_of(city):
        if seed.source not in SOURCES:
            continue
        t0 = time.perf_counter()
        with Session(engine) as s, s.begin():
            summaries[seed.source] = run_import(
                seed.file, session=s, source=seed.source, mapper=seed.mapper, publish=True,
                attribution=seed.attribution, buffer_m=0.0)
        seconds[seed.source] = time.perf_counter() - t0
    with Session(engine) as s, s.begin():
        apply_credits(s, city)
    print({k: round(v, 2) for k, v in seconds.items()},
          {k: v.as_dict()["refused_by_reason"] for k, v in summaries.items()},
          {k: v.accepted for k, v in summaries.items()})
    yield summaries
    with engine.begin() as conn:  # as categories_loaded leaves the tables
        empty_mutable_tables(conn)
        conn.execute(text("DELETE FROM category WHERE slug = ANY(:s)"),
                     {"s": [x.slug for x in specs if x.slug not in before]})
        for slug, active in before.items():
            conn.execute(text("UPDATE category SET active = :a WHERE slug = :s"),
                         {"a": active, "s": slug})



def features(engine, sql: str, **params):
    """Rows of a query on the seeded database."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()
