"""``/auth/``: throttled login, real logout, password change, reset links, invitations.

* ``/auth/login`` and ``/auth/logout``: a fresh session id per login, deleted on logout.
* ``/auth/password``: a logged-in moderator changes their password (the current one is
  asked; their other sessions end).
* ``/auth/forgot``: the same answer for every address; a known, active account gets a
  single-use reset link by e-mail (:func:`mail.enqueue_mail`).
* ``/auth/reset/<token>``: choose a new password through a reset or invitation link.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, redirect, render_template, request, session

from .accounts import (
    ACCOUNT_FAILURES,
    CLIENT_FAILURES,
    authenticate,
    end_session,
    remember_lang,
    start_session,
)
from .errors import AccountError, LoginRefused, LoginThrottled
from .i18n import lang, t, template_globals
from .recovery import change_password, set_password_with_token, token_holder
from .web import COOKIE, close_db, current_user, engine, request_client_key, safe_next
from .web import set_session_cookie as _set_cookie

__all__ = ["bp"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")
bp.teardown_app_request(close_db)
bp.context_processor(template_globals)


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
            remember_lang(s, user.id, lang())  # their alerts and digests, in this language
        except LoginRefused as exc:
            refused = exc
    if isinstance(refused, LoginThrottled):
        log.warning("login throttled")
        response = _form(429, message=t("Trop d'essais infructueux : réessayez dans "
                                        "quelques minutes."), email=email, next_url=next_url)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if refused is not None:
        return _form(401, message=t("Adresse ou mot de passe incorrect."), email=email,
                     next_url=next_url)
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


# --- password change, reset links -----------------------------------------------------------

def _page(template: str, status: int = 200, **context: object) -> Response:
    response = Response(render_template(template, **context), status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


PASSWORD_ERRORS = {"wrong_password": "Le mot de passe actuel est incorrect.",
                   "too_short": "Le nouveau mot de passe doit avoir au moins 12 caractères.",
                   "mismatch": "Les deux nouveaux mots de passe diffèrent.",
                   "bad_token": "Ce lien a déjà servi ou a expiré : demandez-en un nouveau."}


def _error(code: str) -> str:
    return t(PASSWORD_ERRORS[code])


@bp.get("/password")
def password_form() -> Response:
    """The password change form (logged in only)."""
    if current_user() is None:
        return redirect("/auth/login?next=/auth/password")
    return _page("moderation/password.html")


@bp.post("/password")
def password_change() -> Response:
    """Change one's password: the current one is checked, other sessions end."""
    from flask import flash
    from sqlalchemy.orm import Session

    user = current_user()
    if user is None:
        return redirect("/auth/login?next=/auth/password", code=303)
    form = request.form
    new = form.get("new_password") or ""
    code = None
    if new != (form.get("confirm_password") or ""):
        code = "mismatch"
    else:
        try:
            with Session(engine()) as s, s.begin():
                ended = change_password(s, user.id, form.get("current_password") or "", new,
                                        keep_session=request.cookies.get(COOKIE))
        except AccountError as exc:
            code = str(exc)
    if code is not None:
        return _page("moderation/password.html", 400, error=_error(code))
    flash(t("Mot de passe changé ; vos autres sessions (%(n)s) sont fermées.", n=ended), "ok")
    return redirect("/moderation/", code=303)


@bp.get("/forgot")
def forgot_form() -> Response:
    """Ask for a reset link."""
    return _page("moderation/forgot.html")


@bp.post("/forgot")
def forgot() -> Response:
    """Send a reset link to a known, active account; answer the same in every case."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    email = (request.form.get("email") or "").strip()[:254]
    cfg = current_app.config
    if email:
        with Session(engine()) as s, s.begin():
            # A link asked less than a minute ago is not sent again: "forgot password"
            # must not become a way to flood a moderator's inbox.
            row = s.execute(text("""
                SELECT u.id, u.email FROM app_user u
                WHERE lower(u.email) = lower(:e) AND u.active AND NOT EXISTS (
                  SELECT 1 FROM account_token t WHERE t.user_id = u.id
                    AND t.purpose = 'reset' AND t.created_at > now() - interval '1 minute')
            """), {"e": email}).one_or_none()
            if row is not None:
                send_link(s, row.id, row.email, "reset",
                          minutes=int(cfg.get("PASSWORD_RESET_TTL_MINUTES", 60)))
    return _page("moderation/forgot.html", sent=True)


def send_link(session: object, user_id: int, email: str, purpose: str, *,
              minutes: int) -> str:
    """Issue a token and queue its e-mail in the caller's transaction; returns the URL."""
    from datetime import timedelta

    from mail import enqueue_mail
    from mail.config import MailSettings

    from .recovery import issue_token

    token = issue_token(session, user_id, purpose, timedelta(minutes=minutes))  # type: ignore[arg-type]
    # The public root (CARTE_PUBLIC_URL), as in every e-mail: never the Host header an
    # attacker could set on the "forgot password" request.
    url = MailSettings.from_env().public_url.rstrip("/") + f"/auth/reset/{token}"
    language = lang()
    if purpose == "reset":
        context = {"subject": t("Réinitialiser votre mot de passe de modération"),
                   "intro": t("Quelqu'un (vous, sans doute) a demandé à réinitialiser le mot "
                              "de passe de votre compte de modération de la Carte citoyenne. "
                              "Ce lien sert une seule fois et expire dans %(n)s minutes. Si "
                              "vous n'avez rien demandé, ignorez ce message.", n=minutes),
                   "url": url, "url_label": t("Choisir un nouveau mot de passe")}
    else:
        context = {"subject": t("Invitation à modérer la Carte citoyenne"),
                   "intro": t("Un administrateur vous invite à modérer la Carte citoyenne. "
                              "Choisissez votre mot de passe avec ce lien, valable une fois "
                              "pendant %(n)s heures.", n=max(1, minutes // 60)),
                   "url": url, "url_label": t("Choisir mon mot de passe")}
    enqueue_mail(session, to=email, template="notice", lang=language,  # type: ignore[arg-type]
                 context=context)
    return url


@bp.get("/reset/<token>")
def reset_form(token: str) -> Response:
    """The new-password form of a live link; a used or expired link says so."""
    from sqlalchemy.orm import Session

    with Session(engine()) as s:
        holder = token_holder(s, token)
    if holder is None:
        return _page("moderation/reset.html", 410, error=_error("bad_token"), token=None)
    return _page("moderation/reset.html", token=token, email=holder.email,
                 invite=holder.purpose == "invite")


@bp.post("/reset/<token>")
def reset(token: str) -> Response:
    """Set the password through a link (once); every session of the account ends."""
    from flask import flash
    from sqlalchemy.orm import Session

    new = request.form.get("new_password") or ""
    code = None
    if new != (request.form.get("confirm_password") or ""):
        code = "mismatch"
    else:
        try:
            with Session(engine()) as s, s.begin():
                set_password_with_token(s, token, new)
        except AccountError as exc:
            code = str(exc)
    if code is not None:
        status = 410 if code == "bad_token" else 400
        return _page("moderation/reset.html", status, error=_error(code),
                     token=None if code == "bad_token" else token)
    flash(t("Mot de passe enregistré : connectez-vous."), "ok")
    return redirect("/auth/login", code=303)
