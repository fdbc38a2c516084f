"""Residents' flags on published features, and hiding what enough clients flagged.

A feature flagged by ``MODERATION_FLAG_THRESHOLD`` (default 3) distinct clients is
hidden until a moderator looks.

Only the client key (a keyed hash of the address) is stored, never the address; one
client counts once per feature (``UNIQUE (feature_id, client_key)``). The feature row
is locked while flags are counted, so concurrent flags hide it exactly once.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.models import Feature, FeatureStatus, ModerationAction
from geo.publish import revise_feature
from mail.notices import notify_hidden

from .errors import InvalidInput, NotFound

__all__ = ["DEFAULT_THRESHOLD", "FLAGS_PER_HOUR", "FlagResult", "add_flag", "check_reason"]

DEFAULT_THRESHOLD = 3
FLAGS_PER_HOUR = 30   # per client, across features
MAX_REASON = 1000


class FlagResult(NamedTuple):
    """What a flag did."""

    created: bool       # False: this client had already flagged this feature
    open_flags: int     # distinct clients with an open flag on the feature
    hidden: bool        # the feature is hidden now


def check_reason(reason: object) -> str:
    """The flag's reason, stripped; :class:`InvalidInput` naming ``reason`` otherwise."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput({"reason": "a reason is required (text)"})
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise InvalidInput({"reason": f"at most {MAX_REASON} characters"})
    return reason


def recent_flags(session: Session, client_key: str) -> int:
    """Flags this client made in the last hour (for the rate limit)."""
    return session.execute(text(
        "SELECT count(*) FROM flag WHERE client_key = :c AND created_at > now() - interval "
        "'1 hour'"), {"c": client_key}).scalar_one()


def add_flag(session: Session, feature_id: int, reason: str, *, client_key: str,
             threshold: int = DEFAULT_THRESHOLD) -> FlagResult:
    """Record a flag (idempotent per client) and hide the feature at ``threshold``.

    Raises
    ------
    NotFound
        No published feature has this id (hidden and removed ones take no flags).
    """
    reason = check_reason(reason)
    feature = session.get(Feature, feature_id, with_for_update=True, populate_existing=True)
    if feature is None or feature.status != FeatureStatus.published:
        raise NotFound(f"no published feature {feature_id}")
    created = session.execute(text("""
        INSERT INTO flag (feature_id, reason, client_key) VALUES (:f, :r, :c)
        ON CONFLICT (feature_id, client_key) DO NOTHING RETURNING id
    """), {"f": feature_id, "r": reason, "c": client_key}).one_or_none() is not None
    open_flags = session.execute(text(
        "SELECT count(*) FROM flag WHERE feature_id = :f AND status = 'open'"),
        {"f": feature_id}).scalar_one()
    hidden = False
    if open_flags >= threshold:
        revise_feature(session, feature_id, {"status": FeatureStatus.hidden},
                       expected_version=feature.version, action=ModerationAction.hide,
                       reason=f"flagged by {open_flags} residents")
        hidden = True
        notify_hidden(session, feature_id, flags=open_flags)  # moderators alerted (mail)
    return FlagResult(created, open_flags, hidden)
