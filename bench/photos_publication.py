"""What the public ``photos`` field costs the outputs that build every feature's JSON.

Seeds a throwaway PostGIS with N published features (10 % of them with 1 or 3 ready
photos) and N/20 photos still in quarantine, then times (median of three runs):

* the GeoJSON of every feature as the exports build it (``feature_json_sql``), with the
  ``photos`` field and with it replaced by a constant ``[]`` (the cost of the field);
* ``run_export`` of GeoJSON and CSV for all features (one file each, no per-category
  files).

    .venv/bin/python bench/photos_publication.py [--features 200000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench.ingest_common import cluster
from geo.city import load_city
from geo.published import area_joins, feature_json_sql, photos_sql
from opendata.exports import run_export

SEED = """
INSERT INTO category (slug, kind, label_fr, label_en, colour, icon)
VALUES ('jardin-bench', 'place', 'Jardin', 'Garden', '#2e7d32', 'leaf')
ON CONFLICT (slug) DO NOTHING;
INSERT INTO feature (status, category, title, description, attributes, geom, source, version)
SELECT 'published', 'jardin-bench', 'Lieu ' || i, 'Un lieu du banc d''essai', '{}'::jsonb,
       ST_SetSRID(ST_MakePoint(2.25 + random() * 0.17, 48.82 + random() * 0.08), 4326),
       'bench', 1
FROM generate_series(1, :n) i;
INSERT INTO photo (feature_id, status, width, height, display_key, thumb_key, licence,
                   author, alt, position)
SELECT f.id, CASE WHEN k = 4 THEN 'hidden' ELSE 'ready' END, 1600, 1200,
       md5(f.id::text || k) || md5(k::text || f.id) || '.jpg',
       md5(f.id::text || k) || md5(k::text || f.id) || '.thumb.jpg',
       'CC-BY-SA-4.0', 'Camille', CASE WHEN k = 1 THEN 'La façade' END, k
FROM feature f CROSS JOIN LATERAL generate_series(1, 1 + (f.id % 4)::int) k
WHERE f.id % 10 = 0;
INSERT INTO photo (status, licence)
SELECT 'quarantined', 'CC0-1.0' FROM generate_series(1, :n / 20);
ANALYZE feature; ANALYZE photo;
"""


def median_seconds(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=int, default=200_000)
    args = ap.parse_args()
    levels = load_city("paris", check_files=False).levels
    with cluster(durable=False) as (url, _root):
        engine = create_engine(url)
        with engine.begin() as conn:
            for statement in SEED.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"n": args.features})
            photos = conn.execute(text("SELECT count(*) FILTER (WHERE status = 'ready'), "
                                       "count(*) FROM photo")).one()
        with_field = feature_json_sql(levels, "https://carte.example")
        without = with_field.replace(photos_sql("https://carte.example"), "'[]'::json")
        assert without != with_field

        def all_json(expr: str):
            def run() -> None:
                with engine.connect() as conn:
                    conn.execute(text(f"SELECT sum(length({expr})) FROM feature p "
                                      f"{area_joins(levels)} WHERE p.status = 'published'")
                                 ).scalar()
            return run

        t_with = median_seconds(all_json(with_field))
        t_without = median_seconds(all_json(without))
        with tempfile.TemporaryDirectory() as out:
            t_export = median_seconds(lambda: run_export(
                engine, Path(out), formats=["geojson", "csv"], per_category=False,
                levels=levels), runs=1)
        print(f"features: {args.features:,}; photos ready/all: {photos[0]:,}/{photos[1]:,}")
        print(f"every feature's GeoJSON, with photos: {t_with:.2f} s; with a constant []: "
              f"{t_without:.2f} s; the field costs {t_with - t_without:+.2f} s "
              f"({(t_with - t_without) / args.features * 1e6:.1f} µs a feature)")
        print(f"run_export geojson+csv: {t_export:.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
