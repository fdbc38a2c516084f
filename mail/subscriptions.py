"""Subscriptions to new items of a category and/or an area: double opt-in, one click out.

* :func:`subscribe` stores an unconfirmed subscription and queues the confirmation
  e-mail; the same answer whether the address was known or not (nothing to enumerate).
* :func:`confirm` and :func:`unsubscribe` take a signed token (HMAC-SHA256 of the
  purpose and the subscription id under the app's secret key): no login, nothing to
  guess, and a confirmation token cannot unsubscribe nor the reverse.
* :func:`fan_out` (run by ``carte worker``) sends each confirmed subscriber one message
  listing the items published since its last run that match, with a one-click
  ``List-Unsubscribe`` link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .config import MailSettings
from .errors import BadToken
from .notices import permalink
from .outbox import enqueue_mail, normalise_lang

__all__ = ["address_id", "confirm", "fan_out", "make_token", "read_token", "subscribe",
           "unsubscribe"]

MAX_LISTED = 20  # items listed in one message; the rest are counted
FAN_OUT_BATCH = 5000


def _mac(secret: str, purpose: str, sub_id: int) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{sub_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def make_token(secret: str, purpose: str, sub_id: int) -> str:
    """A token naming subscription ``sub_id`` for ``purpose`` (confirm, unsubscribe)."""
    return f"{sub_id}.{_mac(secret, purpose, sub_id)}"


def read_token(secret: str, purpose: str, token: str) -> int:
    """The subscription id of a genuine token; :class:`BadToken` otherwise."""
    sid, _, mac = (token or "").partition(".")
    if not sid.isdigit() or len(sid) > 18 or \
            not hmac.compare_digest(mac, _mac(secret, purpose, int(sid))):
        raise BadToken("this link is not valid")
    return int(sid)


def address_id(session: Session, email: str) -> int:
    """The ``resident_address`` id of ``email`` (created if new; case-insensitive)."""
    return session.execute(text("""
        INSERT INTO resident_address (email) VALUES (:e)
        ON CONFLICT ((lower(email))) DO UPDATE SET email = resident_address.email
        RETURNING id
    """), {"e": email.strip()}).scalar_one()


def subscribe(session: Session, *, email: str, category: str | None, area_id: int | None,
              lang: str | None, secret: str, settings: MailSettings | None = None) -> int:
    """Record a subscription (unconfirmed unless it already was) and ask for confirmation.

    ``email`` must already be validated; ``category``/``area_id`` must exist (foreign
    keys) and at least one of them is given. Returns the subscription id.
    """
    settings = settings or MailSettings.from_env()
    lang = normalise_lang(lang)
    aid = address_id(session, email)
    # A confirmation is sent for a new subscription, and again for an unconfirmed one
    # at most once an hour (its created_at moves on): posting the form in a loop
    # cannot flood someone's inbox.
    sub_id, ask = session.execute(text("""
        INSERT INTO mail_subscription (address_id, category, area_id, lang)
        VALUES (:a, :c, :ar, :l)
        ON CONFLICT (address_id, category, area_id) DO UPDATE SET lang = EXCLUDED.lang,
          created_at = CASE WHEN mail_subscription.confirmed_at IS NULL
                             AND mail_subscription.created_at < now() - interval '1 hour'
                            THEN now() ELSE mail_subscription.created_at END
        RETURNING id, confirmed_at IS NULL AND created_at = now()
    """), {"a": aid, "c": category, "ar": area_id, "l": lang}).one()
    if ask:
        what = _what(session, category, area_id, lang)
        enqueue_mail(session, to=email, template="subscription_confirm", lang=lang,
                     context={"what": what, "url": settings.url(
                         f"/subscriptions/confirm/{make_token(secret, 'confirm', sub_id)}")},
                     address_id=aid, settings=settings)
    return sub_id


def _what(session: Session, category: str | None, area_id: int | None, lang: str) -> str:
    row = session.execute(text("""
        SELECT (SELECT CASE WHEN :l = 'en' THEN label_en ELSE label_fr END
                FROM category WHERE slug = :c) AS cat,
               (SELECT name FROM area WHERE id = :a) AS area
    """), {"l": lang, "c": category, "a": area_id}).one()
    parts = [p for p in (row.cat, row.area) if p]
    return " — ".join(parts)


def confirm(session: Session, token: str, *, secret: str) -> bool:
    """Confirm the subscription of a confirmation token; whether it still exists."""
    sub_id = read_token(secret, "confirm", token)
    return session.execute(text("""
        UPDATE mail_subscription SET confirmed_at = coalesce(confirmed_at, now())
        WHERE id = :i RETURNING id
    """), {"i": sub_id}).one_or_none() is not None


def unsubscribe(session: Session, token: str, *, secret: str) -> bool:
    """Delete the subscription of an unsubscribe token; whether there was one."""
    sub_id = read_token(secret, "unsubscribe", token)
    return session.execute(text("DELETE FROM mail_subscription WHERE id = :i RETURNING id"),
                           {"i": sub_id}).one_or_none() is not None


_CURSOR = text("""
    INSERT INTO mail_schedule (name, cursor)
    VALUES ('subscriptions', (SELECT coalesce(max(id), 0) FROM feature))
    ON CONFLICT (name) DO NOTHING
