"""Lending and barter between residents: an object offered on the map, lent and back.

The life of a loan (an offer of the ``pret-troc`` category):

1. a resident answers the offer (:func:`request_loan`): for ``lend`` the author lends
   and the answerer borrows; for a ``request`` the answerer lends; ``barter`` and
   ``give`` become a swap or a gift (no return);
2. the lender agrees, with the dates (:func:`agree_loan`), or declines;
3. the object changes hands (:func:`mark_lent`): either side says so first, the other
   confirms; a swap or a gift is then complete;
4. it comes back (:func:`mark_returned`): the borrower says "I brought it back" (the
   reminders stop), the lender confirms "I have it back" (the loan is closed).

**The map follows** through the feature itself: while a loan is out, the published
feature carries ``attributes.on_loan_until`` (the due date), written by
:func:`geo.publish.revise_feature` like any other change (a new audited version, its
tiles marked dirty, the change feed, the open-data exports). Residents see "on loan
until 14 Dec" on the place; open-data users see the same state in every download
rather than a live overlay that only the map page could read, and the history of
availability is kept with the feature's versions. The attribute names no one: it is
only a date.

A late return (past ``due_on``, in the city's time zone, not declared returned)
reminds the borrower by e-mail at most once a day (:func:`remind_late`, run by
``carte worker``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import VersionConflict
from geo.models import ModerationAction
from geo.publish import revise_feature
from mail import enqueue_mail
from mail.config import MailSettings

from .i18n import N_, day, language, t
from .ledger import (
    ExchangeNotFound,
    InvalidExchange,
    NotAParty,
    WrongState,
    _blocked,
    _live_residents,
    _reason,
    check_note,
    feature_area,
    feature_owner,
)

__all__ = [
    "LENDING",
    "MAX_LOAN_DAYS",
    "LoanView",
    "agree_loan",
    "cancel_loan",
    "decline_loan",
    "loan_view",
    "loans_of",
    "mark_lent",
    "mark_returned",
    "moderator_cancel_loan",
    "remind_late",
    "request_loan",
]

LENDING = "pret-troc"
MAX_LOAN_DAYS = 366
OPEN = ("requested", "agreed", "lent")

REMINDER_SUBJECT = N_("Rappel : « {title} » était à rendre le {due}")
REMINDER_INTRO = N_(
    "Vous avez emprunté « {title} » via la Carte citoyenne ; il était à rendre le {due}.\n\n"
    "Pensez à le rapporter à son propriétaire, ou écrivez-lui via le service pour convenir "
    "d'une nouvelle date. Quand c'est fait, indiquez-le sur la page du prêt : les rappels "
    "s'arrêtent.")
REMINDER_LABEL = N_("Voir le prêt")


@dataclass(frozen=True)
class LoanView:
    """A loan as its two parties (and moderators) see it."""

    id: int
    feature_id: int
    feature_title: str
    lender_id: int
    borrower_id: int
    lender_name: str
    borrower_name: str
    kind: str
    status: str
    starts_on: date | None
    due_on: date | None
    note: str | None
    created_at: datetime
    lent_at: datetime | None
    lent_confirmed_at: datetime | None
    return_declared_at: datetime | None
    returned_at: datetime | None
    reminders: int

    def role_of(self, resident_id: int) -> str | None:
        """``lender``, ``borrower`` or ``None``."""
        if resident_id == self.lender_id:
            return "lender"
        if resident_id == self.borrower_id:
            return "borrower"
        return None


_VIEW = """
    SELECT l.id, l.feature_id, f.title AS feature_title, l.lender_id, l.borrower_id,
           coalesce(a.display_name, '') AS lender_name,
           coalesce(b.display_name, '') AS borrower_name, l.kind, l.status, l.starts_on,
           l.due_on, l.note, l.created_at, l.lent_at, l.lent_confirmed_at,
           l.return_declared_at, l.returned_at, l.reminders
    FROM loan l JOIN feature f ON f.id = l.feature_id
    JOIN resident a ON a.id = l.lender_id JOIN resident b ON b.id = l.borrower_id
