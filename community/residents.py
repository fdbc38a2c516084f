"""Residents: a light identity by e-mail, with single-use magic links and no password.

* A resident is found by a keyed hash of their address (:func:`mail.residents.email_hash`,
  HMAC-SHA256 with the app secret); the address itself is kept only to relay messages
  and sign-in links to them. It is never shown to another resident nor published.
* A magic link is a random token; only its SHA-256 is stored, with an expiry
  (``MAGIC_LINK_MINUTES``), and it works once. Requests are rate-limited per address
  (a silent no-op beyond the limit: the answer must not say whether an address is
  known) and per client (an error: the client is told to wait).
* The resident row is created when a link is *used*, not when it is asked for: typing
  someone else's address creates nothing.
* Deleting an account anonymises the row (address, hash, name gone) and erases the
  address everywhere else (:func:`mail.residents.forget`); what the resident
  contributed stays, attributed to "a resident".

Every function works in the caller's transaction (the caller commits).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from mail.outbox import enqueue_mail, normalise_lang
from mail.residents import email_hash, forget

from .errors import InvalidCommunityInput, MagicLinkInvalid, TooManyRequests
from .i18n import N_, Phrase, t

__all__ = [
    "ANONYMOUS",
    "MagicLinkRequest",
    "Resident",
    "delete_account",
    "forget_email",
    "get_or_create_resident",
    "get_resident",
    "hash_token",
    "normalise_email",
    "on_account_deleted",
    "peek_magic_link",
    "redeem_magic_link",
    "request_magic_link",
    "resident_by_email",
    "update_profile",
]

ANONYMOUS = Phrase(N_("un·e habitant·e"))
"""How a resident without a display name (or a deleted account) is named.

``ANONYMOUS[lang]`` / ``ANONYMOUS.get(lang)`` (the ``community`` catalogue)."""

MAX_NAME = 60
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Resident:
    """A signed-in resident, as the rest of the product sees them.

    ``email`` is private: it is used to relay mail to this resident and shown only to
    themselves (on ``/me``); never put it in a page or answer another person sees.
    """

    id: int
    display_name: str | None
    lang: str
    created_at: datetime
    email: str | None = field(default=None, repr=False)
    deleted: bool = False
    messaging_blocked: bool = False

    def public_name(self, lang: str = "fr") -> str:
        """The display name, or "a resident" in ``lang`` (never the address)."""
        if self.deleted or not self.display_name:
            return ANONYMOUS[lang]
        return self.display_name


_COLUMNS = ("id, display_name, lang, created_at, email, deleted_at IS NOT NULL AS deleted, "
            "messaging_blocked_at IS NOT NULL AS messaging_blocked")


def _resident(row: Any) -> Resident:
    return Resident(id=row.id, display_name=row.display_name, lang=row.lang,
                    created_at=row.created_at, email=row.email, deleted=row.deleted,
                    messaging_blocked=row.messaging_blocked)


def normalise_email(raw: str | None) -> str:
    """The address as typed, trimmed; raises if it cannot be an address."""
    email = (raw or "").strip()
    if len(email) > 254 or not _EMAIL.match(email) or any(
            unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in email):
        raise InvalidCommunityInput({"email": "not a valid e-mail address"})
    return email


def hash_token(token: str) -> bytes:
    """SHA-256 of a link token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).digest()


def get_resident(session: Session, resident_id: int | None, *,
                 include_deleted: bool = False) -> Resident | None:
    """The resident with this id (``None`` if unknown, or deleted unless asked)."""
    if resident_id is None:
        return None
    row = session.execute(text(f"SELECT {_COLUMNS} FROM resident WHERE id = :i"),  # noqa: S608
                          {"i": resident_id}).one_or_none()
    if row is None or (row.deleted and not include_deleted):
        return None
    return _resident(row)


def resident_by_email(session: Session, email: str, *, secret: str) -> Resident | None:
    """The live resident with this address, found by its keyed hash."""
    row = session.execute(text(f"SELECT {_COLUMNS} FROM resident "  # noqa: S608
                               "WHERE email_hash = :h"),
                          {"h": email_hash(email, secret)}).one_or_none()
    return None if row is None else _resident(row)


def get_or_create_resident(session: Session, email: str, *, secret: str, lang: str = "fr",
                           display_name: str | None = None) -> Resident:
    """The live resident with this address, created if new (tests, seeds, the CLI).

    The web signs residents in only through :func:`redeem_magic_link`.
    """
    email = normalise_email(email)
    rid = session.execute(text("""
        INSERT INTO resident (email_hash, email, lang, display_name) VALUES (:h, :e, :l, :n)
        ON CONFLICT (email_hash) DO UPDATE SET email = EXCLUDED.email
        RETURNING id
    """), {"h": email_hash(email, secret), "e": email, "l": normalise_lang(lang),
           "n": _clean_name(display_name)}).scalar_one()
    resident = get_resident(session, rid)
    assert resident is not None
    return resident


