"""Map page with 1,000,000 published points and the Paris basemap: time to first draw.

Seeds uniform points inside the real Paris outline into a throwaway PostGIS, builds the
point tiles once as ``carte tiles build`` does (vector and density layers) and the
vector basemap of the whole city (``tiles.basemap.build_basemap``), serves the app with
``carte serve`` (gunicorn, gthread) and opens the page in Debian's headless Chromium,
each run in a fresh browser context (empty cache, as a first visit):

* navigation start -> first basemap tile and first point tile drawn (both layers of
  ``static/map/layers.js`` note when their first tile is painted on its canvas and when
  every visible tile is); "first draw" is the later of the two firsts, "all" the later
  of the two alls;
* bytes transferred (Resource Timing ``transferSize``, page and assets and tiles)
  before the first draw, and in all;
* a filter change: one category unticked through ``CarteLayers.setFilter``, redrawn from
  the decoded tiles (``CarteLayers.stats.lastRedrawMs``), with no request;
* DOMContentLoaded; with the same 1M points, the page's own API calls: search (features
  by title through the trigram index, areas, addresses) and "Ma balade".

Views: all of Paris (z12, clusters) and a street view (z16, single points); desktop
1280x800. Medians of ``--runs`` runs. Targets (issue 14): first basemap and point tiles
drawn < 1.0 s, < 2 MB before the first draw, a filter change redrawn < 150 ms.

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
# After the first draw of both layers: the bytes that had arrived by then.
BYTES_BEFORE = """(t) => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  let before = nav.transferSize, all = nav.transferSize, tiles = 0;
  for (const r of res) {
    all += r.transferSize;
    if (r.responseEnd <= t) before += r.transferSize;
    if (r.name.includes('/tiles/')) tiles += 1;
  }
  return [before, all, tiles, res.length + 1];
}"""
DRAWN = ("() => window.CarteLayers && CarteLayers.stats.placesAll !== undefined &&"
         " CarteLayers.stats.basemapAll !== undefined")


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
    page = context.new_page()
    page.goto(base + "/" + view)
    page.wait_for_function(DRAWN, timeout=60_000)
    stats, dcl = page.evaluate(
        "() => [CarteLayers.stats, performance.getEntriesByType('navigation')[0]"
        ".domContentLoadedEventEnd]")
    first = max(stats["placesFirst"], stats["basemapFirst"])
    every = max(stats["placesAll"], stats["basemapAll"])
    before, total, n_tiles, n_requests = page.evaluate(BYTES_BEFORE, first)
    # A filter change: every category but the first, from the decoded tiles.
    requests = page.evaluate("performance.getEntriesByType('resource').length")
    redraw = page.evaluate(
        "() => { const d = JSON.parse(document.getElementById('carte-data').textContent);"
        " CarteLayers.setFilter({categories: d.categories.slice(1).map(c => c.slug),"
        " query: ''}); return CarteLayers.stats.lastRedrawMs; }")
    refetched = page.evaluate("performance.getEntriesByType('resource').length") - requests
    context.close()
    return {"first_ms": first, "all_ms": every, "basemap_first_ms": stats["basemapFirst"],
            "places_first_ms": stats["placesFirst"], "dcl_ms": dcl,
            "before_kb": before / 1024, "total_kb": total / 1024, "requests": n_requests,
            "tile_requests": n_tiles, "redraw_ms": redraw, "refetched": refetched}


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

    from geo.city import load_city
    from tiles.basemap import build_basemap
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
        basemap = build_basemap(load_city("paris"), var, force=True)
        print(f"basemap built in {basemap.seconds:.1f} s: {basemap.tiles:,} tiles", flush=True)
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

                    def spread(key, runs=runs):
                        return (f"{statistics.median(r[key] for r in runs):.0f} "
                                f"(min {min(r[key] for r in runs):.0f}, "
                                f"max {max(r[key] for r in runs):.0f})")
                    print(f"{name}: basemap and points first drawn {spread('first_ms')} ms "
                          f"(basemap {med['basemap_first_ms']:.0f}, points "
                          f"{med['places_first_ms']:.0f}), all visible tiles "
                          f"{spread('all_ms')} ms, DOMContentLoaded {med['dcl_ms']:.0f} ms; "
                          f"{med['before_kb']:.0f} KB transferred before the first draw, "
                          f"{med['total_kb']:.0f} KB in all ({med['requests']:.0f} requests, "
                          f"{med['tile_requests']:.0f} tiles); filter change redrawn in "
                          f"{spread('redraw_ms')} ms with {med['refetched']:.0f} requests "
                          f"(medians of {args.runs} cold runs)", flush=True)
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
