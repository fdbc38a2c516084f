"""Relayed messages: residents answer each other through the service, never by address.

A *thread* joins two residents, usually about one feature ("answer an offer"): lending,
time exchange and missions all start from one. :func:`send_message` is the one way to
write in a thread (the ledger and missions code call it too). It checks, in order:

1. the text (not blank, at most :data:`MAX_BODY` characters);
2. both residents (the sender's account live and allowed to write, the recipient's live);
3. blocks, either way (:mod:`community.blocks`);
4. the sender's rate (:attr:`MessageSettings.per_hour` messages per rolling hour);
5. spam, with the submissions' own rules (:mod:`ingestion.spam`): a message scoring
   :data:`SPAM_REFUSE` or more is refused with the rules' reasons (links, repeated
   words, look-alike letters...), so the writer knows what to change.

The recipient then gets an e-mail (:func:`mail.outbox.enqueue_mail`, their language)
with the text, the sender's *display name* (or "a resident") and a link to reply on
``/me/threads/<id>``. The sender's address is never in it; the mail comes from the
service, and a reply goes through the site.

A resident may *report* a message they received (:func:`report_message`, an optional
reason, once per message, :attr:`MessageSettings.reports_per_day` a day). The
moderators' page lists messages with open reports first (:func:`reported_messages`);
hiding the message or stopping its sender resolves them, or a moderator dismisses them
with a reason (:func:`dismiss_reports`, audited in ``community_moderation``); each
reporter is then mailed, once, what was done (:func:`outcome_notice`). Moderators
are mailed when a report arrives (at most one alert per :data:`REPORT_ALERT_QUIET`: the
page lists every open report), with a link to their page and no text, name or address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingestion.spam import SpamContext, score
from ingestion.types import Record
from mail.config import MailSettings
from mail.notices import moderators
from mail.outbox import enqueue_mail

from .blocks import is_blocked_between
from .errors import (
    Blocked,
    CommunityNotFound,
    InvalidCommunityInput,
    NotAllowed,
    SpamRefused,
    TooManyRequests,
)
from .i18n import N_, t
from .residents import ANONYMOUS, get_resident, on_account_deleted

__all__ = [
    "MAX_BODY",
    "OUTCOMES",
    "REPORT_ALERT_QUIET",
    "REPORT_REASON_MAX",
    "SPAM_REFUSE",
    "MessageSettings",
    "MessageView",
    "ModeratedMessage",
    "ThreadSummary",
    "ThreadView",
    "dismiss_reports",
    "moderation_log",
    "open_report_count",
    "organiser_of",
    "outcome_notice",
    "recent_messages",
    "report_message",
    "reported_messages",
    "send_message",
    "set_message_hidden",
    "set_messaging_blocked",
    "thread_between",
    "thread_for",
    "threads_of",
]

MAX_BODY = 4000
SPAM_REFUSE = 0.6
"""A message whose spam score reaches this is refused (one link in its first line,
several links, look-alike letters, or repeated words with a link)."""
SPAM_RULES = ("links", "repeated_text", "shouting", "mixed_script")
# ``burst`` is left out: the per-hour limit already bounds how often one writes.


@dataclass(frozen=True)
class MessageSettings:
    """How many messages a resident may send per hour; the root of reply links.

    ``reports_per_day``: messages one resident may report per rolling 24 hours; enough
    for someone harassed by several people, too few to flood the moderators' page.
    """

    per_hour: int = 20
    public_url: str = "http://127.0.0.1:5000"
    reports_per_day: int = 10

    @classmethod
    def from_env(cls) -> MessageSettings:
        """From ``CARTE_MESSAGES_PER_HOUR`` and ``CARTE_PUBLIC_URL`` (web views pass theirs)."""
        raw = os.environ.get("CARTE_MESSAGES_PER_HOUR", "").strip()
        return cls(per_hour=int(raw) if raw.isdigit() else cls.per_hour,
                   public_url=MailSettings.from_env().public_url)


# The mail to the recipient of a message and the moderators' alert of a report: French
# texts translated by the ``community`` catalogue (:mod:`community.i18n`) into the
# recipient's language; {name}, {title}, {body}, {n} are filled in after translation.
_TEXTS = {
    "subject": N_("{name} vous a écrit sur Carte citoyenne"),
    "subject_about": N_("{name} vous a écrit à propos de « {title} »"),
    "intro": N_("{name} vous a écrit :\n\n{body}"),
    "url_label": N_("Lire et répondre"),
    "outro": N_("Répondez depuis Carte citoyenne : les adresses e-mail ne sont jamais "
                "communiquées, ni la vôtre ni la sienne. Vous pouvez bloquer une "
                "personne depuis la conversation."),
}


_REPORT_ALERT = {
    "subject": N_("Un message entre habitant·e·s a été signalé"),
    "intro": N_("Un·e habitant·e a signalé un message reçu. Signalements à traiter : {n}."),
    "url_label": N_("Voir les messages signalés"),
    "outro": N_("Masquer le message ou bloquer ses messages traite le signalement ; "
                "sinon, classez-le avec un motif."),
}


def _words(table: dict[str, str], lang: str | None) -> dict[str, str]:
    """``table``'s texts in ``lang`` (French when its catalogue is missing)."""
    return {key: t(lang, message) for key, message in table.items()}


