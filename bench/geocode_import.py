"""How fast is geocoding, and what does the associations seed add to ``make demo``?

Run: ``.venv/bin/python bench/geocode_import.py``. Times (1) building the BAN address
index, (2) geocoding the 7,671 RNA address lines alone (pure Python, one core), (3) the
whole seed import of ``associations_paris12.csv`` (read, map, geocode, validate, COPY,
publish) in a throwaway PostGIS with Paris's areas and categories, as ``carte demo``
runs it. Prints the match qualities.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo import migrate
from geo.areas import load_areas
from geo.city import load_city
from geo.embedded import EmbeddedPostgres
from geo.geocode import Geocoder, load_index
from ingestion.categories import load_categories, read_categories
from ingestion.importer import run_import
from ingestion.mapping import rna_street_line
from ingestion.seed import MAPPERS


def main() -> None:
    city = load_city("paris", environ={})
    path = city.folder / "associations_paris12.csv"
    t = time.perf_counter()
    index = load_index(city.addresses.file)
    print(f"address index: {len(index):,} addresses in {time.perf_counter() - t:.2f} s")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["objet"] != "plus d'activité"]
    lines = [rna_street_line(r["adr2"].strip() or r["adr1"].strip()) for r in rows]
    t = time.perf_counter()
    got = Counter(index.geocode(line, "75012").quality for line in lines)
    dt = time.perf_counter() - t
    print(f"geocoding: {len(lines):,} active rows in {dt:.3f} s ({len(lines) / dt:,.0f}/s): "
          f"{dict(got)}")
    root = Path(tempfile.mkdtemp(prefix="carte-bench-geocode-", dir="/tmp"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.up()
    try:
        eng = create_engine(pg.url)
        migrate.upgrade(eng)
        with Session(eng) as session, session.begin():
            load_areas(session, city)
            load_categories(session, read_categories(city.categories))
        for label, geocoder in (("index already built", Geocoder.for_city(city)),):
            with Session(eng) as session, session.begin():
                t = time.perf_counter()
                summary = run_import(path, session=session, source="paris-associations",
                                     mapper=MAPPERS["paris-associations"], publish=True,
                                     attribution="RNA", buffer_m=0.0, geocoder=geocoder)
                dt = time.perf_counter() - t
            print(f"seed import ({label}): {summary.read:,} rows in {dt:.2f} s, "
                  f"published {summary.published:,}, refused {dict(summary.refused_by_reason)}, "
                  f"geocoded {dict(summary.geocoded)}")
        eng.dispose()
    finally:
        pg.down()


if __name__ == "__main__":
    main()
