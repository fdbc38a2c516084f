"""A resident blocks another: from then on no message passes between them, either way.

A block is private: the blocked resident is not told (a message they try to send is
refused with the same answer as any block, without saying who blocked whom). Blocks
are rows of ``resident_block``; unblocking deletes the row.

A resident manages their blocks on ``/me`` (:func:`blocked_residents`): whom they
blocked, by display name (never an address), since when, and the latest conversation
with them (two people without a display name are both "a resident": the conversation
tells them apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from .errors import CommunityNotFound, InvalidCommunityInput
from .residents import ANONYMOUS

__all__ = ["BlockedResident", "block", "blocked_ids", "blocked_residents",
           "is_blocked_between", "unblock"]


@dataclass(frozen=True)
class BlockedResident:
    """One line of "People I blocked": what the blocker may see of them."""

    id: int
    name: str
    since: datetime
    thread_id: int | None
    feature_title: str | None


def block(session: Session, blocker_id: int, blocked_id: int) -> None:
    """``blocker_id`` blocks ``blocked_id`` (idempotent).

    Raises
    ------
    InvalidCommunityInput
        A resident cannot block themselves.
    CommunityNotFound
        No such resident.
    """
    if blocker_id == blocked_id:
        raise InvalidCommunityInput({"resident": "you cannot block yourself"})
    exists = session.execute(text("SELECT 1 FROM resident WHERE id = :i"),
                             {"i": blocked_id}).scalar_one_or_none()
    if exists is None:
        raise CommunityNotFound("no such resident")
    session.execute(text("""
        INSERT INTO resident_block (blocker_id, blocked_id) VALUES (:a, :b)
        ON CONFLICT DO NOTHING
    """), {"a": blocker_id, "b": blocked_id})


def unblock(session: Session, blocker_id: int, blocked_id: int) -> bool:
    """Lift a block; whether there was one."""
    return bool(session.execute(text(
        "DELETE FROM resident_block WHERE blocker_id = :a AND blocked_id = :b"),
        {"a": blocker_id, "b": blocked_id}).rowcount)


def is_blocked_between(session: Session, one: int, other: int) -> bool:
    """Whether either resident blocked the other."""
    return session.execute(text("""
        SELECT EXISTS (SELECT 1 FROM resident_block
                       WHERE (blocker_id = :a AND blocked_id = :b)
                          OR (blocker_id = :b AND blocked_id = :a))
    """), {"a": one, "b": other}).scalar_one()


def blocked_ids(session: Session, blocker_id: int) -> set[int]:
    """The residents ``blocker_id`` blocked."""
    return set(session.execute(text(
        "SELECT blocked_id FROM resident_block WHERE blocker_id = :a"),
        {"a": blocker_id}).scalars())


def blocked_residents(session: Session, blocker_id: int, *, lang: str = "fr",
                      limit: int = 200) -> list[BlockedResident]:
    """Whom ``blocker_id`` blocked, the latest first: display name, since, last thread."""
    rows = session.execute(text("""
        SELECT b.blocked_id, b.created_at, r.display_name, r.deleted_at IS NOT NULL AS gone,
               t.id AS thread_id, f.title AS feature_title
        FROM resident_block b
        JOIN resident r ON r.id = b.blocked_id
        LEFT JOIN LATERAL (
          SELECT id, feature_id FROM message_thread
          WHERE (starter_id = b.blocker_id AND recipient_id = b.blocked_id)
             OR (starter_id = b.blocked_id AND recipient_id = b.blocker_id)
          ORDER BY last_message_at DESC, id DESC LIMIT 1) t ON true
        LEFT JOIN feature f ON f.id = t.feature_id
        WHERE b.blocker_id = :a
        ORDER BY b.created_at DESC, b.blocked_id DESC
        LIMIT :n
    """), {"a": blocker_id, "n": limit}).all()
    anonymous = ANONYMOUS.get(lang, ANONYMOUS["fr"])
    return [BlockedResident(id=r.blocked_id,
                            name=anonymous if r.gone or not r.display_name else r.display_name,
                            since=r.created_at, thread_id=r.thread_id,
                            feature_title=r.feature_title) for r in rows]
