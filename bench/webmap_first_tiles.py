"""Map page with 1,000,000 published points: time to the first vector tiles drawn.

Seeds uniform points inside the real Paris outline into a throwaway PostGIS, builds the
tiles once as ``carte tiles build`` does (vector, density and base layers), serves the
app with ``carte serve`` (gunicorn, gthread) and opens the page in Debian's headless
Chromium, each run in a fresh browser context (empty cache, as a first visit):

* navigation start -> first vector tile drawn (VectorGrid's first ``tileload``, which
  fires once the tile is painted on its canvas) and -> every visible vector tile drawn;
* DOMContentLoaded; requests and bytes transferred (page and assets vs tiles);
* with the same 1M points, the page's own API calls: search (features by title through
  the trigram index, areas, addresses) and "Ma balade" (nearest 200 candidates, plan).

Views: all of Paris (z12, clusters) and a street view (z16, single points); desktop
1280x800. Medians of ``--runs`` runs. Target: under 1.5 s to the first tiles.

    .venv/bin/python bench/webmap_first_tiles.py [--points 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine

from bench.ingest_common import cluster, paris_points
from bench.tiles_build import seed

VIEWS = {"paris-z12": "#map=12/48.85660/2.34220", "street-z16": "#map=16/48.85700/2.35400"}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
# Installed before any page script: note when the vector layer draws its first tile and
# when every visible tile is drawn.
PROBE = """
(function poll() {
  var layer = window.vector_grid_protobuf_features;
  if (!layer) { setTimeout(poll, 0); return; }
  layer.once('tileload', function () { window.__firstTile = performance.now(); });
  layer.once('load', function () { window.__allTiles = performance.now(); });
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, var: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CARTE_DATABASE_URL": url, "CARTE_VAR_DIR": str(var),
           "CARTE_SECRET_KEY": "bench"}
    carte = Path(sys.executable).with_name("carte")
    proc = subprocess.Popen([str(carte), "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("carte serve did not start")


def measure(browser, base: str, view: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    context.add_init_script(PROBE)
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda r: requests.append(r))
    page.goto(base + "/" + view)
    page.wait_for_function("() => window.__allTiles !== undefined", timeout=60_000)
    page.wait_for_load_state("networkidle")
    first, every, dcl, ttfb = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [window.__firstTile, window.__allTiles, n.domContentLoadedEventEnd,"
        " n.responseStart]; }")
    page_bytes = tile_bytes = 0
    n_tiles = 0
    for r in requests:
        size = r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]
        if "/tiles/" in r.url:
            tile_bytes += size
            n_tiles += 1
        else:
            page_bytes += size
    context.close()
    return {"first_ms": first, "all_ms": every, "dcl_ms": dcl, "ttfb_ms": ttfb,
            "requests": len(requests),
            "page_kb": page_bytes / 1024, "tile_requests": n_tiles, "tiles_kb": tile_bytes / 1024}


def time_api(base: str, paths: list[str], rounds: int = 10) -> dict[str, float]:
    """Median milliseconds of each GET, after one warm-up call."""
    from urllib.request import urlopen

    out = {}
    for path in paths:
        urlopen(base + path).read()
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            urlopen(base + path).read()
            times.append((time.perf_counter() - t0) * 1000)
        out[path] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tiles.build import build_full
    from tiles.options import TileOptions

    with cluster(durable=False) as (url, _root):
        lon, lat = paris_points(args.points, url=url)
        print(f"seeded {args.points:,} points in {seed(url, lon, lat):.1f} s", flush=True)
        var = Path(tempfile.mkdtemp(prefix="carte-bench-var-"))
        engine = create_engine(url)
        t0 = time.perf_counter()
        report = build_full(engine, var, TileOptions(), density=True)
        engine.dispose()
        print(f"tiles built in {time.perf_counter() - t0:.1f} s: {report.tiles:,} vector "
              f"tiles, largest {report.largest / 1024:.0f} KB", flush=True)
        port = _free_port()
        server = _serve(url, var, port)
        try:
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=CHROMIUM_ARGS)
                measure(browser, base, VIEWS["paris-z12"])  # warm the server, not the browser
                for name, view in VIEWS.items():
                    runs = [measure(browser, base, view) for _ in range(args.runs)]
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    print(f"{name}: first vector tile drawn {med['first_ms']:.0f} ms "
                          f"(min {min(r['first_ms'] for r in runs):.0f}, max "
                          f"{max(r['first_ms'] for r in runs):.0f}), all visible "
                          f"{med['all_ms']:.0f} ms, page's first byte {med['ttfb_ms']:.0f} ms, "
                          f"DOMContentLoaded {med['dcl_ms']:.0f} ms; "
                          f"{med['requests']:.0f} requests, page and assets "
                          f"{med['page_kb']:.0f} KB, {med['tile_requests']:.0f} tiles "
                          f"{med['tiles_kb']:.0f} KB (medians of {args.runs} cold runs)",
                          flush=True)
                browser.close()
            for path, ms in time_api(base, [
                    "/api/v1/search?q=partag%C3%A9%20n%C2%B0123456",
                    "/api/v1/search?q=12%20rue%20de%20rivoli",
                    "/api/v1/walk?lon=2.3522&lat=48.8566&minutes=120",
                    "/api/v1/features?bbox=2.35,48.855,2.36,48.86&limit=100"]).items():
                print(f"GET {path}: median {ms:.1f} ms (10 calls, 1 connection)")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
            shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
