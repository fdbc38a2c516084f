"""Errors raised by webmap/ (free of HTTP: :mod:`webmap.web` maps them to answers).

WebmapError
├── BadParameter          a query parameter is missing, malformed or out of range
│                         (defined in :mod:`webmap.ogc.params`, beside its parsers)
└── SettingsError         a ``CARTE_*`` variable's value cannot be used (names it)
"""

from __future__ import annotations

__all__ = ["SettingsError", "WebmapError"]


class WebmapError(Exception):
    """Base for webmap/ errors."""


class SettingsError(WebmapError, ValueError):
    """A ``CARTE_*`` variable's value cannot be used: stops the start, naming it."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        self.variable, self.value, self.reason = variable, value, reason
        super().__init__(f"{variable}={value!r} {reason}")