""")

_NEW = text("""
    SELECT f.id, f.title, f.category, f.area_ids,
           ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
    FROM feature f
    WHERE f.id > :after AND f.status = 'published'
    ORDER BY f.id LIMIT :n
""")

_MATCHES = text("""
    SELECT s.id, s.lang, r.id AS address_id, r.email, array_agg(f.id ORDER BY f.id) AS ids
    FROM mail_subscription s
    JOIN resident_address r ON r.id = s.address_id
    JOIN feature f ON f.id = ANY(:ids)
      AND (s.category IS NULL OR s.category = f.category)
      AND (s.area_id IS NULL OR s.area_id = ANY(f.area_ids))
    WHERE s.confirmed_at IS NOT NULL
    GROUP BY s.id, s.lang, r.id, r.email
    ORDER BY s.id
""")


def fan_out(session: Session, *, secret: str, settings: MailSettings | None = None) -> int:
    """Queue one message per confirmed subscriber for the items published since last run.

    The cursor (the last feature id looked at) lives in ``mail_schedule`` and is read
    ``FOR UPDATE SKIP LOCKED``: two workers never announce the same items. The first
    run starts after the newest feature (subscribers are not sent the seed). Returns
    the number of messages queued.
    """
    settings = settings or MailSettings.from_env()
    session.execute(_CURSOR)
    after = session.execute(text(
        "SELECT cursor FROM mail_schedule WHERE name = 'subscriptions' "
        "FOR UPDATE SKIP LOCKED")).scalar_one_or_none()
    if after is None:
        return 0  # another worker is at it
    features = session.execute(_NEW, {"after": after, "n": FAN_OUT_BATCH}).all()
    if not features:
        return 0
    by_id = {f.id: f for f in features}
    queued = 0
    for sub in session.execute(_MATCHES, {"ids": list(by_id)}).all():
        items: list[dict[str, Any]] = [
            {"title": by_id[i].title, "url": permalink(settings, i, by_id[i].lon, by_id[i].lat)}
            for i in sub.ids[:MAX_LISTED]]
        unsub = settings.url("/api/v1/subscriptions/unsubscribe/"
                             + make_token(secret, "unsubscribe", sub.id))
        page = settings.url("/subscriptions/unsubscribe/"
                            + make_token(secret, "unsubscribe", sub.id))
        enqueue_mail(session, to=sub.email, template="new_items", lang=sub.lang,
                     context={"items": items, "more": max(0, len(sub.ids) - MAX_LISTED),
                              "count": len(sub.ids), "unsubscribe_page": page},
                     address_id=sub.address_id, unsubscribe_url=unsub, settings=settings)
        queued += 1
    session.execute(text("UPDATE mail_schedule SET cursor = :c, last_at = now() "
                         "WHERE name = 'subscriptions'"), {"c": features[-1].id})
    return queued
