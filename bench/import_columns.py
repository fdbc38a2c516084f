"""Column pre-check benchmark: ``precheck`` on a batch versus the scalar validator per row.

The same N seeded rows (typical import rows: ASCII or accented French titles, one in
five with a short description, a point inside Paris, a category needing no dates) go
through :func:`ingestion.columns.precheck` once per repeat, and through
``validate_submission`` row by row. No database: the service area is built from
``data/cities/paris/arrondissements.geojson`` as the API does.

    flock /tmp/carte-bench.lock .venv/bin/python bench/import_columns.py [--rows 20000]

Prints one JSON line per measure (medians of the repeats) and the speed-up ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import shapely
from shapely.geometry import shape

from geo.config import data_dir
from ingestion.categories import read_categories
from ingestion.columns import ColumnBatch, precheck
from ingestion.validation import ServiceArea, ValidationConfig, validate_submission

WORDS = ["Jardin", "partagé", "Fontaine", "Wallace", "Marché", "d'Aligre", "Fête", "des",
         "voisins", "Square", "Saint-Éloi", "Œuvre", "collective", "rue", "de", "la", "Butte",
         "Compost", "quartier", "n°3", "Espace", "vert", "Moulin", "École", "Bibliothèque"]
CATEGORIES = ["jardin-partage", "fontaine", "marche", "espace-vert", "vegetalisation"]


def service_area() -> ServiceArea:
    doc = json.loads((data_dir() / "cities" / "paris" / "arrondissements.geojson").read_text())
    outline = shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    return ServiceArea(outline, buffer_m=500.0)


def typical_rows(n: int, area: ServiceArea, seed: int = 42) -> ColumnBatch:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.outline.bounds
    lon = np.empty(0)
    lat = np.empty(0)
    while lon.size < n:
        x, y = rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)
        inside = shapely.contains_xy(area.outline, x, y)
        lon, lat = np.concatenate([lon, x[inside]]), np.concatenate([lat, y[inside]])
    words = np.array(WORDS, dtype=object)
    titles = [" ".join(words[rng.integers(0, len(words), rng.integers(1, 6))])
              for _ in range(n)]
    descriptions = [None if k % 5 else "Ouvert à tous, le samedi matin." for k in range(n)]
    return ColumnBatch(lon=lon[:n], lat=lat[:n], title=titles, description=descriptions,
                       category=[CATEGORIES[k] for k in rng.integers(0, len(CATEGORIES), n)],
                       has_other=np.zeros(n, dtype=bool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.rows
    area = service_area()
    categories = {c.slug: c for c in read_categories(data_dir() / "categories.json")}
    config = ValidationConfig()
    now = datetime.now(UTC)  # the scalar call needs one; these rows carry no dates
    batch = typical_rows(n, area)
    rows = [{"lon": float(batch.lon[i]), "lat": float(batch.lat[i]), "title": batch.title[i],
             "description": batch.description[i], "category": batch.category[i]}
            for i in range(n)]

    precheck(batch, categories=categories, area=area, config=config)  # warm caches
    vector: list[float] = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = precheck(batch, categories=categories, area=area, config=config)
        vector.append(time.perf_counter() - t0)
    scalar: list[float] = []
    for _ in range(max(1, args.repeat // 2)):
        t0 = time.perf_counter()
        for row in rows:
            validate_submission(row, categories=categories, area=area, now=now,
                                config=config, allow_unknown=True)
        scalar.append(time.perf_counter() - t0)

    v_us = statistics.median(vector) / n * 1e6
    s_us = statistics.median(scalar) / n * 1e6
    print(json.dumps({"step": "precheck", "rows": n, "us_per_row": round(v_us, 3),
                      "ok_fraction": round(float(out.ok.mean()), 4),
                      "runs": len(vector)}))
    print(json.dumps({"step": "scalar_validate_submission", "rows": n,
                      "us_per_row": round(s_us, 3), "runs": len(scalar)}))
    print(json.dumps({"step": "ratio", "speed_up": round(s_us / v_us, 1)}))


if __name__ == "__main__":
    main()
