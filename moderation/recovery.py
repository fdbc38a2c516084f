"""Accounts that recover: password change, reset links, invitations.

* A password change needs the current password, and ends every *other* session of the
  account (sessions are rows of ``user_session``: the one in use is kept, the rest are
  deleted, so a stolen cookie stops working the moment its owner changes password).
* A reset link and an invitation are the same thing: a random 256-bit token sent by
  e-mail, of which only the SHA-256 is stored in ``account_token`` with its purpose and
  expiry. It works once (``used_at`` is set in the transaction that changes the
  password), and choosing a password through it ends every session of the account.
* "Forgot password" answers the same page whatever the address: whether an account
  exists is never told (an unknown address gets no mail, a known one a link).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import text
from sqlalchemy.orm import Session

from .accounts import _dummy_hash, _hasher, hash_password, validate_password
from .errors import AccountError

__all__ = [
    "INVITE_TTL",
    "RESET_TTL",
    "TokenHolder",
    "change_password",
    "issue_token",
    "set_password_with_token",
    "token_holder",
]

RESET_TTL = timedelta(hours=1)
INVITE_TTL = timedelta(days=7)
PURPOSES = ("reset", "invite")


@dataclass(frozen=True)
class TokenHolder:
    """The account a live token belongs to."""

    user_id: int
    email: str
    purpose: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(session: Session, user_id: int, current: str, new: str, *,
                    keep_session: str | None) -> int:
    """Set a new password after checking the current one.

    Returns how many other sessions were ended.

    Raises
    ------
    AccountError
        ``code`` ``wrong_password`` or ``too_short``.
    """
    row = session.execute(text("SELECT password_hash FROM app_user WHERE id = :u FOR UPDATE"),
                          {"u": user_id}).one_or_none()
    if row is None or not _verify(row.password_hash, current):
        raise AccountError("wrong_password")
    try:
        validate_password(new)
    except AccountError as exc:
        raise AccountError("too_short") from exc
    session.execute(text("UPDATE app_user SET password_hash = :h WHERE id = :u"),
                    {"h": hash_password(new), "u": user_id})
    kept = _digest(keep_session) if keep_session else b""
    return session.execute(text("DELETE FROM user_session WHERE user_id = :u AND id_hash <> :k"),
                           {"u": user_id, "k": kept}).rowcount


def issue_token(session: Session, user_id: int, purpose: str, ttl: timedelta) -> str:
    """A new single-use token for ``user_id``; earlier unused ones of that purpose die."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    session.execute(text("DELETE FROM account_token WHERE user_id = :u AND purpose = :p "
                         "AND used_at IS NULL"), {"u": user_id, "p": purpose})
    session.execute(text("DELETE FROM account_token WHERE expires_at < now() - interval '30 days'"))
    token = secrets.token_urlsafe(32)
    session.execute(text("""
        INSERT INTO account_token (token_hash, user_id, purpose, expires_at)
        VALUES (:h, :u, :p, now() + make_interval(secs => :ttl))
    """), {"h": _digest(token), "u": user_id, "p": purpose, "ttl": ttl.total_seconds()})
    return token


def token_holder(session: Session, token: str, *, lock: bool = False) -> TokenHolder | None:
    """The account of a live (unused, unexpired) token, or ``None``."""
    if not token or len(token) > 128:
        return None
    row = session.execute(text(f"""
        SELECT t.user_id, u.email, t.purpose FROM account_token t
        JOIN app_user u ON u.id = t.user_id
        WHERE t.token_hash = :h AND t.used_at IS NULL AND t.expires_at > now()
        {'FOR UPDATE OF t' if lock else ''}
    """), {"h": _digest(token)}).one_or_none()  # noqa: S608 (constant fragment)
    return TokenHolder(row.user_id, row.email, row.purpose) if row else None


def set_password_with_token(session: Session, token: str, new: str) -> TokenHolder:
    """Use a token: set the password, activate an invited account, end every session.

    Raises
    ------
    AccountError
        ``code`` ``bad_token`` (unknown, used or expired) or ``too_short``.
    """
    holder = token_holder(session, token, lock=True)
    if holder is None:
        raise AccountError("bad_token")
    try:
        validate_password(new)
    except AccountError as exc:
        raise AccountError("too_short") from exc
    session.execute(text("UPDATE account_token SET used_at = now() WHERE token_hash = :h"),
                    {"h": _digest(token)})
    session.execute(text("UPDATE app_user SET password_hash = :h, active = true "
                         "WHERE id = :u"), {"h": hash_password(new), "u": holder.user_id})
    session.execute(text("DELETE FROM user_session WHERE user_id = :u"), {"u": holder.user_id})
    return holder