def _clean_body(body: str | None) -> str:
    text_ = (body or "").replace("\r\n", "\n").strip()
    if not text_:
        raise InvalidCommunityInput({"body": "write a message"})
    if len(text_) > MAX_BODY:
        raise InvalidCommunityInput({"body": f"at most {MAX_BODY} characters"})
    if "\x00" in text_:
        raise InvalidCommunityInput({"body": "holds a NUL character"})
    return text_


def _spam(body: str, recent: int) -> tuple[float, list[dict[str, Any]]]:
    first, _, rest = body.partition("\n")
    record = Record(category="message", title=first[:200], lon=0.0, lat=0.0,
                    description=rest)
    return score(SpamContext(record, recent), SPAM_RULES)


def organiser_of(session: Session, feature_id: int) -> int | None:
    """The live resident who organises a published feature, or ``None``.

    The resident the moderators named (``signup_item.organiser_id``, missions), else
    the resident of the submission it was published from. Items without a resident
    owner (open data, anonymous pins) have no organiser.
    """
    return session.execute(text("""
        SELECT r.id FROM feature f
        LEFT JOIN submission s ON s.id = f.submission_id
        LEFT JOIN signup_item si ON si.feature_id = f.id
        JOIN resident r ON r.id = coalesce(si.organiser_id, s.resident_id)
                       AND r.deleted_at IS NULL
        WHERE f.id = :f AND f.status = 'published'
    """), {"f": feature_id}).scalar_one_or_none()


def thread_between(session: Session, one: int, other: int,
                   feature_id: int | None) -> int | None:
    """The thread of these two residents about this feature (or about nothing), if any."""
    return session.execute(text("""
        SELECT id FROM message_thread
        WHERE coalesce(feature_id, 0) = coalesce(CAST(:f AS bigint), 0)
          AND LEAST(starter_id, recipient_id) = LEAST(:a, :b)
          AND GREATEST(starter_id, recipient_id) = GREATEST(:a, :b)
    """), {"f": feature_id, "a": one, "b": other}).scalar_one_or_none()


def _thread_row(session: Session, thread_id: int, *, lock: bool = False) -> Any:
    sql = ("SELECT id, feature_id, starter_id, recipient_id FROM message_thread "
           "WHERE id = :t")
    row = session.execute(text(sql + " FOR UPDATE" if lock else sql),
                          {"t": thread_id}).one_or_none()
    if row is None:
        raise CommunityNotFound("no such conversation")
    return row


