"""Who is told what: the messages the product's own events queue.

Each function runs in the caller's transaction (the decision's, the flag's) and only
*queues* (:func:`mail.outbox.enqueue_mail`); nothing here talks to a mail server.

* :func:`notify_decision`: the resident who left an address hears of the decision on
  their submission, in the language they wrote in — approved (with the permalink of
  the new place), refused (with the reason), merged (with the place it joined).
* :func:`notify_hidden`: every active moderator, at once, when flags hid an item.
* :func:`queue_digest`: every active moderator, when submissions waited too long.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .config import MailSettings
from .outbox import enqueue_mail, normalise_lang

__all__ = ["moderators", "notify_correction", "notify_decision", "notify_hidden", "permalink",
           "queue_digest"]

_DECISION = text("""
    SELECT s.status::text AS status, s.reason, s.title, s.lang, s.feature_id,
           r.id AS address_id, r.email, f.title AS place_title,
           ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
    FROM submission s
    JOIN resident_address r ON r.id = s.resident_address_id
    LEFT JOIN feature f ON f.id = s.feature_id
    WHERE s.id = :id
""")

_MODERATORS = text("SELECT email, lang FROM app_user WHERE active ORDER BY id")


def permalink(settings: MailSettings, feature_id: int, lon: float, lat: float) -> str:
    """The map's permalink of a feature (``/#map=17/<lat>/<lon>&f=<id>``)."""
    return settings.url(f"/#map=17/{lat:.5f}/{lon:.5f}&f={feature_id}")


def notify_decision(session: Session, submission_id: int, *,
                    settings: MailSettings | None = None) -> int | None:
    """Queue the decision e-mail of a submission; its outbox id (``None``: no address).

    Call after the decision is written (status, reason, feature), in its transaction.
    """
    row = session.execute(_DECISION, {"id": submission_id}).one_or_none()
    if row is None or row.status not in ("approved", "refused", "merged"):
        return None
    settings = settings or MailSettings.from_env()
    context: dict[str, Any] = {"title": row.title or "", "reason": row.reason or "",
                               "place_title": row.place_title or "", "place_url": ""}
    if row.feature_id is not None and row.lon is not None:
        context["place_url"] = permalink(settings, row.feature_id, row.lon, row.lat)
    return enqueue_mail(session, to=row.email, template=f"decision_{row.status}",
                        lang=row.lang, context=context, address_id=row.address_id,
                        settings=settings)


_CORRECTION = text("""
    SELECT c.status, c.reason, c.lang, c.closed, c.feature_id, r.id AS address_id, r.email,
           f.title, ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
    FROM correction c
    JOIN resident_address r ON r.id = c.resident_address_id
    JOIN feature f ON f.id = c.feature_id
    WHERE c.id = :id
""")


def notify_correction(session: Session, correction_id: int, *,
                      settings: MailSettings | None = None) -> int | None:
    """Queue the decision e-mail of a correction proposal (``None``: no address).

    Approved (the place's link, or that it was taken off the map for a closure) or
    refused with the reason, in the language the resident wrote in.
    """
    row = session.execute(_CORRECTION, {"id": correction_id}).one_or_none()
    if row is None or row.status not in ("approved", "refused"):
        return None
    settings = settings or MailSettings.from_env()
    context = {"title": row.title, "reason": row.reason or "", "closed": bool(row.closed),
               "place_url": permalink(settings, row.feature_id, row.lon, row.lat)}
    return enqueue_mail(session, to=row.email, template=f"correction_{row.status}",
                        lang=row.lang, context=context, address_id=row.address_id,
                        settings=settings)


def moderators(session: Session) -> list[tuple[str, str]]:
    """Address and language of each active moderator and admin.

    The language is the one they last used the moderation pages in (kept at login).
    """
    return [(r.email, normalise_lang(r.lang)) for r in session.execute(_MODERATORS)]


def notify_hidden(session: Session, feature_id: int, *, flags: int,
                  settings: MailSettings | None = None) -> list[int]:
    """Alert every active moderator, in their own language, that flags hid a feature."""
    settings = settings or MailSettings.from_env()
    row = session.execute(text(
        "SELECT title, category FROM feature WHERE id = :f"), {"f": feature_id}).one()
    context = {"feature_id": feature_id, "title": row.title, "category": row.category,
               "flags": flags, "url": settings.url(f"/moderation/flags?feature={feature_id}")}
    return [enqueue_mail(session, to=to, template="flag_hidden", lang=lang, context=context,
                         settings=settings) for to, lang in moderators(session)]


_WAITING = text("""
    SELECT count(*) AS n, min(received_at) AS oldest FROM submission
    WHERE status = 'pending' AND received_at < now() - make_interval(secs => :age)
""")


def _hours(seconds: float) -> int | float:
    hours = round(seconds / 3600, 1)
    return int(hours) if hours.is_integer() else hours


def queue_digest(session: Session, *, settings: MailSettings | None = None) -> int:
    """Queue the moderators' digest if submissions waited too long; messages queued."""
    settings = settings or MailSettings.from_env()
    waiting = session.execute(_WAITING, {"age": settings.digest_after_s}).one()
    if not waiting.n:
        return 0
    pending = session.execute(text(
        "SELECT count(*) FROM submission WHERE status = 'pending'")).scalar_one()
    context = {"waiting": waiting.n, "pending": pending, "oldest": waiting.oldest,
               "hours": _hours(settings.digest_after_s),
               "url": settings.url("/moderation/queue")}
    sent = 0
    for to, lang in moderators(session):
        enqueue_mail(session, to=to, template="digest", lang=lang,
                     context=context, settings=settings)
        sent += 1
    return sent
