"""The time bank: exchanges between residents and the double-entry ledger they book.

Amounts are integer quarter-hours (``units``; 1 = 15 min, 4 = one hour), like the
"quart d'heure" notes of a neighbourhood time money. The life of an exchange:

1. a resident answers a time-exchange offer or request on the map
   (:func:`propose_exchange`: the offer's author and the answerer become giver and
   receiver, by the offer's ``offer_type``), or two residents who talked in a relayed
   thread go straight to step 2 (:func:`record_exchange` with ``thread_id``);
2. once the service has happened, the **giver** records it: units, date, note
   (:func:`record_exchange`);
3. the **receiver** confirms it (:func:`confirm_exchange`), which books one
   immutable ledger transfer (receiver debited, giver credited) in the same
   transaction, or disputes it (:func:`dispute_exchange`: nothing is booked; the giver
   may record it again, corrected);
4. a mistake after booking is corrected by a moderator only: a reversing transfer
   with a reason (:func:`reverse_exchange`), audited in ``exchange_moderation``.

The schema does the accounting's guarantees (see ``0013_ledger``): a transfer is
balanced by construction and cannot be changed, an exchange is booked at most once,
a reversal mirrors what it reverses, a balance moves only with a transfer. This
module adds what needs configuration or a person: the negative limit
(``min_balance``, from ``CARTE_TIMEBANK_MIN_BALANCE_UNITS``), who may do what, and
the row locks that make concurrent confirmations wait for each other rather than fail
(the exchange ``FOR UPDATE``, then both accounts ``FOR UPDATE`` in id order).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .residents import on_account_deleted

__all__ = [
    "DEFAULT_MIN_BALANCE_UNITS",
    "MAX_UNITS",
    "BalanceLimit",
    "ExchangeError",
    "ExchangeNotFound",
    "ExchangeView",
    "InvalidExchange",
    "NotAParty",
    "StatementLine",
    "WrongState",
    "balance",
    "book_exchange",
    "cancel_exchange",
    "confirm_exchange",
    "dispute_exchange",
    "ensure_account",
    "exchange_view",
    "exchanges_of",
    "feature_owner",
    "moderator_cancel_exchange",
    "propose_exchange",
    "record_exchange",
    "reverse_exchange",
    "statement",
    "statement_csv",
    "units_label",
]

DEFAULT_MIN_BALANCE_UNITS = -40
"""Default floor of a balance: ten hours in debt (``CARTE_TIMEBANK_MIN_BALANCE_UNITS``)."""
MAX_UNITS = 400
"""One exchange records at most 100 hours (the category's ``duration_hours`` maximum)."""
TIME_EXCHANGE = "echange-temps"
MAX_NOTE = 500
MAX_AGE_DAYS = 366


# --- errors (free of HTTP; webmap maps them) -------------------------------------------

class ExchangeError(Exception):
    """Base of the time bank's and the loans' domain errors."""


class ExchangeNotFound(ExchangeError):
    """No such exchange, loan or offer (or not one this resident may see)."""


class NotAParty(ExchangeError):
    """The resident is not the one who may do this (giver records, receiver confirms)."""


class WrongState(ExchangeError):
    """The exchange or loan is not in a state that allows this step."""


class BalanceLimit(ExchangeError):
    """Booking would take the receiver below the time bank's negative limit."""


class InvalidExchange(ExchangeError):
    """A value of the request is wrong; ``name`` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


# --- values ------------------------------------------------------------------------------

def units_label(units: int) -> str:
    """``6`` → ``"1 h 30"``; ``-4`` → ``"-1 h"`` (how a statement shows units)."""
    sign = "-" if units < 0 else ""
    hours, quarters = divmod(abs(units), 4)
    return f"{sign}{hours} h {quarters * 15:02d}" if quarters else f"{sign}{hours} h"


def check_units(units: Any) -> int:
    """Whole quarter-hours between 1 and :data:`MAX_UNITS`."""
    try:
        value = int(units)
    except (TypeError, ValueError):
        raise InvalidExchange("units", "a whole number of quarter-hours is expected") from None
    if isinstance(units, float) and units != value:
        raise InvalidExchange("units", "a whole number of quarter-hours is expected")
    if not 1 <= value <= MAX_UNITS:
        raise InvalidExchange("units", f"between 1 and {MAX_UNITS} quarter-hours (100 h)")
    return value


def check_date(value: Any, today: date) -> date:
    """The day the service happened: not in the future, not older than a year."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidExchange("happened_on", "a date YYYY-MM-DD is expected") from None
    if not isinstance(value, date):
        raise InvalidExchange("happened_on", "a date YYYY-MM-DD is expected")
    if value > today + timedelta(days=1):
        raise InvalidExchange("happened_on", "the exchange cannot be in the future")
    if value < today - timedelta(days=MAX_AGE_DAYS):
        raise InvalidExchange("happened_on", "older than a year")
    return value


def check_note(note: str | None) -> str | None:
    """A short free text, stripped; ``None`` when empty."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise InvalidExchange("note", f"at most {MAX_NOTE} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise InvalidExchange("note", "control characters are not allowed")
    return note or None


# --- reads ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExchangeView:
    """An exchange as its two parties (and moderators) see it."""

    id: int
    status: str
    giver_id: int
    receiver_id: int
    giver_name: str
    receiver_name: str
    feature_id: int | None
    feature_title: str | None
    thread_id: int | None
    units: int | None
    happened_on: date | None
    note: str | None
    dispute_reason: str | None
    created_at: datetime
    transfer_id: int | None

    def role_of(self, resident_id: int) -> str | None:
        """``giver``, ``receiver`` or ``None``."""
        if resident_id == self.giver_id:
            return "giver"
        if resident_id == self.receiver_id:
            return "receiver"
        return None


_VIEW = """
    SELECT e.id, e.status, e.giver_id, e.receiver_id,
           coalesce(g.display_name, '') AS giver_name,
           coalesce(r.display_name, '') AS receiver_name,
           e.feature_id, f.title AS feature_title, e.thread_id, e.units, e.happened_on,
           e.note, e.dispute_reason, e.created_at, t.id AS transfer_id
    FROM exchange e
    JOIN resident g ON g.id = e.giver_id
    JOIN resident r ON r.id = e.receiver_id
    LEFT JOIN feature f ON f.id = e.feature_id
    LEFT JOIN ledger_transfer t ON t.exchange_id = e.id
"""


_BY_ID = text(_VIEW + " WHERE e.id = :i")
_OF_WHERE = (" WHERE e.id IN (SELECT id FROM exchange WHERE giver_id = :r UNION "
             "SELECT id FROM exchange WHERE receiver_id = :r) ORDER BY e.id DESC LIMIT :n")
_OF = text(_VIEW + _OF_WHERE)


def exchange_view(session: Session, exchange_id: int) -> ExchangeView:
    """One exchange; :class:`ExchangeNotFound` when there is none."""
    row = session.execute(_BY_ID, {"i": exchange_id}).one_or_none()
    if row is None:
        raise ExchangeNotFound(f"no exchange {exchange_id}")
    return ExchangeView(**row._asdict())


def exchanges_of(session: Session, resident_id: int, *, limit: int = 100) -> list[ExchangeView]:
    """A resident's exchanges, newest first (both roles)."""
    rows = session.execute(_OF, {"r": resident_id, "n": limit}).all()
    return [ExchangeView(**r._asdict()) for r in rows]


def balance(session: Session, resident_id: int) -> int:
    """A resident's balance in units; ``0`` for a member who never exchanged."""
    value = session.execute(text("SELECT balance FROM timebank_account "
                                 "WHERE resident_id = CAST(:r AS bigint)"),
                            {"r": resident_id}).scalar_one_or_none()
    return int(value or 0)


@dataclass(frozen=True)
class StatementLine:
    """One line of a member's statement: a transfer seen from their account."""

    transfer_id: int
    booked_at: datetime
    kind: str  # exchange | reversal
    exchange_id: int | None
    units: int  # signed: + received credit (time given), - debit (time received)
    balance_after: int
    other_name: str
    happened_on: date | None
    note: str | None
    reason: str | None


_STATEMENT = text("""
    WITH page AS (
      (SELECT id, -units AS units, debit_balance_after AS balance_after,
              credit_account AS other
       FROM ledger_transfer
       WHERE debit_account = CAST(:r AS bigint) AND id < CAST(:before AS bigint)
       ORDER BY id DESC LIMIT :n)
      UNION ALL
      (SELECT id, units, credit_balance_after, debit_account
       FROM ledger_transfer
       WHERE credit_account = CAST(:r AS bigint) AND id < CAST(:before AS bigint)
       ORDER BY id DESC LIMIT :n)
      ORDER BY id DESC LIMIT :n)
    SELECT p.id AS transfer_id, t.booked_at, t.kind,
           coalesce(t.exchange_id, o.exchange_id) AS exchange_id, p.units, p.balance_after,
           coalesce(res.display_name, '') AS other_name, e.happened_on, e.note, t.reason
    FROM page p
    JOIN ledger_transfer t ON t.id = p.id
    LEFT JOIN ledger_transfer o ON o.id = t.reverses
    LEFT JOIN exchange e ON e.id = coalesce(t.exchange_id, o.exchange_id)
    LEFT JOIN resident res ON res.id = p.other
    ORDER BY p.id DESC
""")


def statement(session: Session, resident_id: int, *, before_id: int | None = None,
              limit: int = 50) -> list[StatementLine]:
    """A page of a member's statement, newest first (keyset: ``before_id``).

    Two index range scans (debits, credits) merged; each line carries the balance
    after it as booked under the account's lock, so no page needs the ones before it.
    """
    rows = session.execute(_STATEMENT, {"r": resident_id, "before": before_id or 2**63 - 1,
                                        "n": max(1, min(limit, 1000))}).all()
    return [StatementLine(**r._asdict()) for r in rows]


def statement_csv(lines: Iterable[StatementLine], *, unnamed: str = "a resident") -> str:
    """The statement as CSV (RFC 4180), one row per transfer, hours and units."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["booked_at", "transfer_id", "kind", "exchange_id", "happened_on",
                     "with", "units", "hours", "balance_units", "balance_hours", "note",
                     "reason"])
    for line in lines:
        writer.writerow([
            line.booked_at.isoformat(), line.transfer_id, line.kind, line.exchange_id or "",
            line.happened_on.isoformat() if line.happened_on else "",
            _csv_safe(line.other_name or unnamed), line.units, f"{line.units / 4:g}",
            line.balance_after, f"{line.balance_after / 4:g}", _csv_safe(line.note or ""),
            _csv_safe(line.reason or "")])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Defuse spreadsheet formulas (CSV injection): a leading = + - @ gets a quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- writes ------------------------------------------------------------------------------

def ensure_account(session: Session, resident_id: int) -> None:
    """Open a resident's account at zero if they have none (idempotent, race-free)."""
    session.execute(text("INSERT INTO timebank_account (resident_id) VALUES (:r) "
                         "ON CONFLICT (resident_id) DO NOTHING"), {"r": resident_id})


def _live_residents(session: Session, ids: Sequence[int]) -> None:
    found = session.execute(text(
        "SELECT count(*) FROM resident WHERE id = ANY(:ids) AND deleted_at IS NULL"),
        {"ids": list(ids)}).scalar_one()
    if found != len(set(ids)):
        raise ExchangeNotFound("this resident no longer has an account")


def _blocked(session: Session, a: int, b: int) -> bool:
    return bool(session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM resident_block WHERE (blocker_id = :a AND blocked_id = :b)"
        " OR (blocker_id = :b AND blocked_id = :a))"), {"a": a, "b": b}).scalar_one())


