"""Sending the outbox through SMTP: what ``carte worker`` runs.

Each message is claimed, sent and marked in **one transaction of its own**: the claim
is a row lock (``FOR UPDATE SKIP LOCKED``), so several workers share the queue without
sending a message twice, and a worker killed mid-send leaves no claim behind (its
transaction dies with its connection) — the message is sent after restart. The one
window for a duplicate is a crash between the server's ``250 OK`` and our commit; the
stable ``Message-ID`` lets receiving systems fold that duplicate.

A failure is retried with exponential backoff (``retry_base_s * 2**attempts``, capped
at ``retry_cap_s``): a connection refused, a refused login or a temporary (4xx)
answer keeps the message queued forever, and stops the round (the server is down or
misconfigured: no point hammering it); a permanent refusal of the recipient or of the
message (5xx) marks it ``failed`` with the error.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import Engine, text

from .config import MailSettings

__all__ = ["DeliveryReport", "build_message", "deliver_due", "purge_sent"]

log = logging.getLogger(__name__)

_CLAIM = text("""
    SELECT id, to_addr, message_id, subject, body_text, body_html, headers, attempts,
           created_at, attachments
    FROM mail_outbox
    WHERE status = 'queued' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
""")

_SENT = text("""
    UPDATE mail_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1,
           last_error = NULL
    WHERE id = :id
""")

_RETRY = text("""
    UPDATE mail_outbox SET attempts = attempts + 1, last_error = :err,
           next_attempt_at = now() + make_interval(secs => :delay)
    WHERE id = :id
""")

_FAILED = text("""
    UPDATE mail_outbox SET status = 'failed', attempts = attempts + 1, last_error = :err
    WHERE id = :id
""")


@dataclass
class DeliveryReport:
    """What one round of :func:`deliver_due` did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the CLI prints it)."""
        return {"sent": self.sent, "retried": self.retried, "failed": self.failed,
                "errors": self.errors[-3:]}


def backoff(attempts: int, settings: MailSettings) -> float:
    """Seconds before the next try after ``attempts`` failed ones (1, 2, ...)."""
    return min(settings.retry_cap_s, settings.retry_base_s * 2 ** max(0, attempts - 1))


def build_message(row: Any, settings: MailSettings) -> EmailMessage:
    """The RFC 5322 message of one outbox row: text part, HTML alternative, headers."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(row.created_at.timestamp(), localtime=False)
    msg["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        msg[name] = value
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    for part in getattr(row, "attachments", None) or []:  # 0014_signups: e.g. an .ics
        maintype, _, subtype = part["media_type"].partition("/")
        msg.add_attachment(base64.b64decode(part["data_b64"]), maintype=maintype,
                           subtype=subtype or "octet-stream", filename=part["filename"])
    return msg


def _connect(settings: MailSettings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                        timeout=settings.smtp_timeout_s)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _permanent(exc: Exception) -> bool:
    """Whether the server refused *this message* for good (its recipient or content).

    A refused login or sender is our configuration, not the message: kept and retried.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def deliver_due(engine: Engine, settings: MailSettings | None = None, *,
                limit: int = 500) -> DeliveryReport:
    """Send up to ``limit`` due messages over one SMTP connection; what happened.

    Stops early when the server cannot be reached or answers with a temporary error
    (the claimed message is rescheduled with backoff, the others wait untouched).
    """
    settings = settings or MailSettings.from_env()
    report = DeliveryReport()
    smtp: smtplib.SMTP | None = None
    try:
        for _ in range(limit):
            with engine.begin() as conn:
                row = conn.execute(_CLAIM).one_or_none()
                if row is None:
                    break
                try:
                    if smtp is None:
                        smtp = _connect(settings)
                    smtp.send_message(build_message(row, settings))
                except (OSError, smtplib.SMTPException) as exc:
                    err = f"{type(exc).__name__}: {exc}"[:500]
                    report.errors.append(err)
                    if _permanent(exc):
                        conn.execute(_FAILED, {"id": row.id, "err": err})
                        report.failed += 1
                        log.warning("mail %s refused for good: %s", row.id, err)
                        continue
                    conn.execute(_RETRY, {"id": row.id, "err": err,
                                          "delay": backoff(row.attempts + 1, settings)})
                    report.retried += 1
                    log.warning("mail %s not sent, retried later: %s", row.id, err)
                    if smtp is not None:
                        smtp.close()
                        smtp = None
                    break
                conn.execute(_SENT, {"id": row.id})
                report.sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
    return report


def purge_sent(engine: Engine, *, keep_days: float = 30.0) -> int:
    """Delete sent messages older than ``keep_days``: bodies hold addresses and names.

    Failed ones are kept for an operator to read (``carte residents forget`` deletes
    them with the rest of an address).
    """
    with engine.begin() as conn:
        return conn.execute(text(
            "DELETE FROM mail_outbox WHERE status = 'sent' "
            "AND sent_at < now() - make_interval(secs => :s)"),
            {"s": keep_days * 86400}).rowcount
