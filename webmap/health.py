"""``GET /healthz``: is the service able to answer, and with which database."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from geo.db import get_engine, server_versions
from geo.migrate import current_revision, head_revision

__all__ = ["bp"]

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Database and PostGIS versions, schema revision and tile archive age, as JSON."""
    engine = get_engine(current_app.config["DATABASE_URL"])
    versions = server_versions(engine)  # raises DatabaseUnavailable -> 503
    revision = current_revision(engine)
    tiles = current_app.config["VAR_DIR"] / "tiles" / "features.mbtiles"
    age = None
    if tiles.exists():
        import time

        age = round(time.time() - tiles.stat().st_mtime, 1)
    body = {
        "status": "ok" if revision == head_revision() else "degraded",
        "database": versions,
        "schema": {"revision": revision, "head": head_revision()},
        "tiles": {"archive_age_seconds": age},
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