def feature_owner(session: Session, feature_id: int) -> tuple[int | None, str, dict[str, Any]]:
    """``(resident_id, category, attributes)`` of a published feature.

    The owner is the signed-in resident whose submission became the feature (``None``
    for an anonymous or imported one, which nobody can answer through the service).
    """
    row = session.execute(text("""
        SELECT s.resident_id, f.category, f.attributes FROM feature f
        LEFT JOIN submission s ON s.id = f.submission_id
        WHERE f.id = :f AND f.status = 'published'
    """), {"f": feature_id}).one_or_none()
    if row is None:
        raise ExchangeNotFound(f"no published offer {feature_id}")
    return row.resident_id, row.category, dict(row.attributes or {})


def feature_area(session: Session, feature_id: int) -> int | None:
    """The first-level area (Paris: arrondissement) of a feature, for the aggregates.

    The nearest within ~10 m, as :mod:`geo.areas` places points (boundary slivers).
    """
    return session.execute(text("""
        SELECT a.id FROM feature f JOIN area a
          ON a.depth = 1 AND ST_DWithin(a.geom, f.geom, 1e-4)
        WHERE f.id = :f ORDER BY ST_Distance(a.geom, f.geom), a.id LIMIT 1
    """), {"f": feature_id}).scalar_one_or_none()


