"""Moderators' view of relayed messages between residents (issue 20 item 5).

* ``GET /moderation/community/messages[?resident=<id>&thread=<id>]`` the messages
  residents reported first (however old: the latest report first, with the reasons
  and how many open reports its sender's messages have), then the latest messages,
  newest first: the item they are about, sender and recipient (display name and id,
  never the address), the text, its spam score, whether it is hidden; and the latest
  audited actions.
* ``POST /moderation/community/messages/<id>/hide`` (``action=show`` to show it again)
  with a reason: the parties then see "hidden by the moderators" instead of the text.
* ``POST /moderation/community/residents/<id>/block`` (``action=unblock``) with a
  reason: the resident can no longer send any message.
* Hiding a message resolves its reports; stopping a resident resolves the reports of
  every message they sent; ``POST /moderation/community/messages/<id>/dismiss`` with a
  reason closes a message's reports as unfounded.

Every action is audited (``community_moderation``: who, when, what, why). Routes are
added to the moderation blueprint; the logic is in :mod:`community.messages`.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request

from community.errors import CommunityNotFound, InvalidCommunityInput
from community.messages import (
    dismiss_reports,
    moderation_log,
    open_report_count,
    recent_messages,
    set_message_hidden,
    set_messaging_blocked,
)

from .i18n import lang
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["messages_page"]

PAGE = "/moderation/community/messages"

_TEXT = {
    "fr": {"title": "Messages entre habitant·e·s", "none": "Aucun message.",
           "about": "À propos de", "from": "De", "to": "À", "text": "Message",
           "when": "Le", "spam": "Score de spam", "hidden": "masqué",
           "hide": "Masquer", "show": "Réafficher", "block": "Bloquer ses messages",
           "unblock": "Débloquer ses messages", "blocked": "messages bloqués",
           "reason": "Motif (gardé au journal)", "resident": "N° d'habitant·e",
           "thread": "N° de conversation", "filter": "Filtrer", "log": "Journal",
           "need_reason": "Donnez un motif.", "unknown": "Message ou habitant·e introuvable.",
           "done": "C'est fait.", "anonymous": "un·e habitant·e",
           "reported": "Signalé", "reports_open": "Signalements à traiter : {n}",
           "no_reports": "Aucun signalement à traiter.",
           "report_reasons": "Motif donné", "no_reason": "(sans motif)",
           "sender_reports": "signalements ouverts sur ses messages : {n}",
           "dismiss": "Classer le signalement",
           "resolve_hint": "Masquer le message ou bloquer ses messages traite le "
                           "signalement ; sinon, classez-le.",
           "actions": {"hide_message": "message masqué", "show_message": "message réaffiché",
                       "block_resident": "messages bloqués",
                       "unblock_resident": "messages débloqués",
                       "dismiss_report": "signalement classé"}},
    "en": {"title": "Messages between residents", "none": "No message.",
           "about": "About", "from": "From", "to": "To", "text": "Message",
           "when": "On", "spam": "Spam score", "hidden": "hidden",
           "hide": "Hide", "show": "Show again", "block": "Block their messages",
           "unblock": "Unblock their messages", "blocked": "messages blocked",
           "reason": "Reason (kept in the log)", "resident": "Resident id",
           "thread": "Conversation id", "filter": "Filter", "log": "Log",
           "need_reason": "Give a reason.", "unknown": "No such message or resident.",
           "done": "Done.", "anonymous": "a resident",
           "reported": "Reported", "reports_open": "Reports to decide: {n}",
           "no_reports": "No report to decide.",
           "report_reasons": "Reason given", "no_reason": "(no reason)",
           "sender_reports": "open reports on their messages: {n}",
           "dismiss": "Dismiss the report",
           "resolve_hint": "Hiding the message or blocking their messages resolves the "
                           "report; otherwise, dismiss it.",
           "actions": {"hide_message": "message hidden", "show_message": "message shown",
                       "block_resident": "messages blocked",
                       "unblock_resident": "messages unblocked",
                       "dismiss_report": "report dismissed"}},
}


def _x() -> dict[str, Any]:
    return _TEXT["en" if lang() == "en" else "fr"]


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip().lstrip("#")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _page(status: int = 200, message: str | None = None, error: str | None = None
          ) -> tuple[str, int]:
    resident, thread = _int(request.args.get("resident")), _int(request.args.get("thread"))
    s = db()
    rows = recent_messages(s, resident_id=resident, thread_id=thread, reported_first=True)
    log = moderation_log(s)
    open_reports = open_report_count(s)
    s.rollback()
    return render_template("moderation/community_messages.html", rows=rows, log=log,
                           x=_x(), resident=resident, thread=thread, message=message,
                           error=error, open_reports=open_reports), status


@bp.get("/community/messages")
@require_role(MODERATOR)
def messages_page() -> tuple[str, int]:
    """The latest messages, filterable by resident or conversation."""
    return _page(message=_x()["done"] if request.args.get("done") else None)


def _act(action: Any) -> Any:
    s = db()
    try:
        action(s)
        s.commit()
    except InvalidCommunityInput:
        s.rollback()
        return _page(400, error=_x()["need_reason"])
    except CommunityNotFound:
        s.rollback()
        return _page(404, error=_x()["unknown"])
    return redirect(f"{PAGE}?done=1", 303)


@bp.post("/community/messages/<int:message_id>/hide")
@require_role(MODERATOR)
def message_hide(message_id: int) -> Any:
    """Hide (or ``action=show``: show again) a message, with a reason."""
    return _act(lambda s: set_message_hidden(
        s, message_id, moderator_id=g.user.id, reason=request.form.get("reason", ""),
        hidden=request.form.get("action") != "show"))


@bp.post("/community/residents/<int:resident_id>/block")
@require_role(MODERATOR)
def resident_block(resident_id: int) -> Any:
    """Stop (or ``action=unblock``: allow again) a resident's messages, with a reason."""
    return _act(lambda s: set_messaging_blocked(
        s, resident_id, moderator_id=g.user.id, reason=request.form.get("reason", ""),
        blocked=request.form.get("action") != "unblock"))


@bp.post("/community/messages/<int:message_id>/dismiss")
@require_role(MODERATOR)
def message_dismiss(message_id: int) -> Any:
    """Close a message's open reports as unfounded, with a reason (audited)."""
    return _act(lambda s: dismiss_reports(s, message_id, moderator_id=g.user.id,
                                          reason=request.form.get("reason", "")))
