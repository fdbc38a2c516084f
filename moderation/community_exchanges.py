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

from .i18n import domain, t
from .views import MODERATOR, bp
from .web import db, require_role

__all__ = ["exchanges_page"]

tp = domain.pgettext  # a word whose English depends on what it qualifies

PAGE = "/moderation/community/exchanges"
EXCHANGE_STATES = ("proposed", "recorded", "confirmed", "disputed", "cancelled", "reversed")
LOAN_STATES = ("requested", "agreed", "lent", "returned", "completed", "declined",
               "cancelled")


def _x() -> dict[str, Any]:
    """The page's words in the moderator's language (``moderation`` catalogue)."""
    return {"title": t("Échanges de temps et prêts"), "exchanges": t("Échanges de temps"),
            "loans": t("Prêts et trocs"), "none": t("Aucun."), "offer": t("Offre"),
            "giver": t("Donne"), "receiver": t("Reçoit"), "lender": t("Prête"),
            "borrower": t("Emprunte"), "time": t("Temps"), "date": t("Date"), "state": t("État"),
            "note": t("Note"), "dispute": t("Contestation"), "dates": t("Dates"),
            "reverse": t("Contre-passer (écriture inverse)"), "cancel": t("Annuler"),
            "reason": t("Motif (gardé au journal)"), "log": t("Journal"), "by": t("par"),
            "need_reason": t("Donnez un motif."), "done": t("C'est fait."),
            "refused": t("Impossible : l'élément a changé d'état ou n'existe pas."),
            "filter": t("Filtrer"), "all": t("Tous les états"), "late": t("en retard"),
            "reverse_exchange": t("échange contre-passé"), "cancel_exchange": t("échange annulé"),
            "cancel_loan": t("prêt annulé"), "resident": t("habitant·e"),
            "states": {"proposed": t("répondu"), "recorded": t("enregistré"),
                       "confirmed": t("confirmé"), "disputed": t("contesté"),
                       "cancelled": t("annulé"), "reversed": t("contre-passé"),
                       "requested": t("demandé"), "agreed": t("accepté"), "lent": t("prêté"),
                       "returned": t("rendu"), "completed": t("remis"),
                       "declined": tp("état d'un prêt", "refusé")}}


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