def propose_exchange(session: Session, *, feature_id: int, resident_id: int,
                     thread_id: int | None = None) -> int:
    """A resident answers a time-exchange offer or request; the exchange's id.

    For an ``offer`` the author gives and the answerer receives; for a ``request``
    the answerer gives. Answering the same offer again while an exchange of the two
    is still open returns that one.
    """
    owner, category, attributes = feature_owner(session, feature_id)
    if category != TIME_EXCHANGE:
        raise InvalidExchange("feature_id", "not a time-exchange offer or request")
    if owner is None:
        raise WrongState("this offer was not published by a signed-in resident; "
                         "it cannot be answered here")
    if owner == resident_id:
        raise NotAParty("you cannot answer your own offer")
    _live_residents(session, [owner, resident_id])
    if _blocked(session, owner, resident_id):
        raise NotAParty("you cannot exchange with this resident")
    giver, receiver = ((resident_id, owner) if attributes.get("offer_type") == "request"
                       else (owner, resident_id))
    existing = session.execute(text("""
        SELECT id FROM exchange WHERE feature_id = :f AND giver_id = :g AND receiver_id = :r
          AND status IN ('proposed', 'recorded', 'disputed') ORDER BY id LIMIT 1
    """), {"f": feature_id, "g": giver, "r": receiver}).scalar_one_or_none()
    if existing is not None:
        return int(existing)
    return int(session.execute(text("""
        INSERT INTO exchange (feature_id, thread_id, giver_id, receiver_id, started_by, area_id)
        VALUES (:f, :t, :g, :r, :s, :a) RETURNING id
    """), {"f": feature_id, "t": thread_id, "g": giver, "r": receiver, "s": resident_id,
           "a": feature_area(session, feature_id)}).scalar_one())