"""
_BY_ID = text(_VIEW + " WHERE l.id = :i")
_OF_WHERE = (" WHERE l.id IN (SELECT id FROM loan WHERE lender_id = :r UNION "
             "SELECT id FROM loan WHERE borrower_id = :r) ORDER BY l.id DESC LIMIT :n")
_OF = text(_VIEW + _OF_WHERE)


def loan_view(session: Session, loan_id: int) -> LoanView:
    """One loan; :class:`ExchangeNotFound` when there is none."""
    row = session.execute(_BY_ID, {"i": loan_id}).one_or_none()
    if row is None:
        raise ExchangeNotFound(f"no loan {loan_id}")
    return LoanView(**row._asdict())


def loans_of(session: Session, resident_id: int, *, limit: int = 100) -> list[LoanView]:
    """A resident's loans, newest first (both roles)."""
    return [LoanView(**r._asdict()) for r in
            session.execute(_OF, {"r": resident_id, "n": limit}).all()]


def _dates(starts_on: Any, due_on: Any, today: date) -> tuple[date, date]:
    def parse(name: str, value: Any) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value or "").strip())
        except ValueError:
            raise InvalidExchange(name, "a date YYYY-MM-DD is expected") from None

    start, due = parse("starts_on", starts_on), parse("due_on", due_on)
    if start < today - timedelta(days=1):
        raise InvalidExchange("starts_on", "the loan cannot start in the past")
    if due < start:
        raise InvalidExchange("due_on", "the return date is before the start")
    if (due - start).days > MAX_LOAN_DAYS:
        raise InvalidExchange("due_on", "a loan lasts at most a year")
    return start, due


def request_loan(session: Session, *, feature_id: int, resident_id: int,
                 note: str | None = None, thread_id: int | None = None) -> int:
    """A resident answers a lending or barter offer (or a request); the loan's id.

    Answering again while a loan of the same two residents is open returns it.
    """
    owner, category, attributes = feature_owner(session, feature_id)
    if category != LENDING:
        raise InvalidExchange("feature_id", "not a lending or barter offer")
    if owner is None:
        raise WrongState("this offer was not published by a signed-in resident; "
                         "it cannot be answered here")
    if owner == resident_id:
        raise NotAParty("you cannot answer your own offer")
    _live_residents(session, [owner, resident_id])
    if _blocked(session, owner, resident_id):
        raise NotAParty("you cannot exchange with this resident")
    offer_type = attributes.get("offer_type", "lend")
    kind = {"barter": "barter", "give": "gift"}.get(offer_type, "loan")
    lender, borrower = (resident_id, owner) if offer_type == "request" else (owner, resident_id)
    existing = session.execute(text("""
        SELECT id FROM loan WHERE feature_id = :f AND lender_id = :l AND borrower_id = :b
          AND status IN ('requested', 'agreed', 'lent') ORDER BY id LIMIT 1
    """), {"f": feature_id, "l": lender, "b": borrower}).scalar_one_or_none()
    if existing is not None:
        return int(existing)
    return int(session.execute(text("""
        INSERT INTO loan (feature_id, thread_id, lender_id, borrower_id, area_id, kind, note)
        VALUES (:f, :t, :l, :b, :a, :k, :n) RETURNING id
    """), {"f": feature_id, "t": thread_id, "l": lender, "b": borrower,
           "a": feature_area(session, feature_id), "k": kind,
           "n": check_note(note)}).scalar_one())


def _lock(session: Session, loan_id: int, resident_id: int | None) -> Any:
    row = session.execute(text("SELECT * FROM loan WHERE id = :i FOR UPDATE"),
                          {"i": loan_id}).one_or_none()
    if row is None or (resident_id is not None
                       and resident_id not in (row.lender_id, row.borrower_id)):
        raise ExchangeNotFound(f"no loan {loan_id}")
    return row


