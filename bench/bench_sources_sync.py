"""Syncing a 100,000-row source where 1 % changed and 1 % disappeared, beside a re-import.

Run: ``.venv/bin/python bench/bench_sources_sync.py [--rows 100000] [--rounds 3]``

It starts its own throwaway cluster (fsync on), migrates, loads the Paris areas and the
categories, writes a CSV of ``--rows`` seeded random points in Paris (``id,title,lon,lat``)
and imports and publishes it (as ``carte demo`` does a seed), then syncs it once
(``source_row`` bootstrapped, every row unchanged). Then, ``--rounds`` times:
1 % of the rows get a new title, 1 % are dropped from the file, and the source is synced
(:func:`ingestion.sync.sync_source`, end to end: file read, every row compared, changed
rows revised, gone rows retired, its transaction committed). Before and after each sync
it counts feature versions, audit events and dirty tiles (emptied before the step), so
the figures show that only the changed and gone rows were touched.

For comparison, in the same run, a second source with the same rows goes through the
plain re-import we had before (``run_import(..., publish=True)``: revises the changed
rows, but cannot retire the gone ones). Medians over the rounds are printed last.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_common import cluster, paris_points  # noqa: E402

from geo.city import Dataset, load_city  # noqa: E402
from ingestion.importer import run_import  # noqa: E402
from ingestion.sync import sync_source  # noqa: E402


def write(path: Path, ids: np.ndarray, titles: list[str], lons: np.ndarray,
          lats: np.ndarray, keep: np.ndarray) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,title,lon,lat\n")
        for i in np.flatnonzero(keep):
            fh.write(f"r{ids[i]},{titles[i]},{lons[i]:.7f},{lats[i]:.7f}\n")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {"versions": conn.execute(text("SELECT count(*) FROM feature_version")).scalar_one(),
                "audit": conn.execute(text("SELECT count(*) FROM moderation_event")).scalar_one(),
                "dirty_tiles": conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one(),
                "published": conn.execute(text(
                    "SELECT count(*) FROM feature WHERE status = 'published'")).scalar_one()}


def clear_dirty(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE tile_dirty"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.rows
    with cluster(durable=True) as (url, root):
        engine = create_engine(url)
        lons, lats = paris_points(n, url=url)
        ids = np.arange(n)
        titles = [f"Lieu {i}" for i in range(n)]
        keep = np.ones(n, dtype=bool)
        sync_file, plain_file = root / "sync.csv", root / "plain.csv"
        dataset = Dataset(file=sync_file, source="bench-sync", category="service-municipal",
                          licence="ODbL-1.0", attribution="bench")
        city = dataclasses.replace(load_city("paris", check_files=False), sources=(dataset,))
        write(sync_file, ids, titles, lons, lats, keep)
        write(plain_file, ids, titles, lons, lats, keep)
        # Both sources start as `carte demo` leaves a seed: imported and published.
        for source, path in (("bench-sync", sync_file), ("bench-plain", plain_file)):
            t0 = time.perf_counter()
            with Session(engine) as s, s.begin():
                run_import(path, session=s, source=source, category="service-municipal",
                           publish=True, attribution="bench")
            print(json.dumps({"step": f"first import, published ({source})", "rows": n,
                              "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
        t0 = time.perf_counter()
        with Session(engine) as s, s.begin():
            first = sync_source(s, city, "bench-sync")
        print(json.dumps({"step": "first sync (state bootstrapped, every row unchanged)",
                          "rows": n, "seconds": round(time.perf_counter() - t0, 2),
                          "unchanged": first.unchanged, "new": first.new}), flush=True)
        rng = np.random.default_rng(7)
        sync_s, plain_s = [], []
        for k in range(args.rounds):
            alive = np.flatnonzero(keep)
            picked = rng.choice(alive, size=2 * (n // 100), replace=False)
            changed, gone = picked[: n // 100], picked[n // 100:]
            for i in changed:
                titles[i] = f"Lieu {i} (v{k + 2})"
            keep[gone] = False
            write(sync_file, ids, titles, lons, lats, keep)
            write(plain_file, ids, titles, lons, lats, keep)

            clear_dirty(engine)
            before = counts(engine)
            t0 = time.perf_counter()
            with Session(engine) as s, s.begin():
                report = sync_source(s, city, "bench-sync")
            elapsed = time.perf_counter() - t0
            after = counts(engine)
            sync_s.append(elapsed)
            print(json.dumps({
                "step": f"sync round {k + 1}", "seconds": round(elapsed, 2),
                "read": report.read, "changed": report.changed, "retired": report.retired,
                "unchanged": report.unchanged, "new": report.new, "phases": report.phases,
                "new_versions": after["versions"] - before["versions"],
                "new_audit_events": after["audit"] - before["audit"],
                "dirty_tiles": after["dirty_tiles"],
                "expected_rows_touched": len(changed) + len(gone)}), flush=True)

            clear_dirty(engine)
            before = counts(engine)
            t0 = time.perf_counter()
            with Session(engine) as s, s.begin():
                summary = run_import(plain_file, session=s, source="bench-plain",
                                     category="service-municipal", publish=True,
                                     attribution="bench")
            elapsed = time.perf_counter() - t0
            after = counts(engine)
            plain_s.append(elapsed)
            with engine.connect() as conn:
                still = conn.execute(text(
                    "SELECT count(*) FROM feature WHERE source = 'bench-plain' "
                    "AND status = 'published'")).scalar_one()
            print(json.dumps({
                "step": f"plain re-import round {k + 1}", "seconds": round(elapsed, 2),
                "read": summary.read, "changed": summary.changed,
                "new_versions": after["versions"] - before["versions"],
                "new_audit_events": after["audit"] - before["audit"],
                "dirty_tiles": after["dirty_tiles"],
                "published_still": still, "rows_in_source": int(keep.sum())}), flush=True)
        print(json.dumps({"rows": n, "rounds": args.rounds,
                          "sync_median_s": round(statistics.median(sync_s), 2),
                          "plain_reimport_median_s": round(statistics.median(plain_s), 2),
                          "target_s": 10}), flush=True)
        engine.dispose()


if __name__ == "__main__":
    main()
