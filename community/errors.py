"""Errors raised by community/ (free of HTTP; ``webmap.web.STATUS_CODES`` maps them).

CommunityError
├── InvalidCommunityInput   a field a resident typed cannot be used (400; ``errors``)
├── NotAllowed              the resident may not do this (403)
│   └── Blocked             one of the two residents blocked the other (403)
├── CommunityNotFound       no such thread, resident or item, or not theirs (404)
├── MagicLinkInvalid        a sign-in link unknown, already used or expired (400)
├── TooManyRequests         too many links or messages lately (429; ``retry_after``)
└── SpamRefused             a message looks like spam (422; ``reasons``)
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "Blocked",
    "CommunityError",
    "CommunityNotFound",
    "InvalidCommunityInput",
    "MagicLinkInvalid",
    "NotAllowed",
    "SpamRefused",
    "TooManyRequests",
]


class CommunityError(Exception):
    """Base of community/ errors; ``detail`` is safe to show the resident."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidCommunityInput(CommunityError, ValueError):
    """A field cannot be used; ``errors`` maps each field name to what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class NotAllowed(CommunityError):
    """The resident may not do this (not a party to the thread, messaging blocked...)."""


class Blocked(NotAllowed):
    """One of the two residents blocked the other: no message passes either way."""


class CommunityNotFound(CommunityError, LookupError):
    """No such thread, resident or item (or not one the resident may see)."""


class MagicLinkInvalid(CommunityError):
    """A sign-in link that is unknown, already used or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this sign-in link is {reason}; ask for a new one")
        self.reason = reason  # "unknown", "used" or "expired"


class TooManyRequests(CommunityError):
    """Too many sign-in links or messages lately; try again after ``retry_after`` s."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))


class SpamRefused(CommunityError):
    """A message the spam rules refuse; ``reasons`` are the rules' explanations."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("this message looks like spam (" + "; ".join(reasons) + "); "
                         "write it without links or repeated words and try again")
        self.reasons = reasons
