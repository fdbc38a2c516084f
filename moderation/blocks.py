"""Stopping an abuser: blocks on a client key (and optionally a network range).

A moderator blocks, from an item or a flag, the client that sent it: its keyed client
hash (what intake and flags store, never the address) and, when the abuse comes from
a whole network, a range typed in CIDR notation. A block lasts until a set time, has a
reason, is audited (``block`` / ``unblock`` in ``moderation_event``) and can be lifted.

:func:`is_blocked` is the one question the submission API and the flag endpoint ask;
it is one indexed lookup.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .errors import InvalidInput, NotFound

__all__ = ["DURATIONS", "Block", "active_blocks", "block", "is_blocked", "lift",
           "parse_network"]

# Offered durations (form value -> timedelta).
DURATIONS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30),
             "365d": timedelta(days=365)}
MAX_REASON = 500


@dataclass(frozen=True)
class Block:
    """A live block, as :func:`is_blocked` reports it."""

    id: int
    until: datetime
    reason: str


_LIVE = """lifted_at IS NULL AND until > now()"""


def is_blocked(session: Session, client_key: str | None, ip: str | None = None
               ) -> Block | None:
    """The live block that stops this client (by key, or by a range holding ``ip``)."""
    address = None
    if ip:
        try:
            address = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            address = None
    if not client_key and address is None:
        return None
    row = session.execute(text(f"""
        SELECT id, until, reason FROM client_block
        WHERE {_LIVE} AND ((CAST(:k AS text) IS NOT NULL AND client_key = :k)
           OR (CAST(:ip AS inet) IS NOT NULL AND network >>= CAST(:ip AS inet)))
        ORDER BY until DESC LIMIT 1
    """), {"k": client_key, "ip": address}).one_or_none()  # noqa: S608 (constant)
    return Block(row.id, row.until, row.reason) if row else None


def parse_network(value: str) -> str | None:
    """A CIDR range (``192.0.2.0/24``, ``2001:db8::/48``), ``None`` when blank.

    Ranges wider than /16 (IPv4) or /32 (IPv6) are refused: they would block a city.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise InvalidInput({"network": "plage réseau invalide (ex. 192.0.2.0/24)"}) from exc
    if net.prefixlen < (16 if net.version == 4 else 32):
        raise InvalidInput({"network": "plage trop large (/16 en IPv4, /32 en IPv6 au plus)"})
    return str(net)


def block(session: Session, *, actor_id: int, client_key: str | None, network: str | None,
          duration: str, reason: str, submission_id: int | None = None,
          flag_id: int | None = None, feature_id: int | None = None) -> int:
    """Block a client key and/or a range; audited; returns the block's id."""
    errors = {}
    reason = " ".join((reason or "").split())
    if not reason:
        errors["reason"] = "une raison est obligatoire"
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"{MAX_REASON} caractères au plus"
    if duration not in DURATIONS:
        errors["duration"] = "durée inconnue"
    if not client_key and not network:
        errors["client_key"] = "rien à bloquer : ni client connu ni plage réseau"
    if errors:
        raise InvalidInput(errors)
    bid = session.execute(text("""
        INSERT INTO client_block (client_key, network, reason, created_by, until,
                                  submission_id, feature_id, flag_id)
        VALUES (:k, CAST(:n AS cidr), :r, :a, now() + make_interval(secs => :d), :s, :fe,
                :f)
        RETURNING id
    """), {"k": client_key, "n": network, "r": reason, "a": actor_id,
           "d": DURATIONS[duration].total_seconds(), "s": submission_id,
           "fe": feature_id, "f": flag_id}).scalar_one()
    _audit(session, "block", actor_id, submission_id, feature_id, reason,
           {"block": bid, "duration": duration, "network": network,
            "client": bool(client_key)})
    return bid


def lift(session: Session, block_id: int, *, actor_id: int) -> None:
    """End a block now (kept for the record)."""
    row = session.execute(text("""
        UPDATE client_block SET lifted_at = now(), lifted_by = :a
        WHERE id = :id AND lifted_at IS NULL RETURNING submission_id, feature_id
    """), {"a": actor_id, "id": block_id}).one_or_none()
    if row is None:
        raise NotFound(f"no live block {block_id}")
    _audit(session, "unblock", actor_id, row.submission_id, row.feature_id, None,
           {"block": block_id})


def _audit(session: Session, action: str, actor_id: int, submission_id: int | None,
           feature_id: int | None, reason: str | None, after: dict[str, Any]) -> None:
    import json

    session.execute(text("""
        INSERT INTO moderation_event (action, actor_id, submission_id, feature_id, reason,
                                      after)
        VALUES (CAST(:ac AS moderation_action), :a, :s, :f, :r, CAST(:after AS jsonb))
    """), {"ac": action, "a": actor_id, "s": submission_id, "f": feature_id, "r": reason,
           "after": json.dumps(after)})


def active_blocks(session: Session, limit: int = 200) -> list[Any]:
    """Live blocks, newest first (the blocks page)."""
    return session.execute(text(f"""
        SELECT b.id, b.client_key, b.network::text AS network, b.reason, b.created_at,
               b.until, b.submission_id, b.feature_id, b.flag_id, u.email AS created_by
        FROM client_block b LEFT JOIN app_user u ON u.id = b.created_by
        WHERE b.{_LIVE.replace(' AND ', ' AND b.')}
        ORDER BY b.created_at DESC LIMIT :lim
    """), {"lim": limit}).all()  # noqa: S608 (constant)
