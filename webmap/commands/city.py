"""``carte city check``: whether a city folder (``data/cities/<slug>/``) is complete and sound."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.city import check_city, city_folder, city_slug
from geo.errors import CityConfigError

from .options import echo_json

__all__ = ["city"]


@click.group()
def city() -> None:
    """The city the product serves (data/cities/<slug>/, picked by CARTE_CITY)."""


@city.command("check")
@click.argument("slug_or_folder", required=False)
def city_check(slug_or_folder: str | None) -> None:
    """Check a city folder: exit 0 when valid, else one JSON line per problem.

    SLUG_OR_FOLDER is a slug under data/cities/ (default: CARTE_CITY, then paris) or
    the path of a city folder. Each problem names its field, e.g.
    {"field": "areas.levels[1].code_field", "problem": "..."}.
    """
    target = slug_or_folder or city_slug()
    if "/" in target or target.startswith("."):
        folder = Path(target)
    else:
        try:
            folder = city_folder(target)
        except CityConfigError as exc:
            for field, problem in exc.problems:
                echo_json({"field": field, "problem": problem})
            sys.exit(1)
    found, problems = check_city(folder)
    if found is None:
        for problem in problems:
            echo_json({"field": problem.field, "problem": problem.problem})
        sys.exit(1)
    echo_json({"city": found.slug, "valid": True, "folder": str(found.folder),
               "crs": found.crs, "time_zone": found.time_zone,
               "languages": list(found.languages),
               "levels": {level.slug: level.expected_count for level in found.levels},
               "seeds": len(found.seeds), "basemap_sources": len(found.basemap)})
