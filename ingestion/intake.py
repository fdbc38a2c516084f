"""Intake: keep the raw bytes, then validate, then queue as pending or keep as invalid.

Shared by the JSON API, the residents' form and (row by row, in bulk) the importers.
Order matters and is the product's promise: the body is committed as received
(``status = 'received'``) *before* anything parses it, so whatever fails afterwards,
nothing sent to us is lost; the second transaction records what validation made of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import random
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, Engine

from geo.areas import SLIVER_TOLERANCE_DEG, area_ids_sql
from geo.models import SubmissionStatus

from .categories import CategorySpec
from .errors import IdempotencyMismatch, MalformedBody, RateLimited, UnsupportedMediaType
from .ratelimit import Limit, RateCheck, purge
from .spam import DEFAULT_RULES, SpamContext, score
from .types import FieldError, Record
from .validation import ServiceArea, ValidationConfig, validate_submission

__all__ = [
    "IntakeSettings",
    "Outcome",
    "hash_token",
    "mark_invalid",
    "parse_strict_json",
    "process",
    "receive",
    "replay",
    "revalidate",
    "submit",
]

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class IntakeSettings:
    """Knobs of the intake, with the product's defaults."""

    max_depth: int = 16
    duplicate_distance_m: float = 50.0
    duplicate_similarity: float = 0.4
    spam_rules: Sequence[str] = DEFAULT_RULES
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    double_submit_s: float = 10.0
    """A resubmission of the same body by the same client within this window (seconds,
    0: off) gets the first answer, as if it had carried the same ``Idempotency-Key``."""


class Outcome(NamedTuple):
    """What happened to one submission."""

    id: int
    status: str
    errors: list[dict[str, str]]
    tracking_token: str | None = None
    replayed: bool = False


def hash_token(token: str) -> bytes:
    """SHA-256 of a tracking token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).digest()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(s: str) -> float:
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(f"number {s[:20]} overflows")
    return value


def _bounded_int(s: str) -> int:
    if len(s.lstrip("-")) > 18:
        raise ValueError("integer too large")
    return int(s)


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def parse_strict_json(raw: bytes, content_type: str | None, *, max_depth: int = 16) -> Any:
    """Parse a body as strict JSON.

    Raises
    ------
    UnsupportedMediaType
        Not ``application/json`` (or a ``+json`` type).
    MalformedBody
        Not UTF-8, not JSON, NaN/Infinity, a number that overflows, duplicate keys are
        allowed (last wins, as RFC 8259 permits), nesting deeper than ``max_depth``.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime not in JSON_TYPES and not mime.endswith("+json"):
        raise UnsupportedMediaType(f"send application/json, not {mime or 'no content type'}")
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the body is not valid UTF-8 (byte {exc.start})") from exc
    if body.startswith("\ufeff"):
        body = body[1:]
    try:
        data = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
    except RecursionError as exc:
        raise MalformedBody(f"JSON nested deeper than {max_depth} levels") from exc
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from exc
    except ValueError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from exc
    if _depth(data, max_depth) > max_depth:
        raise MalformedBody(f"JSON nested deeper than {max_depth} levels")
    return data


# The SQL below is in the driver's paramstyle (``%(name)s``): the request path runs it on
# a bare psycopg connection in autocommit (one round trip per statement, no BEGIN/COMMIT,
# server-side prepared), and :func:`_run` runs the same text through SQLAlchemy
# (``exec_driver_sql``) for callers holding a SQLAlchemy connection.
_RECEIVE = """
    WITH rl AS (
      INSERT INTO rate_counter (client_key, bucket, window_start)
      SELECT CAST(%(key)s AS text), 'submit',
             to_timestamp(floor(extract(epoch FROM clock_timestamp()) / %(seconds)s)
                          * %(seconds)s)
      WHERE CAST(%(key)s AS text) IS NOT NULL AND %(seconds)s > 0
      ON CONFLICT (client_key, bucket, window_start) DO UPDATE SET hits = rate_counter.hits + 1
      RETURNING hits,
        ceil(extract(epoch FROM window_start + make_interval(secs => %(seconds)s)
                                - clock_timestamp()))::int AS retry_after
    ), ins AS (
      INSERT INTO submission (source, raw, content_type, client_key, idempotency_key, status)
      SELECT %(source)s, %(raw)s, %(ctype)s, %(key)s, %(idem)s, 'received'
      WHERE coalesce((SELECT hits FROM rl), 0) <= %(max_hits)s
      ON CONFLICT (source, idempotency_key) DO NOTHING
      RETURNING id
    )
    SELECT (SELECT id FROM ins), (SELECT hits FROM rl), (SELECT retry_after FROM rl)
"""