def agree_loan(session: Session, loan_id: int, *, resident_id: int, starts_on: Any = None,
               due_on: Any = None, today: date) -> None:
    """The lender agrees (with the dates, for a loan)."""
    row = _lock(session, loan_id, resident_id)
    if resident_id != row.lender_id:
        raise NotAParty("the lender agrees to the loan")
    if row.status not in ("requested", "agreed"):
        raise WrongState(f"this loan is {row.status}")
    start, due = (_dates(starts_on, due_on, today) if row.kind == "loan" else (None, None))
    session.execute(text("UPDATE loan SET status = 'agreed', starts_on = :s, due_on = :d, "
                         "agreed_at = now() WHERE id = :i"), {"s": start, "d": due, "i": loan_id})


def decline_loan(session: Session, loan_id: int, *, resident_id: int) -> None:
    """The lender declines a request."""
    row = _lock(session, loan_id, resident_id)
    if resident_id != row.lender_id:
        raise NotAParty("the lender declines")
    if row.status != "requested":
        raise WrongState(f"this loan is {row.status}")
    session.execute(text("UPDATE loan SET status = 'declined', closed_at = now() "
                         "WHERE id = :i"), {"i": loan_id})


def cancel_loan(session: Session, loan_id: int, *, resident_id: int) -> None:
    """Either side withdraws before the object changed hands."""
    row = _lock(session, loan_id, resident_id)
    if row.status not in ("requested", "agreed"):
        raise WrongState(f"this loan is {row.status}")
    session.execute(text("UPDATE loan SET status = 'cancelled', closed_at = now() "
                         "WHERE id = :i"), {"i": loan_id})


def _show_on_map(session: Session, feature_id: int, until: date | None, why: str) -> None:
    """Publish (or clear) ``attributes.on_loan_until`` as a new version of the feature."""
    for _attempt in range(3):
        version, attributes = session.execute(text(
            "SELECT version, attributes FROM feature WHERE id = :f"), {"f": feature_id}).one()
        changed = dict(attributes or {})
        if until is None:
            if "on_loan_until" not in changed:
                return
            changed.pop("on_loan_until")
        else:
            changed["on_loan_until"] = until.isoformat()
        try:
            with session.begin_nested():
                revise_feature(session, feature_id, {"attributes": changed},
                               expected_version=version, action=ModerationAction.edit,
                               reason=why)
            return
        except VersionConflict:
            continue
    raise WrongState("the place is being changed; try again")


def mark_lent(session: Session, loan_id: int, *, resident_id: int) -> None:
    """One side says the object changed hands; the other confirms it the same way.

    The first says so: the loan is out (the map shows it on loan until its due date);
    a swap or a gift is complete. The borrower's word is kept as the confirmation.
    """
    row = _lock(session, loan_id, resident_id)
    borrower = resident_id == row.borrower_id
    if row.status == "lent":
        if borrower and row.lent_confirmed_at is None:
            session.execute(text("UPDATE loan SET lent_confirmed_at = now() WHERE id = :i"),
                            {"i": loan_id})
        return
    if row.status != "agreed":
        raise WrongState(f"this loan is {row.status}")
    if row.kind != "loan":
        session.execute(text("""
            UPDATE loan SET status = 'completed', lent_at = now(), closed_at = now(),
                   lent_confirmed_at = CASE WHEN :b THEN now() END WHERE id = :i
        """), {"b": borrower, "i": loan_id})
        return
    out = session.execute(text("SELECT id FROM loan WHERE feature_id = :f AND status = 'lent' "
                               "AND id <> :i"), {"f": row.feature_id, "i": loan_id}).first()
    if out is not None:
        raise WrongState("this object is already out on another loan")
    session.execute(text("""
        UPDATE loan SET status = 'lent', lent_at = now(),
               lent_confirmed_at = CASE WHEN :b THEN now() END WHERE id = :i
    """), {"b": borrower, "i": loan_id})
    _show_on_map(session, row.feature_id, row.due_on, f"loan {loan_id}: lent")


