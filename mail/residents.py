"""A resident's right to erasure: ``carte residents forget EMAIL``.

The address is removed everywhere the product keeps it: ``resident_address`` (which
submissions, corrections and subscriptions reference by id), the outbox (queued and
sent messages), subscriptions, and the bytes of each submission and correction as
received (the address is blanked
out of them; the append-only rule allows exactly that, under ``carte.erasure``). The
erasure is audited in ``resident_erasure`` with a keyed hash of the address, so that a
later question ("did you erase x@y?") can be answered without keeping it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["ERASED", "email_hash", "forget"]

ERASED = b"[erased]"


def email_hash(email: str, secret: str) -> str:
    """Keyed SHA-256 of the lower-cased address (the audit keeps this, not the address)."""
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _blank(raw: bytes, email: str) -> bytes:
    for form in {email, quote_plus(email), quote(email, safe="")}:
        raw = re.sub(re.escape(form.encode()), ERASED, raw, flags=re.IGNORECASE)
    return raw


def _blank_raw(session: Session, table: str, aid: int | None, email: str,
               needles: list[bytes]) -> int:
    """Blank ``email`` out of the raw bodies of ``table`` (``submission`` or ``correction``).

    The rows that reference the address, and any whose bytes hold it (an invalid one
    keeps its body but never got an address row). Both tables are append-only: the
    trigger lets the raw body change only while ``carte.erasure`` is on.
    """
    if table not in ("submission", "correction"):
        raise ValueError(f"not an erasable table: {table!r}")
    # ``table`` is one of two literals checked above.
    rows = session.execute(text(f"""
        SELECT id, raw FROM {table}
        WHERE resident_address_id = :a
           OR EXISTS (SELECT 1 FROM unnest(CAST(:n AS bytea[])) n WHERE position(n IN raw) > 0)
    """), {"a": aid, "n": needles}).all()  # noqa: S608
    if rows:
        session.execute(text("SET LOCAL carte.erasure = 'on'"))
        update = text(f"UPDATE {table} SET raw = :r, resident_address_id = NULL "  # noqa: S608
                      "WHERE id = :i")
        for row in rows:
            session.execute(update, {"r": _blank(bytes(row.raw), email), "i": row.id})
        session.execute(text("SET LOCAL carte.erasure = 'off'"))
    return len(rows)


def forget(session: Session, email: str, *, actor: str, secret: str) -> dict[str, Any]:
    """Erase ``email`` everywhere, in the caller's transaction; what was removed (counts).

    Idempotent: a second call finds nothing and is audited all the same.
    """
    email = email.strip()
    aid = session.execute(text("SELECT id FROM resident_address WHERE lower(email) = lower(:e)"),
                          {"e": email}).scalar_one_or_none()
    removed = {"addresses": 0, "submissions": 0, "corrections": 0, "messages": 0,
               "subscriptions": 0}
    removed["messages"] = session.execute(text(
        "DELETE FROM mail_outbox WHERE address_id = :a OR lower(to_addr) = lower(:e)"),
        {"a": aid, "e": email}).rowcount
    needles = sorted({f.encode() for e in {email, email.lower()}
                      for f in (e, quote_plus(e), quote(e, safe=""))})
    removed["submissions"] = _blank_raw(session, "submission", aid, email, needles)
    removed["corrections"] = _blank_raw(session, "correction", aid, email, needles)
    if aid is not None:
        removed["subscriptions"] = session.execute(text(
            "DELETE FROM mail_subscription WHERE address_id = :a"), {"a": aid}).rowcount
        removed["addresses"] = session.execute(text(
            "DELETE FROM resident_address WHERE id = :a"), {"a": aid}).rowcount
    session.execute(text("""
        INSERT INTO resident_erasure (actor, email_hash, removed)
        VALUES (:actor, :h, CAST(:removed AS jsonb))
    """), {"actor": actor, "h": email_hash(email, secret),
           "removed": json.dumps(removed)})
    return removed
