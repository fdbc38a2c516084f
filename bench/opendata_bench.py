"""Open data at 1,000,000 published features: OGC API pages under load, and the exports.

Seeds a throwaway PostGIS with 1M published points inside Paris (bulk-loaded with COPY,
with areas, categories, 10 % dated events, attributes), starts ``carte serve`` as a user
would (gunicorn gthread, default workers), then:

* OGC items at ``limit=1000`` in random ~500 m boxes: one connection (urllib), then
  ``wrk`` at 4 and 16 connections (p50/p99, requests/s);
* a page of the whole collection and a deep ``offset``;
* ``run_export`` for each format (GeoJSON, CSV, GeoPackage, FlatGeobuf), each writing
  the all-features file and one file per category, in full (``full=True``: no cache).

    .venv/bin/python bench/opendata_bench.py [--points 1000000] [--seconds 15]

Compare with pygeoapi among the peers of docs/benchmarks.md (14 req/s, p99 1.9 s at 16 connections).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.ingest_common import cluster, paris_points
from geo.models import Area

NULL = "\\N"  # COPY's text-format NULL
LUA = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(url: str, n: int) -> float:
    """COPY ``n`` published features; returns seconds (load + indexes + analyze)."""
    lon, lat = paris_points(n, url=url)
    engine = create_engine(url)
    with Session(engine) as s:
        areas = [(a.id, a.kind, to_shape(a.geom)) for a in s.query(Area).all()]
        cats = s.execute(text("SELECT slug, kind::text FROM category WHERE active "
                              "ORDER BY slug")).all()
    arr = np.zeros(n, dtype=np.int64)
    qua = np.zeros(n, dtype=np.int64)
    for area_id, kind, geom in areas:
        if kind == "city":
            continue
        shapely.prepare(geom)
        inside = shapely.contains_xy(geom, lon, lat)
        (arr if kind == "arrondissement" else qua)[inside] = area_id
    rng = np.random.default_rng(7)
    cat_idx = rng.integers(0, len(cats), n)
    events = [i for i, c in enumerate(cats) if c[1] == "event"]
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    pg = raw.driver_connection
    with pg.cursor() as cur:
        cur.execute("TRUNCATE feature, tile_dirty RESTART IDENTITY CASCADE")
        cur.execute("DROP INDEX IF EXISTS feature_published_geom_gist, feature_geom_gist")
        base = np.datetime64("2026-06-01T10:00")
        with cur.copy("COPY feature (category, title, description, starts_at, ends_at, "
                      "attributes, geom, area_ids, source) "
                      "FROM STDIN") as copy:
            buf = io.StringIO()
            for i in range(n):
                c = int(cat_idx[i])
                if events and i % 10 == 0:
                    c = events[i % len(events)]
                slug = cats[c][0]
                start = end = NULL
                if cats[c][1] == "event":
                    t = base + np.timedelta64(int(i % 2000) * 6, "h")
                    start, end = f"{t}:00Z", f"{t + np.timedelta64(3, 'h')}:00Z"
                attrs = '{"audiences": ["families"], "accessibility": ["step_free_access"]}' \
                    if i % 3 == 0 else "{}"
                buf.write(f"{slug}\tLieu partagé n°{i}\tUn lieu de quartier, ouvert à "
                          f"tous, numéro {i}.\t{start}\t{end}\t{attrs}\t"
                          f"SRID=4326;POINT({lon[i]:.7f} {lat[i]:.7f})\t"
                          f"{{{arr[i] or 'NULL'},{qua[i] or 'NULL'}}}\tresident\n")
                if i % 50_000 == 49_999:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        cur.execute("CREATE INDEX feature_geom_gist ON feature USING gist (geom)")
        cur.execute("CREATE INDEX feature_published_geom_gist ON feature USING gist (geom) "
                    "WHERE status = 'published'")
    pg.commit()
    pg.autocommit = True
    pg.execute("VACUUM ANALYZE feature")
    raw.close()
    engine.dispose()
    return time.perf_counter() - t0


def boxes(k: int, size_m: float = 500.0) -> list[str]:
    rnd = random.Random(3)
    dlat = size_m / 111_320
    dlon = size_m / (111_320 * 0.6578)
    out = []
    for _ in range(k):
        x = rnd.uniform(2.26, 2.41 - dlon)
        y = rnd.uniform(48.825, 48.895 - dlat)
        out.append(f"{x:.5f},{y:.5f},{x + dlon:.5f},{y + dlat:.5f}")
    return out


def wrk(base: str, paths: list[str], seconds: int, conns: int, workdir: Path) -> dict:
    script = workdir / "ogc.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s",
                          str(script), base], capture_output=True, text=True,
                         check=True).stdout

    def ms(label: str) -> float:
        m = re.search(label + r"\s+([\d.]+)(\w+)", out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "non_2xx": int(errors.group(1)) if errors else 0}


def sequential(base: str, paths: list[str]) -> dict:
    times, sizes, counts = [], [], []
    for p in paths:
        t = time.perf_counter()
        with urllib.request.urlopen(base + p, timeout=30) as r:
            body = r.read()
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(body))
        counts.append(json.loads(body)["numberReturned"])
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(0.99 * len(times)) - 1],
            "features": statistics.mean(counts), "kb": statistics.mean(sizes) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--skip-exports", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with cluster(durable=False) as (url, _root):
        seconds = load(url, args.points)
        print(f"loaded {args.points:,} published features with COPY in {seconds:.1f} s")
        var = Path(tempfile.mkdtemp(prefix="carte-od-bench-"))
        port = free_port()
        env = {**os.environ, "CARTE_DATABASE_URL": url, "CARTE_VAR_DIR": str(var),
               "CARTE_SECRET_KEY": "bench"}
        server = subprocess.Popen([str(Path(sys.executable).with_name("carte")), "serve",
                                   "--port", str(port)], env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    urllib.request.urlopen(base + "/ogc/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            paths = [f"/ogc/collections/features/items?limit=1000&bbox={b}"
                     for b in boxes(400)]
            seq = sequential(base, paths[:200])
            print(f"OGC items limit=1000, ~500 m bbox, 1 connection: p50 {seq['p50_ms']:.1f} ms"
                  f"  p99 {seq['p99_ms']:.1f} ms  ({seq['features']:.0f} features, "
                  f"{seq['kb']:.0f} KiB per page)")
            for conns in (4, 16):
                wrk(base, paths, 3, conns, var)  # warm-up
                res = wrk(base, paths, args.seconds, conns, var)
                print(f"wrk -t2 -c{conns}: {res['rps']:.0f} req/s  p50 {res['p50_ms']:.1f} ms"
                      f"  p99 {res['p99_ms']:.1f} ms  non-2xx {res['non_2xx']}")
            api = [p.replace("/ogc/collections/features/items", "/api/v1/features")
                   for p in paths]
            res = wrk(base, api, args.seconds, 16, var)
            print(f"/api/v1/features same boxes, wrk -c16: {res['rps']:.0f} req/s  "
                  f"p99 {res['p99_ms']:.1f} ms")
            for label, p in (("whole collection, first page", "?limit=1000"),
                             ("whole collection, offset 500000", "?limit=1000&offset=500000")):
                seq = sequential(base, [f"/ogc/collections/features/items{p}"] * 20)
                print(f"{label}: p50 {seq['p50_ms']:.1f} ms  p99 {seq['p99_ms']:.1f} ms")
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=30)
        if not args.skip_exports:
            from opendata.exports import run_export

            engine = create_engine(url)
            out = var / "data"
            t = time.perf_counter()
            # full=True: each run renders everything (no cached parts from the previous
            # run), which is what these lines measure; an incremental refresh is
            # measured by bench/jobs_bench.py --part freshness.
            run_export(engine, out, formats=["gpkg"], per_category=False, full=True)
            print(f"export gpkg, the all-features file alone: {time.perf_counter() - t:.1f} s")
            for fmt in ("geojson", "csv", "gpkg", "fgb"):
                t = time.perf_counter()
                manifest = run_export(engine, out, formats=[fmt], full=True)
                took = time.perf_counter() - t
                whole = next(f for f in manifest["files"] if f["name"] == f"features.{fmt}")
                print(f"export {fmt:8s} {took:6.1f} s for {len(manifest['files'])} files "
                      f"(all features: {whole['size'] / 1e6:.0f} MB)")
            t = time.perf_counter()
            import pyogrio

            info = pyogrio.read_info(str(out / "features.gpkg"))
            print(f"GDAL reads the GeoPackage: {info['features']:,} features "
                  f"({time.perf_counter() - t:.2f} s)")
            engine.dispose()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
