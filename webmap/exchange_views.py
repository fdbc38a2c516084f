"""The time bank and lending pages and APIs of a signed-in resident, and the aggregates.

APIs (JSON; the resident's ones are ``no-store`` and answer 401 problem+json to an
anonymous caller):

* ``GET /api/v1/me/balance``: ``{"units", "hours", "min_units", "min_hours"}``;
* ``GET /api/v1/me/statement?before=&limit=``: a page of the statement (JSON);
* ``GET /api/v1/me/statement.csv``: the whole statement as CSV;
* ``GET /api/v1/features/<id>/exchange``: what the map's panel offers on a place
  (answer a time exchange or a loan, my open exchange or loan there);
* ``GET /api/v1/stats/exchange``: the public aggregates (:mod:`community.stats`).

Pages (forms with the CSRF token, French and English through the gettext catalogue):
``/exchange/`` (my balance, statement, exchanges and loans), ``/exchange/offers/<id>``
(answer an offer), ``/exchange/<id>`` (record, confirm, dispute, cancel),
``/exchange/new?thread=<id>`` (record a service given to the other person of a
conversation), ``/loans/<id>`` (agree, decline, lent, returned, cancel). The ``/me``
page shows the balance and the open exchanges (:func:`register_me_section`).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import ledger, loans, stats
from community.exchange_notices import notify
from community.ledger import (
    BalanceLimit,
    ExchangeError,
    ExchangeNotFound,
    InvalidExchange,
    NotAParty,
    WrongState,
)
from community.messages import thread_between

from .api_openapi import register_operations
from .me_views import register_me_section
from .residents_auth import current_resident, resident_required
from .views.i18n import current_lang
from .web import db_session, engine, json_response, problem

__all__ = ["bp"]

bp = Blueprint("exchange", __name__)

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_ID = 2**63 - 1
PAGE_LINES = 20
_STATUS = {BalanceLimit: 409, ExchangeNotFound: 404, NotAParty: 403, WrongState: 409,
           InvalidExchange: 400}


# --- helpers ------------------------------------------------------------------------------

def _zone() -> str:
    from .views.map import city_timezone

    return city_timezone()


def _today() -> date:
    return datetime.now(ZoneInfo(_zone())).date()


def _min_balance() -> int:
    return min(0, int(current_app.config.get("TIMEBANK_MIN_BALANCE_UNITS", -40)))


def _write() -> Session:
    return Session(engine())


def _me() -> int:
    resident = current_resident()
    assert resident is not None  # guarded by resident_required
    return int(resident.id)


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    context.setdefault("lang", current_lang())
    context.setdefault("resident", current_resident())
    context.setdefault("hours", ledger.units_label)
    context.setdefault("status_words", _status_words())
    return render_template(template, **context), status, dict(PRIVATE)


def _status_words() -> dict[str, str]:
    """Every exchange and loan state as words (pages show labels, never codes)."""
    return {"proposed": _("answered, not recorded yet"),
            "recorded": _("recorded, waiting for confirmation"),
            "confirmed": _("confirmed and booked"), "disputed": _("disputed"),
            "cancelled": _("cancelled"), "reversed": _("reversed by the moderators"),
            "requested": _("asked, waiting for the lender"), "agreed": _("agreed"),
            "lent": _("out on loan"), "returned": _("returned"),
            "completed": _("handed over"), "declined": _("declined")}


def _words(exc: ExchangeError) -> str:
    """The error in the resident's language (the domain's messages are English)."""
    known = {
        BalanceLimit: _("Your balance would go below the time bank's limit (%(limit)s). "
                        "Give some time first.", limit=ledger.units_label(_min_balance())),
        ExchangeNotFound: _("This exchange or loan does not exist, or is not yours."),
        NotAParty: _("This step is the other person's."),
        WrongState: _("This step is no longer possible: the page was out of date."),
    }
    for cls in type(exc).__mro__:
        if cls in known:
            return known[cls]
    return str(exc)


@bp.errorhandler(ExchangeError)
def _domain_error(exc: ExchangeError) -> Any:
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
    if request.path.startswith("/api/"):
        extra: dict[str, Any] = {}
        if isinstance(exc, InvalidExchange):
            extra["invalid_params"] = [{"name": exc.name, "reason": str(exc)}]
        return problem(status, detail=str(exc), headers={"Cache-Control": "no-store"}, **extra)
    message = _words(exc)
    if isinstance(exc, InvalidExchange):
        message = f"{_field_label(exc.name)}: {exc}"
    back = request.referrer if (request.referrer or "").startswith(request.host_url) else None
    return _page("exchange/message.html", status, title=_("Not done"), message=message,
                 back=back)


def _field_label(name: str) -> str:
    return {"units": _("Time given"), "happened_on": _("Date of the exchange"),
            "note": _("Note"), "reason": _("Reason"), "starts_on": _("From"),
            "due_on": _("Back on"), "feature_id": _("Offer"),
            "exchange_id": _("Exchange")}.get(name, name)


def _id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise ExchangeNotFound("no such item")
    return value


def _notify(session: Session, event: str, **kw: Any) -> None:
    """Tell the other party it is their turn (an e-mail in this transaction)."""
    settings = current_app.config.get("SETTINGS")
    notify(session, event, settings=settings.mail() if settings is not None else None, **kw)


def _units_from_form(form: Any) -> int:
    """Hours and quarter-hours from the form (``hours`` + ``minutes``) or ``units``."""
    if form.get("units"):
        return ledger.check_units(form.get("units"))
    try:
        hours = int(form.get("hours") or 0)
        minutes = int(form.get("minutes") or 0)
    except ValueError:
        raise InvalidExchange("units", "a whole number of hours and minutes") from None
    if minutes not in (0, 15, 30, 45) or hours < 0:
        raise InvalidExchange("units", "minutes are 0, 15, 30 or 45")
    return ledger.check_units(hours * 4 + minutes // 15)


# --- APIs -----------------------------------------------------------------------------------

@bp.get("/api/v1/me/balance")
@resident_required
def balance_api() -> Response:
    """The signed-in resident's balance."""
    with db_session() as s:  # the request's session, which current_resident() used
        units = ledger.balance(s, _me())
        s.rollback()
    floor = _min_balance()
    return json_response({"units": units, "hours": units / 4, "min_units": floor,
                          "min_hours": floor / 4}, headers=PRIVATE)


