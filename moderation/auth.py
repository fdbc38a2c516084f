"""``/auth/login`` and ``/auth/logout``: throttled login, fresh session id, real logout."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, redirect, render_template, request, session

from .accounts import ACCOUNT_FAILURES, CLIENT_FAILURES, authenticate, end_session, start_session
from .errors import LoginRefused, LoginThrottled
from .web import COOKIE, close_db, current_user, engine, request_client_key, safe_next
from .web import set_session_cookie as _set_cookie

__all__ = ["bp"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")
bp.teardown_app_request(close_db)

REFUSED = "Adresse ou mot de passe incorrect. / Wrong email or password."
THROTTLED = ("Trop d'essais infructueux : réessayez dans quelques minutes. / "
             "Too many failed attempts: try again in a few minutes.")


def _form(status: int, *, message: str | None = None, email: str = "",
          next_url: str = "/moderation/") -> Response:
    response = Response(render_template("moderation/login.html", message=message, email=email,
                                        next_url=next_url), status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/login")
def login_form() -> Response:
    """The login form (already logged in: straight to the queue)."""
    next_url = safe_next(request.args.get("next"))
    if current_user() is not None:
        return redirect(next_url)
    return _form(200, next_url=next_url)


@bp.post("/login")
def login() -> Response:
    """Check the password; on success start a new session and go on."""
    from sqlalchemy.orm import Session

    email = (request.form.get("email") or "").strip()[:254]
    password = request.form.get("password") or ""
    next_url = safe_next(request.form.get("next"))
    cfg = current_app.config
    refused: LoginRefused | None = None
    with Session(engine()) as s, s.begin():
        # Caught inside the transaction so that a failure row is committed, not rolled back.
        try:
            user = authenticate(
                s, email, password, client=request_client_key(), secret=cfg["SECRET_KEY"],
                max_account=cfg.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", ACCOUNT_FAILURES),
                max_client=cfg.get("LOGIN_MAX_FAILURES_PER_CLIENT", CLIENT_FAILURES))
            token = start_session(s, user.id, previous=request.cookies.get(COOKIE))
        except LoginRefused as exc:
            refused = exc
    if isinstance(refused, LoginThrottled):
        log.warning("login throttled")
        response = _form(429, message=THROTTLED, email=email, next_url=next_url)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if refused is not None:
        return _form(401, message=REFUSED, email=email, next_url=next_url)
    # A new login is a new session: the old CSRF token and cookie data go too.
    session.clear()
    response = redirect(next_url, code=303)
    _set_cookie(response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/logout")
def logout() -> Response:
    """End the session in the database and drop the cookie."""
    from sqlalchemy.orm import Session

    with Session(engine()) as s, s.begin():
        end_session(s, request.cookies.get(COOKIE))
    session.clear()
    response = redirect("/auth/login", code=303)
    _set_cookie(response, None)
    return response
