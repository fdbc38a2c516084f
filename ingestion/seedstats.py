"""What the seed files say about hours, accessibility and audiences, counted per source.

Run ``python -m ingestion.seedstats`` to print the table ``data/README.md`` keeps: for
each seed source, its rows, how many carry an opening-hours text, how many of those
parse into weekly slots, and how many carry accessibility or audience data. It maps
the rows exactly as the seed does (the same mappers), without a database, so the
counts are of the whole file, refused rows (outside Paris, already seeded) included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geo.config import data_dir

from .mapping import RefuseRow
from .readers import open_source
from .seed import SEEDS

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


def seed_stats(directory: Path | None = None) -> list[SeedStats]:
    """Count, per seed source, the rows whose mapped attributes carry each kind of data."""
    where = directory or data_dir() / "paris"
    out = []
    for seed in SEEDS:
        stats = SeedStats(seed.source)
        for row in open_source(where / seed.file).rows:
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
    """Print the counts as the Markdown table of ``data/README.md``."""
    print("| source | rows | with an hours text | hours parsed into slots "
          "| with accessibility | with audiences |")
    print("|---|---|---|---|---|---|")
    for s in seed_stats():
        print(f"| {s.source} | {s.rows:,} | {s.hours_text:,} | {s.hours_parsed:,} "
              f"| {s.accessibility:,} | {s.audiences:,} |")


if __name__ == "__main__":  # pragma: no cover
    main()