def send_message(session: Session, sender_id: int, recipient_id: int | None, body: str, *,
                 feature_id: int | None = None, thread_id: int | None = None,
                 settings: MessageSettings | None = None) -> int:
    """Write ``body`` from one resident to another; the thread's id.

    With ``thread_id`` the message goes into that thread (``recipient_id`` may be
    ``None``: the other party); otherwise into the thread of the two residents about
    ``feature_id`` (created on the first message). Runs in the caller's transaction,
    mail included. The hourly limit counts *sending transactions*: messages written in
    one transaction (an organiser writing one text to each of their volunteers) count
    once. Checks raise before anything is written, so a caller may catch
    :class:`Blocked` for one recipient and go on with the next.

    Raises
    ------
    InvalidCommunityInput
        Blank or too long a text, or a message to oneself.
    CommunityNotFound
        No such thread (or the sender is not in it), or the recipient has no account.
    NotAllowed
        The sender's account is deleted or a moderator stopped their messages.
    Blocked
        One of the two blocked the other.
    TooManyRequests
        The sender sent ``per_hour`` messages in the last hour (``retry_after``).
    SpamRefused
        The spam rules refuse the text (``reasons``).
    """
    settings = settings or MessageSettings.from_env()
    body = _clean_body(body)
    if thread_id is not None:
        row = _thread_row(session, thread_id, lock=True)
        parties = {row.starter_id, row.recipient_id}
        if sender_id not in parties:
            raise CommunityNotFound("no such conversation")
        other = (parties - {sender_id}).pop()
        if recipient_id is not None and recipient_id != other:
            raise InvalidCommunityInput({"recipient": "not the other person of this thread"})
        recipient_id, feature_id = other, row.feature_id
    if recipient_id is None:
        raise InvalidCommunityInput({"recipient": "say who the message is for"})
    if recipient_id == sender_id:
        raise InvalidCommunityInput({"recipient": "you cannot write to yourself"})
    sender = get_resident(session, sender_id)
    if sender is None:
        raise NotAllowed("your account no longer exists")
    if sender.messaging_blocked:
        raise NotAllowed("the moderators stopped messages from this account")
    recipient = get_resident(session, recipient_id)
    if recipient is None:
        raise CommunityNotFound("this person no longer has an account")
    if is_blocked_between(session, sender_id, recipient_id):
        raise Blocked("messages between you and this person are blocked")
    # now() is the transaction's start: copies of one text sent in this transaction
    # share it and are not counted again.
    recent, oldest_wait = session.execute(text("""
        SELECT count(DISTINCT created_at),
               ceil(extract(epoch FROM min(created_at) + interval '1 hour' - now()))::int
        FROM message WHERE sender_id = :s AND created_at > now() - interval '1 hour'
          AND created_at <> now()
    """), {"s": sender_id}).one()
    if recent >= settings.per_hour:
        raise TooManyRequests(f"you sent {recent} messages in the last hour, the most "
                              "allowed; try again later", retry_after=oldest_wait or 60)
    spam_score, reasons = _spam(body, recent)
    if spam_score >= SPAM_REFUSE:
        raise SpamRefused([r["reason"] for r in reasons if r["score"] > 0])
    if thread_id is None:
        thread_id = thread_between(session, sender_id, recipient_id, feature_id)
    if thread_id is None:
        thread_id = session.execute(text("""
            INSERT INTO message_thread (feature_id, starter_id, recipient_id)
            VALUES (:f, :s, :r)
            ON CONFLICT (coalesce(feature_id, 0), LEAST(starter_id, recipient_id),
                         GREATEST(starter_id, recipient_id))
            DO UPDATE SET last_message_at = now()
            RETURNING id
        """), {"f": feature_id, "s": sender_id, "r": recipient_id}).scalar_one()
    session.execute(text("""
        INSERT INTO message (thread_id, sender_id, body, spam_score, spam_reasons)
        VALUES (:t, :s, :b, :sc, CAST(:rs AS jsonb))
    """), {"t": thread_id, "s": sender_id, "b": body, "sc": spam_score,
           "rs": _json(reasons)})
    session.execute(text("UPDATE message_thread SET last_message_at = now() WHERE id = :t"),
                    {"t": thread_id})
    _notify(session, recipient_id, sender.public_name(recipient.lang), body, thread_id,
            feature_id, recipient.lang, recipient.email, settings)
    return thread_id


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _notify(session: Session, recipient_id: int, name: str, body: str, thread_id: int,
            feature_id: int | None, lang: str, email: str | None,
            settings: MessageSettings) -> None:
    if not email:
        return
    words = _words(_TEXTS, lang)
    title = None
    if feature_id is not None:
        title = session.execute(text("SELECT title FROM feature WHERE id = :f"),
                                {"f": feature_id}).scalar_one_or_none()
    subject = (words["subject_about"].format(name=name, title=title) if title
               else words["subject"].format(name=name))
    enqueue_mail(session, to=email, template="notice", lang=lang, context={
        "subject": subject, "intro": words["intro"].format(name=name, body=body),
        "url": settings.public_url.rstrip("/") + f"/me/threads/{thread_id}",
        "url_label": words["url_label"], "outro": words["outro"]})


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadSummary:
    """One line of a resident's conversations."""

    id: int
    other_name: str
    feature_id: int | None
    feature_title: str | None
    last_message_at: datetime
    messages: int
    awaiting_reply: bool = False  # the latest message is the other person's
    blocked_by_me: bool = False  # the resident blocked the other person


