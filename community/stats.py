"""Open aggregates of the community features: counts, never who with whom.

``GET /api/v1/stats/exchange`` publishes :func:`exchange_stats`: hours exchanged per
month per area (from the ledger: booked exchanges not reversed, by the month the
service happened and the first-level area of the offer), loans and swaps per month,
and whatever other features registered (:func:`register_stats`: the missions engineer
adds missions filled and sign-ups per category there).

**Small cells are suppressed**: a cell with fewer than :data:`SMALL_CELL` exchanges
(or loans), or fewer than that many distinct residents, shows its count as ``"<3"``
and no hours, so nobody's exchange can be read off the table. Only cells are
published, no totals across areas: a total minus the published cells would give a
suppressed cell back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["SMALL_CELL", "SUPPRESSED", "exchange_stats", "register_stats", "suppress"]

SMALL_CELL = 3
SUPPRESSED = f"<{SMALL_CELL}"

_PROVIDERS: dict[str, Callable[[Session], Any]] = {}


def register_stats(name: str, provider: Callable[[Session], Any]) -> None:
    """Add a public aggregate under ``name`` (``provider(session)`` → JSON-ready value).

    The provider must apply the same rule (:func:`suppress`) to its own counts.
    Registering a name again replaces it.
    """
    _PROVIDERS[name] = provider


def suppress(count: int, people: int | None = None) -> int | str:
    """``count``, or ``"<3"`` when it (or the distinct people behind it) is small."""
    small = 0 < count < SMALL_CELL or (people is not None and people < SMALL_CELL)
    return SUPPRESSED if small and count else count


_HOURS = text("""
    WITH booked AS (
      SELECT t.id, t.units, t.debit_account, t.credit_account, e.happened_on, e.area_id
      FROM ledger_transfer t JOIN exchange e ON e.id = t.exchange_id
      WHERE t.kind = 'exchange'
        AND NOT EXISTS (SELECT 1 FROM ledger_transfer r WHERE r.reverses = t.id))
    SELECT to_char(b.happened_on, 'YYYY-MM') AS month, a.code AS area, a.name AS area_name,
           count(*) AS exchanges, sum(b.units) AS units,
           (SELECT count(DISTINCT p) FROM unnest(array_agg(b.debit_account)
                                                 || array_agg(b.credit_account)) p) AS people
    FROM booked b LEFT JOIN area a ON a.id = b.area_id
    GROUP BY 1, a.code, a.name ORDER BY 1, a.code NULLS LAST
""")

_LOANS = text("""
    SELECT to_char(l.lent_at AT TIME ZONE :tz, 'YYYY-MM') AS month, l.kind,
           count(*) AS loans,
           (SELECT count(DISTINCT p) FROM unnest(array_agg(l.lender_id)
                                                 || array_agg(l.borrower_id)) p) AS people
    FROM loan l WHERE l.lent_at IS NOT NULL AND l.status <> 'cancelled'
    GROUP BY 1, 2 ORDER BY 1, 2
""")


def hours_by_month_and_area(session: Session) -> list[dict[str, Any]]:
    """Booked hours per month (of the service) and area, small cells suppressed."""
    out = []
    for r in session.execute(_HOURS):
        count = suppress(int(r.exchanges), int(r.people))
        out.append({"month": r.month, "area": r.area, "area_name": r.area_name,
                    "exchanges": count,
                    "hours": None if count == SUPPRESSED else int(r.units) / 4})
    return out


def loans_by_month(session: Session, timezone: str = "Europe/Paris") -> list[dict[str, Any]]:
    """Objects that changed hands per month and kind (loan, barter, gift), suppressed."""
    return [{"month": r.month, "kind": r.kind, "loans": suppress(int(r.loans), int(r.people))}
            for r in session.execute(_LOANS, {"tz": timezone})]


def exchange_stats(session: Session, *, timezone: str = "Europe/Paris") -> dict[str, Any]:
    """Every public aggregate of the community features, as one JSON-ready dict."""
    body: dict[str, Any] = {
        "small_cell_threshold": SMALL_CELL,
        "suppressed": SUPPRESSED,
        "units": "hours (a time bank unit is a quarter of an hour)",
        "time_exchange": hours_by_month_and_area(session),
        "loans": loans_by_month(session, timezone),
    }
    for name, provider in _PROVIDERS.items():
        body[name] = provider(session)
    return body
