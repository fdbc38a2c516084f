"""Moderation: accounts and login, the review queue, decisions, flags, the change feed.

:func:`init_app` registers its blueprints: ``/auth/`` (login, logout), ``/moderation/``
(queue and decisions, behind login), ``/charter`` and the public JSON endpoints
``POST /api/v1/features/<id>/flags`` and ``GET /api/v1/changes``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["init_app"]


def init_app(app: Any) -> None:
    """Register the moderation blueprints on a Flask ``app``."""
    from . import api, auth, views

    app.config.setdefault("MODERATION_FLAG_THRESHOLD", 3)
    app.config.setdefault("CHANGES_SETTLE_SECONDS", 2.0)
    for blueprint in (auth.bp, views.bp, views.public_bp, api.bp):
        app.register_blueprint(blueprint)
