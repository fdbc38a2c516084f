"""``GET /healthz``: is the service able to answer, and if not, which part is down.

200 with the database and PostGIS versions, the schema revision and the tile archive's
age when every part answers; 503 ``application/problem+json`` with ``Retry-After`` and
``failing`` naming each part that does not (``database``, ``tiles``), so that a load
balancer takes the instance out and an operator knows where to look. Nothing is cached:
the next call after the database comes back is a 200 again.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from geo.db import get_engine, server_versions
from geo.errors import DatabaseUnavailable
from geo.migrate import current_revision, head_revision
from tiles.errors import ArchiveError

from .web import OUTAGE_RETRY_AFTER_S, problem

__all__ = ["bp"]

bp = Blueprint("health", __name__)


def _database() -> dict[str, Any]:
    engine = get_engine(current_app.config["DATABASE_URL"])
    versions = server_versions(engine)  # DatabaseUnavailable when it cannot be reached
    try:
        revision = current_revision(engine)
    except Exception as exc:  # reached a moment ago, gone now: still the database
        raise DatabaseUnavailable(f"schema revision unreadable: {type(exc).__name__}") from exc
    return {"versions": versions, "revision": revision}


def _tiles() -> dict[str, Any]:
    path = current_app.config["VAR_DIR"] / "tiles" / "features.mbtiles"
    if not path.exists():
        return {"archive_age_seconds": None}
    from .tiles_views import open_archive

    found = open_archive(current_app.config["VAR_DIR"], "features")
    if found is None:
        raise ArchiveError("the features archive cannot be opened")
    return {"archive_age_seconds": round(time.time() - path.stat().st_mtime, 1)}


@bp.get("/healthz")
def healthz() -> Response:
    """Versions, schema revision and tile archive age; 503 naming what is down."""
    failing: dict[str, str] = {}
    database: dict[str, Any] | None = None
    tiles: dict[str, Any] = {"archive_age_seconds": None}
    try:
        database = _database()
    except DatabaseUnavailable:
        failing["database"] = "unreachable"
    try:
        tiles = _tiles()
    except (ArchiveError, sqlite3.Error, OSError, ValueError):
        failing["tiles"] = "the tile archive cannot be read"
    if failing:
        response = problem(503, "Service Unavailable",
                           detail="down: " + ", ".join(sorted(failing)),
                           failing=failing,
                           headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)})
    else:
        assert database is not None
        body = {
            "status": "ok" if database["revision"] == head_revision() else "degraded",
            "database": database["versions"],
            "schema": {"revision": database["revision"], "head": head_revision()},
            "tiles": tiles,
        }
        response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
