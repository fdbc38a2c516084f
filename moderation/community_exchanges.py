"""Moderators' view of the time bank and loans (issue 20 item 5).

* ``GET /moderation/community/exchanges[?status=...]``: every time exchange and every
  loan, newest first: the offer, both residents (display name and id, never the
  address), units, dates, notes, state, what a dispute said; and the log of what
  moderators did here.
* ``POST /moderation/community/exchanges/<id>/reverse``: a booked exchange is
  corrected by a reversing ledger transfer (the original stays: the ledger is
  append-only), with a reason kept in ``exchange_moderation``.
* ``POST /moderation/community/exchanges/<id>/cancel``: an exchange not booked yet.
* ``POST /moderation/community/loans/<id>/cancel``: an open loan (an object out shows
  available again on the map).

Routes are added to the moderation blueprint; the logic is :mod:`community.ledger` and
:mod:`community.loans`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request
from sqlalchemy import text

from community import ledger, loans
from community.exchange_notices import notify

from .i18n import lang
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["exchanges_page"]

PAGE = "/moderation/community/exchanges"
EXCHANGE_STATES = ("proposed", "recorded", "confirmed", "disputed", "cancelled", "reversed")
LOAN_STATES = ("requested", "agreed", "lent", "returned", "completed", "declined",
               "cancelled")

_TEXT = {
    "fr": {"title": "Échanges de temps et prêts", "exchanges": "Échanges de temps",
           "loans": "Prêts et trocs", "none": "Aucun.", "offer": "Offre",
           "giver": "Donne", "receiver": "Reçoit", "lender": "Prête",
           "borrower": "Emprunte", "time": "Temps", "date": "Date", "state": "État",
           "note": "Note", "dispute": "Contestation", "dates": "Dates",
           "reverse": "Contre-passer (écriture inverse)", "cancel": "Annuler",
           "reason": "Motif (gardé au journal)", "log": "Journal", "by": "par",
           "need_reason": "Donnez un motif.", "done": "C'est fait.",
           "refused": "Impossible : l'élément a changé d'état ou n'existe pas.",
           "filter": "Filtrer", "all": "Tous les états", "late": "en retard",
           "reverse_exchange": "échange contre-passé", "cancel_exchange": "échange annulé",
           "cancel_loan": "prêt annulé", "resident": "habitant·e",
           "states": {"proposed": "répondu", "recorded": "enregistré",
                      "confirmed": "confirmé", "disputed": "contesté",
                      "cancelled": "annulé", "reversed": "contre-passé",
                      "requested": "demandé", "agreed": "accepté", "lent": "prêté",
                      "returned": "rendu", "completed": "remis", "declined": "refusé"}},
    "en": {"title": "Time exchanges and loans", "exchanges": "Time exchanges",
           "loans": "Loans and barter", "none": "None.", "offer": "Offer",
           "giver": "Gives", "receiver": "Receives", "lender": "Lends",
           "borrower": "Borrows", "time": "Time", "date": "Date", "state": "Status",
           "note": "Note", "dispute": "Dispute", "dates": "Dates",
           "reverse": "Reverse (opposite entry)", "cancel": "Cancel",
           "reason": "Reason (kept in the log)", "log": "Log", "by": "by",
           "need_reason": "Give a reason.", "done": "Done.",
           "refused": "Not possible: the item changed state or does not exist.",
           "filter": "Filter", "all": "Every status", "late": "late",
           "reverse_exchange": "exchange reversed", "cancel_exchange": "exchange cancelled",
           "cancel_loan": "loan cancelled", "resident": "resident",
           "states": {"proposed": "answered", "recorded": "recorded",
                      "confirmed": "confirmed", "disputed": "disputed",
                      "cancelled": "cancelled", "reversed": "reversed",
                      "requested": "requested", "agreed": "agreed", "lent": "lent",
                      "returned": "returned", "completed": "handed over",
                      "declined": "declined"}},
}

_EXCHANGES = text("""
    SELECT e.id, e.status, e.units, e.happened_on, e.note, e.dispute_reason, e.created_at,
           e.feature_id, f.title AS feature_title, e.giver_id, e.receiver_id,
           g.display_name AS giver_name, r.display_name AS receiver_name
    FROM exchange e JOIN resident g ON g.id = e.giver_id
    JOIN resident r ON r.id = e.receiver_id LEFT JOIN feature f ON f.id = e.feature_id
    WHERE CAST(:status AS text) IS NULL OR e.status = :status
    ORDER BY e.id DESC LIMIT 300
