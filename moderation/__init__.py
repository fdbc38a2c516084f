"""Moderation: accounts and login, the review queue, decisions, flags, the change feed.

:func:`init_app` registers its blueprints: ``/auth/`` (login, logout, password
change, forgotten password, reset and invitation links), ``/moderation/``
(queue and decisions, behind login), ``/charter`` and the public JSON endpoints
``POST /api/v1/features/<id>/flags`` and ``GET /api/v1/changes``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SETTINGS", "init_app"]


SETTINGS = {
    # Flask config key: (environment variable, type, default)
    "MODERATION_FLAG_THRESHOLD": ("CARTE_MODERATION_FLAG_THRESHOLD", int, 3),
    "MODERATION_FLAGS_PER_HOUR": ("CARTE_MODERATION_FLAGS_PER_HOUR", int, 30),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": ("CARTE_LOGIN_MAX_FAILURES_PER_ACCOUNT", int, 5),
    "LOGIN_MAX_FAILURES_PER_CLIENT": ("CARTE_LOGIN_MAX_FAILURES_PER_CLIENT", int, 20),
    "CHANGES_SETTLE_SECONDS": ("CARTE_CHANGES_SETTLE_SECONDS", float, 2.0),
    "PASSWORD_RESET_TTL_MINUTES": ("CARTE_PASSWORD_RESET_TTL_MINUTES", int, 60),
    "INVITATION_TTL_HOURS": ("CARTE_INVITATION_TTL_HOURS", int, 168),
}


def init_app(app: Any) -> None:
    """Register the moderation blueprints on a Flask ``app``.

    Settings come from the app's config (``webmap.settings`` reads every ``CARTE_*``
    variable at start-up); :data:`SETTINGS` gives the defaults of a bare app.
    """
    # imports and corrections add routes to views.bp
    from . import api, auth, corrections, guard, imports, photos, views  # noqa: F401
    from . import bulk_pages as _bulk  # noqa: F401 (issue 17: bulk decisions as jobs)
    from . import community_exchanges as _exchanges  # noqa: F401 (time bank, loans)
    from . import community_messages as _messages  # noqa: F401 (relayed messages)
    from . import community_signups as _signups  # noqa: F401 (missions' sign-ups)
    from . import sources as _sources  # noqa: F401 (issue 21: synchronised sources)

    for key, (_env, _kind, default) in SETTINGS.items():
        app.config.setdefault(key, default)
    from geo.city import City, load_city

    if not isinstance(app.config.get("CITY"), City):
        # CARTE_CITY (the settings' slug), default paris: the maps' frame. Its data files
        # are checked by `carte city check`, not here: a missing basemap file must not
        # stop moderation.
        app.config["CITY"] = load_city(app.config.get("CITY") or None, check_files=False)
    for blueprint in (auth.bp, views.bp, views.public_bp, api.bp):
        app.register_blueprint(blueprint)
    # Blocked clients are refused before intake reads their submission or flag: the
    # submission API calls CLIENT_GUARD (ingestion may not import moderation), the form
    # and the flags go through the before_request hook.
    from functools import partial

    from .errors import ClientBlocked

    app.config["CLIENT_GUARD"] = partial(guard.refuse_blocked, app)
    app.before_request(guard.before_request)
    app.register_error_handler(ClientBlocked, guard.blocked_response)