@dataclass(frozen=True)
class MessageView:
    """A message as a party to the thread sees it (hidden ones without their text).

    ``reported``: the viewer reported this message to the moderators.
    """

    id: int
    mine: bool
    author: str
    body: str | None
    created_at: datetime
    hidden: bool
    reported: bool = False


@dataclass(frozen=True)
class ThreadView:
    """A whole conversation, for one of its two residents."""

    id: int
    other_id: int
    other_name: str
    other_exists: bool
    feature_id: int | None
    feature_title: str | None
    blocked_by_me: bool
    blocked: bool
    messages: list[MessageView]


def _name(display_name: str | None, deleted: bool, lang: str) -> str:
    if deleted or not display_name:
        return ANONYMOUS.get(lang, ANONYMOUS["fr"])
    return display_name


def threads_of(session: Session, resident_id: int, *, lang: str = "fr",
               limit: int = 100) -> list[ThreadSummary]:
    """The resident's conversations, the most recent first."""
    rows = session.execute(text("""
        SELECT t.id, t.feature_id, t.last_message_at, f.title AS feature_title,
               o.display_name, o.deleted_at IS NOT NULL AS deleted,
               (SELECT count(*) FROM message m WHERE m.thread_id = t.id) AS messages,
               (SELECT m.sender_id FROM message m WHERE m.thread_id = t.id
                ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS last_sender,
               EXISTS (SELECT 1 FROM resident_block b
                       WHERE b.blocker_id = :r AND b.blocked_id = o.id) AS blocked_by_me
        FROM message_thread t
        JOIN resident o ON o.id = CASE WHEN t.starter_id = :r THEN t.recipient_id
                                       ELSE t.starter_id END
        LEFT JOIN feature f ON f.id = t.feature_id
        WHERE t.starter_id = :r OR t.recipient_id = :r
        ORDER BY t.last_message_at DESC, t.id DESC
        LIMIT :n
    """), {"r": resident_id, "n": limit}).all()
    return [ThreadSummary(id=r.id, other_name=_name(r.display_name, r.deleted, lang),
                          feature_id=r.feature_id, feature_title=r.feature_title,
                          last_message_at=r.last_message_at, messages=r.messages,
                          awaiting_reply=r.last_sender not in (None, resident_id),
                          blocked_by_me=r.blocked_by_me)
            for r in rows]


def thread_for(session: Session, thread_id: int, resident_id: int, *,
               lang: str = "fr") -> ThreadView:
    """The conversation as ``resident_id`` sees it.

    Raises
    ------
    CommunityNotFound
        No such thread, or the resident is not one of its two parties (the same
        answer: a thread's existence is not revealed to others).
    """
    row = _thread_row(session, thread_id)
    if resident_id not in (row.starter_id, row.recipient_id):
        raise CommunityNotFound("no such conversation")
    other_id = row.recipient_id if row.starter_id == resident_id else row.starter_id
    other = get_resident(session, other_id, include_deleted=True)
    assert other is not None
    me = get_resident(session, resident_id, include_deleted=True)
    title = None
    if row.feature_id is not None:
        title = session.execute(text("SELECT title FROM feature WHERE id = :f"),
                                {"f": row.feature_id}).scalar_one_or_none()
    blocked_by_me = session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM resident_block WHERE blocker_id = :a "
        "AND blocked_id = :b)"), {"a": resident_id, "b": other_id}).scalar_one()
    msgs = session.execute(text("""
        SELECT m.id, m.sender_id, m.body, m.created_at, m.hidden_at IS NOT NULL AS hidden,
               EXISTS (SELECT 1 FROM message_report r WHERE r.message_id = m.id
                       AND r.reporter_id = :me) AS reported
        FROM message m WHERE m.thread_id = :t ORDER BY m.created_at, m.id
    """), {"t": thread_id, "me": resident_id}).all()
    other_name = other.public_name(lang)
    my_name = me.public_name(lang) if me else ANONYMOUS.get(lang, ANONYMOUS["fr"])
    return ThreadView(
        id=row.id, other_id=other_id, other_name=other_name,
        other_exists=not other.deleted, feature_id=row.feature_id, feature_title=title,
        blocked_by_me=blocked_by_me,
        blocked=is_blocked_between(session, resident_id, other_id),
        messages=[MessageView(id=m.id, mine=m.sender_id == resident_id,
                              author=my_name if m.sender_id == resident_id else other_name,
                              body=None if m.hidden else m.body, created_at=m.created_at,
                              hidden=m.hidden, reported=m.reported) for m in msgs])


