"""``carte import`` and ``carte categories load``: the CLI only parses, ingestion/ works."""

from __future__ import annotations

from pathlib import Path

import click

from .options import echo_json, fail

__all__ = ["categories", "import_command", "imports"]


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
    - Features collection, whose ``next`` links are followed on the same host. A row
    with an address and no coordinates is placed by the city's address file (offline);
    the summary counts each match quality (``geocoded``: exact, street, none).
    """
    import sys

    from geo.city import load_city
    from geo.config import var_dir
    from geo.db import session_scope
    from geo.errors import GeoError
    from geo.geocode import Geocoder
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
                                     attribution=attribution, **options,
                                     geocoder=Geocoder.for_city(load_city(check_files=False)))
    except (IngestError, GeoError, ValueError) as exc:
        raise fail(exc) from exc
    if show:
        click.echo("", err=True)
    echo_json(summary.as_dict())


@click.group("imports")
def imports() -> None:
    """Import runs: list them, look at their rows, publish or refuse a pending one."""


def _actor(session: object, email: str | None) -> int | None:
    """The id of the active account with this email (decisions are audited by account)."""
    from sqlalchemy import text

    if email is None:
        return None
    actor = session.execute(text(  # type: ignore[attr-defined]
        "SELECT id FROM app_user WHERE lower(email) = lower(:e) AND active"),
        {"e": email}).scalar_one_or_none()
    if actor is None:
        raise click.BadParameter(f"no active account {email!r}", param_hint="--by")
    return int(actor)


@imports.command("list")
@click.option("--status", type=click.Choice(["running", "pending", "published", "refused",
                                             "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def imports_list(status: str | None, limit: int) -> None:
    """The latest runs, one JSON line each (newest first)."""
    from geo.db import session_scope
    from ingestion.runs import list_runs

    with session_scope() as session:
        for run in list_runs(session, status=status, limit=limit):
            echo_json({"id": run.id, "source": run.source, "file": run.file_name,
                       "status": run.status, "started_at": run.started_at,
                       "summary": run.summary, "reason": run.reason})


@imports.command("rows")
@click.argument("run_id", type=int)
@click.option("--outcome", type=click.Choice(["valid", "invalid", "unchanged"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
def imports_rows(run_id: int, outcome: str | None, limit: int, offset: int) -> None:
    """Rows of a run in file order, one JSON line each (raw text, errors, record)."""
    from geo.db import session_scope
    from ingestion.runs import run_rows

    with session_scope() as session:
        for row in run_rows(session, run_id, outcome=outcome, limit=limit, offset=offset):
            echo_json({"row": row.row_number, "ref": row.ref, "outcome": row.outcome,
                       "changed": row.changed, "errors": row.errors, "title": row.title,
                       "category": row.category, "lon": row.lon, "lat": row.lat,
                       "raw": row.raw.decode("utf-8", "replace")})


@imports.command("publish")
@click.argument("run_id", type=int)
@click.option("--by", "email", default=None, help="Account taking the decision (audited).")
@click.option("--attribution", default=None, help="Default: the one given at import.")
@click.option("--background", is_flag=True,
              help="Queue it as a job for `carte worker` and follow it (progress on stderr).")
@click.option("--progress/--no-progress", default=None,
              help="With --background: progress bar on stderr (default: on a terminal).")
def imports_publish(run_id: int, email: str | None, attribution: str | None,
                    background: bool, progress: bool | None) -> None:
    """Publish the valid rows of a pending run (changed rows revise their features)."""
    from geo.db import session_scope
    from ingestion.errors import IngestError
    from ingestion.runs import publish_run

    if background:  # issue 17: as the moderation page does, then `carte jobs wait`
        from geo.jobs import enqueue_job

        from .jobs import wait_for

        with session_scope() as session:
            job_id = enqueue_job(session, "import.publish", {
                "run_id": run_id, "actor_id": _actor(session, email),
                "attribution": attribution})
        echo_json({"run": run_id, "job": job_id, "status": "queued"})
        wait_for(job_id, progress=progress)
        return
    try:
        with session_scope() as session:
            n = publish_run(session, run_id, actor_id=_actor(session, email),
                            attribution=attribution)
    except IngestError as exc:
        raise fail(exc) from exc
    echo_json({"run": run_id, "status": "published", "features": n})


@imports.command("refuse")
@click.argument("run_id", type=int)
@click.option("--by", "email", required=True, help="Account taking the decision (audited).")
@click.option("--reason", required=True, help="Why (kept with the run).")
def imports_refuse(run_id: int, email: str, reason: str) -> None:
    """Refuse a pending run: nothing published, every row kept."""
    from geo.db import session_scope
    from ingestion.errors import IngestError
    from ingestion.runs import refuse_run

    try:
        with session_scope() as session:
            actor = _actor(session, email)
            assert actor is not None  # --by is required
            refuse_run(session, run_id, actor_id=actor, reason=reason)
    except (IngestError, ValueError) as exc:
        raise fail(exc) from exc
    echo_json({"run": run_id, "status": "refused", "reason": reason})
