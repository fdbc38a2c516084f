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
* Each reporter whose report is answered this way gets one short mail in their language
  saying what was done (:func:`community.messages.outcome_notice`), never the
  moderator's name or reason; the page says how many were told.

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

from .i18n import N_, t, tn
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["ACTIONS", "action_text", "messages_page"]

PAGE = "/moderation/community/messages"

ACTIONS = {
    "hide_message": N_("message masqué"), "show_message": N_("message réaffiché"),
    "block_resident": N_("messages bloqués"), "unblock_resident": N_("messages débloqués"),
    "dismiss_report": N_("signalement classé"),
}
"""The audited actions of the page's log as words (French msgids of the ``moderation``
catalogue); the template's own words are ``t(...)`` calls in the template."""


def action_text(code: str) -> str:
    """An audited action of the log in the page's language; an unknown code as it is."""
    return t(ACTIONS[code]) if code in ACTIONS else code


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
                           action_text=action_text, resident=resident, thread=thread,
                           message=message, error=error, open_reports=open_reports), status


@bp.get("/community/messages")
@require_role(MODERATOR)
def messages_page() -> tuple[str, int]:
    """The latest messages, filterable by resident or conversation."""
    told = _int(request.args.get("told")) or 0
    return _page(message=(
        tn("C'est fait. %(num)s signalement traité : la personne qui l'avait fait en est "
           "informée par e-mail, sans votre nom ni votre motif.",
           "C'est fait. %(num)s signalements traités : les personnes qui les avaient faits "
           "en sont informées par e-mail, sans votre nom ni votre motif.", told)
        if told else t("C'est fait.") if request.args.get("done") else None))


def _act(action: Any) -> Any:
    s = db()
    try:
        answered = action(s)  # reports answered (their reporters are mailed)
        s.commit()
    except InvalidCommunityInput:
        s.rollback()
        return _page(400, error=t("Donnez un motif."))
    except CommunityNotFound:
        s.rollback()
        return _page(404, error=t("Message ou habitant·e introuvable."))
    return redirect(f"{PAGE}?done=1" + (f"&told={answered}" if answered else ""), 303)


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
