"""Errors raised by moderation/.

ModerationError
├── NotFound              no such submission, feature or account
├── Conflict              someone else decided or changed the item first (HTTP 409)
├── InvalidInput          a field of a decision, flag or query is wrong (names the field)
├── AccountError          an account cannot be created or changed
└── LoginRefused          wrong email or password (one message for both)
    └── LoginThrottled    too many failures for this account or client; try later
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountError",
    "ClientBlocked",
    "Conflict",
    "InvalidInput",
    "LoginRefused",
    "LoginThrottled",
    "ModerationError",
    "NotFound",
]


class ModerationError(Exception):
    """Base for moderation/ errors."""


class NotFound(ModerationError, LookupError):
    """No such submission, feature or account."""


class Conflict(ModerationError):
    """Someone else decided or changed the item since it was read (optimistic versioning)."""

    def __init__(self, message: str, *, kind: str = "submission", item_id: int | None = None,
                 current_version: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.item_id, self.current_version = kind, item_id, current_version


class InvalidInput(ModerationError, ValueError):
    """A field is wrong; ``errors`` maps each bad field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class AccountError(ModerationError, ValueError):
    """An account cannot be created or changed (duplicate email, weak password...)."""


class LoginRefused(ModerationError):
    """Wrong email or password: one message whether or not the account exists."""


class LoginThrottled(LoginRefused):
    """Too many failed logins for this account or this client in the window."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed attempts")
        self.retry_after = retry_after


class ClientBlocked(ModerationError):
    """A moderator blocked this client: its submissions and flags are refused (403)."""

    def __init__(self, until: Any, reason: str) -> None:
        super().__init__(f"client blocked until {until}: {reason}")
        self.until, self.reason = until, reason
