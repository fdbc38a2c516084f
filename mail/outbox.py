"""The outbox: the one way the product sends e-mail.

Call :func:`enqueue_mail` inside the transaction of whatever the message reports (a
decision, a reset link, a confirmation): the message is rendered and stored with it,
so it exists if and only if that transaction commits. ``carte worker``
(:mod:`mail.sender`) sends it later through SMTP with retries: a request never waits
for a mail server, and an SMTP outage loses nothing.

Example (a password reset, from the moderation package)::

    from mail import enqueue_mail
    enqueue_mail(session, to=user.email, template="notice", lang="en", context={
        "subject": "Reset your password", "intro": "Someone asked to reset ...",
        "url": reset_url, "url_label": "Choose a new password"})

The generic ``notice`` template takes ``subject``, ``intro`` (plain text, may hold
blank-line paragraphs), optional ``url``/``url_label`` and optional ``outro``; add a
template of your own as ``mail/templates/<lang>/<name>.j2`` (blocks ``subject``,
``text``, ``html``; see :mod:`mail.render`).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from email.utils import parseaddr
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .config import MailSettings
from .render import LANGS, render

__all__ = ["enqueue_mail", "normalise_lang"]

_INSERT = text("""
    INSERT INTO mail_outbox (to_addr, address_id, template, lang, message_id, subject,
                             body_text, body_html, headers, attachments)
    VALUES (:to, :aid, :tpl, :lang, :mid, :subject, :text, :html, CAST(:headers AS jsonb),
            CAST(:attachments AS jsonb))
    RETURNING id
""")


def normalise_lang(lang: str | None) -> str:
    """``fr`` or ``en`` from a language tag (``en-GB`` → ``en``); French by default."""
    base = (lang or "").strip().lower()[:2]
    return base if base in LANGS else "fr"


def _message_id(settings: MailSettings) -> str:
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def enqueue_mail(session: Session, *, to: str, template: str, lang: str | None,
                 context: Mapping[str, Any], address_id: int | None = None,
                 unsubscribe_url: str | None = None, auto_submitted: bool = True,
                 settings: MailSettings | None = None,
                 attachments: Sequence[tuple[str, str, bytes]] = ()) -> int:
    """Queue one message in the caller's transaction; returns its outbox id.

    Parameters
    ----------
    session
        The caller's session: the message is committed (or rolled back) with the rest.
    to
        The recipient's address.
    template
        A template name (``notice``, ``decision_approved``...; see the module docstring).
    lang
        ``fr`` or ``en`` (a tag like ``en-GB`` works; anything else falls back to French).
    context
        The template's variables. ``site_url`` is added (the public root).
    address_id
        The ``resident_address`` row the message goes to, if any: forgetting that
        resident deletes the queued and sent messages too.
    unsubscribe_url
        One-click unsubscribe link: adds ``List-Unsubscribe`` and
        ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) headers.
    auto_submitted
        Adds ``Auto-Submitted: auto-generated`` (RFC 3834): every message the product
        sends is automatic, which stops vacation replies answering it.
    attachments
        Files sent with the message, ``(filename, media_type, content)`` each (e.g. the
        ``.ics`` of a registration); stored with the row, attached by the sender.

    Raises
    ------
    mail.errors.UnknownTemplate
        No such template.
    """
    settings = settings or MailSettings.from_env()
    lang = normalise_lang(lang)
    ctx = {"site_url": settings.public_url, **context}
    if unsubscribe_url:
        ctx.setdefault("unsubscribe_url", unsubscribe_url)
    rendered = render(template, lang, ctx)
    headers: dict[str, str] = {}
    if auto_submitted:
        headers["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return session.execute(_INSERT, {
        "to": to.strip(), "aid": address_id, "tpl": template, "lang": lang,
        "mid": _message_id(settings), "subject": rendered.subject, "text": rendered.text,
        "html": rendered.html, "headers": json.dumps(headers),
        "attachments": json.dumps([
            {"filename": name, "media_type": media_type,
             "data_b64": base64.b64encode(content).decode("ascii")}
            for name, media_type, content in attachments])}).scalar_one()
