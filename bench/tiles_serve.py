"""Tile serving throughput: wrk against ``carte serve`` (gunicorn) on a built archive.

Seeds points in a throwaway PostGIS, builds the tiles, starts ``carte serve`` as a user
would, and runs ``wrk -t2 -c32`` cycling over every stored tile (gzip accepted, as
browsers do), then over the z14 tiles only. Prints requests/s and p99 latency.

    .venv/bin/python bench/tiles_serve.py [--points 1000000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest_common import cluster, paris_points
from bench.tiles_build import seed

LUA = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, paths: list[str], seconds: int, workdir: Path) -> dict:
    script = workdir / "tiles.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    from sqlalchemy import create_engine

    from tiles.build import build_full
    from tiles.options import TileOptions

    with cluster(durable=False) as (url, _root):
        lon, lat = paris_points(args.points, url=url)
        seed(url, lon, lat)
        var = Path(tempfile.mkdtemp(prefix="carte-serve-bench-"))
        engine = create_engine(url)
        report = build_full(engine, var, TileOptions(max_zoom=14, mode="drop"))
        engine.dispose()
        with sqlite3.connect(var / "tiles" / "features.mbtiles") as db:
            rows = db.execute("SELECT zoom_level, tile_column, tile_row FROM map").fetchall()
        paths = [f"/tiles/features/{z}/{x}/{(1 << z) - 1 - r}.mvt" for z, x, r in rows]
        z14 = [p for p in paths if p.startswith("/tiles/features/14/")]
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
                    urllib.request.urlopen(base + paths[0], timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            print(f"{args.points:,} points, {report.tiles} tiles, "
                  f"{report.bytes / 1e6:.1f} MB; carte serve (gunicorn gthread, default "
                  f"workers) on {os.cpu_count()} cores shared with wrk -t2 -c32")
            for label, subset in (("all tiles", paths), ("z14 tiles only", z14)):
                wrk(base, subset, 3, var)  # warm-up
                res = wrk(base, subset, args.seconds, var)
                print(f"{label:15s} {res['rps']:8.0f} tiles/s  p99 {res['p99_ms']:.1f} ms  "
                      f"non-2xx {res['non_2xx']}")
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=30)
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
