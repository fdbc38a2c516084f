"""Basemap build for the whole of Paris, and the rate its tiles are served at.

Build: ``--runs`` forced builds of ``tiles.basemap.build_basemap`` (Paris, z11–16), each
in a fresh Python process so its peak RSS is its own; prints the median wall time and
the figures of the median run (tiles per zoom, bytes, largest tile, peak RSS).

Serve (``--serve``, needs wrk and a throwaway PostGIS): seeds ``--points`` points, builds
the feature tiles to z14 beside the basemap in one var dir, starts ``carte serve`` and
runs the same wrk load as ``bench/tiles_serve.py`` (whose helpers it reuses) over every
basemap tile, then over every feature tile: both go through the WSGI tile fast path.

    .venv/bin/python bench/basemap_build.py [--runs 3] [--serve] [--points 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_run(var: Path) -> dict:
    """One forced build in this process; the figures as a dict."""
    from geo.city import load_city
    from tiles.basemap import build_basemap

    started = time.perf_counter()
    report = build_basemap(load_city("paris"), var, force=True)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "tiles": report.tiles, "bytes": report.bytes,
            "largest": report.largest, "per_zoom": report.per_zoom,
            "pmtiles_bytes": (var / "tiles" / "basemap.pmtiles").stat().st_size,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def build_bench(runs: int) -> Path:
    var = Path(tempfile.mkdtemp(prefix="carte-basemap-bench-"))
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--one-run", str(var)],
                             capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    walls = [r["wall_s"] for r in results]
    median = sorted(results, key=lambda r: r["wall_s"])[len(results) // 2]
    print(f"Paris basemap, z11-16, {os.cpu_count()} cores (shared), {runs} runs")
    print(f"wall time      median {statistics.median(walls):.2f} s  "
          f"(runs: {', '.join(f'{w:.2f}' for w in walls)})")
    print(f"tiles          {median['tiles']}  per zoom "
          + ", ".join(f"z{z}: {n}" for z, n in sorted(median['per_zoom'].items(),
                                                      key=lambda kv: int(kv[0]))))
    print(f"bytes (gzip)   {median['bytes'] / 1e6:.2f} MB in MBTiles tiles, "
          f"PMTiles file {median['pmtiles_bytes'] / 1e6:.2f} MB")
    print(f"largest tile   {median['largest'] / 1e3:.1f} KB (gzip)")
    print(f"peak RSS       {median['peak_rss_mb']:.0f} MB")
    return var


def serve_bench(var: Path, points: int, seconds: int) -> None:
    from sqlalchemy import create_engine

    from bench.ingest_common import cluster, paris_points
    from bench.tiles_build import seed
    from bench.tiles_serve import free_port, wrk
    from tiles.build import build_full
    from tiles.options import TileOptions

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")

    def paths(archive: str, layer: str) -> list[str]:
        with sqlite3.connect(var / "tiles" / archive) as db:
            rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM map").fetchall()
        return [f"/tiles/{layer}/{z}/{x}/{(1 << z) - 1 - r}.mvt" for z, x, r in rows]

    with cluster(durable=False) as (url, _root):
        lon, lat = paris_points(points, url=url)
        seed(url, lon, lat)
        engine = create_engine(url)
        build_full(engine, var, TileOptions(max_zoom=14, mode="drop"))
        engine.dispose()
        sets = {"basemap": paths("basemap.mbtiles", "basemap"),
                "features": paths("features.mbtiles", "features")}
        port = free_port()
        env = {**os.environ, "CARTE_DATABASE_URL": url, "CARTE_VAR_DIR": str(var),
               "CARTE_SECRET_KEY": "bench"}
        server = subprocess.Popen([str(Path(sys.executable).with_name("carte")), "serve",
                                   "--port", str(port)], env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + sets["basemap"][0], timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            print(f"serve: carte serve (gunicorn, default workers), wrk -t2 -c32 "
                  f"{seconds} s, gzip accepted; {points:,} points (feature tiles to z14)")
            for label, subset in sets.items():
                wrk(base, subset, 3, var)  # warm-up
                res = wrk(base, subset, seconds, var)
                print(f"{label:9s} {len(subset):5d} tiles  {res['rps']:8.0f} tiles/s  "
                      f"p99 {res['p99_ms']:.1f} ms  non-2xx {res['non_2xx']}")
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--serve", action="store_true", help="also measure the served rate")
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--one-run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_run:
        print(json.dumps(one_run(args.one_run)))
        return
    var = build_bench(args.runs)
    try:
        if args.serve:
            serve_bench(var, args.points, args.seconds)
    finally:
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