def _lock(session: Session, exchange_id: int) -> Any:
    row = session.execute(text("SELECT * FROM exchange WHERE id = :i FOR UPDATE"),
                          {"i": exchange_id}).one_or_none()
    if row is None:
        raise ExchangeNotFound(f"no exchange {exchange_id}")
    return row


def record_exchange(session: Session, *, resident_id: int, units: Any, happened_on: Any,
                    today: date, note: str | None = None, exchange_id: int | None = None,
                    thread_id: int | None = None) -> int:
    """The giver records a service given: units, date, note; the exchange's id.

    Either on an answered exchange (``exchange_id``: ``proposed``, or ``disputed``
    to correct it) or straight from a relayed thread (``thread_id``: the other
    participant received the service).
    """
    units = check_units(units)
    day = check_date(happened_on, today)
    note = check_note(note)
    if exchange_id is None:
        if thread_id is None:
            raise InvalidExchange("exchange_id", "an exchange or a thread is needed")
        thread = session.execute(text(
            "SELECT feature_id, starter_id, recipient_id FROM message_thread WHERE id = :t"),
            {"t": thread_id}).one_or_none()
        if thread is None or resident_id not in (thread.starter_id, thread.recipient_id):
            raise ExchangeNotFound(f"no thread {thread_id}")
        other = thread.recipient_id if resident_id == thread.starter_id else thread.starter_id
        _live_residents(session, [resident_id, other])
        if _blocked(session, resident_id, other):
            raise NotAParty("you cannot exchange with this resident")
        area = feature_area(session, thread.feature_id) if thread.feature_id else None
        return int(session.execute(text("""
            INSERT INTO exchange (feature_id, thread_id, giver_id, receiver_id, started_by,
                                  area_id, status, units, happened_on, note, recorded_at)
            VALUES (:f, :t, :g, :r, :g, :a, 'recorded', :u, :d, :n, now()) RETURNING id
        """), {"f": thread.feature_id, "t": thread_id, "g": resident_id, "r": other,
               "a": area, "u": units, "d": day, "n": note}).scalar_one())
    row = _lock(session, exchange_id)
    if resident_id != row.giver_id:
        if resident_id == row.receiver_id:
            raise NotAParty("the one who gave the time records it; you confirm it")
        raise ExchangeNotFound(f"no exchange {exchange_id}")
    if row.status not in ("proposed", "disputed", "recorded"):
        raise WrongState(f"this exchange is {row.status}")
    session.execute(text("""
        UPDATE exchange SET status = 'recorded', units = :u, happened_on = :d, note = :n,
               recorded_at = now(), dispute_reason = NULL WHERE id = :i
    """), {"u": units, "d": day, "n": note, "i": exchange_id})
    return exchange_id