def _line_json(line: ledger.StatementLine) -> dict[str, Any]:
    return {"transfer_id": line.transfer_id, "booked_at": line.booked_at.isoformat(),
            "kind": line.kind, "exchange_id": line.exchange_id, "units": line.units,
            "hours": line.units / 4, "balance_units": line.balance_after,
            "with": line.other_name or None,
            "happened_on": line.happened_on.isoformat() if line.happened_on else None,
            "note": line.note, "reason": line.reason}


@bp.get("/api/v1/me/statement")
@resident_required
def statement_api() -> Response:
    """A page of the statement, newest first; ``next`` is the next page's URL."""
    before = _int_arg("before", None)
    limit = _int_arg("limit", 50)
    if not 1 <= limit <= 500:
        raise InvalidExchange("limit", "between 1 and 500")
    with db_session() as s:
        lines = ledger.statement(s, _me(), before_id=before, limit=limit)
        s.rollback()
    body: dict[str, Any] = {"lines": [_line_json(x) for x in lines], "next": None}
    if len(lines) == limit:
        body["next"] = f"/api/v1/me/statement?before={lines[-1].transfer_id}&limit={limit}"
    return json_response(body, headers=PRIVATE)


def _int_arg(name: str, default: int | None) -> Any:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidExchange(name, "an integer is expected") from None
    if not 0 < value <= MAX_ID:
        raise InvalidExchange(name, "out of range")
    return value


