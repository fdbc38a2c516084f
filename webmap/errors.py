"""Errors raised by webmap/ (free of HTTP: :mod:`webmap.web` maps them to answers).

WebmapError
└── BadParameter          a query parameter is missing, malformed or out of range
                          (defined in :mod:`webmap.ogc_params`, beside its parsers)
"""

from __future__ import annotations

__all__ = ["WebmapError"]


class WebmapError(Exception):
    """Base for webmap/ errors."""
