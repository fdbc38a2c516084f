"""Errors of the mail package, free of HTTP (the web layer maps them to statuses)."""

from __future__ import annotations

__all__ = ["BadToken", "MailError", "UnknownTemplate"]


class MailError(Exception):
    """Base of the mail package's errors."""


class UnknownTemplate(MailError):
    """No template of that name in that language."""


class BadToken(MailError):
    """A confirmation or unsubscribe token that is forged, truncated or for another use."""