""")
_LOANS = text("""
    SELECT l.id, l.status, l.kind, l.starts_on, l.due_on, l.note, l.created_at,
           l.feature_id, f.title AS feature_title, l.lender_id, l.borrower_id,
           a.display_name AS lender_name, b.display_name AS borrower_name,
           l.status = 'lent' AND l.due_on < current_date AS late
    FROM loan l JOIN resident a ON a.id = l.lender_id
    JOIN resident b ON b.id = l.borrower_id JOIN feature f ON f.id = l.feature_id
    WHERE CAST(:status AS text) IS NULL OR l.status = :status
    ORDER BY l.id DESC LIMIT 300
""")
_LOG = text("""
    SELECT m.at, m.action, m.exchange_id, m.loan_id, m.reason, u.email AS actor
    FROM exchange_moderation m JOIN app_user u ON u.id = m.actor_id
    ORDER BY m.id DESC LIMIT 50
""")


def _x() -> dict[str, Any]:
    return _TEXT["en" if lang() == "en" else "fr"]


def _page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    state = request.args.get("status") or None
    s = db()
    exchanges = s.execute(_EXCHANGES, {"status": state if state in EXCHANGE_STATES else None
                                       }).all() if state is None or state in EXCHANGE_STATES else []
    loan_rows = s.execute(_LOANS, {"status": state if state in LOAN_STATES else None
                                   }).all() if state is None or state in LOAN_STATES else []
    log = s.execute(_LOG).all()
    s.rollback()
    return render_template("moderation/community_exchanges.html", x=_x(),
                           exchanges=exchanges, loans=loan_rows, log=log, state=state,
                           states=EXCHANGE_STATES + tuple(
                               st for st in LOAN_STATES if st not in EXCHANGE_STATES),
                           hours=ledger.units_label, error=error,
                           message=_x()["done"] if request.args.get("done") else None
                           ), status


@bp.get("/community/exchanges")
@require_role(MODERATOR)
def exchanges_page() -> tuple[str, int]:
    """Every exchange and loan, filterable by state, and the moderators' log."""
    return _page()


def _act(action: Any) -> Any:
    s = db()
    try:
        action(s)
        s.commit()
    except ledger.InvalidExchange:
        s.rollback()
        return _page(400, error=_x()["need_reason"])
    except ledger.ExchangeError:
        s.rollback()
        return _page(409, error=_x()["refused"])
    return redirect(f"{PAGE}?done=1", 303)


@bp.post("/community/exchanges/<int:exchange_id>/<action>")
@require_role(MODERATOR)
def exchange_moderate(exchange_id: int, action: str) -> Any:
    """``reverse`` a booked exchange or ``cancel`` one not booked, with a reason."""
    reason = request.form.get("reason", "")
    if action == "reverse":
        def reverse(s: Any) -> None:
            ledger.reverse_exchange(s, exchange_id, actor_id=g.user.id, reason=reason)
            x = ledger.exchange_view(s, exchange_id)
            for who in (x.giver_id, x.receiver_id):  # both accounts moved: both are told
                notify(s, "exchange.reversed", to=who, by=None, path="/exchange/",
                       time=ledger.units_label(x.units or 0), reason=reason.strip(),
                       settings=_mail())
        return _act(reverse)
    if action == "cancel":
        return _act(lambda s: ledger.moderator_cancel_exchange(s, exchange_id,
                                                               actor_id=g.user.id,
                                                               reason=reason))
    return _page(404, error=_x()["refused"])


@bp.post("/community/loans/<int:loan_id>/cancel")
@require_role(MODERATOR)
def loan_moderate(loan_id: int) -> Any:
    """Cancel an open loan with a reason (audited)."""
    reason = request.form.get("reason", "")

    def cancel(s: Any) -> None:
        loans.moderator_cancel_loan(s, loan_id, actor_id=g.user.id, reason=reason)
        view = loans.loan_view(s, loan_id)
        for who in (view.lender_id, view.borrower_id):
            notify(s, "loan.moderated", to=who, by=None, path=f"/loans/{loan_id}",
                   title=view.feature_title, reason=reason.strip(), settings=_mail())
    return _act(cancel)


def _mail() -> Any:
    settings = current_app.config.get("SETTINGS")
    return settings.mail() if settings is not None else None