@bp.get("/api/v1/me/statement.csv")
@resident_required
def statement_csv() -> Response:
    """The whole statement as CSV (a member's own records; opened in a spreadsheet)."""
    lines: list[ledger.StatementLine] = []
    before = None
    with Session(engine()) as s:
        while True:
            page = ledger.statement(s, _me(), before_id=before, limit=1000)
            lines += page
            if len(page) < 1000:
                break
            before = page[-1].transfer_id
    body = ledger.statement_csv(lines, unnamed=_("a resident"))
    return Response(body, mimetype="text/csv", headers={
        **PRIVATE, "Content-Disposition": 'attachment; filename="statement.csv"'})


_STATS_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}
STATS_TTL_S = 60.0


@bp.get("/api/v1/stats/exchange")
def stats_api() -> Response:
    """Public aggregates: hours per month per area, loans per month (small cells hidden).

    The aggregates scan the whole ledger: each process computes them at most once a
    minute (a public URL must not let anyone make the database scan it at will).
    """
    key = str(current_app.config["DATABASE_URL"])
    hit = _STATS_CACHE.get(key)
    if hit is None or time.monotonic() - hit[0] > STATS_TTL_S or current_app.testing:
        with Session(engine()) as s:
            body = stats.exchange_stats(s, timezone=_zone())
        body["licence"] = "ODbL-1.0"
        hit = _STATS_CACHE[key] = (time.monotonic(), body)
    return json_response(hit[1], headers={"Cache-Control": "public, max-age=300"})


@bp.get("/api/v1/features/<int:feature_id>/exchange")
def feature_exchange_api(feature_id: int) -> Response:
    """What the panel offers on a place: answer it, or my open exchange or loan there.

    Never says who published the offer.
    """
    _id(feature_id)
    resident = current_resident()
    with Session(engine()) as s:
        row = s.execute(text("""
            SELECT f.category, f.attributes ->> 'on_loan_until' AS on_loan_until,
                   s.resident_id AS owner
            FROM feature f LEFT JOIN submission s ON s.id = f.submission_id
            WHERE f.id = :f AND f.status = 'published'
        """), {"f": feature_id}).one_or_none()
        if row is None or row.category not in (ledger.TIME_EXCHANGE, loans.LENDING):
            return problem(404, detail="no time-exchange or lending offer with this id")
        kind = "time" if row.category == ledger.TIME_EXCHANGE else "loan"
        body: dict[str, Any] = {"kind": kind, "signed_in": resident is not None,
                                "answerable": row.owner is not None,
                                "mine": bool(resident and resident.id == row.owner),
                                "on_loan_until": row.on_loan_until,
                                "answer_url": f"/exchange/offers/{feature_id}", "open": None}
        if resident is not None:
            table = "exchange" if kind == "time" else "loan"
            a, b = ("giver_id", "receiver_id") if kind == "time" else ("lender_id",
                                                                       "borrower_id")
            states = ("'proposed', 'recorded', 'disputed'" if kind == "time"
                      else "'requested', 'agreed', 'lent'")
            found = s.execute(text(
                f"SELECT id, status FROM {table} WHERE feature_id = :f "  # noqa: S608 - constants
                f"AND :r IN ({a}, {b}) AND status IN ({states}) ORDER BY id DESC LIMIT 1"),
                {"f": feature_id, "r": resident.id}).one_or_none()
            if found is not None:
                path = "/exchange" if kind == "time" else "/loans"
                body["open"] = {"id": found.id, "status": found.status,
                                "url": f"{path}/{found.id}"}
    headers = {"Cache-Control": "private, no-store", "Vary": "Cookie"}
    return json_response(body, headers=headers)


# --- pages --------------------------------------------------------------------------------

@bp.get("/exchange/")
@resident_required
def home() -> Any:
    """My balance, the first page of my statement, my exchanges and loans."""
    me = _me()
    before = _int_arg("before", None)
    with Session(engine()) as s:
        units = ledger.balance(s, me)
        lines = ledger.statement(s, me, limit=PAGE_LINES, before_id=before)
        exchanges = ledger.exchanges_of(s, me)
        my_loans = loans.loans_of(s, me)
    older = lines[-1].transfer_id if len(lines) == PAGE_LINES else None
    return _page("exchange/home.html", balance=units, lines=lines, exchanges=exchanges,
                 loans=my_loans, me=me, floor=_min_balance(), older=older, before=before)


