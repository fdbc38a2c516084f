"""Syncing an address-only source of ~5,000 rows: the first time, then unchanged, then 1 %.

Run: ``.venv/bin/python bench/bench_sources_geocode.py [--rows 5000] [--repeats 3]``

It starts its own throwaway cluster (fsync on), migrated, with the Paris areas and the
categories, and draws ``--rows`` real addresses of the city's address file (the Base
Adresse Nationale rows of ``data/cities/paris/adresses-75.csv.gz``, the file the
geocoder reads), seeded; 1 % of the rows get a street that does not exist (refused
``address_not_found``, as in a real directory). They are written as a partner would
publish them, addresses only: ``id;nom;adresse;code_postal``. The source is configured
``"geocode": true`` and synced (:func:`ingestion.sync.sync_source`, end to end: file
read, rows compared, new and changed rows geocoded, published, committed):

1. **first sync**: every row new, every row geocoded;
2. **same file again**: byte for byte the last file (the daily case of most sources);
3. **1 % changed**: 1 % of the rows moved to another real address, the rest the same
   bytes: only those rows are geocoded (counted by the geocoder itself).

Each step runs ``--repeats`` times on as many sources (one fresh source each, so every
"first sync" is a first), with the address index already built (the worker keeps it;
a CLI run builds it once, timed apart). For comparison it times geocoding every row
again (what a sync that re-geocoded unchanged rows would add). Medians last.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import json
import os
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

from ingest_common import cluster  # noqa: E402

from geo.city import Dataset, Geocoding, load_city  # noqa: E402
from geo.geocode import Geocoder, Match, address_file, load_index  # noqa: E402
from ingestion.sync import sync_source  # noqa: E402

# The file's repetition letters as a postal address writes them ("12 bis").
POSTAL_REPS = {"": "", "b": "bis", "t": "ter", "q": "quater"}


class CountingGeocoder(Geocoder):
    """The city's geocoder, counting the address lines it is asked to place."""

    calls = 0

    def __call__(self, address: str, postcode: str = "") -> Match:
        self.calls += 1
        return super().__call__(address, postcode)


def addresses(path: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct (line, postcode) of the address file, drawn with ``seed``.

    Written as people write them ("12 bis Rue X"); the file's technical repetition codes
    ("p4 27P4", "bv": building entrances, not postal addresses) are left out.
    """
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        rows = [(" ".join(x for x in (r["numero"], POSTAL_REPS[r["rep"]], r["nom_voie"]) if x),
                 r["code_postal"]) for r in csv.DictReader(fh, delimiter=";")
                if r["rep"] in POSTAL_REPS]
    rng = np.random.default_rng(seed)
    return [rows[i] for i in rng.choice(len(rows), size=n, replace=False)]


def write(path: Path, lines: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id;nom;adresse;code_postal\n")
        for i, (line, postcode) in enumerate(lines):
            fh.write(f"as{i};Association {i};{line};{postcode}\n")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {"versions": conn.execute(text("SELECT count(*) FROM feature_version")).scalar_one(),
                "dirty_tiles": conn.execute(text("SELECT count(*) FROM tile_dirty")).scalar_one()}


def timed_sync(engine, city, name: str, geocoder: CountingGeocoder) -> dict[str, object]:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE tile_dirty"))
    before = counts(engine)
    geocoder.calls = 0
    t0 = time.perf_counter()
    with Session(engine) as s, s.begin():
        report = sync_source(s, city, name, geocoder=geocoder)
    seconds = time.perf_counter() - t0
    after = counts(engine)
    return {"seconds": round(seconds, 3), "status": report.status, "read": report.read,
            "new": report.new, "changed": report.changed, "unchanged": report.unchanged,
            "refused": report.refused, "geocoder_calls": geocoder.calls,
            "geocoded": dict(report.geocoded), "same_file": report.same_file,
            "new_versions": after["versions"] - before["versions"],
            "dirty_tiles": after["dirty_tiles"], "phases": report.phases}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, bad = args.rows, args.rows // 100
    paris = load_city("paris", check_files=False)
    ban = address_file(paris)
    assert ban is not None
    t0 = time.perf_counter()
    load_index(ban)
    index_s = time.perf_counter() - t0
    print(json.dumps({"step": "address index built (once per process)",
                      "file": ban.name, "seconds": round(index_s, 2)}), flush=True)
    geocoder = CountingGeocoder(ban, locality=paris.name())
    steps: dict[str, list[float]] = {"first": [], "same_file": [], "one_percent": []}
    with cluster(durable=True) as (url, root):
        engine = create_engine(url)
        for k in range(args.repeats):
            name = f"bench-geocode-{k}"
            path = root / f"{name}.csv"
            lines = addresses(ban, n, seed=100 + k)
            for j in range(bad):  # 1 %: a street that does not exist
                lines[j * 100] = (f"{j + 1} rue Imaginaire des Songes {j}", lines[j * 100][1])
            write(path, lines)
            dataset = Dataset(file=path, source=name, category="acteur-local",
                              licence="Licence Ouverte 2.0", attribution="bench",
                              geocode=Geocoding())
            city = dataclasses.replace(paris, sources=(dataset,))
            for step in ("first", "same_file", "one_percent"):
                if step == "one_percent":
                    fresh = addresses(ban, n // 100, seed=900 + k)
                    for j, new in enumerate(fresh):
                        lines[j * 100 + 50] = new
                    write(path, lines)
                got = timed_sync(engine, city, name, geocoder)
                steps[step].append(float(got["seconds"]))  # type: ignore[arg-type]
                print(json.dumps({"step": step, "source": name, "rows": n, **got}),
                      flush=True)
        engine.dispose()
    sample = addresses(ban, n, seed=1)
    t0 = time.perf_counter()
    for line, postcode in sample:
        geocoder(line, postcode)
    all_s = time.perf_counter() - t0
    print(json.dumps({
        "rows": n, "repeats": args.repeats, "cores": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "first_sync_median_s": round(statistics.median(steps["first"]), 2),
        "same_file_median_s": round(statistics.median(steps["same_file"]), 3),
        "one_percent_changed_median_s": round(statistics.median(steps["one_percent"]), 2),
        "geocoding_every_row_again_s": round(all_s, 2),
        "address_index_build_s": round(index_s, 2)}), flush=True)


if __name__ == "__main__":
    main()
