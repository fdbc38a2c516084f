"""``carte areas load``: the real Paris boundaries."""

from __future__ import annotations

import click

from geo.config import data_dir
from geo.errors import GeoError

from .options import echo_json, fail

__all__ = ["areas"]

@click.group()
def areas() -> None:
    """Administrative areas (city, arrondissements, quartiers)."""


@areas.command("load")
@click.option("--dir", "directory", type=click.Path(file_okay=False, exists=True),
              default=None, help="Directory of the boundary files (default: data/paris).")
def areas_load(directory: str | None) -> None:
    """Load the real Paris boundaries (idempotent)."""
    from pathlib import Path

    from geo.areas import load_paris_areas
    from geo.db import session_scope

    where = Path(directory) if directory else data_dir() / "paris"
    try:
        with session_scope() as session:
            report = load_paris_areas(session, where)
    except GeoError as exc:
        raise fail(exc) from exc
    echo_json({"loaded": report._asdict(), "from": str(where)})
