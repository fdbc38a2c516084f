"""The ``photo`` table's queries, and the one way a received file becomes a photo.

:func:`receive_file` is the promise of issue 19 in order: the file is written to the
quarantine store and its row committed (``quarantined``) *before* anything decodes it;
then it is processed; the public derivatives are written (atomically) and only then is
the row marked ``ready``; a refusal marks the row ``refused`` with its code and writes
nothing public. Whatever fails, what the resident sent is kept.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection` and commits what it
must have durable (the caller's request has nothing else open on it).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from .errors import PhotoRefused, TooManyPhotos, Truncated, UnknownPhoto
from .processing import Limits, Processed, process
from .storage import Storage

__all__ = [
    "LICENCES",
    "PhotoMeta",
    "Received",
    "attach_uploads",
    "check_count",
    "hash_upload_token",
    "keys_in_use",
    "link_correction",
    "link_submission",
    "new_upload_token",
    "photos_of",
    "public_key",
    "receive_file",
    "tidy",
    "unlink_submission",
]

LICENCES = ("CC-BY-SA-4.0", "CC0-1.0")


@dataclass(frozen=True)
class PhotoMeta:
    """What the resident said about a photo: licence, credit, description."""

    licence: str = "CC-BY-SA-4.0"
    author: str | None = None
    alt: str | None = None


@dataclass(frozen=True)
class Received:
    """One received file: its row, and the refusal if it was refused."""

    id: int
    name: str
    position: int | None
    processed: Processed | None
    refusal: PhotoRefused | None


def hash_upload_token(token: str) -> str:
    """The hex SHA-256 we keep of an upload token (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


_INSERT = text("""
    INSERT INTO photo (submission_id, correction_id, upload_token_hash, status,
                       original_name, original_sha256, licence, author, alt, position)
    VALUES (:sid, :cid, :tok, 'quarantined', :name, :sha, :licence, :author, :alt, :pos)
    RETURNING id
""")
_READY = text("""
    UPDATE photo SET status = 'ready', media_type = :mt, width = :w, height = :h,
           display_key = :dk, thumb_key = :tk
    WHERE id = :id AND status = 'quarantined'
""")
_REFUSED = text("""
    UPDATE photo SET status = 'refused', refusal_reason = :code
    WHERE id = :id AND status = 'quarantined'
""")


def receive_file(conn: Connection, data: bytes, *, name: str, meta: PhotoMeta,
                 public: Storage, quarantine: Storage, limits: Limits,
                 submission_id: int | None = None, correction_id: int | None = None,
                 position: int | None = None, upload_token: str | None = None,
                 processor: Callable[[bytes, Limits], Processed] = process) -> Received:
    """Keep, then process one file; never raises for what the file holds.

    The original goes to ``quarantine`` under ``<sha256>.orig`` (content-addressed: the
    same file sent twice is kept once); a file larger than ``limits.max_bytes`` is
    not kept (its size is the reason it is refused, and keeping it is the abuse).
    ``processor`` runs :func:`~photos.processing.process` (the web app passes one that
    runs it on its low-priority decoding thread).
    """
    sha = hashlib.sha256(data).hexdigest()
    if len(data) <= limits.max_bytes:
        quarantine.put(f"{sha}.orig", data)
    pid = conn.execute(_INSERT, {
        "sid": submission_id, "cid": correction_id,
        "tok": hash_upload_token(upload_token) if upload_token else None,
        "name": name[:255], "sha": sha, "licence": meta.licence, "author": meta.author,
        "alt": meta.alt, "pos": position}).scalar_one()
    conn.commit()
    try:
        result = processor(data, limits)
    except PhotoRefused as exc:
        conn.execute(_REFUSED, {"id": pid, "code": exc.code})
        conn.commit()
        return Received(pid, name, position, None, exc)
    public.put(result.thumb.key, result.thumb.data)
    public.put(result.display.key, result.display.data)
    conn.execute(_READY, {"id": pid, "mt": result.display.media_type,
                          "w": result.display.width, "h": result.display.height,
                          "dk": result.display.key, "tk": result.thumb.key})
    conn.commit()
    return Received(pid, name, position, result, None)


def new_upload_token() -> str:
    """An opaque random id for a photo uploaded ahead of its submission."""
    return secrets.token_urlsafe(24)


_ATTACH = text("""
    UPDATE photo SET submission_id = :sid, correction_id = :cid, position = :pos
    WHERE upload_token_hash = :h AND submission_id IS NULL AND correction_id IS NULL
      AND status = 'ready'
    RETURNING id
""")


def attach_uploads(conn: Connection, tokens: Sequence[str], *, submission_id: int | None = None,
                   correction_id: int | None = None, first_position: int = 0
                   ) -> tuple[list[int], list[tuple[int, str, UnknownPhoto]]]:
    """Attach photos uploaded ahead (by their tokens) to a submission or correction.

    Only the holder of a token can attach its photo, once; a token that names no ready,
    unattached photo is answered with its position and :class:`UnknownPhoto`.
    Returns the attached ids and the refused ``(position, token prefix, error)``.
    """
    attached: list[int] = []
    refused: list[tuple[int, str, UnknownPhoto]] = []
    for i, token in enumerate(tokens):
        pos = first_position + i
        pid = None
        if isinstance(token, str) and 16 <= len(token) <= 64:
            pid = conn.execute(_ATTACH, {"sid": submission_id, "cid": correction_id,
                                         "pos": pos, "h": hash_upload_token(token)}).scalar()
        if pid is None:
            refused.append((pos, str(token)[:8], UnknownPhoto(
                "no uploaded photo has this id (or it is already attached)")))
        else:
            attached.append(pid)
    conn.commit()
    return attached, refused


def check_count(count: int, maximum: int) -> None:
    """Refuse more than ``maximum`` photos on one item."""
    if count > maximum:
        raise TooManyPhotos(f"at most {maximum} photos per item ({count} sent)",
                            max=maximum, n=count)


_LINK_SUBMISSION = text("""
    UPDATE photo SET feature_id = :f
    WHERE submission_id = :s AND status = 'ready' AND feature_id IS NULL
""")
_LINK_CORRECTION = text("""
    UPDATE photo SET feature_id = :f
    WHERE correction_id = :c AND status = 'ready' AND feature_id IS NULL
""")


def link_submission(conn: Connection, submission_id: int, feature_id: int) -> int:
    """Give an approved (or merged) submission's ready photos to its feature; how many.

    Runs inside the moderator's transaction (no commit here): the photos become public
    exactly when the decision does.
    """
    return conn.execute(_LINK_SUBMISSION, {"s": submission_id, "f": feature_id}).rowcount


def unlink_submission(conn: Connection, submission_id: int) -> int:
    """Take a reopened submission's photos off the place it had been merged into."""
    return conn.execute(text("UPDATE photo SET feature_id = NULL WHERE submission_id = :s"),
                        {"s": submission_id}).rowcount


def link_correction(conn: Connection, correction_id: int, feature_id: int) -> int:
    """Give an approved correction's ready photos to its feature (caller's transaction)."""
    return conn.execute(_LINK_CORRECTION, {"c": correction_id, "f": feature_id}).rowcount


_PUBLIC_KEY = text("""
    SELECT p.id, p.media_type, p.display_key, p.thumb_key FROM photo p
    JOIN feature f ON f.id = p.feature_id
    WHERE (p.display_key = :k OR p.thumb_key = :k) AND p.status = 'ready'
      AND f.status = 'published'
    LIMIT 1
""")


def public_key(conn: Connection, key: str) -> bool:
    """Whether ``key`` names the derivative of a public photo (ready, on a published feature)."""
    return conn.execute(_PUBLIC_KEY, {"k": key}).first() is not None


_OF = """
    SELECT id, submission_id, correction_id, feature_id, status, refusal_reason,
           original_name, media_type, width, height, display_key, thumb_key, licence,
           author, alt, position, created_at, decided_at, decided_by
    FROM photo WHERE {column} = :v ORDER BY position NULLS LAST, id
"""


def photos_of(conn: Connection, *, submission_id: int | None = None,
              correction_id: int | None = None, feature_id: int | None = None
              ) -> list[dict[str, Any]]:
    """Every photo row of one item, whatever its status (for moderators' pages)."""
    column, value = next((c, v) for c, v in (("submission_id", submission_id),
                                             ("correction_id", correction_id),
                                             ("feature_id", feature_id)) if v is not None)
    return [dict(r) for r in conn.execute(text(_OF.format(column=column)),
                                          {"v": value}).mappings()]


def keys_in_use(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` a photo that may still be shown uses (before deleting files)."""
    wanted = list(keys)
    rows = conn.execute(text("""
        SELECT display_key, thumb_key FROM photo
        WHERE status IN ('ready', 'hidden') AND (display_key = ANY(:k) OR thumb_key = ANY(:k))
    """), {"k": wanted}).all()
    return {k for row in rows for k in row if k in wanted}


_STUCK = text("""
    SELECT id, original_sha256 FROM photo
    WHERE status = 'quarantined' AND created_at < now() - make_interval(secs => :age)
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
""")
_UNATTACHED = text("""
    SELECT id, display_key, thumb_key, original_sha256 FROM photo
    WHERE upload_token_hash IS NOT NULL AND submission_id IS NULL AND correction_id IS NULL
      AND status IN ('ready', 'refused', 'quarantined')
      AND created_at < now() - make_interval(secs => :age)
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
""")


def tidy(conn: Connection, *, public: Storage, quarantine: Storage, limits: Limits,
         stuck_after_s: float = 600, unattached_after_s: float = 86400, limit: int = 100
         ) -> dict[str, int]:
    """Housekeeping for ``carte worker``: what a crash or a resident left behind.

    * A row still ``quarantined`` after ``stuck_after_s`` (the process died between
      keeping the file and recording what it made of it) is processed again from the
      kept original: ``ready`` or ``refused``, as the request would have left it. Its
      original gone (never kept: too large), it is refused ``truncated``.
    * A photo uploaded ahead (``POST /api/v1/photos``) and never attached within
      ``unattached_after_s`` is ``removed``: its public files and its original are
      deleted unless another row uses the same bytes. Nobody submitted it, so nothing
      of a submission is lost, and we do not keep a stranger's file.

    Rows are locked ``SKIP LOCKED`` (two workers never take the same) and each group is
    committed. Returns the counts.
    """
    done = {"reprocessed": 0, "removed_unattached": 0}
    for pid, sha in conn.execute(_STUCK, {"age": stuck_after_s, "limit": limit}).all():
        data = quarantine.get(f"{sha}.orig") if sha else None
        try:
            if data is None:
                raise Truncated("the received file was not kept")
            result = process(data, limits)
        except PhotoRefused as exc:
            conn.execute(_REFUSED, {"id": pid, "code": exc.code})
        else:
            public.put(result.thumb.key, result.thumb.data)
            public.put(result.display.key, result.display.data)
            conn.execute(_READY, {"id": pid, "mt": result.display.media_type,
                                  "w": result.display.width, "h": result.display.height,
                                  "dk": result.display.key, "tk": result.thumb.key})
        done["reprocessed"] += 1
    conn.commit()
    rows = conn.execute(_UNATTACHED, {"age": unattached_after_s, "limit": limit}).all()
    if rows:
        ids = [r[0] for r in rows]
        conn.execute(text("UPDATE photo SET status = 'removed', decided_at = now() "
                          "WHERE id = ANY(:ids)"), {"ids": ids})
        keys = {k for r in rows for k in (r[1], r[2]) if k}
        shared = keys_in_use(conn, keys)
        originals = {r[3] for r in rows if r[3]}
        kept = set(conn.execute(text(
            "SELECT DISTINCT original_sha256 FROM photo WHERE original_sha256 = ANY(:s) "
            "AND status <> 'removed'"), {"s": list(originals)}).scalars())
        conn.commit()  # the rows first: a file is deleted only once no row shows it
        for key in keys - shared:
            public.delete(key)
        for sha in originals - kept:
            quarantine.delete(f"{sha}.orig")
        done["removed_unattached"] = len(ids)
    return done
