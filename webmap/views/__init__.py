"""The residents' map: the page ``/``, its script, search and the walk planner.

``init_app`` installs the languages (Flask-Babel) and the blueprint; modules:
``page`` (folium map script), ``addresses`` (address search index), ``i18n``,
``map`` (the views).
"""

from __future__ import annotations

from flask import Flask

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Register languages and the map blueprint on ``app``."""
    from . import i18n
    from .map import bp

    i18n.init_app(app)
    app.register_blueprint(bp)