# --- moderation (item 5): every message is visible to moderators, who may hide one or
# --- stop a resident's messages; each action is audited in community_moderation.


@dataclass(frozen=True)
class ModeratedMessage:
    """A message as moderators see it (names and ids, never addresses).

    ``reports`` / ``report_reasons`` / ``reported_at``: the open reports of this message
    (the reasons residents gave, blank ones left out; the latest report's time).
    ``sender_reports``: open reports of every message of its sender, so a moderator
    sees a pattern before stopping someone.
    """

    id: int
    thread_id: int
    feature_id: int | None
    feature_title: str | None
    sender_id: int
    sender_name: str | None
    sender_blocked: bool
    recipient_id: int
    recipient_name: str | None
    body: str
    created_at: datetime
    spam_score: float
    hidden: bool
    hidden_reason: str | None
    reports: int = 0
    report_reasons: tuple[str, ...] = ()
    reported_at: datetime | None = None
    sender_reports: int = 0


_MODERATED = """
SELECT m.id, m.thread_id, t.feature_id, f.title AS feature_title, m.sender_id,
       sr.display_name AS sender_name, sr.messaging_blocked_at IS NOT NULL AS sb,
       CASE WHEN t.starter_id = m.sender_id THEN t.recipient_id
            ELSE t.starter_id END AS recipient_id,
       m.body, m.created_at, m.spam_score, m.hidden_at IS NOT NULL AS hidden,
       m.hidden_reason, rep.n AS reports, rep.reasons, rep.at AS reported_at
FROM {source}
JOIN message_thread t ON t.id = m.thread_id
JOIN resident sr ON sr.id = m.sender_id
LEFT JOIN feature f ON f.id = t.feature_id
LEFT JOIN LATERAL (
  SELECT count(*) AS n, max(r.created_at) AS at,
         array_remove(array_agg(r.reason ORDER BY r.created_at), NULL) AS reasons
  FROM message_report r WHERE r.message_id = m.id AND r.resolved_at IS NULL
) rep ON true
WHERE (CAST(:r AS bigint) IS NULL OR t.starter_id = :r OR t.recipient_id = :r)
  AND (CAST(:t AS bigint) IS NULL OR t.id = :t)
  {where}
ORDER BY {order}
LIMIT :n
"""
"""A page of messages for moderators; ``where`` narrows it (to the messages with open
reports, found through ``message_report_open_idx``, or to the others)."""


def _moderated(session: Session, rows: list[Any]) -> list[ModeratedMessage]:
    if not rows:
        return []
    names = dict(session.execute(text(
        "SELECT id, display_name FROM resident WHERE id = ANY(:ids)"),
        {"ids": list({r.recipient_id for r in rows})}).all())
    by_sender = dict(session.execute(text("""
        SELECT m.sender_id, count(*) FROM message_report r JOIN message m ON m.id = r.message_id
        WHERE r.resolved_at IS NULL AND m.sender_id = ANY(:ids) GROUP BY m.sender_id
    """), {"ids": list({r.sender_id for r in rows})}).all())
    return [ModeratedMessage(
        id=r.id, thread_id=r.thread_id, feature_id=r.feature_id,
        feature_title=r.feature_title, sender_id=r.sender_id, sender_name=r.sender_name,
        sender_blocked=r.sb, recipient_id=r.recipient_id,
        recipient_name=names.get(r.recipient_id), body=r.body, created_at=r.created_at,
        spam_score=r.spam_score, hidden=r.hidden, hidden_reason=r.hidden_reason,
        reports=r.reports, report_reasons=tuple(r.reasons or ()),
        reported_at=r.reported_at, sender_reports=by_sender.get(r.sender_id, 0))
        for r in rows]


def reported_messages(session: Session, *, resident_id: int | None = None,
                      thread_id: int | None = None, limit: int = 200
                      ) -> list[ModeratedMessage]:
    """Messages with open reports, the most recently reported first (same filters)."""
    sql = _MODERATED.format(
        source="message m",
        where="AND m.id IN (SELECT rr.message_id FROM message_report rr "
              "WHERE rr.resolved_at IS NULL)",
        order="rep.at DESC, m.id DESC")
    return _moderated(session, list(session.execute(text(sql), {
        "r": resident_id, "t": thread_id, "n": limit}).all()))


