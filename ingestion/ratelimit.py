"""Rate limits shared by every worker: fixed-window counters in PostgreSQL.

One upsert per request increments the client's counter for the current window and
returns it, atomically, whichever gunicorn worker (or host) answers. Only the keyed
hash of the client address is stored (:mod:`geo.clients`).
"""

from __future__ import annotations

import random
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

__all__ = ["Limit", "RateCheck", "hit", "parse_limit", "purge"]


class Limit(NamedTuple):
    """At most ``count`` hits per ``seconds``."""

    count: int
    seconds: int


class RateCheck(NamedTuple):
    """The counter after this hit, and how long until the window resets."""

    hits: int
    allowed: bool
    retry_after: int


def parse_limit(spec: str | Limit | tuple[int, int]) -> Limit:
    """``"20/600"`` (20 per 10 minutes) or a tuple, as a :class:`Limit`."""
    if isinstance(spec, str):
        count, _, seconds = spec.partition("/")
        limit = Limit(int(count), int(seconds or 60))
    else:
        limit = Limit(int(spec[0]), int(spec[1]))
    if limit.count < 1 or limit.seconds < 1:
        raise ValueError(f"bad rate limit {spec!r}")
    return limit


_HIT = text("""
    WITH w AS (
      SELECT to_timestamp(floor(extract(epoch FROM clock_timestamp()) / :seconds) * :seconds)
             AS start
    )
    INSERT INTO rate_counter (client_key, bucket, window_start)
    SELECT :key, :bucket, w.start FROM w
    ON CONFLICT (client_key, bucket, window_start)
      DO UPDATE SET hits = rate_counter.hits + 1
    RETURNING hits,
      ceil(extract(epoch FROM window_start + make_interval(secs => :seconds)
                              - clock_timestamp()))::int
""")
_PURGE = text("DELETE FROM rate_counter WHERE window_start < now() - make_interval(secs => :s)")


def hit(session: Session, client_key: str, limit: Limit, *, bucket: str = "submit") -> RateCheck:
    """Count one request of ``client_key`` and say whether it is within ``limit``.

    The caller commits (a refused request is counted too, so hammering does not help).
    """
    hits, left = session.execute(_HIT, {"key": client_key, "bucket": bucket,
                                        "seconds": limit.seconds}).one()
    if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
        session.execute(_PURGE, {"s": 2 * limit.seconds})
    return RateCheck(hits=hits, allowed=hits <= limit.count, retry_after=max(1, int(left)))


def purge(conn: Connection | psycopg.Connection[Any], limit: Limit) -> None:
    """Delete the counters of windows long past (called now and then, not per request).

    The caller commits (nothing to do on an autocommit psycopg connection).
    """
    if isinstance(conn, Connection):
        conn.execute(_PURGE, {"s": 2 * limit.seconds})
    else:
        conn.execute("DELETE FROM rate_counter "
                     "WHERE window_start < now() - make_interval(secs => %s)",
                     (2 * limit.seconds,))
