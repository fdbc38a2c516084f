"""The Flask application: map page, APIs, tiles, downloads and the ``carte`` CLI."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    Parameters
    ----------
    config
        Flask config keys overriding the settings read from ``CARTE_*`` variables
        (``DATABASE_URL``, ``VAR_DIR``, ``SECRET_KEY``, ``TESTING``...), or a whole
        :class:`~webmap.settings.Settings` as ``SETTINGS``.
    """
    from . import health, security, web
    from .settings import Settings

    app = Flask(__name__)
    overrides = dict(config or {})
    # Every setting, checked now (a bad CARTE_* value stops the start, naming it);
    # the keys given here win over the environment.
    settings = overrides.pop("SETTINGS", None) or Settings.from_env(overrides=overrides)
    app.config.update(settings.as_config())
    app.config.update(overrides)
    app.config["VAR_DIR"] = Path(app.config["VAR_DIR"])
    web.add_exception_handlers(app)  # the one error table (webmap.web.STATUS_CODES)
    app.teardown_appcontext(web.close_db_session)
    security.init_app(app)
    # Blueprints: one line each.
    from .tiles_views import bp as tiles_bp  # vector and raster tiles under /tiles/
    app.register_blueprint(tiles_bp)
    from moderation import init_app as init_moderation  # login, queue, flags, change feed
    init_moderation(app)
    from ingestion.api import bp as ingestion_bp  # submissions, form, tracking, categories
    app.register_blueprint(ingestion_bp)
    from .residents_auth import name_ingestion_resident  # their bar: who is signed in
    app.before_request(name_ingestion_resident)
    from .views import init_app as init_map  # the map page, search, walk, languages
    init_map(app)
    from . import api_features, opendata
    from .ogc import views as ogc_views  # open data: /api/v1/features, /ogc/, /data/
    app.register_blueprint(api_features.bp)
    app.register_blueprint(ogc_views.bp)
    app.register_blueprint(opendata.bp)
    from .offline import bp as offline_bp  # /manifest.webmanifest and /sw.js (offline pins)
    app.register_blueprint(offline_bp)
    app.register_blueprint(health.bp)
    from .calendar_views import bp as calendar_bp  # events as iCalendar (.ics)
    app.register_blueprint(calendar_bp)
    from . import feeds, subscriptions_views  # Atom feeds; e-mail subscriptions
    app.register_blueprint(feeds.bp)
    app.register_blueprint(subscriptions_views.bp)
    from .photos_views import bp as photos_bp  # /photos/<key>: public derivatives only
    app.register_blueprint(photos_bp)
    from .me_views import bp as me_bp  # residents: magic links, /me, relayed messages
    app.register_blueprint(me_bp)
    from .exchange_views import bp as exchange_bp  # time bank, loans, their aggregates
    app.register_blueprint(exchange_bp)
    from . import missions_views  # missions and events people join (/missions, sign-ups)
    missions_views.init_app(app)
    from .tile_fastpath import TileFastPath  # common tile answers without Flask's overhead
    app.wsgi_app = TileFastPath(app.wsgi_app, app.config["VAR_DIR"])  # type: ignore[method-assign]
    from .api_openapi import complete  # webmap's and moderation's /api/v1 operations
    app.extensions["openapi_complete"] = complete  # merged by ingestion's openapi.json
    from . import catchup  # submissions a crash left 'received', validated continuously
    catchup.init_app(app)
    return app
