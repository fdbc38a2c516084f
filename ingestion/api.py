"""The submission blueprint: JSON API, residents' form, tracking pages, categories, OpenAPI.

Views only parse the request and call :mod:`ingestion.intake`; every refusal of bad
input is a 4xx ``application/problem+json`` (RFC 9457) under ``/api/`` and an HTML
page for the form, and whatever body was read is kept first.

Settings (Flask config, defaults in :data:`DEFAULTS`; ``CARTE_INGEST_*`` variables
override them when the app is built):

* ``INGEST_RATE_LIMIT`` ``"20/600"``: submissions per client per window (seconds).
* ``INGEST_BUFFER_M`` ``500``: metres around the city outline still accepted.
* ``INGEST_MAX_BODY`` ``65536``: bytes; bigger bodies get a 413.
* ``INGEST_MAX_DEPTH`` ``16``: JSON nesting.
* ``INGEST_DUPLICATE_DISTANCE_M`` ``50`` and ``INGEST_DUPLICATE_SIMILARITY`` ``0.4``.
* ``INGEST_SPAM_RULES``: names or dotted paths of spam rules (default: all built-in).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import psycopg
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from geo.areas import city_outline
from geo.city import City, load_city
from geo.clients import request_key
from geo.db import get_engine, hot_engine
from geo.events import city_zone
from geo.geocode import Geocoder, Match, address_file, warm
from geo.problems import PROBLEM_JSON, problem_body
from photos.errors import BadPhotoField, PhotoError, TooManyPhotos
from photos.processing import Limits, Processed, limits_from_config, process
from photos.storage import Storage, stores
from photos.store import (
    LICENCES,
    PhotoMeta,
    attach_uploads,
    check_count,
    new_upload_token,
    receive_file,
)

from .categories import CategorySpec, specs_from_db
from .corrections import receive_correction
from .duplicate_messages import duplicate_labels
from .errors import MalformedBody, PayloadTooLarge, RateLimited, RequestRefused
from .hours import parse_hours
from .intake import IntakeSettings, Outcome, hash_token, revalidate, submit
from .messages import TITLES, form_labels, localise, pick_lang, track_labels
from .nearby import Nearby, nearby_with_pending
from .openapi import openapi_document
from .photo_messages import (
    photo_form_labels,
    photo_message,
    photo_state,
    photo_state_label,
    photo_track_labels,
    photos_detail,
    photos_title,
)
from .photo_openapi import with_photos
from .ratelimit import hit, parse_limit
from .spam import DEFAULT_RULES
from .text import clean_text, forbidden_character
from .track_links import read_mailed_token
from .validation import ServiceArea

__all__ = ["DEFAULTS", "SubmissionFastPath", "answer_submission", "bp", "revalidate_received"]

log = logging.getLogger(__name__)

bp = Blueprint("ingestion", __name__, template_folder="templates")

DEFAULTS: dict[str, Any] = {
    "INGEST_RATE_LIMIT": "20/600",
    "INGEST_BUFFER_M": 500.0,
    "INGEST_MAX_BODY": 64 * 1024,
    "INGEST_MAX_DEPTH": 16,
    "INGEST_DUPLICATE_DISTANCE_M": 50.0,
    "INGEST_DUPLICATE_SIMILARITY": 0.4,
    "INGEST_SPAM_RULES": DEFAULT_RULES,
}
CATEGORY_TTL_S = 30.0
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SUBMISSIONS_PATH = "/api/v1/submissions"
_IDEMPOTENCY = re.compile(r"^[\x21-\x7e]{1,200}$")
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                   "Referrer-Policy": "no-referrer"}


@bp.record_once
def _configure(state: BlueprintSetupState) -> None:
    app = state.app
    for key, default in DEFAULTS.items():  # CARTE_INGEST_* are read by webmap.settings
        app.config.setdefault(key, default)
    app.extensions["ingestion"] = _State()
    # POST /api/v1/submissions is answered in front of Flask (see SubmissionFastPath).
    app.wsgi_app = SubmissionFastPath(app.wsgi_app, app)  # type: ignore[method-assign]
    # The form's raw body must be read before anything parses the form (the app's CSRF
    # check does): run first, and keep the bytes for both.
    app.before_request_funcs.setdefault(None, []).insert(0, _keep_form_body)


def _keep_form_body() -> None:
    if request.method == "POST" and request.path == "/submit":
        if is_multipart(request._get_current_object()):  # type: ignore[attr-defined]
            # Photos: the fields are kept re-encoded (the view); the cap is the photos'.
            request.max_content_length = photo_setup(current_app._get_current_object()  # type: ignore[attr-defined]
                                                     ).max_request
            return
        with contextlib.suppress(PayloadTooLarge):  # the view answers 413
            _read_body(*_here())


class _State:
    """Per-process caches: categories (short TTL) and the service area (once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.categories: dict[str, CategorySpec] = {}
        self.loaded_at = 0.0
        self.area: ServiceArea | None = None
        self.area_loaded = False
        self.settings: dict[tuple[Any, ...], IntakeSettings] = {}

    def get(self, engine: Engine, buffer_m: float) -> tuple[dict[str, CategorySpec],
                                                            ServiceArea | None]:
        now = time.monotonic()
        if now - self.loaded_at > CATEGORY_TTL_S or not self.area_loaded:
            with self.lock, Session(engine) as session:
                self.categories = specs_from_db(session)
                if not self.area_loaded:
                    outline = city_outline(session)
                    self.area = ServiceArea(outline, buffer_m=buffer_m) if outline else None
                    self.area_loaded = outline is not None
                    if outline is None:
                        log.warning("no city outline loaded: the service area is not checked")
                self.loaded_at = now
        return self.categories, self.area


def _engine() -> Engine:
    return get_engine(current_app.config["DATABASE_URL"])


def _here() -> tuple[Flask, Request]:
    """The current app and request as plain objects (what the helpers below take)."""
    return current_app._get_current_object(), request._get_current_object()  # type: ignore[attr-defined,return-value]


def _state(app: Flask | None = None) -> tuple[dict[str, CategorySpec], ServiceArea | None]:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["ingestion"].get(get_engine(app.config["DATABASE_URL"]),
                                           float(app.config["INGEST_BUFFER_M"]))


def _settings(app: Flask) -> IntakeSettings:
    cfg = app.config
    key = (cfg["INGEST_MAX_DEPTH"], cfg["INGEST_DUPLICATE_DISTANCE_M"],
           cfg["INGEST_DUPLICATE_SIMILARITY"], tuple(cfg["INGEST_SPAM_RULES"]),
           cfg.get("INGEST_DOUBLE_SUBMIT_S", 10.0))
    cache = app.extensions["ingestion"].settings
    settings = cache.get(key)
    if settings is None:
        settings = cache[key] = IntakeSettings(
            max_depth=int(key[0]), duplicate_distance_m=float(key[1]),
            duplicate_similarity=float(key[2]), spam_rules=key[3],
            double_submit_s=float(key[4]))
    return settings


def _client_key(app: Flask, req: Request) -> str:
    cfg = app.config
    proxies = cfg.get("TRUSTED_PROXIES_PARSED")
    return request_key(req.remote_addr, req.headers.get("X-Forwarded-For"),
                       proxies=cfg.get("TRUSTED_PROXIES") or "" if proxies is None else proxies,
                       secret=cfg["SECRET_KEY"])


class _Answer(NamedTuple):
    """An HTTP answer before it is a Flask or a bare WSGI response."""

    status: int
    body: str
    mimetype: str
    headers: Mapping[str, str]

    def response(self) -> Response:
        response = Response(self.body, status=self.status, mimetype=self.mimetype)
        response.headers.update(self.headers)
        return response


def _problem(status: int, title: str, *, detail: str | None = None,
             headers: Mapping[str, str] | None = None, **extra: Any) -> _Answer:
    # The one problem+json builder of the product (geo.problems), framework-free.
    return _Answer(status, problem_body(status, title, detail=detail, **extra), PROBLEM_JSON,
                   headers or {})


def problem(status: int, title: str, *, detail: str | None = None,
            headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    """An ``application/problem+json`` response (RFC 9457)."""
    return _problem(status, title, detail=detail, headers=headers, **extra).response()


def _read_body(app: Flask, req: Request) -> bytes:
    cap = int(app.config["INGEST_MAX_BODY"])
    if req.content_length is not None and req.content_length > cap:
        raise PayloadTooLarge(f"the body is {req.content_length} bytes; at most {cap}")
    try:
        raw = req.get_data(cache=True, parse_form_data=False)
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the body is larger than {cap} bytes") from exc
    if len(raw) > cap:
        raise PayloadTooLarge(f"the body is larger than {cap} bytes")
    return raw


def _idempotency_key(req: Request, ckey: str) -> str | None:
    header = req.headers.get("Idempotency-Key")
    if header is None:
        return None
    if not _IDEMPOTENCY.match(header):
        raise RequestRefused("Idempotency-Key must be 1 to 200 printable ASCII characters")
    # Scoped to the client, and stored as a hash: keys are the client's own strings.
    return hashlib.sha256(f"{ckey}\0{header}".encode()).hexdigest()


def retry_text(seconds: int, lang: str) -> str:
    """"Too many submissions; try again in N minutes", in ``lang``."""
    minutes = max(1, -(-int(seconds) // 60))
    if lang == "en":
        return (f"Too many submissions from this connection: try again in {minutes} "
                f"minute{'s' if minutes > 1 else ''}. What you typed is kept.")
    return (f"Trop de propositions depuis cette connexion : réessayez dans {minutes} "
            f"minute{'s' if minutes > 1 else ''}. Ce que vous avez saisi est gardé.")


def _lang(req: Request) -> str:
    return pick_lang(req.args, req.cookies, req.accept_languages)


def _refused(exc: RequestRefused, lang: str = "en") -> _Answer:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    detail = retry_text(exc.retry_after, lang) if isinstance(exc, RateLimited) else exc.detail
    return _problem(exc.status, exc.title, detail=detail, headers=headers,
                    submission_id=exc.submission_id)


def _category_of(raw: bytes, categories: Mapping[str, CategorySpec]) -> CategorySpec | None:
    """The category a refused body names (to label its fields); ``None`` if unreadable."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    slug = data.get("category") if isinstance(data, dict) else None
    return categories.get(slug) if isinstance(slug, str) else None


def invalid_answer(errors: list[dict[str, Any]], *, category: CategorySpec | None,
                   lang: str, submission_id: int | None, **extra: Any) -> _Answer:
    """422 problem+json: ``errors[]`` keep pointer and code, ``detail`` in ``lang``.

    ``extra`` members (the photos' fate, for a multipart submission) are added.
    """
    i = 1 if lang == "en" else 0
    return _problem(422, TITLES["invalid"][i],
                    detail=TITLES["invalid_detail"][i].format(n=len(errors)),
                    errors=localise(errors, category, lang), submission_id=submission_id,
                    headers={"Content-Language": lang}, **extra)


def _intake(app: Flask, raw: bytes, *, source: str, content_type: str | None,
            data: Any = None, parsed: bool = False, idem: str | None = None,
            ckey: str, lang: str | None = None) -> Outcome:
    categories, area = _state(app)
    cfg = app.config
    # The intake's own pool: autocommit, pinged only after idling (geo.db.hot_engine).
    return submit(hot_engine(cfg["DATABASE_URL"]), raw, source=source,
                  content_type=content_type, client_key=ckey, categories=categories,
                  area=area, settings=_settings(app), idempotency_key=idem,
                  secret=cfg["SECRET_KEY"], limit=parse_limit(cfg["INGEST_RATE_LIMIT"]),
                  data=data, parsed=parsed, lang=lang)


def _link_resident(app: Flask, req: Request, outcome: Outcome) -> None:
    """A signed-in resident's submission is theirs (issue 20: the item's organiser)."""
    rid = (app.session_interface.open_session(app, req) or {}).get("resident_id")
    if isinstance(rid, int) and outcome.id and not outcome.errors:
        with hot_engine(app.config["DATABASE_URL"]).connect() as conn:
            conn.execute(text("UPDATE submission SET resident_id = :r WHERE id = :s AND "
                              "resident_id IS NULL AND EXISTS (SELECT 1 FROM resident "
                              "WHERE id = :r AND deleted_at IS NULL)"),
                         {"r": rid, "s": outcome.id})


def answer_submission(app: Flask, req: Request) -> _Answer:
    """Keep, validate and queue one JSON submission: the answer to give.

    Framework-free (a werkzeug request, no request context), so that
    :class:`SubmissionFastPath` and the Flask view give the same answers. A multipart
    body (photos) goes to :func:`answer_multipart_submission`; a JSON body naming
    ``photo_ids`` attaches those uploaded photos once it is kept.
    """
    if is_multipart(req):
        try:
            return answer_multipart_submission(app, req)
        finally:
            req.close()  # the spooled files (the fast path has no teardown to do it)
    try:
        raw = _read_body(app, req)
        ckey = _client_key(app, req)
        guard = app.config.get("CLIENT_GUARD")  # moderation's blocks: raises for a blocked
        if guard is not None:                   # client, answered 403 by its error handler
            guard(req, ckey)
        outcome = _intake(app, raw, source="api", content_type=req.content_type,
                          idem=_idempotency_key(req, ckey), ckey=ckey, lang=_lang(req))
        _link_resident(app, req, outcome)
    except RequestRefused as exc:
        return _refused(exc, _lang(req))
    if b"photo_ids" in raw:
        tokens = _photo_ids(_loads(raw))
        if tokens:
            return answer_with_photos(app, req, outcome, raw, lang=_lang(req), uploads=[],
                                      tokens=tokens, form=MultiDict())
    return answer_after_intake(app, req, outcome, raw)


def answer_after_intake(app: Flask, req: Request, outcome: Outcome, raw: bytes) -> _Answer:
    """The answer to a kept submission without photos to handle (JSON and multipart)."""
    if outcome.errors:
        categories, _ = _state(app)
        return invalid_answer(outcome.errors, category=_category_of(raw, categories),
                              lang=_lang(req), submission_id=outcome.id)
    if outcome.tracking_token is None:  # a retry while the first request is still running
        return _problem(409, "Conflict", detail="the first request with this Idempotency-Key "
                        "is still being processed; retry in a moment",
                        headers={"Retry-After": "1"}, submission_id=outcome.id)
    adapter = app.create_url_adapter(req)
    assert adapter is not None
    url = adapter.build("ingestion.track_page", {"token": outcome.tracking_token},
                        force_external=True)
    body = {"id": outcome.id, "status": outcome.status, "tracking_url": url}
    return _Answer(200 if outcome.replayed else 201, json.dumps(body), "application/json",
                   {**PRIVATE_HEADERS, "Location": url})


@bp.post(SUBMISSIONS_PATH)
def create_submission() -> Response:
    """Keep, validate and queue one JSON submission; 201 with a private tracking URL.

    Served by :class:`SubmissionFastPath` in front of Flask; this view answers the same
    when the app is used without it.
    """
    return answer_submission(*_here()).response()


class SubmissionFastPath:
    """Answer ``POST /api/v1/submissions`` before Flask's request machinery; defer the rest.

    Under load a submission spent about as much CPU in Flask's per-request work (request
    context, cookie session, i18n and security hooks, ``url_for``) as in the intake
    itself (py-spy, ``bench/ingest_api.py``). This middleware calls
    :func:`answer_submission` directly and adds the headers the app's after-request
    hooks give an API answer (security headers, ``Vary``), read once from the app itself
    so they stay in step. Any exception goes back through Flask's error handlers, so
    errors are answered exactly as the other views' are.
    """

    def __init__(self, wsgi_app: Any, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self._hook_headers: list[tuple[str, str]] | None = None

    def _app_headers(self) -> list[tuple[str, str]]:
        if self._hook_headers is None:
            app = self.app
            with app.test_request_context(SUBMISSIONS_PATH, method="POST"):
                bare = app.response_class()
                before = set(bare.headers.keys())
                hooked = app.process_response(bare)
                self._hook_headers = [(k, v) for k, v in hooked.headers.items()
                                      if k not in before]
        return self._hook_headers

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI entry point."""
        if environ.get("PATH_INFO") != SUBMISSIONS_PATH \
                or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        req = Request(environ)  # werkzeug's: no context, session or hooks
        req.max_content_length = self.app.config.get("MAX_CONTENT_LENGTH")
        try:
            answer = answer_submission(self.app, req)
        except Exception:
            return self._through_flask(environ, start_response)
        body = answer.body.encode()
        headers = [("Content-Type", f"{answer.mimetype}; charset=utf-8"
                    if answer.mimetype.startswith("text/") else answer.mimetype),
                   ("Content-Length", str(len(body))), *answer.headers.items()]
        have = {k.lower() for k, _ in headers}
        headers += [(k, v) for k, v in self._app_headers() if k.lower() not in have]
        start_response(f"{answer.status} {HTTP_STATUS_CODES[answer.status].upper()}", headers)
        return [body]

    def _through_flask(self, environ: dict[str, Any], start_response: Any) -> Any:
        # Called while the exception is being handled: Flask's handlers see it as theirs.
        app = self.app
        with app.request_context(environ):
            try:
                response = app.finalize_request(app.handle_user_exception(
                    sys.exception()), from_error_handler=True)  # type: ignore[arg-type]
            except Exception as again:
                response = app.handle_exception(again)
            return response(environ, start_response)


_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def local_time(value: datetime | None, lang: str) -> str:
    """A moment as the resident reads it: the city's clock, to the minute."""
    if value is None:
        return ""
    t = value.astimezone(city_zone())
    month = _MONTHS["en" if lang == "en" else "fr"][t.month - 1]
    if lang == "en":
        return f"{t.day} {month} {t.year}, {t:%H:%M}"
    return f"{t.day} {month} {t.year} à {t:%H:%M}"


_SUBMISSION_SQL = """
    SELECT s.id, s.status::text AS status, s.received_at, s.title, s.category, s.reason,
           s.decided_at, s.feature_id, f.status::text AS feature_status,
           ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
    FROM submission s LEFT JOIN feature f ON f.id = s.feature_id
    WHERE """
_CORRECTION_SQL = """
    SELECT c.id, c.status, c.received_at, f.title, f.category, c.reason, c.decided_at,
           c.feature_id, f.status::text AS feature_status, ST_X(f.geom) AS lon,
           ST_Y(f.geom) AS lat, c.changes, c.closed, c.comment
    FROM correction c JOIN feature f ON f.id = c.feature_id
    WHERE """
_SUBMISSION_BY_TOKEN = text(_SUBMISSION_SQL + "s.tracking_token_hash = :h")
_CORRECTION_BY_TOKEN = text(_CORRECTION_SQL + "c.tracking_token_hash = :h")
# A link written into a message names its item, signed (ingestion.track_links).
_SUBMISSION_BY_ID = text(_SUBMISSION_SQL + "s.id = :id")
_CORRECTION_BY_ID = text(_CORRECTION_SQL + "c.id = :id")
_CORRECTIONS_OF = text("""
    SELECT id, status, received_at, changes, closed, reason, decided_at FROM correction
    WHERE feature_id = :f AND status <> 'received' AND status <> 'invalid'
    ORDER BY received_at
""")


def _tracked_photos(conn: Any, kind: str, item_id: int, item_status: str,
                    lang: str) -> list[dict[str, Any]]:
    """The photos sent with a submission or correction, as its resident sees them.

    Private like the rest of the tracking answer: the resident's own file names, each
    photo's raw ``status`` and its fate in words (:func:`photo_state`): ``state`` is
    ``published`` (on the map: ``thumbnail_url`` given), ``pending`` (waits for the
    moderator with the item), ``not_published`` (the item was refused or withdrawn),
    ``hidden`` or ``removed`` (a moderator's decision, ``reason`` their words) or
    ``refused`` (at upload, ``reason`` why in the resident's language). A published
    photo has its ``url`` and ``thumbnail_url`` (relative, like ``map_url``).
    """
    column = "submission_id" if kind == "submission" else "correction_id"
    rows = conn.execute(text(f"""
        SELECT ph.position, ph.original_name, ph.status, ph.refusal_reason, ph.thumb_key,
               ph.display_key,
               (ph.status = 'ready' AND f.status = 'published') AS public
        FROM photo ph LEFT JOIN feature f ON f.id = ph.feature_id
        WHERE ph.{column} = :i ORDER BY ph.position NULLS LAST, ph.id"""),  # noqa: S608
        {"i": item_id}).all()
    out = []
    for i, row in enumerate(rows, start=1):
        position = row.position or i
        item: dict[str, Any] = {"position": position, "name": row.original_name,
                                "status": row.status}
        reason = row.refusal_reason
        if row.status == "refused" and reason:
            reason = photo_message(reason, {}, name=row.original_name or f"photo-{i}",
                                   position=position, lang=lang)
        state = photo_state(row.status, bool(row.public), item_status)
        if reason and state in ("refused", "hidden", "removed"):
            item["reason"] = reason
        item["state"] = state
        item["label"] = photo_state_label(state, item.get("reason"), lang)
        if state == "published" and row.thumb_key and row.display_key:
            item["url"] = f"/photos/{row.display_key}"
            item["thumbnail_url"] = f"/photos/{row.thumb_key}"
        out.append(item)
    return out


def _history(row: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    steps = [{"event": "received", "at": row["received_at"].isoformat(),
              "local": local_time(row["received_at"], lang)}]
    status = row["status"]
    if status not in ("received", "invalid"):
        steps.append({"event": "in_review", "at": row["received_at"].isoformat(),
                      "local": local_time(row["received_at"], lang)})
    if status in ("approved", "refused", "merged", "withdrawn", "invalid"):
        at = row["decided_at"] or row["received_at"]
        steps.append({"event": status, "at": at.isoformat(), "local": local_time(at, lang),
                      "reason": row["reason"]})
    return steps


def _find_tracked(conn: Any, token: str) -> tuple[str, Mapping[str, Any]] | None:
    """The submission or correction a tracking token names: its own, or a mailed one."""
    digest = hash_token(token)
    row = conn.execute(_SUBMISSION_BY_TOKEN, {"h": digest}).mappings().one_or_none()
    if row is not None:
        return "submission", row
    row = conn.execute(_CORRECTION_BY_TOKEN, {"h": digest}).mappings().one_or_none()
    if row is not None:
        return "correction", row
    mailed = read_mailed_token(current_app.config.get("SECRET_KEY"), token)
    if mailed is None:
        return None
    kind, item_id = mailed
    query = _SUBMISSION_BY_ID if kind == "submission" else _CORRECTION_BY_ID
    row = conn.execute(query, {"id": item_id}).mappings().one_or_none()
    return None if row is None else (kind, row)


def _status(token: str, lang: str = "fr") -> dict[str, Any] | None:
    """What the tracking page and ``/api/v1/track/<token>`` say about one token.

    The token names a submission (a new pin) or a correction of a published place;
    both are answered the same way, with their history in local time, the link to the
    place on the map once it is published, and the corrections sent for that place.
    The token is the resident's own, or one a message carried (:mod:`.track_links`).
    """
    if not _TOKEN.match(token):
        return None
    with _engine().connect() as conn:
        found = _find_tracked(conn, token)
        if found is None:
            return None
        kind, row = found
        corrections = [] if row["feature_id"] is None else [
            {"id": c["id"], "status": c["status"], "received_at": c["received_at"].isoformat(),
             "local": local_time(c["received_at"], lang), "changes": c["changes"],
             "closed": c["closed"], "reason": c["reason"]}
            for c in conn.execute(_CORRECTIONS_OF, {"f": row["feature_id"]}).mappings()]
        photos = _tracked_photos(conn, kind, row["id"], row["status"], lang)
    published = row["feature_status"] == "published" and (
        kind == "correction" or row["status"] in ("approved", "merged"))
    out = {"kind": kind, "id": row["id"], "status": row["status"],
           "received_at": row["received_at"].isoformat(), "title": row["title"],
           "category": row["category"], "reason": row["reason"],
           "decided_at": row["decided_at"].isoformat() if row["decided_at"] else None,
           "feature_id": row["feature_id"], "history": _history(row, lang),
           "map_url": (f"/#map=17/{row['lat']:.5f}/{row['lon']:.5f}&f={row['feature_id']}"
                       if published else None),
           "can_withdraw": row["status"] == "pending", "corrections": corrections,
           "photos": photos}
    if kind == "correction":
        out.update(changes=row["changes"], closed=row["closed"], comment=row["comment"])
    return out


@bp.get("/api/v1/track/<token>")
def track_json(token: str) -> Response:
    """A submission's (or correction's) status, history and the moderator's reason."""
    status = _status(token, _lang(request._get_current_object()))  # type: ignore[attr-defined]
    if status is None:
        return problem(404, "Not Found", detail="no submission has this tracking link")
    response = Response(json.dumps(status, ensure_ascii=False), mimetype="application/json")
    response.headers.update(PRIVATE_HEADERS)
    return response


@bp.get("/track/<token>")
def track_page(token: str) -> Response | tuple[str, int, dict[str, str]]:
    """The private tracking page a resident keeps after submitting."""
    lang = _lang(request._get_current_object())  # type: ignore[attr-defined]
    status = _status(token, lang)
    if status is None:
        return render_template("ingestion/track.html", status=None, lang=lang,
                               t=track_labels(lang)), 404, PRIVATE_HEADERS
    if "application/json" in request.accept_mimetypes.values() \
            and request.accept_mimetypes.best == "application/json":
        return track_json(token)
    categories, _ = _state()
    return (render_template("ingestion/track.html", status=status, lang=lang,
                            t=track_labels(lang) | photo_track_labels(lang), token=token,
                            category=categories.get(status["category"] or "")),
            200, PRIVATE_HEADERS)


@bp.post("/track/<token>/withdraw")
def track_withdraw(token: str) -> Response | tuple[str, int, dict[str, str]]:
    """Take back a pending submission or correction (CSRF-checked form of the page)."""
    if not _TOKEN.match(token):
        return track_page(token)
    with _engine().begin() as conn:
        found = _find_tracked(conn, token)
        if found is not None:
            table = "submission" if found[0] == "submission" else "correction"
            conn.execute(text(
                f"UPDATE {table} SET status = 'withdrawn', decided_at = now() "  # noqa: S608
                "WHERE id = :i AND status = 'pending'"), {"i": found[1]["id"]})
    return redirect(url_for("ingestion.track_page", token=token), 303)  # type: ignore[return-value]


def _correction_answer(feature_id: int) -> _Answer:
    app, req = _here()
    lang = _lang(req)
    if feature_id > 2**63 - 1:  # beyond bigint: no such feature (not a database error)
        return _problem(404, "Not Found", detail=f"no published feature {feature_id}")
    if is_multipart(req) or _mentions_photo_ids(app, req):
        return _correction_photos_answer(feature_id)
    try:
        raw = _read_body(app, req)
        ckey = _client_key(app, req)
        categories, _ = _state(app)
        with _engine().connect() as conn:
            outcome = receive_correction(
                conn, feature_id, raw, content_type=req.content_type, client_key=ckey,
                lang=lang, categories=categories,
                max_depth=int(app.config["INGEST_MAX_DEPTH"]),
                limit=tuple(parse_limit(app.config["INGEST_RATE_LIMIT"])))  # type: ignore[arg-type]
    except RequestRefused as exc:
        return _refused(exc, lang)
    if outcome is None:
        return _problem(404, "Not Found", detail=f"no published feature {feature_id}")
    if outcome.errors:
        with _engine().connect() as conn:
            slug = conn.execute(text("SELECT category FROM feature WHERE id = :i"),
                                {"i": feature_id}).scalar()
        return invalid_answer(outcome.errors, category=categories.get(slug or ""),
                              lang=lang, submission_id=outcome.id)
    url = url_for("ingestion.track_page", token=outcome.tracking_token, _external=True)
    body = {"id": outcome.id, "status": outcome.status, "tracking_url": url}
    return _Answer(201, json.dumps(body), "application/json",
                   {**PRIVATE_HEADERS, "Location": url})


@bp.post("/api/v1/features/<int:feature_id>/corrections")
def propose_correction(feature_id: int) -> Response:
    """A resident proposes new values for a published feature, or reports it closed.

    JSON ``{"changes": {field: value}, "closed": bool, "comment": str, "email": str}``:
    kept raw first, validated like a submission, queued for moderation as a diff
    against the current version; 201 with ``id`` and a private ``tracking_url``.
    """
    return _correction_answer(feature_id).response()


@bp.get("/api/v1/categories")
def categories_json() -> Response:
    """The active categories: slug, kind, labels, fields, audiences, accessibility, style."""
    categories, _ = _state()
    body = {"categories": [
        {"slug": c.slug, "kind": c.kind, "label": {"fr": c.label_fr, "en": c.label_en},
         "description": {"fr": c.description_fr, "en": c.description_en},
         "colour": c.colour, "icon": c.icon, "fields": [f.as_json() for f in c.fields],
         "audiences": list(c.audiences), "accessibility": list(c.accessibility),
         "requires_dates": c.needs_dates}
        for c in categories.values()]}
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def _float_arg(name: str, bound: float, bad: list[dict[str, str]]) -> float:
    raw = request.args.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -bound <= value <= bound:
        bad.append({"name": name, "reason": f"a number between -{bound:g} and {bound:g}"})
        return 0.0
    return value


@bp.get("/api/v1/submissions/nearby")
def nearby_json() -> Response:
    """Published items of a category a new pin may duplicate, nearest first.

    ``lon``, ``lat``, ``category`` (required) and ``title`` (optional): items within the
    duplicate distance, or with a similar title within a few hundred metres, each with
    its distance in metres. What the map's form shows before it sends.
    """
    categories, _ = _state()
    bad: list[dict[str, str]] = []
    lon, lat = _float_arg("lon", 180.0, bad), _float_arg("lat", 90.0, bad)
    category = request.args.get("category", "")
    if category not in categories:
        bad.append({"name": "category", "reason": "one of the slugs of /api/v1/categories"})
    title = request.args.get("title", "")
    if len(title) > 200 or forbidden_character(title):
        bad.append({"name": "title", "reason": "at most 200 characters, no control character"})
    if bad:
        return problem(400, "Bad Request", detail=f"bad parameter: {bad[0]['name']}",
                       invalid_params=bad)
    cfg = current_app.config
    with _engine().connect() as conn:
        found = nearby_with_pending(
            conn, lon=lon, lat=lat, category=category, title=clean_text(title),
            metres=float(cfg["INGEST_DUPLICATE_DISTANCE_M"]),
            threshold=float(cfg["INGEST_DUPLICATE_SIMILARITY"]))
    # Pending submissions are only counted: their text and author are not public.
    response = Response(json.dumps({"items": found.items, "pending": found.pending},
                                   ensure_ascii=False),
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of every ``/api/v1`` operation.

    The app adds the operations of the other packages (``openapi_complete``).
    """
    categories, _ = _state()
    doc = with_photos(openapi_document(categories, server_url=request.host_url),
                      max_per_item=photo_setup(_here()[0]).max_per_item)
    complete = current_app.extensions.get("openapi_complete")
    if complete is not None:
        doc = complete(doc, sorted(categories))
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")


# --- the residents' form -------------------------------------------------------------

def _form_number(value: str | None) -> Any:
    if value is None or not value.strip():
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return value


def _form_datetime(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return value  # validation says what is wrong with it
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=city_zone())  # the city's time zone (city.json)
    return dt.isoformat()


def _form_availability(text: str) -> Any:
    """Slots from what a resident types, in French or English, one line or many.

    "samedi 10:00-12:00", "sat 10-12", "lun-ven 9h-17h", "mardi 14h à 16h": the parser
    of opening hours reads them all; text it cannot read goes to validation as it is,
    which refuses it under the field's pointer.
    """
    slots = parse_hours(text)
    return slots if slots else text


def _form_attributes(form: Any, cat: CategorySpec | None) -> dict[str, Any]:
    if cat is None:
        return {}
    out: dict[str, Any] = {}
    prefix = f"attr.{cat.slug}."
    for spec in cat.fields:
        key = prefix + spec.name
        value = form.get(key)
        if spec.type == "boolean":
            if value:
                out[spec.name] = True
        elif value is None or not value.strip():
            continue
        elif spec.type in ("integer", "number"):
            number = _form_number(value)
            out[spec.name] = int(number) if spec.type == "integer" and isinstance(
                number, float) and number.is_integer() else number
        elif spec.type == "availability":
            out[spec.name] = _form_availability(value)
        elif spec.type == "tags":
            out[spec.name] = form.getlist(key)
        else:
            out[spec.name] = value
    chosen = form.getlist(prefix + "audiences")
    if chosen:
        out["audiences"] = chosen
    # Each accessibility feature: known present, known absent, or unknown (left out).
    present = form.getlist(prefix + "accessibility")
    absent: list[str] = []
    for slug in cat.accessibility:
        answer = form.get(f"{prefix}access.{slug}")
        if answer == "yes" and slug not in present:
            present.append(slug)
        elif answer == "no":
            absent.append(slug)
    if present:
        out["accessibility"] = present
    if absent:
        out["accessibility_lacks"] = absent
    return out


def _form_data(form: Any, categories: Mapping[str, CategorySpec]) -> dict[str, Any]:
    slug = form.get("category") or None
    data: dict[str, Any] = {
        "lon": _form_number(form.get("lon")), "lat": _form_number(form.get("lat")),
        "title": form.get("title"), "description": form.get("description") or None,
        "category": slug, "starts_at": _form_datetime(form.get("starts_at")),
        "ends_at": _form_datetime(form.get("ends_at")), "email": form.get("email") or None,
        "attributes": _form_attributes(form, categories.get(slug or "")),
        # The duplicate step's "C'est un autre lieu": the places shown, for the moderator.
        "not_duplicate_of": _shown_duplicates(form) if form.get("different") else None,
    }
    return {k: v for k, v in data.items() if v is not None and v != {}}


def _shown_duplicates(form: Any) -> list[int] | None:
    """The ids of the published places the duplicate step showed (hidden fields)."""
    ids = [int(v) for v in form.getlist("shown_duplicates")[:20] if v.isdigit() and len(v) < 16]
    return sorted(set(ids)) or None


def _form_duplicates(form: Any, categories: Mapping[str, CategorySpec]) -> Nearby | None:
    """Likely duplicates of the posted pin (``None``: nothing to check, or bad values).

    Bad values are left for validation to name; this step only looks when the place,
    the category and the title are usable.
    """
    lon, lat = _form_number(form.get("lon")), _form_number(form.get("lat"))
    slug, title = form.get("category") or "", form.get("title") or ""
    if not (isinstance(lon, float) and isinstance(lat, float) and math.isfinite(lon)
            and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90) \
            or slug not in categories or len(title) > 200 or forbidden_character(title):
        return None
    cfg = current_app.config
    with _engine().connect() as conn:
        found = nearby_with_pending(
            conn, lon=lon, lat=lat, category=slug, title=clean_text(title),
            metres=float(cfg["INGEST_DUPLICATE_DISTANCE_M"]),
            threshold=float(cfg["INGEST_DUPLICATE_SIMILARITY"]))
    # Only a published place stops the form: a pending one is not public (it is counted
    # beside them) and the moderator sees the two linked anyway; a resident correcting
    # their own submission right after sending it is not held up.
    return found if found.items else None


def _form_key(pointer: str, slug: str | None) -> str:
    """The form input an error's pointer belongs to (``attr.<slug>.<field>``, ``title``)."""
    parts = pointer.lstrip("/").split("/")
    if parts[0] == "attributes" and len(parts) > 1 and slug:
        if parts[1] == "accessibility_lacks":
            return f"attr.{slug}.accessibility"
        return f"attr.{slug}.{parts[1]}"
    if parts[0] in ("lon", "lat"):
        return "lon"
    return parts[0] or "top"


def _form_city() -> City:
    """The app's City (``CITY``: a City, or the name of one to load)."""
    city = current_app.config.get("CITY")
    return city if isinstance(city, City) else load_city(city or None, check_files=False)


# The form's "where" card: an address line ("12 rue de Rivoli") placed with the city's
# address file, as ``carte import`` places an address column (geo.geocode: the index is
# read once per process and file version, ~0.6 s for Paris, then a lookup is ~0.1 ms).
ADDRESS_MAX = 200
ADDRESS_NOT_FOUND = "address_not_found"  # the template's words for it (submit.html ``W``)


def _form_place(form: Any) -> Match | None:
    """Where the form's address is, when it gives an address and no coordinates.

    ``None``: nothing to place (coordinates typed, or no address: validation names what
    is missing). A ``none`` match: not found, ambiguous, or the city has no address file
    (never an exception: the raw body must still be stored by the intake that follows).
    """
    address = (form.get("address") or "").strip()
    if not address or (form.get("lon") or "").strip() or (form.get("lat") or "").strip():
        return None
    if len(address) > ADDRESS_MAX:
        return Match("none", None, None, "", "address too long")
    city = _form_city()
    geocoder = Geocoder.for_city(city)
    if geocoder is None:
        return Match("none", None, None, "", "the city has no address file")
    try:  # the town after the street and a town alone are read by the geocoder
        return geocoder(address)
    except (OSError, ValueError, KeyError) as exc:  # an unreadable file: not found, logged
        log.warning("address file unreadable for the form: %s", exc)
        return Match("none", None, None, "", "address file unreadable")


def _render_form(status: int, **context: Any) -> tuple[str, int]:
    categories, _ = _state()
    lang = _lang(request._get_current_object())  # type: ignore[attr-defined]
    values = context.setdefault("values", {})
    slug = values.get("category") or None
    raw_errors = context.pop("errors", [])
    errors = localise(raw_errors, categories.get(slug or ""), lang) if raw_errors and \
        "code" in raw_errors[0] else raw_errors
    by_field: dict[str, list[str]] = {}
    for e in errors:  # once each (longitude and latitude share one message and one place)
        said = by_field.setdefault(_form_key(str(e.get("pointer", "")), slug), [])
        if e["detail"] not in said:
            said.append(e["detail"])
    order = ["top", "category", "title", "description", "address", "lon", "starts_at",
             "ends_at"]
    fields = [f"attr.{slug}.{f.name}" for f in categories[slug].fields] \
        if slug in categories else []
    order += [*fields, f"attr.{slug}.audiences", f"attr.{slug}.accessibility", "email",
              "charter"]
    first = min(by_field, key=lambda k: order.index(k) if k in order else len(order),
                default=None)  # the first faulty field in the page's order gets the focus
    city = _form_city()  # its centre: the coordinates' example; its name: the address error
    path = address_file(city)
    if path is not None and path.exists():
        warm(path)  # built in the background while the resident types (once per process)
    # The list at the top links each message to its field (ids of submit.html); a message
    # about no one field ("top", a rate limit) is listed without a link.
    cat = categories.get(slug or "")
    targets = {"category", "title", "description", "address", "lon", "starts_at", "ends_at",
               "email", "charter", "photos"}
    if cat:
        targets.update(f"attr.{slug}.{f.name}" for f in cat.fields if not f.imported)
        targets.update(f"attr.{slug}.{group}" for group in ("audiences", "accessibility")
                       if getattr(cat, group))
    summary: list[dict[str, Any]] = []
    for e in errors:
        key = _form_key(str(e.get("pointer", "")), slug)
        line = {"detail": e["detail"], "target": key if key in targets else None}
        if line not in summary:
            summary.append(line)
    return render_template("ingestion/submit.html", categories=list(categories.values()),
                           photo_labels=_photo_labels(lang),
                           lang=lang, errors=errors, field_errors=by_field,
                           first_error=first, labels=form_labels(lang), summary=summary,
                           centre=city.centre, city_name=city.name(lang),
                           address_not_found=ADDRESS_NOT_FOUND, **context), status


def _photo_labels(lang: str) -> dict[str, str]:
    setup = photo_setup(current_app._get_current_object())  # type: ignore[attr-defined]
    return photo_form_labels(lang, max_photos=setup.max_per_item,
                             max_mb=setup.limits.max_bytes // (1024 * 1024))


@bp.get("/submit")
def submit_form() -> tuple[str, int]:
    """The residents' form (no JavaScript needed); ``?lon=&lat=`` pre-fills the place."""
    values = {k: request.args.get(k, "") for k in ("lon", "lat", "category")}
    return _render_form(200, values=values)


@bp.post("/submit")
def submit_form_post() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    """The form's POST (CSRF-checked by webmap.security): same intake as the API."""
    app, req = _here()
    uploads: list[Any] = []
    try:
        if is_multipart(req):  # with photos: the fields are kept, re-encoded as a form
            form_fields, files = _multipart(app, req)
            raw = urlencode(list(form_fields.items(multi=True))).encode()
            uploads = [f for f in files.getlist("photos") if f.filename or f.content_length]
        else:
            raw = _read_body(app, req)
    except PayloadTooLarge as exc:
        return _render_form(413, errors=[{"pointer": "", "detail": exc.detail}])
    categories, _ = _state()
    form = request.form
    values = {k: (form.getlist(k) if len(form.getlist(k)) > 1 else v)
              for k, v in form.items()}
    if not form.get("charter"):
        return _render_form(422, values=values, errors=[
            {"pointer": "/charter", "code": "charter"}])
    # An address and no coordinates: the city's address file places it; the fields the
    # intake reads get its point, the raw body (stored first) keeps what was typed.
    place = _form_place(form)
    placed = form
    if place is not None and place.lon is not None and place.lat is not None:
        placed = form.copy()
        placed["lon"], placed["lat"] = repr(place.lon), repr(place.lat)
    where = {"placed_at": place.label, "placed_on_street": place.quality == "street"} \
        if place is not None and place.quality != "none" else {}
    if not form.get("different"):
        # The duplicate step (what the map's form asks before sending): answered again,
        # values kept, nothing stored; the files cannot be kept by the browser, so say so.
        found = _form_duplicates(placed, categories)
        if found is not None:
            return _render_form(200, values=values, duplicates=found.items,
                                duplicates_pending=found.pending,
                                photos_again=bool(uploads),
                                D=duplicate_labels(_lang(req)), **where)
    try:
        outcome = _intake(app, raw, source="form", content_type=request.content_type,
                          data=_form_data(placed, categories), parsed=True,
                          ckey=_client_key(app, req), lang=_lang(req))
        _link_resident(app, req, outcome)
    except RateLimited as exc:
        html, _ = _render_form(429, values=values, errors=[
            {"pointer": "", "detail": retry_text(exc.retry_after, _lang(req))}])
        return html, 429, {"Retry-After": str(exc.retry_after)}
    if outcome.errors:
        errors = outcome.errors
        if place is not None and place.quality == "none":
            # not found: the address is what to fix, not the coordinates left empty
            errors = [e for e in errors if str(e.get("pointer")) not in ("/lon", "/lat")]
            errors.append({"pointer": "/address", "code": "form_address",
                           "detail": ADDRESS_NOT_FOUND})
        again = [{"pointer": "/photos", "detail": photo_form_labels(_lang(req))["again"]}] \
            if uploads else []
        return _render_form(422, values=values, errors=errors + again, **where)
    url = url_for("ingestion.track_page", token=outcome.tracking_token, _external=True)
    refused: list[dict[str, Any]] = []
    if uploads and not outcome.replayed:
        _, refused = receive_photos(app, files=uploads, tokens=[], form=form,
                                    lang=_lang(req), submission_id=outcome.id)
    lang = _lang(req)
    # the language switch leads to the tracking page (the form's address would lose the link)
    other = urlencode({"lang": "en" if lang == "fr" else "fr"})
    return (render_template("ingestion/done.html", tracking_url=url, id=outcome.id, lang=lang,
                            lang_switch_url=url_for("ingestion.track_page",
                                                    token=outcome.tracking_token) + "?" + other,
                            photos_refused=refused, **where), 422 if refused else 201,
            PRIVATE_HEADERS)


# --- recovery ------------------------------------------------------------------------

_STUCK = """
    SELECT id, source, raw, content_type, idempotency_key FROM submission
    WHERE status = 'received' AND source IN ('api', 'form')
      AND received_at < now() - make_interval(secs => %(age)s)
      AND received_at > now() - make_interval(secs => %(horizon)s)
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
"""


def revalidate_received(app: Flask, *, older_than_s: float = 60.0, limit: int = 1000,
                        horizon_s: float | None = None) -> int:
    """Validate the API and form submissions a crash left ``received``; how many.

    The body is committed before it is validated; if the process dies between the two
    commits (a killed worker, a lost connection, a server crash) the row stays
    ``received``: kept, but never validated nor shown to moderators. ``carte serve``
    calls this when it starts. Rows are locked with ``SKIP LOCKED``: two callers never
    validate the same row, and a request still running (younger than
    ``older_than_s``) is left alone. ``horizon_s`` bounds how far back a pass looks
    (the serving processes' continuous catch-up reads only the last day's rows, through
    the ``(source, received_at)`` index; ``None``: all of them, as at start-up).
    """
    cfg = app.config
    categories, area = _state(app)
    settings = _settings(app)
    pooled = hot_engine(cfg["DATABASE_URL"]).raw_connection()
    try:
        conn = pooled.driver_connection
        with app.app_context(), conn.transaction():
            rows = conn.execute(_STUCK, {"age": older_than_s, "limit": limit,
                                         "horizon": horizon_s or 3e9}).fetchall()
            for sid, source, raw, ctype, idem in rows:  # each row is its own savepoint
                body, data, parsed = bytes(raw), None, False
                if source == "form":
                    form = MultiDict(parse_qsl(body.decode("utf-8", "replace"),
                                               keep_blank_values=True))
                    data, parsed = _form_data(form, categories), True
                revalidate(conn, sid, body, source=source, content_type=ctype,
                           categories=categories, area=area, settings=settings,
                           idempotency_key=idem, secret=cfg["SECRET_KEY"], data=data,
                           parsed=parsed)
    except psycopg.OperationalError:
        pooled.invalidate()  # a connection the database dropped is not put back
        raise
    finally:
        pooled.close()
    if rows:
        log.warning("validated %d submission(s) left 'received' by an earlier crash", len(rows))
    return len(rows)


# --- photos (issue 19): multipart submissions and corrections, the upload step -------
#
# A submission or correction may come as multipart/form-data: the JSON in a part named
# ``submission`` (``correction`` for a correction; or the form's fields), files in parts
# named ``photos``, ``photo_ids`` (tokens of photos uploaded ahead with
# POST /api/v1/photos) in the JSON or as fields, and per photo ``licence``, ``author``,
# ``alt`` fields (once for all, or once per photo in order). The submission is kept
# and queued first; then each photo is kept in quarantine and processed. A refused
# photo never loses the rest: the answer is a 422 problem that says the submission is
# kept (its id, status and tracking URL) and names each refused photo (position from
# 1, file name, code, sentence in the resident's language). JSON bodies are unchanged.

PHOTO_DEFAULTS: dict[str, Any] = {
    "PHOTO_MAX_BYTES": 10 * 1024 * 1024,
    "PHOTO_MAX_PIXELS": 40_000_000,
    "PHOTO_MAX_REQUEST_BYTES": 42 * 1024 * 1024,
    "PHOTO_MAX_PER_ITEM": 4,
    "PHOTO_FORMATS": "jpeg,png,webp",
    "PHOTO_DISPLAY_PX": 1600,
    "PHOTO_THUMB_PX": 400,
    "PHOTO_UPLOAD_RATE_LIMIT": "60/600",
    "PHOTO_DECODERS": 1,
    "PHOTO_QUEUE_WAIT_S": 0.0,
}
DEFAULTS.update(PHOTO_DEFAULTS)
PHOTOS_PATH = "/api/v1/photos"
_MAX_AUTHOR, _MAX_ALT = 120, 300


class PhotoSetup(NamedTuple):
    """The photo settings of one app, built once, and its decoding thread(s)."""

    limits: Limits
    public: Storage
    quarantine: Storage
    max_per_item: int
    max_request: int
    decoding: threading.BoundedSemaphore
    executor: ThreadPoolExecutor
    lock_dir: Path
    decoders: int

    def process(self, data: bytes, limits: Limits) -> Processed:
        """Decode and re-encode on the decoding thread (lower CPU priority); wait for it."""
        return self.executor.submit(self._locked_process, data, limits).result()

    def _locked_process(self, data: bytes, limits: Limits) -> Processed:
        # The serving processes sharing VAR_DIR take turns: PHOTO_DECODERS decodes at
        # once on the machine, whatever the number of gunicorn workers.
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        slot = os.getpid() % self.decoders
        with open(self.lock_dir / f"photo-decode-{slot}.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                return process(data, limits)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _background_priority() -> None:
    """Decoding threads yield the CPU to request threads (Linux: a thread's own nice)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def photo_setup(app: Flask) -> PhotoSetup:
    """Limits and stores from the ``PHOTO_*`` settings (cached per configuration)."""
    cfg = app.config
    key = (*(cfg.get(k, v) for k, v in PHOTO_DEFAULTS.items()), str(cfg.get("VAR_DIR")),
           cfg.get("PHOTO_S3_BUCKET"), cfg.get("PHOTO_S3_ENDPOINT"))
    cached = app.extensions.get("photos")
    if cached is not None and cached[0] == key:
        return cached[1]  # type: ignore[no-any-return]
    limits = limits_from_config(cfg)
    public, quarantine = stores(cfg)
    decoders = max(1, int(key[8]))
    setup = PhotoSetup(limits, public, quarantine, int(key[3]), int(key[2]),
                       threading.BoundedSemaphore(decoders),
                       ThreadPoolExecutor(decoders, thread_name_prefix="photo-decode",
                                          initializer=_background_priority),
                       Path(cfg.get("VAR_DIR") or "var") / "locks", decoders)
    app.extensions["photos"] = (key, setup)
    return setup


def is_multipart(req: Request) -> bool:
    """Whether the request is ``multipart/form-data`` (a body that may carry photos)."""
    return (req.mimetype or "") == "multipart/form-data"


def _multipart(app: Flask, req: Request) -> tuple[MultiDict[str, str], MultiDict[str, Any]]:
    """The fields and files, under the photo request cap (not the 64 KiB JSON cap)."""
    cap = photo_setup(app).max_request
    if req.content_length is not None and req.content_length > cap:
        raise PayloadTooLarge(f"the request is {req.content_length} bytes; at most {cap}")
    req.max_content_length = cap
    try:
        return req.form, req.files
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the request is larger than {cap} bytes") from exc


def _file_name(raw: str | None, position: int) -> str:
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = clean_text(name)[:120] if name else ""
    return name or f"photo-{position}"


def _nth(form: Mapping[str, Any], key: str, i: int) -> str | None:
    values = form.getlist(key) if hasattr(form, "getlist") else [form.get(key)]
    values = [v for v in values if isinstance(v, str)]
    if len(values) == 1:
        return values[0]
    return values[i] if i < len(values) else None


def photo_meta(form: Mapping[str, Any], i: int) -> PhotoMeta:
    """The licence, author and alt text of the ``i``-th photo (from 0).

    Raises
    ------
    BadPhotoField
        An unknown licence, or a text too long or holding a forbidden character.
    """
    licence = (_nth(form, "licence", i) or "CC-BY-SA-4.0").strip()
    if licence not in LICENCES:
        raise BadPhotoField(f"licence must be one of {', '.join(LICENCES)}", field="licence")
    out: dict[str, str | None] = {}
    for name, cap in (("author", _MAX_AUTHOR), ("alt", _MAX_ALT)):
        value = _nth(form, name, i)
        if value is not None and forbidden_character(value):
            raise BadPhotoField(f"{name} holds a forbidden character", field=name)
        value = clean_text(value) if value else None
        if value and len(value) > cap:
            raise BadPhotoField(f"{name}: at most {cap} characters", field=name)
        out[name] = value or None
    return PhotoMeta(licence=licence, author=out["author"], alt=out["alt"])


def _refusal(exc: PhotoError, *, name: str, position: int, lang: str) -> dict[str, Any]:
    return {"position": position, "name": name, "code": exc.code,
            "detail": photo_message(exc.code, exc.params, name=name, position=position,
                                    lang=lang)}


def receive_photos(app: Flask, *, files: list[Any], tokens: list[Any],
                   form: Mapping[str, Any], lang: str, submission_id: int | None = None,
                   correction_id: int | None = None
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep and process the files, attach the uploaded ones: (accepted, refused).

    Direct files take positions 1.. in their order, then the uploaded ones; beyond
    ``PHOTO_MAX_PER_ITEM`` a photo is refused (``too_many_photos``) and not kept.
    """
    setup = photo_setup(app)
    accepted: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    with get_engine(app.config["DATABASE_URL"]).connect() as conn:
        for i, part in enumerate(files):
            position = i + 1
            name = _file_name(getattr(part, "filename", None), position)
            try:
                check_count(position, setup.max_per_item)
                meta = photo_meta(form, i)
            except PhotoError as exc:
                refused.append(_refusal(exc, name=name, position=position, lang=lang))
                continue
            data = part.read()
            got = receive_file(conn, data, name=name, meta=meta, public=setup.public,
                               quarantine=setup.quarantine, limits=setup.limits,
                               submission_id=submission_id, correction_id=correction_id,
                               position=position, processor=setup.process)
            if got.refusal is not None:
                refused.append(_refusal(got.refusal, name=name, position=position, lang=lang))
            else:
                assert got.processed is not None
                accepted.append({"position": position, "name": name,
                                 "width": got.processed.display.width,
                                 "height": got.processed.display.height,
                                 "media_type": got.processed.display.media_type})
        first = len(files) + 1
        room = max(0, setup.max_per_item - len(files))
        good = list(tokens[:room])
        _ids, unknown = attach_uploads(conn, good, submission_id=submission_id,
                                      correction_id=correction_id, first_position=first)
        bad_positions = {pos for pos, _, _ in unknown}
        for j, _token in enumerate(good):
            if first + j not in bad_positions:
                accepted.append({"position": first + j, "name": f"photo_ids[{j}]"})
        for pos, _, exc in unknown:
            refused.append(_refusal(exc, name=f"photo_ids[{pos - first}]", position=pos,
                                    lang=lang))
        for j in range(room, len(tokens)):
            refused.append(_refusal(TooManyPhotos(max=setup.max_per_item),
                                    name=f"photo_ids[{j}]", position=first + j, lang=lang))
    return accepted, refused


def _photo_ids(data: Any) -> list[Any]:
    ids = data.get("photo_ids") if isinstance(data, dict) else None
    return list(ids) if isinstance(ids, list) else []


def _json_part(form: MultiDict[str, str], files: MultiDict[str, Any], name: str,
               cap: int) -> bytes | None:
    part = files.get(name)
    if part is not None:
        raw = part.read(cap + 1)
    elif name in form:
        raw = form[name].encode()
    else:
        return None
    if len(raw) > cap:
        raise PayloadTooLarge(f"the {name} part is larger than {cap} bytes")
    return bytes(raw)


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _photos_problem(refused: list[dict[str, Any]], accepted: list[dict[str, Any]], *,
                    lang: str, extra: Mapping[str, Any], url: str | None) -> _Answer:
    headers = {**PRIVATE_HEADERS, "Content-Language": lang}
    if url:
        headers["Location"] = url
    return _problem(422, photos_title(lang), detail=photos_detail(refused, lang),
                    headers=headers, photos=accepted, photos_refused=refused, **extra)


def answer_multipart_submission(app: Flask, req: Request) -> _Answer:
    """A submission with photos: keep and queue it, then its photos; the answer."""
    lang = _lang(req)
    cfg = app.config
    try:
        form, files = _multipart(app, req)
        ckey = _client_key(app, req)
        guard = cfg.get("CLIENT_GUARD")
        if guard is not None:
            guard(req, ckey)
        idem = _idempotency_key(req, ckey)
        raw = _json_part(form, files, "submission", int(cfg["INGEST_MAX_BODY"]))
        if raw is not None:
            tokens = _photo_ids(_loads(raw))
            outcome = _intake(app, raw, source="api", content_type="application/json",
                              idem=idem, ckey=ckey, lang=lang)
        else:
            categories, _ = _state(app)
            fields = [(k, v) for k, v in form.items(multi=True)
                      if k not in ("licence", "author", "alt", "photo_ids")]
            raw = urlencode(fields).encode()
            tokens = form.getlist("photo_ids")
            outcome = _intake(app, raw, source="form",
                              content_type="application/x-www-form-urlencoded",
                              data=_form_data(form, categories), parsed=True, idem=idem,
                              ckey=ckey, lang=lang)
    except RequestRefused as exc:
        return _refused(exc, lang)
    uploads = [f for f in files.getlist("photos") if f.filename or f.content_length]
    return answer_with_photos(app, req, outcome, raw, lang=lang, uploads=uploads,
                              tokens=tokens, form=form)


def answer_with_photos(app: Flask, req: Request, outcome: Outcome, raw: bytes, *, lang: str,
                       uploads: list[Any], tokens: list[Any],
                       form: Mapping[str, Any]) -> _Answer:
    """Receive the photos of a kept submission, then answer for both."""
    if outcome.replayed or (outcome.tracking_token is None and not outcome.errors) \
            or not (uploads or tokens):
        return answer_after_intake(app, req, outcome, raw)  # photos came with the first
    accepted, refused = receive_photos(app, files=uploads, tokens=tokens, form=form,
                                       lang=lang, submission_id=outcome.id)
    if outcome.errors:
        categories, _ = _state(app)
        return invalid_answer(outcome.errors, category=_category_of(raw, categories),
                              lang=lang, submission_id=outcome.id, photos=accepted,
                              photos_refused=refused or None)
    url = _tracking_url(app, req, outcome.tracking_token)
    if refused:
        return _photos_problem(refused, accepted, lang=lang, url=url, extra={
            "submission_id": outcome.id, "submission_status": outcome.status,
            "tracking_url": url})
    body = {"id": outcome.id, "status": outcome.status, "tracking_url": url,
            "photos": accepted}
    return _Answer(201, json.dumps(body, ensure_ascii=False), "application/json",
                   {**PRIVATE_HEADERS, "Location": url})


def _tracking_url(app: Flask, req: Request, token: str | None) -> str:
    adapter = app.create_url_adapter(req)
    assert adapter is not None
    return adapter.build("ingestion.track_page", {"token": token}, force_external=True)


def _mentions_photo_ids(app: Flask, req: Request) -> bool:
    try:
        return b"photo_ids" in _read_body(app, req)
    except PayloadTooLarge:
        return False  # the JSON path answers 413


def _correction_photos_answer(feature_id: int) -> _Answer:
    """A correction with photos (multipart): kept and validated first, then its photos."""
    app, req = _here()
    lang = _lang(req)
    try:
        if is_multipart(req):
            form, files = _multipart(app, req)
            cap = int(app.config["INGEST_MAX_BODY"])
            raw = (_json_part(form, files, "correction", cap)
                   or _json_part(form, files, "submission", cap))
            if raw is None:
                raise MalformedBody("send the correction as JSON in a part named 'correction'")
            ctype: str | None = "application/json"
        else:
            form, files = MultiDict(), MultiDict()
            raw, ctype = _read_body(app, req), req.content_type
        ckey = _client_key(app, req)
        categories, _ = _state(app)
        uploads = [f for f in files.getlist("photos") if f.filename or f.content_length]
        tokens = _photo_ids(_loads(raw))
        with _engine().connect() as conn:
            outcome = receive_correction(
                conn, feature_id, raw, content_type=ctype, client_key=ckey,
                lang=lang, categories=categories,
                max_depth=int(app.config["INGEST_MAX_DEPTH"]),
                limit=tuple(parse_limit(app.config["INGEST_RATE_LIMIT"])),  # type: ignore[arg-type]
                with_photos=bool(uploads or tokens))
    except RequestRefused as exc:
        return _refused(exc, lang)
    if outcome is None:
        return _problem(404, "Not Found", detail=f"no published feature {feature_id}")
    accepted, refused = receive_photos(app, files=uploads, tokens=tokens,
                                       form=form, lang=lang, correction_id=outcome.id)
    if outcome.errors:
        with _engine().connect() as conn:
            slug = conn.execute(text("SELECT category FROM feature WHERE id = :i"),
                                {"i": feature_id}).scalar()
        return invalid_answer(outcome.errors, category=categories.get(slug or ""),
                              lang=lang, submission_id=outcome.id, photos=accepted,
                              photos_refused=refused or None)
    url = _tracking_url(app, req, outcome.tracking_token)
    if refused:
        return _photos_problem(refused, accepted, lang=lang, url=url, extra={
            "correction_id": outcome.id, "submission_status": outcome.status,
            "tracking_url": url})
    body = {"id": outcome.id, "status": outcome.status, "tracking_url": url,
            "photos": accepted}
    return _Answer(201, json.dumps(body, ensure_ascii=False), "application/json",
                   {**PRIVATE_HEADERS, "Location": url})


@bp.post(PHOTOS_PATH)
def upload_photo() -> Response:
    """Upload one photo ahead of its submission (slow networks): 201 with an opaque id.

    ``multipart/form-data`` with a file part ``photo`` and fields ``licence``
    (``CC-BY-SA-4.0`` or ``CC0-1.0``), ``author``, ``alt``. The answer's ``id`` goes
    into the submission's (or correction's) ``photo_ids``; only its holder can attach
    it (we keep its hash), once. A refused file is a 422 naming it and why.

    Each serving process handles ``PHOTO_DECODERS`` uploads at once; one more waits at
    most ``PHOTO_QUEUE_WAIT_S`` for its turn, then is a 503 with ``Retry-After`` (the
    map's form retries). Waiting longer would hold the server's threads, and the JSON
    submissions behind them would wait too (bench/bench_photos.py measured 13 s).
    """
    app, req = _here()
    lang = _lang(req)
    if not is_multipart(req):
        return problem(415, "Unsupported Media Type",
                       detail="send multipart/form-data with a file part named 'photo'")
    setup = photo_setup(app)
    if not setup.decoding.acquire(timeout=float(app.config.get("PHOTO_QUEUE_WAIT_S", 0.0))):
        _drain(req, setup.max_request)
        return problem(503, "Service Unavailable", detail=busy_text(lang),
                       headers={"Retry-After": "5", "Content-Language": lang})
    try:
        return _upload_photo(app, req, lang, setup)
    finally:
        setup.decoding.release()


def _drain(req: Request, cap: int) -> None:
    """Read the body we will not use, so the client reads our answer.

    A server that closes a socket with unread request bytes makes the kernel reset the
    connection, and a phone still sending sees a network error instead of the 503 that
    tells it when to retry.
    """
    if req.content_length is None or req.content_length > cap:
        return
    with contextlib.suppress(OSError, RequestEntityTooLarge):
        while req.stream.read(1 << 16):
            pass


def busy_text(lang: str) -> str:
    """"Busy: your photo will be sent again in a moment", in ``lang``."""
    if lang == "en":
        return "Many photos are arriving right now: send yours again in a few seconds."
    return "Beaucoup de photos arrivent en ce moment : renvoyez la vôtre dans quelques secondes."


def _upload_photo(app: Flask, req: Request, lang: str, setup: PhotoSetup) -> Response:
    try:
        form, files = _multipart(app, req)
        ckey = _client_key(app, req)
        guard = app.config.get("CLIENT_GUARD")
        if guard is not None:
            guard(req, ckey)
    except RequestRefused as exc:
        return _refused(exc, lang).response()
    part = files.get("photo")
    if part is None:
        return problem(400, "Bad Request", detail="a file part named 'photo' is required",
                       invalid_params=[{"name": "photo", "reason": "a file part"}])
    limit = parse_limit(app.config["PHOTO_UPLOAD_RATE_LIMIT"])
    with Session(_engine()) as session:
        check = hit(session, ckey, limit, bucket="photo")
        session.commit()
    if not check.allowed:
        return problem(429, "Too Many Requests", detail=retry_text(check.retry_after, lang),
                       headers={"Retry-After": str(check.retry_after)})
    name = _file_name(part.filename, 1)
    try:
        meta = photo_meta(form, 0)
    except BadPhotoField as exc:
        field_name = str(exc.params.get("field", ""))
        return problem(422, photos_title(lang), detail=exc.detail,
                       invalid_params=[{"name": field_name, "reason": exc.detail}],
                       headers={"Content-Language": lang})
    token = new_upload_token()
    data = part.read()
    with _engine().connect() as conn:  # the caller holds a decoder
        got = receive_file(conn, data, name=name, meta=meta, public=setup.public,
                           quarantine=setup.quarantine, limits=setup.limits,
                           upload_token=token, processor=setup.process)
    if got.refusal is not None:
        refused = [_refusal(got.refusal, name=name, position=1, lang=lang)]
        return problem(422, photos_title(lang), detail=refused[0]["detail"],
                       photos_refused=refused, headers={"Content-Language": lang,
                                                        "Cache-Control": "no-store"})
    assert got.processed is not None
    body = {"id": token, "width": got.processed.display.width,
            "height": got.processed.display.height,
            "media_type": got.processed.display.media_type}
    response = Response(json.dumps(body), status=201, mimetype="application/json")
    response.headers.update(PRIVATE_HEADERS)
    return response
