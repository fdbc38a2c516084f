"""A resident blocks another: from then on no message passes between them, either way.

A block is private: the blocked resident is not told (a message they try to send is
refused with the same answer as any block, without saying who blocked whom). Blocks
are rows of ``resident_block``; unblocking deletes the row.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from .errors import CommunityNotFound, InvalidCommunityInput

__all__ = ["block", "blocked_ids", "is_blocked_between", "unblock"]


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
