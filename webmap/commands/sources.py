"""``carte sources``: keep the city's seeds and partner sources current (ingestion/sync.py).

``carte sources sync [NAME]`` re-reads one source (or every one) and prints one JSON
line per source: read, new, changed, retired, unchanged, refused by reason, and its
status (``applied``; ``held`` when it would retire too much or the download is empty:
a moderator decides on ``/moderation/sources`` or with ``confirm``/``discard``;
``failed`` when the source cannot be read: nothing applied). Exit status 1 when a
source failed.
"""

from __future__ import annotations

import sys

import click

from .options import echo_json, fail

__all__ = ["sources"]


@click.group("sources")
def sources() -> None:
    """Seeds and partner sources kept current: sync, list, confirm or discard held runs."""


@sources.command("sync")
@click.argument("name", required=False)
def sources_sync(name: str | None) -> None:
    """Synchronise the source NAME (its code, e.g. paris-fontaines), or all of them."""
    from geo.city import load_city
    from geo.db import session_scope
    from geo.errors import GeoError
    from ingestion.errors import IngestError
    from ingestion.sync import sync_source

    city = load_city(check_files=False)
    names = [name] if name else [d.source for d in city.synced]
    failed = False
    for one in names:
        try:
            with session_scope() as session:
                report = sync_source(session, city, one, trigger="cli")
        except (IngestError, GeoError) as exc:
            raise fail(exc) from exc
        echo_json(report.as_dict())
        failed = failed or report.status == "failed"
    if failed:
        sys.exit(1)


@sources.command("list")
def sources_list() -> None:
    """Each configured source with its schedule and its last sync, one JSON line each."""
    import dataclasses

    from sqlalchemy import text

    from geo.city import load_city
    from geo.db import session_scope

    city = load_city(check_files=False)
    with session_scope() as session:
        last = {r.source: r for r in session.execute(text(
            "SELECT DISTINCT ON (source) source, id, status, started_at, report "
            "FROM source_sync_run ORDER BY source, id DESC"))}
        for d in city.synced:
            run = last.get(d.source)
            echo_json({"source": d.source, "location": d.location, "on_new": d.on_new,
                       "max_retire_share": d.max_retire_share, "every_s": d.every_s,
                       "geocode": dataclasses.asdict(d.geocode) if d.geocode else None,
                       "last_run": run.id if run else None,
                       "last_status": run.status if run else None,
                       "last_at": run.started_at if run else None})


def _actor(session: object, email: str) -> int:
    from sqlalchemy import text

    actor = session.execute(text(  # type: ignore[attr-defined]
        "SELECT id FROM app_user WHERE lower(email) = lower(:e) AND active"),
        {"e": email}).scalar_one_or_none()
    if actor is None:
        raise click.BadParameter(f"no active account {email!r}", param_hint="--by")
    return int(actor)


@sources.command("confirm")
@click.argument("run", type=int)
@click.option("--by", "email", required=True, help="Account taking the decision (audited).")
def sources_confirm(run: int, email: str) -> None:
    """Apply a held sync run (its retirements included)."""
    from geo.city import load_city
    from geo.db import session_scope
    from ingestion.errors import IngestError
    from ingestion.sync import confirm_run

    try:
        with session_scope() as session:
            report = confirm_run(session, load_city(check_files=False), run,
                                 actor_id=_actor(session, email))
    except IngestError as exc:
        raise fail(exc) from exc
    echo_json(report.as_dict())


@sources.command("discard")
@click.argument("run", type=int)
@click.option("--by", "email", required=True, help="Account taking the decision (audited).")
@click.option("--reason", default="", help="Why (kept with the run).")
def sources_discard(run: int, email: str, reason: str) -> None:
    """Discard a held sync run: nothing of it is applied."""
    from geo.db import session_scope
    from ingestion.errors import IngestError
    from ingestion.sync import discard_run

    try:
        with session_scope() as session:
            discard_run(session, run, actor_id=_actor(session, email), reason=reason)
    except IngestError as exc:
        raise fail(exc) from exc
    echo_json({"run": run, "status": "discarded", "reason": reason})
