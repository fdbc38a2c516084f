"""``carte export``: regenerate the open-data files in ``$CARTE_VAR_DIR/data/``."""

from __future__ import annotations

import click

from .options import echo_json, fail

__all__ = ["export"]


@click.command("export")
@click.option("--format", "formats", multiple=True,
              type=click.Choice(["geojson", "csv", "gpkg", "fgb"]),
              help="Only these formats (repeatable) [default: all].")
@click.option("--if-changed", is_flag=True,
              help="Do nothing when no published feature changed since the last export.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Output directory [default: $CARTE_VAR_DIR/data].")
@click.option("--full", is_flag=True,
              help="Render everything again, ignoring the cache of incremental refreshes.")
def export(formats: tuple[str, ...], if_changed: bool, directory: str | None,
           full: bool) -> None:
    """Write every published feature as GeoJSON, CSV, GeoPackage and FlatGeobuf.

    Incremental: only files whose features changed are rewritten, from cached parts.
    """
    import time
    from pathlib import Path

    from geo.config import var_dir
    from geo.db import get_engine
    from geo.errors import GeoError
    from opendata.exports import FORMATS, run_export

    out = Path(directory) if directory else var_dir() / "data"
    started = time.perf_counter()
    try:
        manifest = run_export(get_engine(), out, formats=formats or tuple(FORMATS),
                              if_changed=if_changed, full=full, progress=echo_json)
    except (GeoError, OSError) as exc:
        raise fail(exc) from exc
    echo_json({"exported": not manifest.get("skipped", False), "dir": str(out),
               "files": len(manifest["files"]),
               "features": manifest["state"]["published"],
               "incremental": manifest.get("incremental"),
               "seconds": round(time.perf_counter() - started, 2)})
