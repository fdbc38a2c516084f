"""The duplicate check before sending (``GET /api/v1/submissions/nearby``) at 1M points.

Seeds uniform points inside the real Paris outline into a throwaway PostGIS (the
helpers of ``bench/tiles_build.py``: every category, titles "Lieu partagé n°…"), then
times :func:`ingestion.nearby.nearby` in process (the statement the endpoint runs, on
one pooled connection, as a request would) at random points of the city, with a title
(the similar-title branch searches 300 m around) and without. Budget: p95 < 50 ms.

    .venv/bin/python bench/duplicates_nearby.py [--points 1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.ingest_common import cluster, paris_points
from bench.tiles_build import seed
from ingestion.nearby import nearby


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    with cluster(durable=False) as (url, _root):
        lon, lat = paris_points(args.points, url=url)
        print(f"seeded {args.points:,} points in {seed(url, lon, lat):.1f} s", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            cats = conn.execute(text("SELECT array_agg(slug) FROM category")).scalar()
        rng = np.random.default_rng(7)
        picks = rng.integers(0, len(lon), args.queries)
        for label, with_title in (("with a title", True), ("without a title", False)):
            times, found = [], []
            with engine.connect() as conn:
                for n, i in enumerate(picks):
                    # a point near an existing one, so the answer is not always empty
                    x, y = float(lon[i]) + 0.0002, float(lat[i]) + 0.0001
                    t0 = time.perf_counter()
                    items = nearby(conn, lon=x, lat=y, category=cats[n % len(cats)],
                                   title=f"Lieu partagé n°{i}" if with_title else "")
                    times.append((time.perf_counter() - t0) * 1000)
                    found.append(len(items))
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"nearby {label}: median {statistics.median(times):.1f} ms, "
                  f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms over {len(times)} queries "
                  f"(mean {statistics.mean(found):.1f} items found)", flush=True)
        with engine.connect() as conn:
            x, y = float(lon[0]), float(lat[0])
            plan = conn.execute(text(
                "EXPLAIN (ANALYZE, BUFFERS) WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:x, :y),"
                " 4326) AS pt) SELECT f.id FROM feature f, p WHERE f.status = 'published' "
                "AND f.category = :c AND f.geom && ST_Expand(p.pt, 0.0041)"),
                {"x": x, "y": y, "c": cats[0]}).scalars().all()
            print("\n".join(plan[:8]))
        engine.dispose()


if __name__ == "__main__":
    main()