def recent_messages(session: Session, *, resident_id: int | None = None,
                    thread_id: int | None = None, limit: int = 200,
                    reported_first: bool = False) -> list[ModeratedMessage]:
    """The latest messages, optionally of one resident (sent or received) or one thread.

    With ``reported_first``, the messages with open reports come first (all of them,
    however old, up to ``limit``), then the latest others.
    """
    first = (reported_messages(session, resident_id=resident_id, thread_id=thread_id,
                               limit=limit) if reported_first else [])
    where = ("AND NOT EXISTS (SELECT 1 FROM message_report x WHERE x.message_id = m.id "
             "AND x.resolved_at IS NULL)") if reported_first else ""
    sql = _MODERATED.format(source="message m", where=where,
                            order="m.created_at DESC, m.id DESC")
    rest = _moderated(session, list(session.execute(text(sql), {
        "r": resident_id, "t": thread_id, "n": max(limit - len(first), 0)}).all()))
    return first + rest


def open_report_count(session: Session) -> int:
    """How many reports wait for a moderator (the partial index holds only those)."""
    return int(session.execute(text(
        "SELECT count(*) FROM message_report WHERE resolved_at IS NULL")).scalar_one())


REPORT_REASON_MAX = 1000


def report_message(session: Session, message_id: int, reporter_id: int,
                   reason: str | None = None, *,
                   settings: MessageSettings | None = None) -> bool:
    """``reporter_id`` reports a message they received; whether it is a new report.

    The reason is optional. Reporting the same message again changes nothing (and is
    not counted). The sender is not told. Runs in the caller's transaction.

    Raises
    ------
    CommunityNotFound
        No such message, or the reporter is not in its conversation (the same answer).
    InvalidCommunityInput
        Their own message, or a reason too long.
    NotAllowed
        The reporter's account no longer exists.
    TooManyRequests
        ``reports_per_day`` reports in the last 24 hours (``retry_after``).
    """
    settings = settings or MessageSettings.from_env()
    reason = (reason or "").replace("\r\n", "\n").replace("\x00", "").strip() or None
    if reason is not None and len(reason) > REPORT_REASON_MAX:
        raise InvalidCommunityInput({"reason": f"at most {REPORT_REASON_MAX:,} characters"})
    row = session.execute(text("""
        SELECT m.sender_id, t.starter_id, t.recipient_id
        FROM message m JOIN message_thread t ON t.id = m.thread_id WHERE m.id = :m
    """), {"m": message_id}).one_or_none()
    if row is None or reporter_id not in (row.starter_id, row.recipient_id):
        raise CommunityNotFound("no such message")
    if row.sender_id == reporter_id:
        raise InvalidCommunityInput({"message": "you cannot report your own message"})
    # The reporter's row is the lock of their rate: two reports at once count in turn.
    live = session.execute(text(
        "SELECT 1 FROM resident WHERE id = :r AND deleted_at IS NULL FOR UPDATE"),
        {"r": reporter_id}).scalar_one_or_none()
    if live is None:
        raise NotAllowed("your account no longer exists")
    if session.execute(text(
            "SELECT 1 FROM message_report WHERE message_id = :m AND reporter_id = :r"),
            {"m": message_id, "r": reporter_id}).scalar_one_or_none():
        return False
    recent, wait = session.execute(text("""
        SELECT count(*),
               ceil(extract(epoch FROM min(created_at) + interval '1 day' - now()))::int
        FROM message_report WHERE reporter_id = :r AND created_at > now() - interval '1 day'
    """), {"r": reporter_id}).one()
    if recent >= settings.reports_per_day:
        raise TooManyRequests(f"you reported {recent} messages in the last day, the most "
                              "allowed; the moderators are reading them",
                              retry_after=wait or 3600)
    session.execute(text("""
        INSERT INTO message_report (message_id, reporter_id, reason) VALUES (:m, :r, :why)
    """), {"m": message_id, "r": reporter_id, "why": reason})
    _alert_moderators(session, settings)
    return True


@on_account_deleted
def _forget_report_reasons(session: Session, resident_id: int) -> None:
    """A deleted account's reports stay counted; the reasons they wrote are erased.

    (Reports *of* their messages go with the messages, ``ON DELETE CASCADE``.)
    """
    session.execute(text("UPDATE message_report SET reason = NULL WHERE reporter_id = :r"),
                    {"r": resident_id})


