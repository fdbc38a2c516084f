"""Protections every page and answer gets: CSRF on forms, security headers, client key.

* CSRF (Flask-WTF) on every state-changing request except the JSON APIs under
  ``/api/``: those take no cookie authentication and demand ``application/json``,
  which a cross-site form cannot send without a CORS preflight we never allow.
* A Content-Security-Policy that loads everything from our own origin only and forbids
  inline script; plus the usual nosniff, referrer and framing headers.
* ``TRUSTED_PROXIES`` (``CARTE_TRUSTED_PROXIES``) parsed once: the client key
  (:func:`webmap.web.client_key`, a keyed hash of the address, never the address)
  believes ``X-Forwarded-For`` only from those peers.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from geo.clients import parse_proxies

__all__ = ["CSP", "csrf", "init_app"]

csrf = CSRFProtect()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
       "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
CSRF_EXEMPT_PREFIXES = ("/api/",)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def init_app(app: Flask) -> None:
    """Install CSRF protection and the security headers on ``app``."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # Flask's defaults already hold the key (as None): setdefault would keep None.
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config.setdefault("TRUSTED_PROXIES", "")
    app.config["TRUSTED_PROXIES_PARSED"] = parse_proxies(app.config["TRUSTED_PROXIES"])
    csrf.init_app(app)

    @app.before_request
    def _csrf() -> None:
        if request.method in UNSAFE_METHODS and \
                not request.path.startswith(CSRF_EXEMPT_PREFIXES):
            csrf.protect()

    @app.before_request
    def _secure_cookie() -> None:
        # Secure cookies whenever the page itself came over HTTPS.
        if request.is_secure:
            app.config["SESSION_COOKIE_SECURE"] = True

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
