"""How fast is an area filter on ``area_ids`` (GIN) at the benchmark size, against the
btree on one level column it replaced (``0016_area_refs``)?

Run: ``.venv/bin/python bench/area_filter.py [--rows 1000000]``. A throwaway PostGIS;
Paris's real areas; features spread over the 80 quartiers (positions irrelevant here:
only the filter is timed). Each query runs 20 times; the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo import migrate
from geo.areas import load_areas
from geo.city import load_city
from geo.embedded import EmbeddedPostgres


def _median_ms(conn, sql: str, params: dict, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        conn.execute(text(sql), params).all()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carte-bench-areas-", dir="/tmp"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.up()
    try:
        eng = create_engine(pg.url)
        migrate.upgrade(eng)
        with Session(eng) as session, session.begin():
            load_areas(session, load_city("paris", environ={}))
        with eng.begin() as conn:
            conn.execute(text(
                "INSERT INTO category (slug, kind, label_fr, label_en, colour, icon) "
                "VALUES ('jardin', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf')"))
            t = time.perf_counter()
            conn.execute(text("""
                WITH q AS (SELECT row_number() OVER (ORDER BY code) AS k, id, parent_id
                           FROM area WHERE depth = 2)
                INSERT INTO feature (category, title, geom, area_ids)
                SELECT 'jardin', 'Lieu ' || i, ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326),
                       ARRAY[q.parent_id, q.id]
                FROM generate_series(1, :n) i JOIN q ON q.k = 1 + (i::bigint * 7919) % 80
            """), {"n": args.rows})
            # The replaced layout: a btree on the level's column (here an expression).
            conn.execute(text("CREATE INDEX bench_level1 ON feature ((area_ids[1]))"))
            conn.execute(text("CREATE INDEX bench_level2 ON feature ((area_ids[2]))"))
            conn.execute(text("ANALYZE feature"))
            print(f"{args.rows:,} features loaded in {time.perf_counter() - t:.1f} s")
        with eng.connect() as conn:
            arr = conn.execute(text("SELECT id FROM area WHERE code = '75111'")).scalar_one()
            qua = conn.execute(text("SELECT id FROM area WHERE code = '7511103'")).scalar_one()
            for label, area, depth in (("arrondissement 75111", arr, 1),
                                       ("quartier 7511103", qua, 2)):
                n = conn.execute(text("SELECT count(*) FROM feature WHERE area_ids @> "
                                      "ARRAY[CAST(:a AS integer)]"), {"a": area}).scalar_one()
                gin_count = _median_ms(conn, "SELECT count(*) FROM feature "
                                       "WHERE area_ids @> ARRAY[CAST(:a AS integer)]", {"a": area})
                col_count = _median_ms(conn, f"SELECT count(*) FROM feature "
                                       f"WHERE area_ids[{depth}] = :a", {"a": area})
                gin_page = _median_ms(conn, "SELECT id, title FROM feature WHERE area_ids @> "
                                      "ARRAY[CAST(:a AS integer)] ORDER BY id LIMIT 50",
                                      {"a": area})
                col_page = _median_ms(conn, f"SELECT id, title FROM feature "
                                      f"WHERE area_ids[{depth}] = :a ORDER BY id LIMIT 50",
                                      {"a": area})
                print(f"{label} ({n:,} features): count {gin_count:.1f} ms with area_ids @> "
                      f"(GIN) vs {col_count:.1f} ms on the level's btree; first page of 50 "
                      f"{gin_page:.1f} ms vs {col_page:.1f} ms")
        eng.dispose()
    finally:
        pg.down()


if __name__ == "__main__":
    main()