REPORT_ALERT_QUIET = "15 minutes"
"""After a report alert, the next reports within this time send none (the moderators'
page lists them all): a burst of reports is one mail per moderator, not one each."""


def _alert_moderators(session: Session, settings: MessageSettings) -> int:
    """Mail every active moderator that a report waits, unless one was just told."""
    recent = session.execute(text("""
        SELECT count(*) FROM message_report
        WHERE resolved_at IS NULL AND created_at > now() - CAST(:quiet AS interval)
          AND created_at <> now()
    """), {"quiet": REPORT_ALERT_QUIET}).scalar_one()
    if recent:
        return 0
    waiting = open_report_count(session)
    url = settings.public_url.rstrip("/") + "/moderation/community/messages"
    sent = 0
    for to, lang in moderators(session):
        words = _words(_REPORT_ALERT, lang)
        enqueue_mail(session, to=to, template="notice", lang=lang, context={
            "subject": words["subject"], "intro": words["intro"].format(n=waiting),
            "url": url, "url_label": words["url_label"], "outro": words["outro"]})
        sent += 1
    return sent


def _resolve(session: Session, *, moderator_id: int, resolution: str,
             message_id: int | None = None, sender_id: int | None = None) -> int:
    """Close the open reports of a message (or of every message of a sender); how many.

    Each reporter is told the outcome (:func:`_tell_reporters`): only reports still
    open are closed here, so a report is answered at most once.
    """
    closed = session.execute(text("""
        UPDATE message_report r SET resolved_at = now(), resolved_by = :u, resolution = :how
        FROM message m
        WHERE m.id = r.message_id AND r.resolved_at IS NULL
          AND (CAST(:m AS bigint) IS NULL OR m.id = :m)
          AND (CAST(:s AS bigint) IS NULL OR m.sender_id = :s)
        RETURNING r.reporter_id, m.thread_id
    """), {"u": moderator_id, "how": resolution, "m": message_id,
           "s": sender_id}).all()
    _tell_reporters(session, closed, resolution)
    return len(closed)


# --- the reporter hears the outcome ------------------------------------------------------
# One short mail per reporter and decision (so at most one per report), in the reporter's
# language: the report was read and, in words, what was done. Never the sender's address,
# the moderator's name or the moderator's reason (written for the moderators' log).

_OUTCOME = {
    "subject": N_("Votre signalement a été examiné"),
    "one": N_("Les modérateurs ont examiné le message que vous avez signalé."),
    "many": N_("Les modérateurs ont examiné les {n} messages que vous avez signalés."),
    "url_label": N_("Voir la conversation"),
    "outro": N_("Merci d'avoir signalé ce message. Vous pouvez aussi bloquer une personne "
                "depuis la conversation."),
}
OUTCOMES = {
    "hidden": N_("Le message a été masqué : plus personne ne peut le lire."),
    "stopped": N_("La personne qui vous a écrit ne peut plus envoyer de messages."),
    "dismissed": N_("Après lecture, nous n'avons pas retenu le signalement : le message "
                    "reste visible."),
}
"""What was done, per ``message_report.resolution``, as the reporter reads it."""


def outcome_notice(lang: str | None, resolution: str, reports: int) -> tuple[str, str]:
    """``(subject, intro)`` of the outcome mail in ``lang`` (pure: no address, no name)."""
    words = _words(_OUTCOME, lang)
    head = words["one"] if reports == 1 else words["many"].format(n=reports)
    return words["subject"], head + "\n\n" + t(lang, OUTCOMES[resolution])


def _tell_reporters(session: Session, closed: list[Any], resolution: str) -> int:
    """Queue one outcome mail per reporter of ``closed`` ``(reporter_id, thread_id)``."""
    if not closed or resolution not in OUTCOMES:
        return 0
    threads: dict[int, list[int]] = {}
    for reporter_id, thread_id in closed:
        threads.setdefault(reporter_id, []).append(thread_id)
    people = session.execute(text("""
        SELECT id, email, lang FROM resident
        WHERE id = ANY(:ids) AND deleted_at IS NULL AND coalesce(email, '') <> ''
    """), {"ids": list(threads)}).all()
    base = MailSettings.from_env().public_url.rstrip("/")
    for who in people:
        subject, intro = outcome_notice(who.lang, resolution, len(threads[who.id]))
        # A stopped or dismissed message is still in the conversation; a hidden one
        # shows "hidden by the moderators" there: the link is the reporter's own page.
        enqueue_mail(session, to=who.email, template="notice", lang=who.lang, context={
            "subject": subject, "intro": intro,
            "url": f"{base}/me/threads/{min(threads[who.id])}",
            "url_label": t(who.lang, _OUTCOME["url_label"]),
            "outro": t(who.lang, _OUTCOME["outro"])})
    return len(people)


