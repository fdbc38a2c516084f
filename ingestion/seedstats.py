"""What the seed files say about hours, accessibility and audiences, counted per source.

Run ``python -m ingestion.seedstats`` to print the table ``data/cities/paris/README.md``
keeps (``CARTE_CITY`` picks the city): for
each seed source, its rows, how many carry an opening-hours text, how many of those
parse into weekly slots, and how many carry accessibility or audience data. It maps
the rows exactly as the seed does (the same mappers), without a database, so the
counts are of the whole file, refused rows (outside Paris, already seeded) included.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.city import City, load_city

from .mapping import RefuseRow
from .readers import open_source
from .seed import seeds_of

__all__ = ["SeedStats", "seed_stats"]


@dataclass
class SeedStats:
    """Counts of one seed file."""

    source: str
    rows: int = 0
    hours_text: int = 0
    hours_parsed: int = 0
    accessibility: int = 0
    audiences: int = 0


def seed_stats(city: City) -> list[SeedStats]:
    """Count, per seed source, the rows whose mapped attributes carry each kind of data.

    Sources read by the importer's generic mapper are left out: their attributes are
    the category's fields as written, nothing is parsed.
    """
    out = []
    for seed in seeds_of(city):
        if seed.mapper is None:
            continue
        stats = SeedStats(seed.source)
        for row in open_source(seed.file).rows:
            stats.rows += 1
            try:
                data, _ = seed.mapper(row)
            except RefuseRow:
                continue
            attrs = data.get("attributes") or {}
            stats.hours_text += bool(attrs.get("opening_hours"))
            stats.hours_parsed += bool(attrs.get("hours"))
            stats.accessibility += bool(attrs.get("accessibility")
                                        or attrs.get("accessibility_lacks"))
            stats.audiences += bool(attrs.get("audiences"))
        out.append(stats)
    return out


def main() -> None:  # pragma: no cover - a report for README
    """Print the counts as the Markdown table of ``data/cities/paris/README.md``."""
    print("| source | rows | with an hours text | hours parsed into slots "
          "| with accessibility | with audiences |")
    print("|---|---|---|---|---|---|")
    for s in seed_stats(load_city()):
        print(f"| {s.source} | {s.rows:,} | {s.hours_text:,} | {s.hours_parsed:,} "
              f"| {s.accessibility:,} | {s.audiences:,} |")


if __name__ == "__main__":  # pragma: no cover
    main()