@dataclass(frozen=True)
class MagicLinkRequest:
    """The limits and texts of a sign-in link request (from the settings)."""

    public_url: str
    ttl_minutes: int = 30
    per_address_per_hour: int = 3
    per_client_per_hour: int = 20


_LINK_SUBJECT = N_("Votre lien de connexion à Carte citoyenne")
_LINK_INTRO = N_("Pour vous connecter à Carte citoyenne, ouvrez ce lien puis appuyez sur "
                 "« Se connecter ». Il fonctionne une seule fois, pendant {m} minutes.")
_LINK_LABEL = N_("Se connecter")
_LINK_OUTRO = N_("Si vous n'avez rien demandé, ignorez ce message : sans ce lien, personne ne "
                 "peut se connecter avec votre adresse.")


def request_magic_link(session: Session, email: str, *, secret: str, client_key: str,
                       lang: str | None, next_path: str | None,
                       settings: MagicLinkRequest) -> bool:
    """Queue a sign-in link to ``email``; ``True`` if one was queued.

    Beyond ``per_address_per_hour`` links to one address nothing is sent and ``False``
    is returned (the caller answers the same either way: nothing is revealed about
    the address). Beyond ``per_client_per_hour`` requests from one client,
    :class:`TooManyRequests` is raised (about the client, not the address).

    Raises
    ------
    InvalidCommunityInput
        ``email`` cannot be an address.
    TooManyRequests
        The client asked for too many links in the last hour.
    """
    email = normalise_email(email)
    lang = normalise_lang(lang)
    ehash = email_hash(email, secret)
    counts = session.execute(text("""
        SELECT count(*) FILTER (WHERE client_key = :c) AS by_client,
               count(*) FILTER (WHERE resident_email_hash = :h) AS by_address,
               min(created_at) FILTER (WHERE client_key = :c) AS oldest
        FROM magic_link
        WHERE created_at > now() - interval '1 hour'
          AND (client_key = :c OR resident_email_hash = :h)
    """), {"c": client_key, "h": ehash}).one()
    if counts.by_client >= settings.per_client_per_hour:
        wait = session.execute(text(
            "SELECT ceil(extract(epoch FROM CAST(:o AS timestamptz) + interval '1 hour' "
            "- now()))::int"), {"o": counts.oldest}).scalar_one()
        raise TooManyRequests("too many sign-in links asked from here lately; "
                              "try again later", retry_after=wait or 60)
    if counts.by_address >= settings.per_address_per_hour:
        return False
    if secrets.randbelow(20) == 0:  # housekeeping now and then: old links go
        session.execute(text("DELETE FROM magic_link "
                             "WHERE created_at < now() - interval '2 days'"))
    token = secrets.token_urlsafe(32)
    session.execute(text("""
        INSERT INTO magic_link (token_hash, resident_email_hash, email, client_key,
                                next_path, lang, expires_at)
        VALUES (:t, :h, :e, :c, :n, :l, now() + make_interval(mins => :m))
    """), {"t": hash_token(token), "h": ehash, "e": email, "c": client_key,
           "n": next_path, "l": lang, "m": settings.ttl_minutes})
    enqueue_mail(session, to=email, template="notice", lang=lang, context={
        "subject": t(lang, _LINK_SUBJECT),
        "intro": t(lang, _LINK_INTRO).format(m=settings.ttl_minutes),
        "url": settings.public_url.rstrip("/") + f"/auth/magic/{token}",
        "url_label": t(lang, _LINK_LABEL), "outro": t(lang, _LINK_OUTRO)})
    return True


def peek_magic_link(session: Session, token: str) -> str:
    """Whether a link can still be used: ``ok``, ``unknown``, ``used`` or ``expired``.

    The confirmation page says so before showing its button.
    """
    row = session.execute(text(
        "SELECT used_at IS NOT NULL AS used, expires_at <= now() AS expired "
        "FROM magic_link WHERE token_hash = :t"), {"t": hash_token(token)}).one_or_none()
    if row is None:
        return "unknown"
    return "used" if row.used else "expired" if row.expired else "ok"


def redeem_magic_link(session: Session, token: str, *,
                      secret: str) -> tuple[Resident, str | None]:
    """Use a link once: the resident it signs in (created on first use) and ``next``.

    The link is marked used and its address blanked in one conditional update, so two
    concurrent uses of one link sign in at most once.

    Raises
    ------
    MagicLinkInvalid
        The link is unknown, already used or expired.
    """
    row = session.execute(text("""
        WITH old AS (
          SELECT token_hash, email FROM magic_link
          WHERE token_hash = :t AND used_at IS NULL AND expires_at > now()
          FOR UPDATE
        )
        UPDATE magic_link m SET used_at = now(), email = NULL
        FROM old WHERE m.token_hash = old.token_hash AND m.used_at IS NULL
        RETURNING old.email, m.resident_email_hash, m.next_path, m.lang
    """), {"t": hash_token(token)}).one_or_none()
    if row is None:
        state = peek_magic_link(session, token)
        raise MagicLinkInvalid("already used" if state == "used" else
                               "expired" if state == "expired" else "unknown")
    if row.email is None:  # the account was deleted meanwhile (its links were blanked)
        raise MagicLinkInvalid("expired")
    # Other links to the same address stop working: the newest sign-in wins.
    session.execute(text("""
        UPDATE magic_link SET email = NULL, expires_at = greatest(created_at +
               interval '1 microsecond', least(expires_at, now()))
        WHERE resident_email_hash = :h AND used_at IS NULL
    """), {"h": row.resident_email_hash})
    rid = session.execute(text("""
        INSERT INTO resident (email_hash, email, lang) VALUES (:h, :e, :l)
        ON CONFLICT (email_hash) DO UPDATE SET email = EXCLUDED.email
        RETURNING id
    """), {"h": row.resident_email_hash, "e": row.email, "l": row.lang}).scalar_one()
    resident = get_resident(session, rid)
    assert resident is not None
    return resident, row.next_path


