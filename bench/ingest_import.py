"""Bulk import benchmark: N synthetic points in Paris through ``run_import`` (full
validation, every row stored in ``import_row`` with its outcome and where its bytes are
in the stored file) beside the two plain bulk loads the issue names, of the same CSV,
in the same run: ``COPY`` + ``ST_MakePoint`` + GiST + ANALYZE, and Debian's ``ogr2ogr``
(``PG_USE_COPY``, its default GiST index; skipped with a line saying so when ``ogr2ogr``
is not on PATH: ``apt-get install gdal-bin``, which ``make bench`` does).

    .venv/bin/python bench/ingest_import.py [--rows 1000000]

Prints one JSON line per step and the ratio (plain time / our time: >= 1.0 means we
are as fast as the plain load), then imports the same file again (a re-run: every row
compared with the previous file's bytes, all ``unchanged``). ``lost`` counts the
rows of the first import missing from ``import_row``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.ingest_common import cluster, paris_points
from ingestion.importer import run_import


def write_csv(path: Path, lons, lats) -> None:
    with path.open("w") as fh:
        fh.write("id,title,lon,lat\n")
        for i, (x, y) in enumerate(zip(lons.tolist(), lats.tolist(), strict=True)):
            fh.write(f"p{i},Point {i},{x:.7f},{y:.7f}\n")


def plain_load(url: str, path: Path) -> float:
    import psycopg

    conninfo = url.replace("postgresql+psycopg", "postgresql")
    t0 = time.perf_counter()
    with psycopg.connect(conninfo) as conn:
        conn.execute("CREATE UNLOGGED TABLE plain_stage (id text, title text, lon float8, "
                     "lat float8)")
        with conn.cursor() as cur, cur.copy(
                "COPY plain_stage FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.execute("CREATE TABLE plain (id text, title text, geom geometry(Point, 4326))")
        conn.execute("INSERT INTO plain SELECT id, title, "
                     "ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM plain_stage")
        conn.execute("CREATE INDEX ON plain USING gist (geom)")
        conn.execute("ANALYZE plain")
        conn.commit()
    return time.perf_counter() - t0


def ogr2ogr_load(url: str, path: Path) -> float | None:
    """Time Debian's ``ogr2ogr`` loading the CSV with COPY (what a GIS user would run)."""
    exe = shutil.which("ogr2ogr")
    if exe is None:
        return None
    from sqlalchemy.engine import make_url

    u = make_url(url)
    pg = f"PG:dbname={u.database} user={u.username} host={u.query['host']}"
    t0 = time.perf_counter()
    subprocess.run([exe, "-f", "PostgreSQL", pg, str(path), "-nln", "ogr_plain",
                    "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat",
                    "-a_srs", "EPSG:4326", "-lco", "GEOMETRY_NAME=geom",
                    "-gt", "65536", "--config", "PG_USE_COPY", "YES"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def ours(url: str, path: Path) -> tuple[float, dict]:
    engine = create_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as s, s.begin():
        summary = run_import(path, session=s, source="bench", category="service-municipal")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE import_row"))
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed, summary.as_dict()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with cluster(durable=True) as (url, root):
        lons, lats = paris_points(args.rows, url=url)
        path = root / "points.csv"
        write_csv(path, lons, lats)
        plain = plain_load(url, path)
        print(json.dumps({"step": "plain COPY+ST_MakePoint+GiST+ANALYZE", "rows": args.rows,
                          "seconds": round(plain, 2), "rows_per_s": round(args.rows / plain)}),
              flush=True)
        ogr = ogr2ogr_load(url, path)
        if ogr:  # the reference really loaded every point, with its geometry
            engine = create_engine(url)
            with engine.connect() as conn:
                loaded = conn.execute(text(
                    "SELECT count(geom) FROM ogr_plain WHERE ST_SRID(geom) = 4326")).scalar_one()
            engine.dispose()
            assert loaded == args.rows, f"ogr2ogr loaded {loaded} of {args.rows} points"
        print(json.dumps({"step": "ogr2ogr (GDAL, PG_USE_COPY, GiST)", "rows": args.rows,
                          "seconds": round(ogr, 2), "rows_per_s": round(args.rows / ogr)}
                         if ogr else {"step": "ogr2ogr", "skipped": "not on PATH"}),
              flush=True)
        elapsed, summary = ours(url, path)
        print(json.dumps({"step": "carte import (validate + store every row)",
                          "rows": args.rows, "seconds": round(elapsed, 2),
                          "rows_per_s": round(args.rows / elapsed),
                          "accepted": summary["accepted"], "refused": summary["refused"]}),
              flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM import_row")).scalar_one()
        engine.dispose()
        again, second = ours(url, path)
        print(json.dumps({"step": "the same file again (every row compared, unchanged)",
                          "rows": args.rows, "seconds": round(again, 2),
                          "rows_per_s": round(args.rows / again),
                          "already_imported": second["already_imported"]}), flush=True)
        print(json.dumps({"rows": args.rows, "rows_per_s": round(args.rows / elapsed),
                          "seconds": round(elapsed, 2),
                          "ratio_plain_over_ours": round(plain / elapsed, 3),
                          "ratio_ogr2ogr_over_ours": round(ogr / elapsed, 3) if ogr else None,
                          "stored_rows": stored, "lost": args.rows - stored}))


if __name__ == "__main__":
    main()
