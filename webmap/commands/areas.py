"""``carte areas load``: the city's boundaries (its outline and every level of areas)."""

from __future__ import annotations

import click

from geo.errors import GeoError

from .options import echo_json, fail

__all__ = ["areas"]

@click.group()
def areas() -> None:
    """Administrative areas of the city (Paris: city, arrondissements, quartiers)."""


@areas.command("load")
@click.option("--city", "slug_or_folder", default=None,
              help="City slug under data/cities/ or a city folder (default: CARTE_CITY).")
def areas_load(slug_or_folder: str | None) -> None:
    """Load the city's boundaries as its city.json describes them (idempotent)."""
    from pathlib import Path

    from geo.areas import load_areas
    from geo.city import load_city
    from geo.db import session_scope

    try:
        if slug_or_folder and ("/" in slug_or_folder or slug_or_folder.startswith(".")):
            city = load_city(folder=Path(slug_or_folder))
        else:
            city = load_city(slug_or_folder)
        with session_scope() as session:
            report = load_areas(session, city)
    except GeoError as exc:
        raise fail(exc) from exc
    echo_json({"loaded": report.as_dict(), "city": city.slug, "from": str(city.folder)})