def _lock_accounts(session: Session, ids: Sequence[int]) -> dict[int, int]:
    for rid in sorted(set(ids)):
        ensure_account(session, rid)
    rows = session.execute(text("""
        SELECT resident_id, balance FROM timebank_account WHERE resident_id = ANY(:ids)
        ORDER BY resident_id FOR UPDATE
    """), {"ids": sorted(set(ids))}).all()
    return {r.resident_id: int(r.balance) for r in rows}


def confirm_exchange(session: Session, exchange_id: int, *, resident_id: int,
                     min_balance: int = DEFAULT_MIN_BALANCE_UNITS) -> int:
    """The receiver confirms: one ledger transfer is booked; its id.

    Confirming an exchange already confirmed returns the same transfer (a double
    click, two tabs, two processes: it counts once). The exchange row is locked
    first, so a second confirmation waits for the first and then sees it. One round
    trip: the steps run in ``carte_ledger_confirm()`` (``0013_ledger``): lock the
    exchange, open and lock both accounts in id order, check the floor, book, mark.

    Raises
    ------
    NotAParty
        Not the receiver.
    WrongState
        Not recorded (proposed, disputed, cancelled, reversed).
    BalanceLimit
        The receiver's balance would go below ``min_balance`` units.
    """
    return book_exchange(session, exchange_id, resident_id=resident_id,
                         min_balance=min_balance)[0]


def book_exchange(session: Session, exchange_id: int, *, resident_id: int,
                  min_balance: int = DEFAULT_MIN_BALANCE_UNITS) -> tuple[int, bool]:
    """:func:`confirm_exchange`, and whether this very call booked it.

    ``False``: it was booked already (a double confirmation): tell nobody twice.
    """
    outcome, transfer = session.execute(_CONFIRM, {"x": exchange_id, "r": resident_id,
                                                   "f": min_balance}).one()
    if outcome in ("booked", "already"):
        return int(transfer), outcome == "booked"
    if outcome == "not_receiver":
        raise NotAParty("the one who received the time confirms it")
    if outcome == "limit":
        raise BalanceLimit(
            f"your balance would go below the time bank's limit ({units_label(min_balance)}); "
            f"give some time first")
    if outcome.startswith("state:"):
        raise WrongState(f"this exchange is {outcome.removeprefix('state:')}")
    if outcome == "gone":
        raise ExchangeNotFound("this resident no longer has an account")
    raise ExchangeNotFound(f"no exchange {exchange_id}")


_CONFIRM = text("SELECT outcome, transfer_id FROM carte_ledger_confirm("
                "CAST(:x AS bigint), CAST(:r AS bigint), CAST(:f AS bigint))")


def dispute_exchange(session: Session, exchange_id: int, *, resident_id: int,
                     reason: str | None) -> None:
    """The receiver disputes what was recorded (nothing is booked); the giver may fix it."""
    reason = check_note(reason)
    if not reason:
        raise InvalidExchange("reason", "say what is wrong (the giver reads it)")
    row = _lock(session, exchange_id)
    if resident_id != row.receiver_id:
        if resident_id == row.giver_id:
            raise NotAParty("only the receiver disputes an exchange")
        raise ExchangeNotFound(f"no exchange {exchange_id}")
    if row.status != "recorded":
        raise WrongState(f"this exchange is {row.status}")
    session.execute(text("UPDATE exchange SET status = 'disputed', dispute_reason = :r, "
                         "decided_at = now() WHERE id = :i"), {"r": reason, "i": exchange_id})


