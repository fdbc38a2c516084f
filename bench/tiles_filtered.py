"""Filtered point tiles and the filtered list at 1,000,000 published points.

Seeds uniform points inside the real Paris outline into a throwaway PostGIS (the
helpers of ``bench/tiles_build.py``), gives them the personalisation attributes of
TEAM.md in realistic proportions (a third say step-free access, a tenth name their
audiences, a fifth carry availability / opening-hours slots, 2 % are events, half of
them over), serves the app with ``carte serve`` and times, over HTTP with gzip:

* a filtered tile at z12 (all of central Paris, clusters) and z16 (a street, points),
  for a restrictive filter (two accessibility slugs, known) and a permissive one
  (audience + "not unsuitable" + a Saturday-morning availability window);
* ``/api/v1/features`` with ``near`` (nearest first) and the same filters;

and, in process, the two engines measured for the filtered tiles: PostgreSQL counting
a tile's cluster cells (``GROUP BY`` on integer grid keys, ``webmap.ogc.queries.tile_cells``)
against the in-memory filter index (``tiles.filtered.FilterIndex``, the one served), with
the index's load time; then the plans (EXPLAIN ANALYZE) of the cell count and of the
``near`` list. Medians of ``--runs`` requests after one warm-up. Budget: a filtered z12
tile well under the 1 s first draw (< 250 ms).

    .venv/bin/python bench/tiles_filtered.py [--points 1000000] [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.ingest_common import cluster, paris_points
from bench.tiles_build import seed
from bench.webmap_first_tiles import _free_port, _serve
from geo.tilemath import lonlat_to_tile

CENTRE = (2.3522, 48.8566)  # Hôtel de Ville
FILTERS = {
    "restrictive": "accessible=step_free_access,hearing_loop",
    "permissive": ("audience=families&accessible=step_free_access"
                   "&accessible_match=not_unsuitable&days=sat&hours=09:00-12:00"),
}

ATTRIBUTES = """
UPDATE feature SET
  attributes = jsonb_strip_nulls(jsonb_build_object(
    'accessibility', CASE WHEN id % 3 = 0 THEN
        CASE WHEN id % 30 = 0 THEN '["step_free_access", "hearing_loop"]'::jsonb
             ELSE '["step_free_access", "seating"]'::jsonb END END,
    'accessibility_lacks', CASE WHEN id % 7 = 1 THEN '["step_free_access"]'::jsonb END,
    'audiences', CASE WHEN id % 10 = 2 THEN '["children", "families"]'::jsonb
                      WHEN id % 10 = 5 THEN '["seniors"]'::jsonb END,
    'availability', CASE WHEN id % 10 = 3 THEN
        '[{"day": "sat", "from": "10:00", "to": "12:00"}]'::jsonb END,
    'hours', CASE WHEN id % 10 = 4 THEN
        '[{"day": "mon", "from": "09:00", "to": "17:00"},
          {"day": "sat", "from": "14:00", "to": "18:00"}]'::jsonb END)),
  starts_at = CASE WHEN id % 50 = 0 THEN now() + (id % 40 - 20) * interval '1 day' END,
  ends_at = CASE WHEN id % 100 = 0 THEN now() + (id % 40 - 20) * interval '1 day'
                                         + interval '3 hours' END
"""


def _get(url: str) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    with urlopen(Request(url, headers={"Accept-Encoding": "gzip"})) as r:
        body = r.read()
        status = r.status
    return (time.perf_counter() - t0) * 1000, status, len(body)


def median_ms(url: str, runs: int) -> tuple[float, float, int, int]:
    """Median and max milliseconds of ``runs`` GETs after a warm-up; status and bytes."""
    _get(url)
    times = []
    for _ in range(runs):
        ms, status, size = _get(url)
        times.append(ms)
    return statistics.median(times), max(times), status, size


def explain(url: str) -> None:
    """The plans of the z12 cell count and of the ``near`` list (restrictive filter)."""
    from datetime import UTC, datetime

    from geo.events import city_zone
    from tiles.filtered import TileSpec
    from webmap.ogc.queries import _GX, _GY, FeatureFilter, MapWindow

    z, x, y = 12, *(int(v) for v in lonlat_to_tile(*CENTRE, 12))
    spec = TileSpec(z, x, y)
    zone = city_zone()
    flt = FeatureFilter(bbox=spec.query_box(), window=MapWindow.live(datetime.now(UTC), zone),
                        accessible=("step_free_access", "hearing_loop"))
    where, params, _ = flt.where()
    params.update(scale=float(4096 << 16), shift=spec.cell_shift())
    cells = (f"SELECT (gx::bigint >> :shift), (gy::bigint >> :shift), category, count(*), "
             f"sum(gx), sum(gy), min(id) FROM (SELECT f.id, f.category, {_GX} AS gx, "
             f"{_GY} AS gy FROM feature f WHERE {where}) p GROUP BY 1, 2, 3")
    near = FeatureFilter(window=MapWindow.live(datetime.now(UTC), zone),
                         accessible=("step_free_access", "hearing_loop"), near=CENTRE)
    nwhere, nparams, _ = near.where()
    order = near.distance(nparams)
    nsql = f"SELECT f.id FROM feature f WHERE {nwhere} ORDER BY {order} LIMIT 101"
    engine = create_engine(url)
    with engine.connect() as conn:
        for name, sql, p in (("z12 cells, restrictive", cells, params),
                             ("near list, restrictive", nsql, nparams)):
            plan = conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql),
                                p).scalars().all()
            print(f"-- plan: {name}\n   " + "\n   ".join(plan), flush=True)
    engine.dispose()


def engines(url: str, runs: int) -> None:
    """PostgreSQL's GROUP BY against the in-memory index, for the same z12 and z16 tiles."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from geo.events import city_zone
    from tiles.filtered import TileSpec
    from tiles.options import TileOptions
    from tiles.source import read_filter_index
    from webmap.filtered_tiles import point_filter
    from webmap.ogc.queries import FeatureFilter, MapWindow, tile_cells

    engine = create_engine(url)
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    dbapi.autocommit = True
    t0 = time.perf_counter()
    dbapi.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    index = read_filter_index(dbapi, TileOptions())
    dbapi.execute("COMMIT")
    print(f"filter index loaded in {time.perf_counter() - t0:.1f} s "
          f"({len(index.points):,} points, {len(index.slot_ids):,} slots)", flush=True)
    raw.close()
    live = MapWindow.live(datetime.now(UTC), city_zone())
    flts = {"none": FeatureFilter(window=live),
            "restrictive": FeatureFilter(window=live,
                                         accessible=("step_free_access", "hearing_loop")),
            "permissive": FeatureFilter(window=live, audiences=("families",),
                                        accessible=("step_free_access",),
                                        accessible_match="not_unsuitable", days=("sat",),
                                        hours=("09:00", "12:00"))}
    for z in (12, 16):
        x, y = (int(v) for v in lonlat_to_tile(*CENTRE, z))
        spec = TileSpec(z, x, y)
        for name, flt in flts.items():
            times_sql, times_mem = [], []
            for _ in range(max(3, runs // 3)):
                if spec.clustered:
                    with engine.connect() as conn:
                        t0 = time.perf_counter()
                        tile_cells(conn, replace(flt, bbox=spec.query_box()), max_zoom=16,
                                   shift=spec.cell_shift())
                        times_sql.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                index.tile(spec, point_filter(flt), cap=25_000)
                times_mem.append((time.perf_counter() - t0) * 1000)
            sql = f"PostgreSQL GROUP BY {statistics.median(times_sql):.0f} ms, " \
                if times_sql else ""
            print(f"engines z{z} {name}: {sql}in-memory index "
                  f"{statistics.median(times_mem):.1f} ms", flush=True)
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    with cluster(durable=False) as (url, _root):
        lon, lat = paris_points(args.points, url=url)
        print(f"seeded {args.points:,} points in {seed(url, lon, lat):.1f} s", flush=True)
        engine = create_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            # Indexes are dropped during the update and rebuilt after it (the end state is
            # the application's schema; building each once is much faster).
            indexes = conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'feature' "
                "AND indexname NOT LIKE '%pkey' AND indexdef NOT LIKE '%UNIQUE%'")).all()
            for name, _ in indexes:
                conn.execute(text(f'DROP INDEX "{name}"'))
            conn.execute(text(ATTRIBUTES))
            for _, definition in indexes:
                conn.execute(text(definition))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE feature"))
        engine.dispose()
        print(f"attributes set in {time.perf_counter() - t0:.1f} s", flush=True)
        engines(url, args.runs)
        var = Path(tempfile.mkdtemp(prefix="carte-bench-var-"))
        port = _free_port()
        server = _serve(url, var, port)
        try:
            base = f"http://127.0.0.1:{port}"
            for z in (12, 16):
                x, y = (int(v) for v in lonlat_to_tile(*CENTRE, z))
                for name, query in FILTERS.items():
                    med, worst, status, size = median_ms(
                        f"{base}/tiles/features/{z}/{x}/{y}.mvt?{query}", args.runs)
                    print(f"filtered tile z{z} {name}: median {med:.0f} ms (max {worst:.0f}),"
                          f" {status}, {size / 1024:.1f} KB gzip", flush=True)
            for name, query in {"none": "", **FILTERS}.items():
                sep = "&" if query else ""
                med, worst, status, size = median_ms(
                    f"{base}/api/v1/features?near={CENTRE[0]},{CENTRE[1]}&limit=100{sep}{query}",
                    args.runs)
                print(f"list near=Hôtel de Ville limit=100, filter {name}: median {med:.0f} ms "
                      f"(max {worst:.0f}), {status}, {size / 1024:.1f} KB", flush=True)
            explain(url)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