@bp.get("/exchange/offers/<int:feature_id>")
@resident_required
def offer_page(feature_id: int) -> Any:
    """Answer a time-exchange or lending offer: one button (no e-mail is shown)."""
    _id(feature_id)
    with Session(engine()) as s:
        row = s.execute(text("SELECT id, title, category, attributes FROM feature "
                             "WHERE id = :f AND status = 'published'"),
                        {"f": feature_id}).one_or_none()
    if row is None or row.category not in (ledger.TIME_EXCHANGE, loans.LENDING):
        raise ExchangeNotFound("no such offer")
    return _page("exchange/offer.html", offer=row,
                 kind="time" if row.category == ledger.TIME_EXCHANGE else "loan")


@bp.post("/exchange/offers/<int:feature_id>")
@resident_required
def answer_offer(feature_id: int) -> Response:
    """Create the exchange (or the loan request) and go to its page."""
    _id(feature_id)
    me = _me()
    with _write() as s, s.begin():
        category = s.execute(text("SELECT category FROM feature WHERE id = :f"),
                             {"f": feature_id}).scalar_one_or_none()
        if category == loans.LENDING:
            before = s.execute(text("SELECT max(id) FROM loan")).scalar_one()
            loan_id = loans.request_loan(s, feature_id=feature_id, resident_id=me,
                                         note=request.form.get("note"))
            target = f"/loans/{loan_id}"
            if before is None or loan_id > before:  # a new request, not the open one
                view = loans.loan_view(s, loan_id)
                other = view.lender_id if view.lender_id != me else view.borrower_id
                _notify(s, "loan.requested" if other == view.lender_id else "loan.offered",
                        to=other, by=me, path=target, title=view.feature_title)
        else:
            before = s.execute(text("SELECT max(id) FROM exchange")).scalar_one()
            xid = ledger.propose_exchange(s, feature_id=feature_id, resident_id=me)
            target = f"/exchange/{xid}"
            if before is None or xid > before:
                x = ledger.exchange_view(s, xid)
                _notify(s, "exchange.proposed", to=x.giver_id if x.giver_id != me
                        else x.receiver_id, by=me, path=target, title=x.feature_title or "")
    return redirect(target, code=303)


@bp.get("/exchange/<int:exchange_id>")
@resident_required
def exchange_page(exchange_id: int) -> Any:
    """One exchange, with the forms the signed-in resident's role allows now."""
    _id(exchange_id)
    me = _me()
    with Session(engine()) as s:
        view = ledger.exchange_view(s, exchange_id)
        role = view.role_of(me)
        if role is None:
            raise ExchangeNotFound("no such exchange")
        thread = view.thread_id or thread_between(s, view.giver_id, view.receiver_id,
                                                  view.feature_id)
    return _page("exchange/exchange.html", x=view, role=role, today=_today().isoformat(),
                 done=request.args.get("done"), thread=thread)


@bp.post("/exchange/<int:exchange_id>/<action>")
@resident_required
def exchange_action(exchange_id: int, action: str) -> Response:
    """``record`` (giver), ``confirm`` / ``dispute`` (receiver), ``cancel`` (either)."""
    _id(exchange_id)
    me = _me()
    form = request.form
    with _write() as s, s.begin():
        path = f"/exchange/{exchange_id}"
        if action == "record":
            ledger.record_exchange(s, resident_id=me, exchange_id=exchange_id,
                                   units=_units_from_form(form),
                                   happened_on=form.get("happened_on"), today=_today(),
                                   note=form.get("note"))
            x = ledger.exchange_view(s, exchange_id)
            _notify(s, "exchange.recorded", to=x.receiver_id, by=me, path=path,
                    time=ledger.units_label(x.units or 0))
        elif action == "confirm":
            _transfer, booked = ledger.book_exchange(s, exchange_id, resident_id=me,
                                                     min_balance=_min_balance())
            if booked:
                x = ledger.exchange_view(s, exchange_id)
                _notify(s, "exchange.confirmed", to=x.giver_id, by=me, path=path,
                        time=ledger.units_label(x.units or 0))
        elif action == "dispute":
            ledger.dispute_exchange(s, exchange_id, resident_id=me, reason=form.get("reason"))
            x = ledger.exchange_view(s, exchange_id)
            _notify(s, "exchange.disputed", to=x.giver_id, by=me, path=path,
                    reason=x.dispute_reason or "")
        elif action == "cancel":
            ledger.cancel_exchange(s, exchange_id, resident_id=me)
        else:
            raise ExchangeNotFound("no such action")
    return redirect(f"/exchange/{exchange_id}?done={action}", code=303)


