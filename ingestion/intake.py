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
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.areas import locate
from geo.models import Submission, SubmissionStatus

from .categories import CategorySpec
from .duplicates import find_duplicate
from .errors import IdempotencyMismatch, MalformedBody, RateLimited, UnsupportedMediaType
from .ratelimit import Limit, RateCheck, hit
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
    "submit",
]

JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class IntakeSettings:
    """Knobs of the intake, with the product's defaults."""

    max_depth: int = 16
    duplicate_distance_m: float = 50.0
    duplicate_similarity: float = 0.4
    spam_rules: Sequence[str] = DEFAULT_RULES
    validation: ValidationConfig = field(default_factory=ValidationConfig)


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


def receive(engine: Engine, raw: bytes, *, source: str, content_type: str | None,
            client_key: str | None, idempotency_key: str | None = None,
            limit: Limit | None = None) -> tuple[int | None, RateCheck | None]:
    """Count the request against ``limit``, then commit the body exactly as received.

    One transaction does both, so a submission costs a single commit here. Returns the
    new id and the rate check; the id is ``None`` when the client is over its limit
    (nothing stored but the count) or when ``idempotency_key`` was already used by
    ``source`` (the caller then replays the first answer).
    """
    with Session(engine) as session:
        check = None
        if limit is not None and client_key:
            check = hit(session, client_key, limit)
            if not check.allowed:
                session.commit()
                return None, check
        sub = Submission(source=source, raw=raw, content_type=content_type,
                         client_key=client_key, idempotency_key=idempotency_key,
                         status=SubmissionStatus.received)
        session.add(sub)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if idempotency_key is None:
                raise
            return None, check
        return sub.id, check


def _tracking_token(secret: str | bytes | None, idempotency_key: str | None) -> str:
    if secret and idempotency_key:
        # A retry with the same key must get the same link back, yet the link stays
        # unguessable: it is derived from the server's secret.
        key = secret.encode() if isinstance(secret, str) else secret
        mac = hmac.new(key, b"tracking\0" + idempotency_key.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")
    return secrets.token_urlsafe(24)


def mark_invalid(engine: Engine, submission_id: int, errors: list[FieldError]) -> Outcome:
    """Keep a refused submission with its reasons (it is never deleted)."""
    errs = [e.as_json() for e in errors]
    with Session(engine) as session, session.begin():
        sub = session.get(Submission, submission_id)
        assert sub is not None
        sub.status = SubmissionStatus.invalid
        sub.errors = errs
    return Outcome(submission_id, SubmissionStatus.invalid.value, errs)


def _queue(session: Session, sub: Submission, record: Record, *, settings: IntakeSettings,
           recent_from_client: int, token: str | None) -> None:
    where = locate(session, record.lon, record.lat)
    sub.category, sub.title, sub.description = record.category, record.title, record.description
    sub.starts_at, sub.ends_at, sub.email = record.starts_at, record.ends_at, record.email
    sub.attributes = dict(record.attributes)
    sub.geom = func.ST_SetSRID(func.ST_MakePoint(record.lon, record.lat), 4326)
    sub.arrondissement_id = where.arrondissement.id if where.arrondissement else None
    sub.quartier_id = where.quartier.id if where.quartier else None
    sub.possible_duplicate_of = find_duplicate(
        session, category=record.category, lon=record.lon, lat=record.lat, title=record.title,
        distance_m=settings.duplicate_distance_m, threshold=settings.duplicate_similarity)
    sub.spam_score, sub.spam_reasons = score(SpamContext(record, recent_from_client),
                                             settings.spam_rules)
    sub.tracking_token_hash = hash_token(token) if token else None
    sub.status = SubmissionStatus.pending
    sub.errors = None


def process(engine: Engine, submission_id: int, data: Any, *,
            categories: Mapping[str, CategorySpec], area: ServiceArea | None,
            settings: IntakeSettings, now: datetime | None = None,
            recent_from_client: int = 0, secret: str | bytes | None = None,
            idempotency_key: str | None = None) -> Outcome:
    """Validate a received submission and queue it (pending) or keep it as invalid."""
    now = now or datetime.now(UTC)
    result = validate_submission(data, categories=categories, area=area, now=now,
                                 config=settings.validation)
    if isinstance(result, list):
        return mark_invalid(engine, submission_id, result)
    token = _tracking_token(secret, idempotency_key)
    with Session(engine) as session, session.begin():
        sub = session.get(Submission, submission_id)
        assert sub is not None
        _queue(session, sub, result, settings=settings,
               recent_from_client=recent_from_client, token=token)
    return Outcome(submission_id, SubmissionStatus.pending.value, [], token)


def replay(engine: Engine, *, source: str, idempotency_key: str, raw: bytes,
           secret: str | bytes | None) -> Outcome | None:
    """The first answer to a retried request, or ``None`` if the body differs."""
    with Session(engine) as session:
        sub = session.scalars(select(Submission).where(
            Submission.source == source,
            Submission.idempotency_key == idempotency_key)).one()
        if sub.raw != raw:
            return None
        status = str(sub.status)
        token = None
        if status not in (SubmissionStatus.invalid.value, SubmissionStatus.received.value):
            token = _tracking_token(secret, idempotency_key)
        return Outcome(sub.id, status, list(sub.errors or []), token, replayed=True)


def submit(engine: Engine, raw: bytes, *, source: str, content_type: str | None,
           client_key: str | None, categories: Mapping[str, CategorySpec],
           area: ServiceArea | None, settings: IntakeSettings,
           idempotency_key: str | None = None, secret: str | bytes | None = None,
           limit: Limit | None = None, data: Any = None, parsed: bool = False) -> Outcome:
    """The whole intake of one JSON (or already-parsed form) submission.

    Raises
    ------
    RateLimited
        The client is over ``limit``; nothing was stored but the count.
    UnsupportedMediaType, MalformedBody
        With ``submission_id`` set: the body was kept and marked invalid first.
    IdempotencyMismatch
        The key was used before with another body.
    """
    sid, check = receive(engine, raw, source=source, content_type=content_type,
                         client_key=client_key, idempotency_key=idempotency_key, limit=limit)
    if check is not None and not check.allowed:
        assert limit is not None
        raise RateLimited(f"too many submissions: at most {limit.count} every "
                          f"{limit.seconds} s; try again later", retry_after=check.retry_after)
    if sid is None:
        assert idempotency_key is not None
        first = replay(engine, source=source, idempotency_key=idempotency_key, raw=raw,
                       secret=secret)
        if first is None:
            raise IdempotencyMismatch()
        return first
    if not parsed:
        try:
            data = parse_strict_json(raw, content_type, max_depth=settings.max_depth)
        except (UnsupportedMediaType, MalformedBody) as exc:
            mark_invalid(engine, sid, [FieldError("", type(exc).__name__, exc.detail)])
            exc.submission_id = sid
            raise
    return process(engine, sid, data, categories=categories, area=area, settings=settings,
                   recent_from_client=check.hits if check else 0, secret=secret,
                   idempotency_key=idempotency_key)
