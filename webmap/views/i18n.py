"""Languages: French by default, English on request, with Flask-Babel.

The language is chosen, in order, by ``?lang=fr|en``, then by the ``lang`` cookie that
a ``?lang=`` sets (so the choice survives navigation), then by ``Accept-Language``,
then French. Catalogues live in ``webmap/translations`` (messages are written in
English in the code; the French catalogue is the one residents see by default).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_babel import Babel, get_locale

__all__ = ["DEFAULT_LOCALE", "LOCALES", "babel", "current_lang", "init_app", "select_locale"]

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
COOKIE = "lang"

babel = Babel()


def select_locale() -> str:
    """The language of this request (see the module docstring for the order)."""
    asked = request.args.get("lang", "")
    if asked in LOCALES:
        return asked
    cookie = request.cookies.get(COOKIE, "")
    if cookie in LOCALES:
        return cookie
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_lang() -> str:
    """``"fr"`` or ``"en"``."""
    return str(get_locale() or DEFAULT_LOCALE)


def init_app(app: Flask) -> None:
    """Install Flask-Babel on ``app`` and remember an explicit ``?lang=`` choice."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=select_locale)

    @app.after_request
    def _remember_lang(response: Response) -> Response:
        asked = request.args.get("lang", "")
        if asked in LOCALES and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax",
                                httponly=True, secure=request.is_secure)
        vary = response.headers.get("Vary", "")
        if "Accept-Language" not in vary:
            response.headers["Vary"] = ", ".join(filter(None, [vary, "Accept-Language",
                                                               "Cookie"]))
        return response
