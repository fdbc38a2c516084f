"""Moderator and admin accounts: argon2 hashes, throttled logins, server-side sessions.

* Passwords are hashed with argon2id (argon2-cffi defaults). An unknown email is
  verified against a dummy hash made with the same parameters, so the answer and its
  timing do not tell whether the account exists.
* Failed logins are rows of ``login_failure`` keyed by an HMAC of the lower-cased email
  and by the client key; every attempt on one account takes a transaction-scoped
  advisory lock first, so concurrent workers cannot slip a sixth try through.
* Sessions are rows of ``user_session``: the browser holds a random 256-bit id, the
  database only its SHA-256. Logging in always makes a new id; logging out deletes it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.models import AppUser, UserRole, UserSession

from .errors import AccountError, LoginRefused, LoginThrottled

__all__ = [
    "ACCOUNT_FAILURES",
    "CLIENT_FAILURES",
    "FAILURE_WINDOW",
    "CurrentUser",
    "account_key",
    "authenticate",
    "create_user",
    "end_session",
    "end_user_sessions",
    "hash_password",
    "load_session",
    "remember_lang",
    "start_session",
    "validate_email",
    "validate_password",
]

ACCOUNT_FAILURES = 5          # per account per window (the limit)
CLIENT_FAILURES = 20          # per client per window: one address trying many accounts
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=2)
SESSION_MAX = timedelta(hours=12)
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Same parameters as real hashes, so verifying it costs the same time.
    return _hasher().hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in account as views need it."""

    id: int
    email: str
    role: UserRole

    @property
    def is_admin(self) -> bool:
        """Whether the account may manage other accounts."""
        return self.role == UserRole.admin


def validate_email(email: str) -> str:
    """The email, stripped; :class:`AccountError` when it is not an address."""
    email = (email or "").strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    return email


def validate_password(password: str) -> str:
    """The password if it is long enough (at least 12 characters)."""
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher().hash(password)


def create_user(session: Session, email: str, role: UserRole | str, password: str) -> AppUser:
    """Create an account (the caller commits). Emails are unique, case-insensitively."""
    email = validate_email(email)
    validate_password(password)
    try:
        role = UserRole(role)
    except ValueError as exc:
        raise AccountError(f"role must be moderator or admin, not {role!r}") from exc
    exists = session.scalar(select(AppUser.id).where(func.lower(AppUser.email) == email.lower()))
    if exists is not None:
        raise AccountError(f"an account already exists for {email}")
    user = AppUser(email=email, role=role, password_hash=hash_password(password))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent creation of the same email
        raise AccountError(f"an account already exists for {email}") from exc
    return user


def account_key(email: str, secret: str | bytes) -> str:
    """Keyed hash of a lower-cased email: throttling without storing the address."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


_COUNT = text("""
    SELECT count(*) FILTER (WHERE account_key = :a) AS by_account,
           count(*) FILTER (WHERE client_key = :c) AS by_client,
           extract(epoch FROM min(at) FILTER (WHERE account_key = :a)
                   + make_interval(secs => :w) - now()) AS account_retry,
           extract(epoch FROM min(at) FILTER (WHERE client_key = :c)
                   + make_interval(secs => :w) - now()) AS client_retry
    FROM login_failure
    WHERE (account_key = :a OR client_key = :c) AND at > now() - make_interval(secs => :w)
