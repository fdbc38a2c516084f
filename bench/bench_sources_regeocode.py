"""What an address-only source's sync geocodes again: renamed rows, moved rows, a new BAN.

Run: ``.venv/bin/python bench/bench_sources_regeocode.py [--rows 5000] [--repeats 3]``

Its own throwaway cluster (fsync on), migrated, with the Paris areas and categories, as
``bench/bench_sources_geocode.py``; ``--rows`` real addresses of the BAN file drawn
(seeded; 1 % with a street that does not exist), written as a partner publishes them:
``id;nom;adresse;code_postal``, no coordinates; the source is ``"geocode": true``. The
geocoder reads a copy of the BAN file (so that the last step can replace it) and counts
the lines it is asked. Per source (one fresh source per repeat):

1. **first sync**: every row new;
2. **1 % renamed**: 1 % of the rows get another name, same address;
3. **1 % moved**: 1 % of other rows get another real address;
4. **address file updated**: the BAN copy is rewritten with the points of 1 % of the
   drawn addresses moved 20 m east; the partner's file is unchanged;
5. **same files again**.

Each step prints its seconds, geocoder calls, new feature versions and the report's
``placements_kept`` / ``re_placed``. Medians last. The address index is built before
the timings (the worker keeps it), except after step 4 where the sync reads the new file.
Runs on older code too (copy this file into an older tree's ``bench/``): reports then
lack the newer keys.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import io
import json
import os
import shutil
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

POSTAL_REPS = {"": "", "b": "bis", "t": "ter", "q": "quater"}
STEPS = ("first", "renamed_1pct", "moved_1pct", "address_file_updated", "same_again")


class CountingGeocoder(Geocoder):
    """The city's geocoder (on a copy of its address file), counting its calls."""

    calls = 0

    def __call__(self, address: str, postcode: str = "") -> Match:
        self.calls += 1
        return super().__call__(address, postcode)


def ban_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader)
        return header, list(reader)


def write_ban(path: Path, header: list[str], rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(out.getvalue().encode(), compresslevel=6))


def write_partner(path: Path, names: list[str], lines: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id;nom;adresse;code_postal\n")
        for i, (name, (line, postcode)) in enumerate(zip(names, lines, strict=True)):
            fh.write(f"as{i};{name};{line};{postcode}\n")


def versions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM feature_version")).scalar_one()


def timed(engine, city, name: str, geocoder: CountingGeocoder) -> dict[str, object]:
    before = versions(engine)
    geocoder.calls = 0
    t0 = time.perf_counter()
    with Session(engine) as s, s.begin():
        report = sync_source(s, city, name, geocoder=geocoder)
    seconds = time.perf_counter() - t0
    got = report.as_dict()
    return {"seconds": round(seconds, 3), "status": report.status,
            "geocoder_calls": geocoder.calls, "new": report.new, "changed": report.changed,
            "unchanged": report.unchanged, "refused": report.refused,
            "new_versions": versions(engine) - before,
            "placements_kept": got.get("placements_kept"), "re_placed": got.get("re_placed"),
            "same_file": report.same_file}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, pct = args.rows, args.rows // 100
    paris = load_city("paris", check_files=False)
    ban = address_file(paris)
    assert ban is not None
    header, all_rows = ban_rows(ban)
    col = {name: k for k, name in enumerate(header)}
    postal = [r for r in all_rows if r[col["rep"]] in POSTAL_REPS]
    results: dict[str, list[dict[str, object]]] = {step: [] for step in STEPS}
    with cluster(durable=True) as (url, root):
        engine = create_engine(url)
        for k in range(args.repeats):
            copy = root / f"adresses-{k}.csv.gz"
            shutil.copyfile(ban, copy)
            load_index(copy)
            geocoder = CountingGeocoder(copy, locality=paris.name())
            rng = np.random.default_rng(100 + k)
            drawn = [postal[i] for i in rng.choice(len(postal), size=n, replace=False)]
            lines = [(" ".join(x for x in (r[col["numero"]], POSTAL_REPS[r[col["rep"]]],
                                           r[col["nom_voie"]]) if x), r[col["code_postal"]])
                     for r in drawn]
            for j in range(pct):  # 1 %: a street that does not exist
                lines[j * 100] = (f"{j + 1} rue Imaginaire des Songes {j}", lines[j * 100][1])
            names = [f"Association {i}" for i in range(n)]
            name = f"bench-regeocode-{k}"
            path = root / f"{name}.csv"
            write_partner(path, names, lines)
            city = dataclasses.replace(paris, sources=(Dataset(
                file=path, source=name, category="acteur-local", licence="LO-2.0",
                attribution="bench", geocode=Geocoding()),))
            for step in STEPS:
                if step == "renamed_1pct":
                    for j in range(pct):
                        names[j * 100 + 30] = f"Association {j * 100 + 30} (nouveau nom)"
                    write_partner(path, names, lines)
                elif step == "moved_1pct":
                    fresh = rng.choice(len(postal), size=pct, replace=False)
                    for j, i in enumerate(fresh):
                        r = postal[i]
                        lines[j * 100 + 60] = (" ".join(x for x in (
                            r[col["numero"]], POSTAL_REPS[r[col["rep"]]], r[col["nom_voie"]])
                            if x), r[col["code_postal"]])
                    write_partner(path, names, lines)
                elif step == "address_file_updated":
                    moved = {id(drawn[j * 100 + 10]) for j in range(pct)}
                    rows = [[*r[:col["lon"]], f"{float(r[col['lon']]) + 0.00027:.6f}",
                             *r[col["lon"] + 1:]] if id(r) in moved else r for r in all_rows]
                    write_ban(copy, header, rows)
                got = timed(engine, city, name, geocoder)
                results[step].append(got)
                print(json.dumps({"step": step, "source": name, "rows": n, **got}), flush=True)
        engine.dispose()
    print(json.dumps({
        "rows": n, "repeats": args.repeats, "cores": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        **{f"{step}_median_s": round(statistics.median(
            float(r["seconds"]) for r in results[step]), 3) for step in STEPS},  # type: ignore[arg-type]
        **{f"{step}_geocoder_calls": [r["geocoder_calls"] for r in results[step]]
           for step in STEPS}}), flush=True)


if __name__ == "__main__":
    main()
