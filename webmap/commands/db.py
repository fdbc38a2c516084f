"""``carte db up|down|status|migrate``: the embedded cluster and the schema."""

from __future__ import annotations

import sys
from typing import Any

import click

from geo.config import configured_database_url
from geo.embedded import EmbeddedPostgres
from geo.errors import GeoError

from .options import echo_json, fail

__all__ = ["db"]

@click.group()
def db() -> None:
    """The database: embedded cluster, schema migrations."""


def _cluster() -> EmbeddedPostgres:
    from geo.db import embedded_cluster

    return embedded_cluster()


@db.command("up")
def db_up() -> None:
    """Create and start the embedded PostGIS cluster (idempotent; recovers after a crash)."""
    if configured_database_url():
        echo_json({"database": "external", "started": False,
               "note": "CARTE_DATABASE_URL is set; nothing to start"})
        return
    try:
        status = _cluster().up()
    except GeoError as exc:
        raise fail(exc) from exc
    echo_json({"database": "embedded", **status.as_dict()})


@db.command("down")
def db_down() -> None:
    """Stop the embedded cluster."""
    if configured_database_url():
        echo_json({"database": "external", "stopped": False})
        return
    from geo.db import dispose_engines

    dispose_engines()
    echo_json({"database": "embedded", "stopped": _cluster().down()})


@db.command("status")
def db_status() -> None:
    """Whether the database answers, its versions and schema revision."""
    from geo.db import database_url, get_engine, hide_password, server_versions
    from geo.migrate import current_revision, head_revision

    out: dict[str, Any] = {"url": hide_password(database_url())}
    if not configured_database_url():
        out.update(_cluster().status().as_dict())
    try:
        engine = get_engine()
        out.update(server_versions(engine), revision=current_revision(engine),
                   head=head_revision(), reachable=True)
    except GeoError as exc:
        out.update(reachable=False, error=str(exc))
        echo_json(out)
        sys.exit(1)
    echo_json(out)


@db.command("migrate")
@click.option("--revision", default="heads", show_default=True,
              help="Alembic revision to reach ('base' removes our schema).")
def db_migrate(revision: str) -> None:
    """Bring the schema to REVISION (default: the newest)."""
    from geo import migrate
    from geo.db import get_engine

    engine = get_engine()
    try:
        before = migrate.current_revision(engine)
        if revision == "base" or revision.startswith("-"):
            after = migrate.downgrade(engine, revision)
        else:
            after = migrate.upgrade(engine, revision)
    except GeoError as exc:
        raise fail(exc) from exc
    echo_json({"migrated": True, "from": before, "to": after})
