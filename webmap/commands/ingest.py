"""``carte import`` and ``carte categories load``: the CLI only parses, ingestion/ works."""

from __future__ import annotations

from pathlib import Path

import click

from .options import echo_json, fail

__all__ = ["categories", "import_command"]


@click.group()
def categories() -> None:
    """Categories of pins (data/categories.json)."""


@categories.command("load")
@click.option("--file", "path", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Categories file (default: data/categories.json).")
def categories_load(path: str | None) -> None:
    """Load the categories into the database (idempotent upsert)."""
    from geo.config import data_dir
    from geo.db import session_scope
    from ingestion.categories import load_categories, read_categories
    from ingestion.errors import IngestError

    where = Path(path) if path else data_dir() / "categories.json"
    try:
        specs = read_categories(where)
        with session_scope() as session:
            n = load_categories(session, specs)
    except IngestError as exc:
        raise fail(exc) from exc
    echo_json({"categories": n, "from": str(where)})


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


@click.command("import")
@click.argument("file")
@click.option("--source", required=True, help="Who the rows come from (stable name).")
@click.option("--crs", default=None, help="CRS of the file when it does not say, e.g. EPSG:2154.")
@click.option("--category", default=None, help="Category slug of every row.")
@click.option("--publish", is_flag=True,
              help="Publish valid rows at once (trusted partner or open data); "
              "else the run waits for a moderator.")
@click.option("--attribution", default=None, help="Attribution shown with published rows.")
@click.option("--title", "title_template", default=None,
              help="Title built from columns, e.g. '{numero} {nom_voie}'.")
@click.option("--refused", "refused_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="File of refused rows (default: var/imports/...).")
@click.option("--buffer-m", default=500.0, show_default=True, type=click.FloatRange(0, 50_000),
              help="Metres around the city outline still accepted.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when it is a terminal).")
def import_command(file: str, source: str, crs: str | None, category: str | None,
                   publish: bool, attribution: str | None, title_template: str | None,
                   refused_path: Path | None, buffer_m: float, progress: bool | None) -> None:
    """Import FILE or URL (GeoJSON, CSV, GeoPackage, OGC API collection): nothing dropped.

    Every row is kept, validated and counted; a URL may be a GeoJSON file or an OGC API
    - Features collection, whose ``next`` links are followed on the same host.
    """
    import sys

    from geo.config import var_dir
    from geo.db import session_scope
    from geo.errors import GeoError
    from ingestion.errors import IngestError
    from ingestion.importer import run_import

    remote = _is_url(file)
    if not remote and not Path(file).is_file():
        raise click.BadParameter(f"{file!r} is neither a file nor an http(s) URL",
                                 param_hint="FILE")
    name = "url" if remote else Path(file).name
    if refused_path is None:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in source)
        refused_path = var_dir() / "imports" / f"{safe}-{name}.refused.jsonl"
    show = sys.stderr.isatty() if progress is None else progress
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if show:
            click.echo(f"\r{name}: {done[0]:,} rows", nl=False, err=True)

    try:
        options = {"crs": crs, "category": category, "publish": publish,
                   "title_template": title_template, "refused_path": refused_path,
                   "buffer_m": buffer_m, "progress": tick}
        with session_scope() as session:
            if remote:
                from ingestion.sources import import_url

                summary = import_url(file, session=session, source=source,
                                     attribution=attribution, **options)
            else:
                summary = run_import(Path(file), session=session, source=source,
                                     attribution=attribution, **options)
    except (IngestError, GeoError, ValueError) as exc:
        raise fail(exc) from exc
    if show:
        click.echo("", err=True)
    echo_json(summary.as_dict())