@bp.get("/exchange/new")
@resident_required
def new_from_thread() -> Any:
    """Record a service given to the other person of a conversation."""
    thread = _int_arg("thread", None)
    if thread is None:
        raise InvalidExchange("thread", "a conversation is needed")
    me = _me()
    with Session(engine()) as s:
        row = s.execute(text("""
            SELECT t.id, CASE WHEN t.starter_id = :r THEN t.recipient_id ELSE t.starter_id END
                   AS other, f.title
            FROM message_thread t LEFT JOIN feature f ON f.id = t.feature_id
            WHERE t.id = :t AND :r IN (t.starter_id, t.recipient_id)
        """), {"t": thread, "r": me}).one_or_none()
        if row is None:
            raise ExchangeNotFound("no such conversation")
        other = s.execute(text("SELECT coalesce(display_name, '') FROM resident WHERE id = :o"),
                          {"o": row.other}).scalar_one()
    return _page("exchange/new.html", thread=row, other=other, today=_today().isoformat())


@bp.post("/exchange/new")
@resident_required
def record_from_thread() -> Response:
    """Create a recorded exchange: I gave this time to the other person of the thread."""
    thread = _int_arg("thread", None) or (int(request.form.get("thread", "0") or 0) or None)
    with _write() as s, s.begin():
        xid = ledger.record_exchange(s, resident_id=_me(), thread_id=thread,
                                     units=_units_from_form(request.form),
                                     happened_on=request.form.get("happened_on"),
                                     today=_today(), note=request.form.get("note"))
    return redirect(f"/exchange/{xid}?done=record", code=303)


@bp.get("/loans/<int:loan_id>")
@resident_required
def loan_page(loan_id: int) -> Any:
    """One loan, with the steps the signed-in resident's role allows now."""
    _id(loan_id)
    me = _me()
    with Session(engine()) as s:
        view = loans.loan_view(s, loan_id)
        role = view.role_of(me)
        if role is None:
            raise ExchangeNotFound("no such loan")
        thread = thread_between(s, view.lender_id, view.borrower_id, view.feature_id)
    return _page("exchange/loan.html", loan=view, role=role, today=_today(),
                 done=request.args.get("done"), thread=thread)


@bp.post("/loans/<int:loan_id>/<action>")
@resident_required
def loan_action(loan_id: int, action: str) -> Response:
    """``agree``, ``decline``, ``lent``, ``returned``, ``cancel``."""
    _id(loan_id)
    me = _me()
    form = request.form
    with _write() as s, s.begin():
        before = loans.loan_view(s, loan_id)
        if before.role_of(me) is None:
            raise ExchangeNotFound("no such loan")
        other = before.borrower_id if me == before.lender_id else before.lender_id
        event = None
        if action == "agree":
            loans.agree_loan(s, loan_id, resident_id=me, starts_on=form.get("starts_on"),
                             due_on=form.get("due_on"), today=_today())
            event = "loan.agreed"
        elif action == "decline":
            loans.decline_loan(s, loan_id, resident_id=me)
            event = "loan.declined"
        elif action == "lent":
            loans.mark_lent(s, loan_id, resident_id=me)
            event = "loan.lent" if before.status == "agreed" else None
        elif action == "returned":
            loans.mark_returned(s, loan_id, resident_id=me)
            event = ("loan.returned" if me == before.borrower_id
                     and before.return_declared_at is None else None)
        elif action == "cancel":
            loans.cancel_loan(s, loan_id, resident_id=me)
            event = "loan.cancelled"
        else:
            raise ExchangeNotFound("no such action")
        if event:
            after = loans.loan_view(s, loan_id)
            _notify(s, event, to=other, by=me, path=f"/loans/{loan_id}",  # due: their words
                    title=after.feature_title,
                    due_on=after.due_on if event == "loan.agreed" else None)
    return redirect(f"/loans/{loan_id}?done={action}", code=303)