def dismiss_reports(session: Session, message_id: int, *, moderator_id: int,
                    reason: str) -> int:
    """A moderator finds a message's reports unfounded: close them, audited; how many.

    Raises
    ------
    InvalidCommunityInput
        No reason given.
    CommunityNotFound
        No open report on this message.
    """
    reason = _reason(reason)
    done = _resolve(session, moderator_id=moderator_id, resolution="dismissed",
                    message_id=message_id)
    if not done:
        raise CommunityNotFound("no open report on this message")
    session.execute(text("""
        INSERT INTO community_moderation (actor_id, action, message_id, resident_id, reason)
        SELECT :u, 'dismiss_report', m.id, m.sender_id, :why FROM message m WHERE m.id = :m
    """), {"u": moderator_id, "m": message_id, "why": reason})
    return done


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidCommunityInput({"reason": "give a reason"})
    if len(reason) > 1000:
        raise InvalidCommunityInput({"reason": "at most 1,000 characters"})
    return reason


def set_message_hidden(session: Session, message_id: int, *, moderator_id: int,
                       reason: str, hidden: bool = True) -> int:
    """Hide (or show again) a message, audited; how many reports this answered.

    Hiding resolves the message's open reports (``hidden``, with who and when) and
    tells each reporter.

    Raises
    ------
    InvalidCommunityInput
        No reason given.
    CommunityNotFound
        No such message.
    """
    reason = _reason(reason)
    done = session.execute(text("""
        UPDATE message SET hidden_at = CASE WHEN :h THEN now() END,
                           hidden_by = CASE WHEN :h THEN CAST(:u AS integer) END,
                           hidden_reason = CASE WHEN :h THEN :why END
        WHERE id = :m
    """), {"h": hidden, "u": moderator_id, "why": reason, "m": message_id}).rowcount
    if not done:
        raise CommunityNotFound("no such message")
    session.execute(text("""
        INSERT INTO community_moderation (actor_id, action, message_id, resident_id, reason)
        SELECT :u, :a, m.id, m.sender_id, :why FROM message m WHERE m.id = :m
    """), {"u": moderator_id, "a": "hide_message" if hidden else "show_message",
           "m": message_id, "why": reason})
    if not hidden:
        return 0
    # the reports of this message are answered
    return _resolve(session, moderator_id=moderator_id, resolution="hidden",
                    message_id=message_id)


def set_messaging_blocked(session: Session, resident_id: int, *, moderator_id: int,
                          reason: str, blocked: bool = True) -> int:
    """Stop (or allow again) every message from a resident, audited; reports answered.

    Stopping resolves the open reports of every message they sent (``stopped``) and
    tells each reporter.

    Raises
    ------
    InvalidCommunityInput
        No reason given.
    CommunityNotFound
        No such resident.
    """
    reason = _reason(reason)
    done = session.execute(text("""
        UPDATE resident SET messaging_blocked_at = CASE WHEN :b THEN now() END,
                            messaging_blocked_reason = CASE WHEN :b THEN :why END
        WHERE id = :r
    """), {"b": blocked, "why": reason, "r": resident_id}).rowcount
    if not done:
        raise CommunityNotFound("no such resident")
    session.execute(text("""
        INSERT INTO community_moderation (actor_id, action, resident_id, reason)
        VALUES (:u, :a, :r, :why)
    """), {"u": moderator_id, "a": "block_resident" if blocked else "unblock_resident",
           "r": resident_id, "why": reason})
    if not blocked:
        return 0
    # the reports of every message they sent are answered
    return _resolve(session, moderator_id=moderator_id, resolution="stopped",
                    sender_id=resident_id)


def moderation_log(session: Session, *, limit: int = 50) -> list[Any]:
    """The latest audited actions on messages and residents (newest first)."""
    return list(session.execute(text("""
        SELECT c.at, c.action, c.message_id, c.resident_id, c.reason, u.email AS actor
        FROM community_moderation c LEFT JOIN app_user u ON u.id = c.actor_id
        ORDER BY c.at DESC, c.id DESC LIMIT :n
    """), {"n": limit}).all())