def mark_returned(session: Session, loan_id: int, *, resident_id: int) -> None:
    """The borrower says it is back (reminders stop); the lender's word closes the loan."""
    row = _lock(session, loan_id, resident_id)
    if row.status != "lent":
        raise WrongState(f"this loan is {row.status}")
    if resident_id == row.borrower_id:
        session.execute(text("UPDATE loan SET return_declared_at = coalesce("
                             "return_declared_at, now()) WHERE id = :i"), {"i": loan_id})
        return
    session.execute(text("""
        UPDATE loan SET status = 'returned', returned_at = now(), closed_at = now()
        WHERE id = :i
    """), {"i": loan_id})
    _show_on_map(session, row.feature_id, None, f"loan {loan_id}: returned")


def moderator_cancel_loan(session: Session, loan_id: int, *, actor_id: int,
                          reason: str | None) -> None:
    """A moderator cancels an open loan (audited); an object out shows available again."""
    why = _reason(reason)
    row = _lock(session, loan_id, None)
    if row.status not in OPEN:
        raise WrongState(f"this loan is {row.status}")
    session.execute(text("UPDATE loan SET status = 'cancelled', closed_at = now() "
                         "WHERE id = :i"), {"i": loan_id})
    session.execute(text("""
        INSERT INTO exchange_moderation (actor_id, action, loan_id, reason)
        VALUES (:a, 'cancel_loan', :l, :why)
    """), {"a": actor_id, "l": loan_id, "why": why})
    if row.status == "lent":
        _show_on_map(session, row.feature_id, None, f"loan {loan_id}: cancelled by moderation")


def remind_late(session: Session, *, timezone: str = "Europe/Paris",
                every_hours: float = 24.0, limit: int = 200,
                settings: MailSettings | None = None) -> int:
    """Queue a reminder to each borrower whose loan is late; how many were queued.

    Late: out (``lent``), its due date passed in the city's time zone, not declared
    returned. At most one reminder per loan every ``every_hours``; the loans are
    claimed ``FOR UPDATE SKIP LOCKED`` so two workers never remind twice.
    """
    rows = session.execute(text("""
        SELECT l.id, l.due_on, f.title, r.email, r.lang
        FROM loan l JOIN feature f ON f.id = l.feature_id
        JOIN resident r ON r.id = l.borrower_id
        WHERE l.status = 'lent' AND l.kind = 'loan' AND l.return_declared_at IS NULL
          AND l.due_on < (now() AT TIME ZONE :tz)::date
          AND (l.reminded_at IS NULL
               OR l.reminded_at <= now() - make_interval(secs => :every * 3600))
          AND r.deleted_at IS NULL AND r.email IS NOT NULL
        ORDER BY l.due_on, l.id LIMIT :n
        FOR UPDATE OF l SKIP LOCKED
    """), {"tz": timezone, "every": every_hours, "n": limit}).all()
    settings = settings or MailSettings.from_env()
    root = settings.public_url.rstrip("/")
    for row in rows:
        lang = language(row.lang)  # French when no catalogue has the resident's language
        due = day(lang, row.due_on)
        enqueue_mail(session, to=row.email, template="notice", lang=lang, context={
            "subject": t(lang, REMINDER_SUBJECT).format(title=row.title, due=due),
            "intro": t(lang, REMINDER_INTRO).format(title=row.title, due=due),
            "url": f"{root}/loans/{row.id}", "url_label": t(lang, REMINDER_LABEL)},
            settings=settings)
        session.execute(text("UPDATE loan SET reminded_at = now(), reminders = reminders + 1 "
                             "WHERE id = :i"), {"i": row.id})
    return len(rows)