def _clean_name(raw: str | None) -> str | None:
    name = unicodedata.normalize("NFC", (raw or "")).strip()
    name = " ".join(name.split())
    if not name:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in name):
        raise InvalidCommunityInput({"display_name": "holds invisible or control characters"})
    if len(name) > MAX_NAME:
        raise InvalidCommunityInput({"display_name": f"at most {MAX_NAME} characters"})
    if "@" in name:
        raise InvalidCommunityInput({"display_name": "must not be an e-mail address"})
    return name


def update_profile(session: Session, resident_id: int, *, display_name: str | None,
                   lang: str | None) -> Resident:
    """Set the display name (blank: none, shown as "a resident") and the language.

    Raises
    ------
    InvalidCommunityInput
        The name is too long, holds control characters or an address, or the
        language is not ``fr``/``en``.
    """
    name = _clean_name(display_name)
    if lang not in ("fr", "en"):
        raise InvalidCommunityInput({"lang": "must be fr or en"})
    session.execute(text("UPDATE resident SET display_name = :n, lang = :l "
                         "WHERE id = :i AND deleted_at IS NULL"),
                    {"n": name, "l": lang, "i": resident_id})
    resident = get_resident(session, resident_id)
    assert resident is not None
    return resident


_DELETION_HOOKS: list[Callable[[Session, int], Any]] = []


def on_account_deleted(hook: Callable[[Session, int], Any]) -> Callable[[Session, int], Any]:
    """Register ``hook(session, resident_id)``, run by :func:`delete_account` first.

    For the features that hold a resident's data (sign-ups, loans...): cancel or erase
    theirs in the same transaction, while the row still has its address (to tell the
    other party by mail, if needed). A decorator; registering twice runs it once.
    """
    if hook not in _DELETION_HOOKS:
        _DELETION_HOOKS.append(hook)
    return hook


def delete_account(session: Session, resident_id: int, *, secret: str,
                   actor: str = "resident") -> dict[str, Any]:
    """Delete an account: anonymise the row, erase the address everywhere; the counts.

    The resident's submissions keep ``resident_id`` (their items stay on the map,
    attributed to "a resident"); their messages are deleted (the other party keeps
    the thread and their own messages); blocks by and of them go; pending links stop.
    """
    row = session.execute(text("SELECT email, email_hash FROM resident "
                               "WHERE id = :i AND deleted_at IS NULL FOR UPDATE"),
                          {"i": resident_id}).one_or_none()
    if row is None:
        return {}
    removed: dict[str, Any] = {}
    for hook in _DELETION_HOOKS:
        hook(session, resident_id)
    removed["messages"] = session.execute(text(
        "DELETE FROM message WHERE sender_id = :i"), {"i": resident_id}).rowcount
    removed["blocks"] = session.execute(text(
        "DELETE FROM resident_block WHERE blocker_id = :i OR blocked_id = :i"),
        {"i": resident_id}).rowcount
    session.execute(text("UPDATE magic_link SET email = NULL WHERE resident_email_hash = :h"),
                    {"h": row.email_hash})
    session.execute(text("""
        UPDATE resident SET email = NULL, email_hash = NULL, display_name = NULL,
                            deleted_at = now()
        WHERE id = :i
    """), {"i": resident_id})
    removed.update(forget(session, row.email, actor=actor, secret=secret))
    return removed


def forget_email(session: Session, email: str, *, secret: str,
                 actor: str) -> tuple[dict[str, Any], int | None]:
    """An operator erases an address (``carte residents forget``); removed, account id.

    Returns what was removed and the id of the resident account deleted with it, if
    there was one. With an account, it is deleted as by its owner (:func:`delete_account`); without,
    the address is erased everywhere else (:func:`mail.residents.forget`). Sign-in links
    sent to it lose the address either way.
    """
    email = email.strip()
    session.execute(text("UPDATE magic_link SET email = NULL WHERE resident_email_hash = :h"),
                    {"h": email_hash(email, secret)})
    resident = resident_by_email(session, email, secret=secret)
    if resident is None:
        return forget(session, email, actor=actor, secret=secret), None
    return delete_account(session, resident.id, secret=secret, actor=actor), resident.id
