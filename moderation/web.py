"""What every moderation view shares: database session, account, role check, cookie.

Also the client key (a keyed hash of the address, as webmap.security computes it).

Authorisation is checked here, server-side, by :func:`require_role` on every route;
templates only hide what a role cannot do, they never decide it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, current_app, g, redirect, render_template, request
from sqlalchemy.orm import Session

from geo.clients import request_key
from geo.db import get_engine
from geo.models import UserRole

from .accounts import CurrentUser, load_session, remember_lang
from .i18n import LANGS, t
from .redirects import local_path

__all__ = [
    "COOKIE",
    "current_user",
    "db",
    "engine",
    "request_client_key",
    "require_role",
    "safe_next",
    "set_session_cookie",
]

COOKIE = "carte_session"
F = TypeVar("F", bound=Callable[..., Any])


def engine() -> Any:
    """The application's database engine."""
    return get_engine(current_app.config["DATABASE_URL"])


def db() -> Session:
    """A session for this request (read-mostly; writes open their own transaction)."""
    if "mod_db" not in g:
        g.mod_db = Session(engine())
    return g.mod_db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's session (registered as a teardown)."""
    s = g.pop("mod_db", None)
    if s is not None:
        s.close()


def request_client_key() -> str:
    """Keyed hash of the client address, the same one webmap.security computes."""
    if "client_key" not in g:
        g.client_key = request_key(
            request.remote_addr, request.headers.get("X-Forwarded-For"),
            proxies=current_app.config.get("TRUSTED_PROXIES_PARSED") or [],
            secret=current_app.config["SECRET_KEY"])
    return g.client_key


def current_user() -> CurrentUser | None:
    """The account of this request's session cookie, or ``None``."""
    if "mod_user" not in g:
        s = db()
        with s.begin():
            g.mod_user = load_session(s, request.cookies.get(COOKIE))
            chosen = request.args.get("lang")
            if g.mod_user is not None and chosen in LANGS:  # switched language: kept
                remember_lang(s, g.mod_user.id, chosen)
    return g.mod_user


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another host: :mod:`.redirects`)."""
    return local_path(target)


def set_session_cookie(response: Response, token: str | None) -> None:
    """Set (or with ``None`` delete) the session cookie.

    HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS.
    """
    if token is None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax",
                               secure=request.is_secure)
        return
    response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Lax",
                        secure=request.is_secure or bool(
                            current_app.config.get("SESSION_COOKIE_SECURE")))


def require_role(*roles: UserRole) -> Callable[[F], F]:
    """Allow a view to accounts of ``roles`` (admins may do what moderators may).

    Anonymous: a ``GET`` is redirected to the login page, anything else answers 401.
    Logged in with another role: 403.
    """
    allowed = set(roles) | {UserRole.admin}

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.method in ("GET", "HEAD"):
                    return redirect("/auth/login?" + urlencode({"next": request.full_path
                                                                 .rstrip("?")}))
                return render_template("moderation/message.html", status=401,
                                       title=t("Connexion requise"),
                                       message=t("Votre session a expiré ou vous n'êtes pas "
                                                 "connecté·e. Connectez-vous puis "
                                                 "recommencez.")), 401
            g.user = user
            if user.role not in allowed:
                return render_template("moderation/message.html", status=403,
                                       title=t("Accès refusé"),
                                       message=t("Cette page est réservée aux "
                                                 "administrateurs.")), 403
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