""")


def authenticate(session: Session, email: str, password: str, *, client: str, secret: str,
                 max_account: int = ACCOUNT_FAILURES,
                 max_client: int = CLIENT_FAILURES) -> CurrentUser:
    """Check a login; record a failure, or clear the account's failures on success.

    The caller commits in both cases (a failure row must be kept when this raises).

    Raises
    ------
    LoginThrottled
        The account or the client already has too many failures in the window; the
        password is not even checked.
    LoginRefused
        Wrong email, wrong password or inactive account: one message for all three.
    """
    akey = account_key(email, secret)
    # Serialise the attempts on one account across workers: count, verify, record.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": akey})
    window = FAILURE_WINDOW.total_seconds()
    counts = session.execute(_COUNT, {"a": akey, "c": client, "w": window}).one()
    if counts.by_account >= max_account:
        raise LoginThrottled(retry_after=max(1, int(counts.account_retry or 0) + 1))
    if counts.by_client >= max_client:
        raise LoginThrottled(retry_after=max(1, int(counts.client_retry or 0) + 1))
    user = session.scalar(select(AppUser).where(
        func.lower(AppUser.email) == (email or "").strip().lower()))
    ok = False
    try:
        ok = _hasher().verify(user.password_hash if user else _dummy_hash(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        session.execute(text("INSERT INTO login_failure (account_key, client_key) "
                             "VALUES (:a, :c)"), {"a": akey, "c": client})
        raise LoginRefused("wrong email or password")
    session.execute(text("DELETE FROM login_failure WHERE account_key = :a"), {"a": akey})
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = func.now()
    return CurrentUser(user.id, user.email, user.role)


def remember_lang(session: Session, user_id: int, lang: str) -> None:
    """Keep the language a moderator works in: their alerts and digests are sent in it."""
    session.execute(text("UPDATE app_user SET lang = :l WHERE id = :u AND lang <> :l"),
                    {"l": lang, "u": user_id})


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start_session(session: Session, user_id: int, *, previous: str | None = None) -> str:
    """A new session for ``user_id``; returns the id to put in the cookie.

    ``previous`` (the id the browser held before logging in) is deleted: a session id
    is never carried across a login.
    """
    if previous:
        end_session(session, previous)
    token = secrets.token_urlsafe(32)
    session.execute(text("""
        INSERT INTO user_session (id_hash, user_id, expires_at)
        VALUES (:h, :u, now() + make_interval(secs => :m))
    """), {"h": _digest(token), "u": user_id, "m": SESSION_MAX.total_seconds()})
    # Expired sessions are swept here rather than by a cron job.
    session.execute(text("DELETE FROM user_session WHERE expires_at < now() "
                         "OR last_seen_at < now() - make_interval(secs => :i)"),
                    {"i": SESSION_IDLE.total_seconds()})
    session.execute(text("DELETE FROM login_failure WHERE at < now() - interval '1 day'"))
    return token


_LOAD = text("""
    SELECT u.id, u.email, u.role::text AS role,
           s.last_seen_at < now() - interval '60 seconds' AS stale
    FROM user_session s JOIN app_user u ON u.id = s.user_id
    WHERE s.id_hash = :h AND s.expires_at > now() AND u.active
      AND s.last_seen_at > now() - make_interval(secs => :i)
""")


def load_session(session: Session, token: str | None) -> CurrentUser | None:
    """The account of a live session id, or ``None`` (unknown, expired, idle, inactive)."""
    if not token or len(token) > 128:
        return None
    h = _digest(token)
    row = session.execute(_LOAD, {"h": h, "i": SESSION_IDLE.total_seconds()}).one_or_none()
    if row is None:
        return None
    if row.stale:  # one write a minute at most, not one per request
        session.execute(text("UPDATE user_session SET last_seen_at = now() WHERE id_hash = :h"),
                        {"h": h})
    return CurrentUser(row.id, row.email, UserRole(row.role))


def end_session(session: Session, token: str | None) -> bool:
    """Delete a session; returns whether it existed."""
    if not token:
        return False
    result = session.execute(text("DELETE FROM user_session WHERE id_hash = :h"),
                             {"h": _digest(token)})
    return bool(result.rowcount)


def end_user_sessions(session: Session, user_id: int) -> int:
    """Delete every session of an account (deactivation, role change)."""
    result = session.execute(select(UserSession).where(UserSession.user_id == user_id))
    n = 0
    for row in result.scalars():
        session.delete(row)
        n += 1
    return n