# --- the /me section --------------------------------------------------------------------------

def _me_section(resident: Any, session: Session) -> dict[str, Any]:
    return {"balance": ledger.balance(session, resident.id),
            "exchanges": [x for x in ledger.exchanges_of(session, resident.id, limit=20)
                          if x.status in ("proposed", "recorded", "disputed")],
            "open_loans": [x for x in loans.loans_of(session, resident.id, limit=20)
                           if x.status in ("requested", "agreed", "lent")],
            "hours": ledger.units_label, "me": resident.id, "status_words": _status_words()}


register_me_section("timebank", "exchange/_me_section.html", _me_section)


# --- the OpenAPI document (GET /api/v1/openapi.json) ------------------------------------------

def _problem_ref(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {
        "schema": {"type": "object"}}}}


_SIGN_IN = _problem_ref("sign in first (sign_in_url)")
_HOURS = {"type": "number", "description": "units / 4"}
register_operations({
    "/api/v1/me/balance": {"get": {
        "operationId": "myBalance",
        "summary": "The signed-in resident's time bank balance (quarter-hours and hours) "
                   "and how far below zero it may go",
        "responses": {
            "200": {"description": "the balance", "content": {"application/json": {
                "schema": {"type": "object",
                           "required": ["units", "hours", "min_units", "min_hours"],
                           "properties": {"units": {"type": "integer"}, "hours": _HOURS,
                                          "min_units": {"type": "integer"},
                                          "min_hours": _HOURS}}}}},
            "401": _SIGN_IN}}},
    "/api/v1/me/statement": {"get": {
        "operationId": "myStatement",
        "summary": "A page of the signed-in resident's statement, newest first",
        "parameters": [
            {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
             "description": "transfer id: the page before it (keyset)"},
            {"name": "limit", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}}],
        "responses": {
            "200": {"description": "lines and the next page's URL",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["lines", "next"],
                        "properties": {"lines": {"type": "array", "items": {
                            "type": "object"}},
                            "next": {"type": ["string", "null"]}}}}}},
            "400": _problem_ref("a bad parameter (invalid_params)"),
            "401": _SIGN_IN}}},
    "/api/v1/me/statement.csv": {"get": {
        "operationId": "myStatementCsv",
        "summary": "The signed-in resident's whole statement as CSV (one row per transfer)",
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {
            "schema": {"type": "string"}}}}, "401": _SIGN_IN}}},
    "/api/v1/stats/exchange": {"get": {
        "operationId": "exchangeStats",
        "summary": "Public aggregates: hours exchanged per month per area, objects lent "
                   "per month; cells under 3 exchanges or 3 people show \"<3\"",
        "responses": {"200": {"description": "aggregates, never people",
                              "content": {"application/json": {"schema": {
                                  "type": "object"}}}}}}},
    "/api/v1/features/{feature_id}/exchange": {"get": {
        "operationId": "featureExchange",
        "summary": "What a time-exchange or lending offer's panel offers the visitor "
                   "(answer it, the exchange or loan already open) and whether it is on "
                   "loan until a date; never who published it",
        "parameters": [{"name": "feature_id", "in": "path", "required": True,
                        "schema": {"type": "integer", "minimum": 1}}],
        "responses": {"200": {"description": "kind, signed_in, answerable, mine, "
                                             "on_loan_until, answer_url, open",
                              "content": {"application/json": {"schema": {
                                  "type": "object"}}}},
                      "404": _problem_ref("not a published time-exchange or lending offer")}}},
})
