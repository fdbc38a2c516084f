"""Serving photos: ``/photos/<key>`` for the public, one moderators' route.

Only our re-encodings are ever served, never the quarantine: a key is answered when a
photo that uses it is ``ready`` on a published feature (:func:`photos.store.public_key`);
hidden, refused or removed photos, and photos of unpublished features, are a 404 like
a key that never existed. Keys are content hashes, so the answers are ``immutable``
and the ETag is the hash. ``nosniff`` and our own content type keep a browser from
reading the bytes as anything else.

Moderators see the photos of items not yet published through their own route,
``/moderation/photos/<id>/<size>`` (``moderation/photos.py``), never this one.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request

from ingestion.api import photo_setup
from photos.storage import KEY, Storage
from photos.store import public_key

from .web import engine

__all__ = ["bp"]

bp = Blueprint("photos", __name__)

_TYPES = {"jpg": "image/jpeg", "webp": "image/webp"}
IMMUTABLE = "public, max-age=31536000, immutable"


def _public_store() -> Storage:
    # The store uploads write to (local disk or PHOTO_S3_BUCKET): one source of truth.
    return photo_setup(current_app._get_current_object()).public  # type: ignore[attr-defined]


def _answer(key: str, cache: str) -> Response:
    data = _public_store().get(key)
    if data is None:
        abort(404)
    etag = key.split(".", 1)[0] + (".t" if ".thumb." in key else "")
    response = Response(data, mimetype=_TYPES[key.rsplit(".", 1)[1]])
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = cache
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # open data: embeddable
    response.set_etag(etag)
    return response.make_conditional(request)


@bp.get("/photos/<key>")
def public_photo(key: str) -> Response:
    """A public derivative: ``<sha256>.<jpg|webp>`` or ``<sha256>.thumb.<jpg|webp>``."""
    if not KEY.match(key) or key.endswith(".orig"):
        abort(404)

    with engine().connect() as conn:
        if not public_key(conn, key):
            abort(404)
    return _answer(key, IMMUTABLE)