_INVALID = """
    UPDATE submission SET status = 'invalid', errors = CAST(%(errors)s AS jsonb)
    WHERE id = %(id)s
"""

# Placing and duplicate search in the same statement as the update: one round trip.
# ST_Intersects uses the GiST index; the few-m² slivers between boundaries fall back to
# the nearest area within geo.areas' tolerance.
_QUEUE = f"""
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt)
    UPDATE submission SET
      status = 'pending', errors = NULL, category = %(category)s, title = %(title)s,
      description = %(description)s, starts_at = %(starts_at)s, ends_at = %(ends_at)s,
      email = %(email)s, attributes = CAST(%(attributes)s AS jsonb), geom = p.pt,
      area_ids = {area_ids_sql("p.pt", "%(tol)s")},
      possible_duplicate_of = (
        SELECT f.id FROM feature f
        WHERE f.status = 'published' AND f.category = %(category)s
          AND ST_DWithin(f.geom, p.pt, %(deg)s)
          AND ST_DWithin(f.geom::geography, p.pt::geography, %(metres)s)
          AND similarity(title_skeleton(f.title), title_skeleton(%(title)s)) >= %(threshold)s
        ORDER BY similarity(title_skeleton(f.title), title_skeleton(%(title)s)) DESC, f.id
        LIMIT 1),
      possible_duplicate_submission_id = (
        SELECT o.id FROM submission o
        WHERE o.status = 'pending' AND o.category = %(category)s AND o.id <> %(id)s
          AND ST_DWithin(o.geom, p.pt, %(deg)s)
          AND ST_DWithin(o.geom::geography, p.pt::geography, %(metres)s)
          AND similarity(title_skeleton(o.title), title_skeleton(%(title)s)) >= %(threshold)s
        ORDER BY similarity(title_skeleton(o.title), title_skeleton(%(title)s)) DESC, o.id
        LIMIT 1),
      spam_score = %(spam_score)s, spam_reasons = CAST(%(spam_reasons)s AS jsonb),
      tracking_token_hash = %(token_hash)s, lang = %(lang)s
    FROM p
    WHERE submission.id = %(id)s
"""  # noqa: S608 (constant fragments)

_REPLAY = """
    SELECT id, status::text, errors, raw FROM submission
    WHERE source = %(source)s AND idempotency_key = %(idem)s
"""

Conn = Connection | psycopg.Connection[Any]


def _run(conn: Conn, sql: str, params: Mapping[str, Any]) -> Any:
    """Execute ``sql``: prepared on a bare psycopg connection, else through SQLAlchemy.

    Returns the first row, or ``None`` (no row, or a statement that returns none).
    """
    if isinstance(conn, Connection):
        result = conn.exec_driver_sql(sql, dict(params))
        return result.one_or_none() if result.returns_rows else None
    cur = conn.execute(sql, params, prepare=True)
    return cur.fetchone() if cur.description is not None else None


def _commit(conn: Conn) -> None:
    """Commit, unless the connection commits every statement itself (autocommit)."""
    if isinstance(conn, Connection) or not conn.autocommit:
        conn.commit()


def receive(conn: Conn, raw: bytes, *, source: str, content_type: str | None,
            client_key: str | None, idempotency_key: str | None = None,
            limit: Limit | None = None) -> tuple[int | None, RateCheck | None]:
    """Count the request against ``limit`` and commit the body exactly as received.

    One statement and one commit do both (in autocommit, one round trip). Returns the
    new id and the rate check; the id is ``None`` when the client is over its limit
    (nothing stored but the count) or when ``idempotency_key`` was already used by
    ``source`` (the caller then replays the first answer).
    """
    counted = limit is not None and client_key is not None
    sid, hits, retry = _run(conn, _RECEIVE, {
        "key": client_key if counted else None, "seconds": limit.seconds if limit else 0,
        "max_hits": limit.count if counted and limit else 1 << 30, "source": source,
        "raw": raw, "ctype": content_type, "idem": idempotency_key})
    _commit(conn)
    if counted and limit is not None and random.random() < 0.001:  # noqa: S311 - housekeeping
        purge(conn, limit)
        _commit(conn)
    check = None
    if counted and limit is not None and hits is not None:
        check = RateCheck(hits=hits, allowed=hits <= limit.count, retry_after=max(1, retry))
    if sid is None and check is None and idempotency_key is None:
        raise RuntimeError("the submission was not stored")  # cannot happen: no conflict
    return sid, check