def cancel_exchange(session: Session, exchange_id: int, *, resident_id: int) -> None:
    """Either party withdraws an exchange that was not booked."""
    row = _lock(session, exchange_id)
    if resident_id not in (row.giver_id, row.receiver_id):
        raise ExchangeNotFound(f"no exchange {exchange_id}")
    if row.status not in ("proposed", "recorded", "disputed"):
        raise WrongState(f"this exchange is {row.status}")
    session.execute(text("UPDATE exchange SET status = 'cancelled', cancelled_at = now() "
                         "WHERE id = :i"), {"i": exchange_id})


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidExchange("reason", "a reason is required (it is kept in the audit)")
    if len(reason) > MAX_NOTE:
        raise InvalidExchange("reason", f"at most {MAX_NOTE} characters")
    return reason


def reverse_exchange(session: Session, exchange_id: int, *, actor_id: int,
                     reason: str | None) -> int:
    """A moderator corrects a booked exchange: a reversing transfer; its id.

    The original transfer stays (the ledger is append-only); the reversal debits the
    giver and credits the receiver the same units, even below the negative limit (a
    correction must always be possible), and is audited with the moderator's reason.
    """
    why = _reason(reason)
    row = _lock(session, exchange_id)
    if row.status != "confirmed":
        raise WrongState(f"only a confirmed exchange can be reversed (this one is {row.status})")
    original = session.execute(text(
        "SELECT id, debit_account, credit_account, units FROM ledger_transfer "
        "WHERE exchange_id = :i"), {"i": exchange_id}).one()
    _lock_accounts(session, [original.debit_account, original.credit_account])
    transfer = session.execute(text("""
        INSERT INTO ledger_transfer (debit_account, credit_account, units, kind, reverses,
                                     actor_id, reason)
        VALUES (:d, :c, :u, 'reversal', :o, :a, :why) RETURNING id
    """), {"d": original.credit_account, "c": original.debit_account, "u": original.units,
           "o": original.id, "a": actor_id, "why": why}).scalar_one()
    session.execute(text("UPDATE exchange SET status = 'reversed' WHERE id = :i"),
                    {"i": exchange_id})
    session.execute(text("""
        INSERT INTO exchange_moderation (actor_id, action, exchange_id, transfer_id, reason)
        VALUES (:a, 'reverse_exchange', :e, :t, :why)
    """), {"a": actor_id, "e": exchange_id, "t": transfer, "why": why})
    return int(transfer)


def moderator_cancel_exchange(session: Session, exchange_id: int, *, actor_id: int,
                              reason: str | None) -> None:
    """A moderator cancels an exchange that was not booked (audited)."""
    why = _reason(reason)
    row = _lock(session, exchange_id)
    if row.status not in ("proposed", "recorded", "disputed"):
        raise WrongState(f"this exchange is {row.status}")
    session.execute(text("UPDATE exchange SET status = 'cancelled', cancelled_at = now() "
                         "WHERE id = :i"), {"i": exchange_id})
    session.execute(text("""
        INSERT INTO exchange_moderation (actor_id, action, exchange_id, reason)
        VALUES (:a, 'cancel_exchange', :e, :why)
    """), {"a": actor_id, "e": exchange_id, "why": why})


# --- a resident deletes their account ---------------------------------------------------------

@on_account_deleted
def _forget_resident(session: Session, resident_id: int) -> None:
    """Cancel what was waiting on them and blank the notes of their exchanges and loans.

    What was booked stays booked (the ledger is the other member's history too): the
    statement lines keep their amounts and show "a resident". A loan out stays out
    until the lender says it is back.
    """
    session.execute(text("""
        UPDATE exchange SET status = 'cancelled', cancelled_at = now()
        WHERE (giver_id = :r OR receiver_id = :r)
          AND status IN ('proposed', 'recorded', 'disputed')
    """), {"r": resident_id})
    session.execute(text("""
        UPDATE exchange SET note = NULL, dispute_reason = NULL
        WHERE (giver_id = :r OR receiver_id = :r)
          AND (note IS NOT NULL OR dispute_reason IS NOT NULL)
    """), {"r": resident_id})
    session.execute(text("""
        UPDATE loan SET status = CASE WHEN status IN ('requested', 'agreed') THEN 'cancelled'
                                      ELSE status END,
               closed_at = CASE WHEN status IN ('requested', 'agreed') THEN now()
                                ELSE closed_at END,
               note = NULL
        WHERE lender_id = :r OR borrower_id = :r
    """), {"r": resident_id})
