"""The map as an installable, offline-capable web app: manifest and service worker.

Both are served from our own origin at the root (a service worker's scope is the
folder it is served from, and ``/sw.js`` covers the whole map). The worker's logic
is in ``static/offline/sw.js``; a pin dropped offline waits in the page's IndexedDB
outbox and is sent with an ``Idempotency-Key`` (``static/map/app.js``), so it is never
stored twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response

__all__ = ["bp"]

bp = Blueprint("offline", __name__)
_STATIC = Path(__file__).parent / "static" / "offline"

MANIFEST = {
    "name": "Carte citoyenne", "short_name": "Carte", "lang": "fr", "start_url": "/",
    "scope": "/", "display": "standalone", "background_color": "#ffffff",
    "theme_color": "#14532d",
    "description": "Carte participative de la ville / the city's participative map",
    "icons": [{"src": "/static/offline/icon.svg", "sizes": "any", "type": "image/svg+xml",
               "purpose": "any"}],
}


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest (name, colours, icon, start URL)."""
    response = Response(json.dumps(MANIFEST, ensure_ascii=False),
                        mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, never cached by HTTP (browsers check it for updates)."""
    response = Response((_STATIC / "sw.js").read_text(encoding="utf-8"),
                        mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