def _tracking_token(secret: str | bytes | None, idempotency_key: str | None) -> str:
    if secret and idempotency_key:
        # A retry with the same key must get the same link back, yet the link stays
        # unguessable: it is derived from the server's secret.
        key = secret.encode() if isinstance(secret, str) else secret
        mac = hmac.new(key, b"tracking\0" + idempotency_key.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")
    return secrets.token_urlsafe(24)


def _unstorable(text: str) -> bool:
    """Whether PostgreSQL's ``text``/``jsonb`` refuses ``text`` (NUL, lone surrogates)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable(value: Any) -> Any:
    r"""``value`` with NUL and lone surrogates written out as ``\x00``/``\udXXX``.

    Error messages quote what the client sent; what the client sent may hold characters
    PostgreSQL cannot store (``\u0000`` in ``jsonb``, surrogates in UTF-8). The reason
    a submission was refused must always be storable, or the refusal itself fails.
    """
    if isinstance(value, str):
        if not _unstorable(value):
            return value
        return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def unstorable_pointer(value: Any, pointer: str = "") -> str | None:
    """The JSON pointer of the first key or string PostgreSQL could not store, if any."""
    if isinstance(value, str):
        return pointer if _unstorable(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{pointer}/{str(k).replace('~', '~0').replace('/', '~1')}"
            if isinstance(k, str) and _unstorable(k):
                return here
            found = unstorable_pointer(v, here)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = unstorable_pointer(v, f"{pointer}/{i}")
            if found is not None:
                return found
    return None


def _unstorable_error(pointer: str) -> FieldError:
    return FieldError(pointer, "unstorable_character",
                      "contient un caractère qui ne peut pas être enregistré (NUL ou "
                      "surrogate isolé) / contains a character that cannot be stored "
                      "(NUL or a lone surrogate)")


def _in_transaction(conn: Conn) -> bool:
    """Whether a statement failing on ``conn`` would abort a transaction still open."""
    if isinstance(conn, psycopg.Connection):
        return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return True


def _refused_by_database(exc: Exception) -> FieldError:
    return FieldError("", "unstorable", "refusé par la base de données / refused by the "
                                        f"database: {type(exc).__name__}")


def mark_invalid(conn: Conn, submission_id: int, errors: list[FieldError]) -> Outcome:
    """Keep a refused submission with its reasons (it is never deleted)."""
    errs = [storable(e.as_json()) for e in errors]
    _run(conn, _INVALID, {"id": submission_id, "errors": json.dumps(errs, ensure_ascii=False)})
    _commit(conn)
    return Outcome(submission_id, SubmissionStatus.invalid.value, errs)


def _queue(conn: Conn, submission_id: int, record: Record, *, settings: IntakeSettings,
           recent_from_client: int, token: str | None, lang: str | None = None) -> None:
    spam, reasons = score(SpamContext(record, recent_from_client), settings.spam_rules)
    metres = settings.duplicate_distance_m
    _run(conn, _QUEUE, {
        "id": submission_id, "lon": record.lon, "lat": record.lat, "category": record.category,
        "title": record.title, "description": record.description,
        "starts_at": record.starts_at, "ends_at": record.ends_at, "email": record.email,
        "attributes": json.dumps(dict(record.attributes), ensure_ascii=False),
        "tol": SLIVER_TOLERANCE_DEG, "metres": metres,
        "deg": metres / (111_320.0 * max(math.cos(math.radians(record.lat)), 0.01)) * 1.01,
        "threshold": settings.duplicate_similarity, "spam_score": spam,
        "spam_reasons": json.dumps(reasons, ensure_ascii=False),
        "token_hash": hash_token(token) if token else None, "lang": lang})
    _commit(conn)


def process(conn: Conn, submission_id: int, data: Any, *,
            categories: Mapping[str, CategorySpec], area: ServiceArea | None,
            settings: IntakeSettings, now: datetime | None = None,
            recent_from_client: int = 0, secret: str | bytes | None = None,
            idempotency_key: str | None = None, lang: str | None = None) -> Outcome:
    """Validate a received submission and queue it (pending) or keep it as invalid."""
    now = now or datetime.now(UTC)
    result = validate_submission(data, categories=categories, area=area, now=now,
                                 config=settings.validation)
    if isinstance(result, list):
        return mark_invalid(conn, submission_id, result)
    pointer = unstorable_pointer({
        "title": result.title, "description": result.description, "email": result.email,
        "category": result.category, "attributes": dict(result.attributes)})
    if pointer is not None:  # validation let it through; the database would refuse it
        return mark_invalid(conn, submission_id, [_unstorable_error(pointer)])
    token = _tracking_token(secret, idempotency_key)
    try:
        _queue(conn, submission_id, result, settings=settings,
               recent_from_client=recent_from_client, token=token, lang=lang)
    except psycopg.DataError as exc:  # a value PostgreSQL refuses: kept invalid, with why
        if _in_transaction(conn):
            raise  # inside a transaction: the caller's savepoint (``revalidate``) handles it
        return mark_invalid(conn, submission_id, [_refused_by_database(exc)])
    return Outcome(submission_id, SubmissionStatus.pending.value, [], token)


def replay(conn: Conn, *, source: str, idempotency_key: str, raw: bytes,
           secret: str | bytes | None) -> Outcome | None:
    """The first answer to a retried request, or ``None`` if the body differs."""
    sid, status, errors, first_raw = _run(conn, _REPLAY, {"source": source,
                                                          "idem": idempotency_key})
    _commit(conn)
    if bytes(first_raw) != raw:
        return None
    token = None
    if status not in (SubmissionStatus.invalid.value, SubmissionStatus.received.value):
        token = _tracking_token(secret, idempotency_key)
    return Outcome(sid, status, list(errors or []), token, replayed=True)


def implicit_idempotency_key(raw: bytes, client_key: str | None, window_s: float,
                             now: float | None = None) -> str | None:
    """The key a double submit shares with the first request (``None``: no client or off).

    A double click, a reload of the form's answer or a client's blind retry sends the
    same body again within seconds; without an ``Idempotency-Key`` that made two items.
    The same client's same bytes within the same ``window_s``-long slot share this key,
    so the second request is answered with the first one's answer (the unique index on
    ``(source, idempotency_key)`` settles two concurrent ones). Slots are fixed: a pair
    straddling a slot's edge is two submissions, which moderation's duplicate detection
    still links.
    """
    if client_key is None or window_s <= 0:
        return None
    slot = int((time.time() if now is None else now) // window_s)
    digest = hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"implicit\0{client_key}\0{slot}\0{digest}".encode()).hexdigest()


def _refuse_again(first: Outcome) -> None:
    """A replay of a body refused before validation is refused the same way (415, 400)."""
    if first.status != SubmissionStatus.invalid.value or len(first.errors) != 1:
        return
    code = first.errors[0].get("code")
    for refusal in (UnsupportedMediaType, MalformedBody):
        if code == refusal.__name__:
            exc = refusal(first.errors[0].get("detail", ""), submission_id=first.id)
            raise exc


def submit(engine: Engine, raw: bytes, *, source: str, content_type: str | None,
           client_key: str | None, categories: Mapping[str, CategorySpec],
           area: ServiceArea | None, settings: IntakeSettings,
           idempotency_key: str | None = None, secret: str | bytes | None = None,
           limit: Limit | None = None, data: Any = None, parsed: bool = False,
           lang: str | None = None) -> Outcome:
    """The whole intake of one JSON (or already-parsed form) submission.

    Runs on the bare psycopg connection under ``engine``'s pool: with an autocommit
    engine (:func:`geo.db.hot_engine`, what the web views use) that is two round trips
    for a valid submission, each its own durable commit. If the connection turns out
    to be broken when the body is first sent (a server restart while it sat in the
    pool), it is replaced and the body sent again, once.

    Raises
    ------
    RateLimited
        The client is over ``limit``; nothing was stored but the count.
    UnsupportedMediaType, MalformedBody
        With ``submission_id`` set: the body was kept and marked invalid first.
    IdempotencyMismatch
        The key was used before with another body.
    """
    if idempotency_key is None:
        idempotency_key = implicit_idempotency_key(raw, client_key, settings.double_submit_s)
    pooled = engine.raw_connection()
    try:
        conn = pooled.driver_connection
        try:
            sid, check = receive(conn, raw, source=source, content_type=content_type,
                                 client_key=client_key, idempotency_key=idempotency_key,
                                 limit=limit)
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            # Lost with the connection: at worst the body was stored and is stored again
            # (kept twice, never lost). A server restart broke every idle connection of
            # the pool, not only this one: they are all dropped, so that neither this
            # retry nor the next requests meet another dead one.
            pooled.invalidate()
            pooled.close()
            engine.dispose()
            pooled = engine.raw_connection()
            conn = pooled.driver_connection
            sid, check = receive(conn, raw, source=source, content_type=content_type,
                                 client_key=client_key, idempotency_key=idempotency_key,
                                 limit=limit)
        return _after_receive(conn, sid, check, raw, content_type=content_type,
                              categories=categories, area=area, settings=settings,
                              idempotency_key=idempotency_key, secret=secret, limit=limit,
                              source=source, data=data, parsed=parsed, lang=lang)
    finally:
        pooled.close()


def _after_receive(conn: Conn, sid: int | None, check: RateCheck | None, raw: bytes, *,
                   source: str, content_type: str | None,
                   categories: Mapping[str, CategorySpec], area: ServiceArea | None,
                   settings: IntakeSettings, idempotency_key: str | None,
                   secret: str | bytes | None, limit: Limit | None, data: Any,
                   parsed: bool, lang: str | None = None) -> Outcome:
    if check is not None and not check.allowed:
        assert limit is not None
        raise RateLimited(f"too many submissions: at most {limit.count} every "
                          f"{limit.seconds} s; try again later", retry_after=check.retry_after)
    if sid is None:
        assert idempotency_key is not None
        first = replay(conn, source=source, idempotency_key=idempotency_key, raw=raw,
                       secret=secret)
        if first is None:
            raise IdempotencyMismatch()
        _refuse_again(first)
        return first
    if not parsed:
        try:
            data = parse_strict_json(raw, content_type, max_depth=settings.max_depth)
        except (UnsupportedMediaType, MalformedBody) as exc:
            mark_invalid(conn, sid, [FieldError("", type(exc).__name__, exc.detail)])
            exc.submission_id = sid
            raise
    if isinstance(data, dict) and "photo_ids" in data:  # photos: attached by the caller
        data = {k: v for k, v in data.items() if k != "photo_ids"}
    return process(conn, sid, data, categories=categories, area=area, settings=settings,
                   recent_from_client=check.hits if check else 0, secret=secret,
                   idempotency_key=idempotency_key, lang=lang)


def revalidate(conn: Conn, submission_id: int, raw: bytes, *, source: str,
               content_type: str | None, categories: Mapping[str, CategorySpec],
               area: ServiceArea | None, settings: IntakeSettings,
               idempotency_key: str | None = None, secret: str | bytes | None = None,
               data: Any = None, parsed: bool = False) -> Outcome | None:
    """Validate a submission stored as received but never validated (see ``receive``).

    What the request would have done after its first commit: parse, validate, queue or
    keep as invalid. Returns ``None`` when the body was not JSON (it is then kept as
    invalid, with the reason). Never raises for what the row holds: a row that cannot
    be validated or stored (a value PostgreSQL refuses, a validator that fails on it)
    is kept as invalid with the reason, so one bad row never stalls the catch-up. On a
    bare psycopg connection inside a transaction each row is its own savepoint.
    """
    def attempt() -> Outcome | None:
        try:
            return _after_receive(conn, submission_id, None, raw, source=source,
                                  content_type=content_type, categories=categories,
                                  area=area, settings=settings,
                                  idempotency_key=idempotency_key, secret=secret,
                                  limit=None, data=data, parsed=parsed)
        except (UnsupportedMediaType, MalformedBody):
            return None

    try:
        if _in_transaction(conn):
            assert isinstance(conn, psycopg.Connection)
            with conn.transaction():  # a savepoint: a refused statement undoes this row only
                return attempt()
        return attempt()
    except psycopg.OperationalError:
        raise  # the database is gone: the row stays received for the next pass
    except (psycopg.DataError, ValueError, TypeError, KeyError, OverflowError) as exc:
        log.warning("submission %s cannot be validated: %s: %s", submission_id,
                    type(exc).__name__, exc)
        return mark_invalid(conn, submission_id, [_refused_by_database(exc) if isinstance(
            exc, psycopg.DataError) else FieldError(
            "", "unvalidatable", f"ne peut pas être validée / cannot be validated: "
                                 f"{type(exc).__name__}")])
