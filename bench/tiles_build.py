"""Tile pipeline benchmark: full builds of 100k and 1M published points, z0-14.

Seeds synthetic points into a throwaway PostGIS (uniform inside the real Paris outline,
and a hotspot distribution), then times ``build_full`` in a fresh process per run
(reading PostGIS, planning, encoding on every core, MBTiles, PMTiles), reporting wall
time, peak RSS (parent and largest worker), tile count, bytes, largest tile and features
per zoom; the density raster separately; and, at the largest size, how long an approval
takes to reach the served tile (``carte tiles watch``'s path: warm point cache,
incremental rebuild of the column).

    .venv/bin/python bench/tiles_build.py [--sizes 100000,1000000] [--modes drop,cluster]

When ``tippecanoe`` is on PATH it runs on the same points in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_common import cluster, paris_points

HOTSPOTS = [(2.3488, 48.8534, 0.004), (2.3320, 48.8867, 0.003), (2.3950, 48.8480, 0.006),
            (2.2950, 48.8738, 0.002), (2.3600, 48.8650, 0.010)]


def hotspot_points(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(HOTSPOTS), n)
    centres = np.array(HOTSPOTS)[which]
    lon = centres[:, 0] + rng.normal(0, 1, n) * centres[:, 2] * 1.5
    lat = centres[:, 1] + rng.normal(0, 1, n) * centres[:, 2]
    return lon, lat


def seed(url: str, lon: np.ndarray, lat: np.ndarray) -> float:
    """Replace every feature by these points; returns seconds.

    The trigram index on titles is dropped during the load and rebuilt after it (the
    end state is the application's schema; building it once is 5x faster).
    """
    engine = create_engine(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE feature, tile_dirty RESTART IDENTITY CASCADE"))
        gin = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE "
                                "tablename = 'feature' AND indexdef LIKE '%gin%'")).all()
        for name, _ in gin:
            conn.execute(text(f'DROP INDEX "{name}"'))
        cats = conn.execute(text("SELECT array_agg(slug ORDER BY slug) FROM category")).scalar()
        for start in range(0, len(lon), 250_000):
            conn.execute(text("""
                INSERT INTO feature (category, title, geom)
                SELECT (CAST(:cats AS text[]))[1 + ((:start + i) % cardinality(
                            CAST(:cats AS text[])))],
                       'Lieu partagé n°' || (:start + i), ST_SetSRID(ST_MakePoint(x, y), 4326)
                FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]))
                     WITH ORDINALITY AS u(x, y, i)"""),
                {"cats": cats, "start": start, "lon": lon[start:start + 250_000].tolist(),
                 "lat": lat[start:start + 250_000].tolist()})
        for _, definition in gin:
            conn.execute(text(definition))
        conn.execute(text("ANALYZE feature"))
    engine.dispose()
    return time.perf_counter() - t0


def peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One build in this fresh process; prints one JSON line."""
    from tiles.build import build_full
    from tiles.options import TileOptions

    engine = create_engine(args.url)
    options = TileOptions(max_zoom=args.max_zoom, mode=args.mode)
    t0 = time.perf_counter()
    report = build_full(engine, Path(args.var), options, density=False)
    wall = time.perf_counter() - t0
    vector_rss = peak_rss_mib()
    out = {"wall": wall, "report": report.as_dict(),
           "rss_parent_mib": vector_rss,
           "rss_worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    if args.density:
        from tiles.raster import build_density
        from tiles.source import load_points

        t1 = time.perf_counter()
        build_density(load_points(engine, options), Path(args.var) / "tiles")
        out["density_wall"] = time.perf_counter() - t1
        out["density_rss_mib"] = peak_rss_mib()
    print(json.dumps(out))


def run_child(url: str, var: Path, mode: str, max_zoom: int, density: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", "--url", url, "--var", str(var),
           "--mode", mode, "--max-zoom", str(max_zoom)] + (["--density"] if density else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def approval_latency(url: str, var: Path, max_zoom: int, mode: str, runs: int = 5) -> list[float]:
    """Seconds from an approval's commit to its point in the served tile (warm watcher)."""
    import gzip

    import mapbox_vector_tile

    from geo.publish import FeatureDraft, publish_feature
    from geo.tilemath import lonlat_to_tile
    from tiles.archive import MBTiles
    from tiles.build import PointCache, build_incremental
    from tiles.options import TileOptions

    engine = create_engine(url)
    options = TileOptions(max_zoom=max_zoom, mode=mode)
    cache = PointCache(options)
    from tiles.build import _psycopg

    with _psycopg(engine) as dbapi:  # what the watcher does on its first claim
        cache.refresh(dbapi, None)
    out = []
    visible = 0
    rng = np.random.default_rng(3)
    for i in range(runs):
        lon, lat = 2.30 + rng.uniform(0, 0.08), 48.84 + rng.uniform(0, 0.04)
        x, y = lonlat_to_tile(lon, lat, max_zoom)
        with MBTiles(var / "tiles" / "features.mbtiles", readonly=True) as mb:
            old = mb.get(max_zoom, int(x), int(y))
        before = {(int(x), int(y)): old[1] if old else None}
        with Session(engine) as s, s.begin():
            fid = publish_feature(s, FeatureDraft(category=cache.points.categories[0],
                                                  title=f"Approuvé {i}", lon=lon, lat=lat)).id
        t0 = time.perf_counter()
        build_incremental(engine, var, options, cache=cache, snapshot=False)
        with MBTiles(var / "tiles" / "features.mbtiles", readonly=True) as mb:
            data, etag = mb.get(max_zoom, int(x), int(y))
        out.append(time.perf_counter() - t0)
        assert etag != before.get((int(x), int(y))), "the tile was not rebuilt"
        ids = {f["id"] for f in mapbox_vector_tile.decode(gzip.decompress(data))
               ["features"]["features"]}
        visible += fid in ids
    engine.dispose()
    print(f"         approved points visible at z{max_zoom}: {visible}/{runs} "
          "(fewer when the size limit thins the deepest zoom)")
    return out


def tippecanoe(lon: np.ndarray, lat: np.ndarray, workdir: Path, mode: str, max_zoom: int
               ) -> dict | None:
    exe = shutil.which("tippecanoe")
    if exe is None:
        return None
    src = workdir / "points.csv"
    with open(src, "w") as f:
        f.write("id,title,lon,lat\n")
        for i in range(len(lon)):
            f.write(f"{i},Lieu partagé n°{i},{lon[i]:.7f},{lat[i]:.7f}\n")
    out = workdir / "tc.pmtiles"
    cmd = [exe, "-q", "-f", "-o", str(out), f"-z{max_zoom}", "-Z0", "-l", "features", str(src)]
    if mode == "cluster":
        cmd += ["-r1", "--cluster-distance=10"]
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    return {"wall": time.perf_counter() - t0,
            "rss_mib": int(proc.stderr.strip().splitlines()[-1]) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--modes", default="drop,cluster")
    ap.add_argument("--dists", default="uniform,hotspot")
    ap.add_argument("--max-zoom", type=int, default=14)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--url")
    ap.add_argument("--var")
    ap.add_argument("--mode")
    ap.add_argument("--density", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"cores: {os.cpu_count()}; tippecanoe: {shutil.which('tippecanoe') or 'not installed'}")
    with cluster(durable=False) as (url, _root):
        for dist in args.dists.split(","):
            for n in sizes:
                if dist == "uniform":
                    lon, lat = paris_points(n, url=url)
                else:
                    lon, lat = hotspot_points(n)
                secs = seed(url, lon, lat)
                print(f"\n== {n:,} points, {dist}, z0-{args.max_zoom} (seeded in {secs:.1f} s)")
                for mode in args.modes.split(","):
                    var = Path(tempfile.mkdtemp(prefix="carte-tiles-bench-"))
                    try:
                        res = run_child(url, var, mode, args.max_zoom,
                                        density=(mode == "drop"))
                        r = res["report"]
                        print(f"{mode:8s} wall {res['wall']:6.2f} s  "
                              f"RSS parent {res['rss_parent_mib']:.0f} MiB, "
                              f"largest worker {res['rss_worker_mib']:.0f} MiB "
                              "(counts pages shared with the parent)  "
                              f"tiles {r['tiles']}  bytes {r['bytes'] / 1e6:.1f} MB  "
                              f"largest {r['largest'] / 1e3:.0f} KB")
                        print(f"         timings (cumulative s) {r['timings']}")
                        print(f"         kept per zoom {r['kept_per_zoom']}")
                        if "density_wall" in res:
                            print(f"         density COG + PNG tiles {res['density_wall']:.2f} s"
                                  f" (RSS {res['density_rss_mib']:.0f} MiB)")
                        tc = tippecanoe(lon, lat, var, mode, args.max_zoom)
                        if tc:
                            print(f"         tippecanoe {tc['wall']:.1f} s, "
                                  f"{tc['rss_mib']:.0f} MiB: ours is "
                                  f"{tc['wall'] / res['wall']:.1f}x faster")
                        if n == max(sizes) and dist == "uniform":
                            lat_s = approval_latency(url, var, args.max_zoom, mode)
                            print(f"         approval -> served tile (watch path): median "
                                  f"{np.median(lat_s) * 1000:.0f} ms, max "
                                  f"{max(lat_s) * 1000:.0f} ms over {len(lat_s)}")
                    finally:
                        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
