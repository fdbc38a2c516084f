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

    Settings not given in the app's config are read from their ``CARTE_*`` variable
    (see :data:`SETTINGS`), when the app is built, never at import time.
    """
    import os

    from . import api, auth, guard, imports, views  # noqa: F401 (imports adds routes to views.bp)

    for key, (env, kind, default) in SETTINGS.items():
        if key not in app.config:
            raw = os.environ.get(env)
            try:
                app.config[key] = kind(raw) if raw else default
            except ValueError as exc:
                raise ValueError(f"{env}={raw!r} is not a valid {kind.__name__}") from exc
    if "CITY" not in app.config:
        from geo.city import load_city

        # CARTE_CITY, default paris: the maps' frame. Its data files are checked by
        # `carte city check`, not here: a missing basemap file must not stop moderation.
        app.config["CITY"] = load_city(check_files=False)
    for blueprint in (auth.bp, views.bp, views.public_bp, api.bp):
        app.register_blueprint(blueprint)
    # Blocked clients are refused before intake reads their submission or flag.
    app.before_request(guard.check_blocked)
