"""A resident's pages: sign in by magic link, ``/me``, conversations, and the answer API.

* ``GET /auth/magic`` asks for an address; ``POST`` queues a link. The answer is the
  same whether the address is known, new or over its hourly limit (nothing is revealed
  about an address); only a client asking too often is told to wait (429).
* ``GET /auth/magic/<token>`` shows one "Sign in" button (a mail scanner that opens
  the link burns nothing); its ``POST`` uses the link once, rotates the session and
  goes to the ``next`` given when the link was asked for — a path on this site only.
* ``POST /auth/signout``.
* ``/me``: display name and language, my submissions, my conversations, the sections
  other features register (:func:`register_me_section`), delete my account.
* ``/me/threads/<id>``: read and reply; block or unblock the other person;
  ``POST /me/threads/<id>/messages/<mid>/report`` reports a received message to the
  moderators (optional reason, optionally blocking its sender too; a few a day).
* ``/me`` lists the people the resident blocked (display name, never an address) with
  "Unblock" (``POST /me/blocks/<resident id>/unblock``).
* ``GET /api/v1/features/<id>/contact``: whether a place can be answered, and by whom
  (``signed_in``, ``mine``, ``thread_url``): never who organises it.
* ``POST /api/v1/features/<id>/messages`` ``{"body": ...}``: answer a place's organiser
  (signed in; JSON only, same-origin: the API takes the session cookie, so a cross-site
  form must not be able to post here).

Every form carries the CSRF token (:mod:`webmap.security`); pages with a token in their
URL are ``no-store`` and send no referrer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
)
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.orm import Session

from community import signups as _signups
from community.blocks import block, blocked_residents, unblock
from community.errors import (
    CommunityError,
    CommunityNotFound,
    InvalidCommunityInput,
    MagicLinkInvalid,
    SpamRefused,
    TooManyRequests,
)
from community.messages import (
    MessageSettings,
    organiser_of,
    report_message,
    send_message,
    thread_between,
    thread_for,
    threads_of,
)
from community.residents import (
    MagicLinkRequest,
    Resident,
    delete_account,
    on_account_deleted,
    peek_magic_link,
    redeem_magic_link,
    request_magic_link,
    update_profile,
)

from .api_openapi import register_operations
from .residents_auth import current_resident, resident_required, safe_next, sign_in, sign_out
from .views.i18n import current_lang
from .web import client_key, db_session, json_response, problem

__all__ = ["ANSWERABLE_KINDS", "bp", "register_me_section"]

def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


_FEATURE_ID = {"name": "feature_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
register_operations({
    "/api/v1/features/{feature_id}/contact": {"get": {
        "operationId": "featureContact",
        "summary": "Whether a place can be answered through the site (never who organises "
                   "it); with the session cookie, whether it is the resident's own and "
                   "their conversation about it",
        "parameters": [_FEATURE_ID],
        "responses": {
            "200": {"description": "answerable, signed_in, mine, thread_url",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["answerable", "signed_in", "mine", "thread_url"],
                        "properties": {"answerable": {"type": "boolean"},
                                       "signed_in": {"type": "boolean"},
                                       "mine": {"type": "boolean"},
                                       "thread_url": {"type": ["string", "null"]}}}}}},
            "404": _problem_response("no such published place")}}},
    "/api/v1/features/{feature_id}/messages": {"post": {
        "operationId": "answerFeature",
        "summary": "A signed-in resident writes to the organiser of a place (relayed by "
                   "e-mail, addresses never shared); same-origin JSON only",
        "parameters": [_FEATURE_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["body"],
            "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 4000}}}}}},
        "responses": {
            "201": {"description": "sent: the conversation",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["thread_id", "thread_url"],
                        "properties": {"thread_id": {"type": "integer"},
                                       "thread_url": {"type": "string"}}}}}},
            "400": _problem_response("no text, or too long (invalid_params)"),
            "401": _problem_response("sign in first (sign_in_url)"),
            "403": _problem_response("cross-site, blocked, or messages stopped"),
            "404": _problem_response("no such place, or it cannot be answered"),
            "415": _problem_response("not application/json"),
            "422": _problem_response("refused as spam (reasons)"),
            "429": _problem_response("too many messages this hour (Retry-After)")}}},
})

# A deleted account's sign-ups are cancelled (waiting ones promoted) and its answers
# erased, in the deletion's transaction (community.signups, the missions feature).
on_account_deleted(lambda session, resident_id: _signups.forget_resident(session,
                                                                         resident_id))

bp = Blueprint("me", __name__)
log = logging.getLogger(__name__)

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ANSWERABLE_KINDS = frozenset({"offer", "request", "loan", "exchange", "mission"})
"""Category kinds whose items can be answered (``data/categories.json``)."""


# --- sections other features add to /me ---------------------------------------------------


@dataclass(frozen=True)
class MeSection:
    """A block of ``/me`` from another feature (balance, loans, sign-ups...)."""

    name: str
    template: str
    context: Callable[[Resident, Session], dict[str, Any]]


_SECTIONS: list[MeSection] = []


def register_me_section(name: str, template: str,
                        context: Callable[[Resident, Session], dict[str, Any]]) -> None:
    """Add a section to ``/me``, rendered after the built-in ones, in registration order.

    ``template`` (a path under ``webmap/templates``) is rendered with the dict that
    ``context(resident, session)`` returns, plus ``resident`` and ``lang``. Registering
    the same ``name`` again replaces it (modules may be imported twice in tests). Call
    it at import time of your views module (``webmap/<feature>_views.py``).
    """
    section = MeSection(name, template, context)
    for i, existing in enumerate(_SECTIONS):
        if existing.name == name:
            _SECTIONS[i] = section
            return
    _SECTIONS.append(section)


def _render_sections(resident: Resident, session: Session, lang: str) -> list[Markup]:
    """Each section in a savepoint of its own: one feature's failure leaves the others."""
    out = []
    for section in _SECTIONS:
        try:
            with session.begin_nested():
                ctx = dict(section.context(resident, session))
        except Exception:
            log.exception("the /me section %r failed; the page is shown without it",
                          section.name)
            continue
        ctx.setdefault("resident", resident)
        ctx.setdefault("lang", lang)
        out.append(Markup(render_template(section.template, **ctx)))  # noqa: S704 - Jinja-escaped
    return out


# --- helpers ----------------------------------------------------------------------------------


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _public_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def _message_settings() -> MessageSettings:
    cfg = current_app.config
    return MessageSettings(per_hour=int(cfg.get("MESSAGES_PER_HOUR", 20)),
                           public_url=_public_url(),
                           reports_per_day=int(cfg["MESSAGE_REPORTS_PER_DAY"]))


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    context.setdefault("lang", current_lang())
    context.setdefault("resident", current_resident())
    return render_template(template, **context), status, dict(PRIVATE)


def _message(title: str, message: str, status: int = 200, **extra: Any
             ) -> tuple[str, int, dict[str, str]]:
    return _page("auth/message.html", status, title=title, message=message, **extra)


def _lang_of(value: str | None) -> str:
    return value if value in ("fr", "en") else current_lang()


# --- sign in ---------------------------------------------------------------------------------


@bp.get("/auth/magic")
def magic_form() -> tuple[str, int, dict[str, str]]:
    """The form to ask for a sign-in link."""
    return _page("auth/magic.html", next_url=safe_next(request.args.get("next")))


@bp.post("/auth/magic")
def magic_request() -> tuple[str, int, dict[str, str]]:
    """Queue a link (or not, silently, beyond the address's hourly limit)."""
    from flask_babel import gettext as _

    email = request.form.get("email", "")
    next_url = safe_next(request.form.get("next"))
    cfg = current_app.config
    settings = MagicLinkRequest(public_url=_public_url(),
                                ttl_minutes=int(cfg.get("MAGIC_LINK_MINUTES", 30)),
                                per_address_per_hour=int(cfg.get("MAGIC_LINKS_PER_HOUR", 3)),
                                per_client_per_hour=int(cfg.get("MAGIC_LINKS_PER_CLIENT_HOUR",
                                                                20)))
    try:
        with db_session() as s, s.begin():
            request_magic_link(s, email, secret=_secret(), client_key=client_key(),
                               lang=current_lang(), next_path=next_url, settings=settings)
    except InvalidCommunityInput:
        return _page("auth/magic.html", 400, next_url=next_url, email=email,
                     error=_("Enter a valid e-mail address."))
    except TooManyRequests as exc:
        html, status, headers = _page("auth/magic.html", 429, next_url=next_url, email=email,
                                      error=_("Too many links were asked from here lately: "
                                              "try again in an hour."))
        return html, status, {**headers, "Retry-After": str(exc.retry_after)}
    return _page("auth/sent.html", minutes=settings.ttl_minutes)


_LINK_STATES = {"used": "This link was already used.", "expired": "This link has expired.",
                "unknown": "This link is not valid."}


@bp.get("/auth/magic/<token>")
def magic_confirm(token: str) -> tuple[str, int, dict[str, str]]:
    """One button that signs in (a GET changes nothing: scanners open links)."""
    from flask_babel import gettext as _

    with db_session() as s:
        state = peek_magic_link(s, token[:200])
        s.rollback()
    if state != "ok":
        return _page("auth/invalid.html", 400, reason=_(_LINK_STATES[state]))
    return _page("auth/confirm.html", token=token)


@bp.post("/auth/magic/<token>")
def magic_use(token: str) -> Response | tuple[str, int, dict[str, str]]:
    """Use the link once: sign in, rotate the session, go to ``next`` (this site only)."""
    from flask_babel import gettext as _

    try:
        with db_session() as s, s.begin():
            resident, next_path = redeem_magic_link(s, token[:200], secret=_secret())
    except MagicLinkInvalid as exc:
        key = "used" if exc.reason == "already used" else exc.reason
        return _page("auth/invalid.html", 400, reason=_(_LINK_STATES.get(key, "unknown")))
    sign_in(resident)
    response = redirect(safe_next(next_path), code=303)
    response.headers.update(PRIVATE)
    return response


@bp.post("/auth/signout")
def signout() -> Response:
    """Sign out (the session and its CSRF token are dropped)."""
    sign_out()
    response = redirect("/", code=303)
    response.headers.update(PRIVATE)
    return response


# --- /me ----------------------------------------------------------------------------------------


def _my_submissions(s: Session, resident_id: int) -> list[Any]:
    return list(s.execute(text("""
        SELECT s.id, s.title, s.category, s.status::text AS status, s.received_at,
               f.id AS feature_id, f.status::text AS feature_status
        FROM submission s LEFT JOIN feature f ON f.id = s.feature_id
        WHERE s.resident_id = :r
        ORDER BY s.received_at DESC LIMIT 200
    """), {"r": resident_id}).all())


def _me_page(resident: Resident, status: int = 200, **extra: Any
             ) -> tuple[str, int, dict[str, str]]:
    lang = current_lang()
    with db_session() as s:
        submissions = _my_submissions(s, resident.id)
        threads = threads_of(s, resident.id, lang=lang)
        blocks = blocked_residents(s, resident.id, lang=lang)
        sections = _render_sections(resident, s, lang)
        s.rollback()
    return _page("me/index.html", status, me=resident, submissions=submissions,
                 threads=threads, blocks=blocks, sections=sections, **extra)


@bp.get("/me")
@resident_required
def me() -> tuple[str, int, dict[str, str]]:
    """The resident's page."""
    return _me_page(current_resident())  # type: ignore[arg-type]


@bp.post("/me/profile")
@resident_required
def me_profile() -> Response | tuple[str, int, dict[str, str]]:
    """Save the display name and language."""
    resident: Resident = current_resident()  # type: ignore[assignment]
    lang = _lang_of(request.form.get("lang"))
    try:
        with db_session() as s, s.begin():
            g.resident = update_profile(s, resident.id,
                                        display_name=request.form.get("display_name"),
                                        lang=lang)
    except InvalidCommunityInput as exc:
        return _me_page(resident, 400, profile_errors=exc.errors,
                        typed_name=request.form.get("display_name", ""))
    return redirect(f"/me?lang={lang}&saved=1", code=303)


@bp.post("/me/delete")
@resident_required
def me_delete() -> Response | tuple[str, int, dict[str, str]]:
    """Delete the account (after the confirmation box is ticked)."""
    from flask_babel import gettext as _

    resident: Resident = current_resident()  # type: ignore[assignment]
    if request.form.get("confirm") != "yes":
        return _me_page(resident, 400, delete_error=_("Tick the box to confirm."))
    with db_session() as s, s.begin():
        delete_account(s, resident.id, secret=_secret())
    sign_out()
    return _message(_("Account deleted"),
                    _("Your account is deleted and your address erased. What you added to "
                      "the map stays, attributed to \"a resident\"."))


# --- conversations ---------------------------------------------------------------------------


def _thread_page(resident: Resident, thread_id: int, status: int = 200, **extra: Any
                 ) -> tuple[str, int, dict[str, str]]:
    from flask_babel import gettext as _

    lang = current_lang()
    try:
        with db_session() as s:
            view = thread_for(s, thread_id, resident.id, lang=lang)
            s.rollback()
    except CommunityNotFound:
        return _message(_("Conversation not found"),
                        _("This conversation does not exist or is not yours."), 404)
    return _page("me/thread.html", status, thread=view, **extra)


@bp.get("/me/threads/<int:thread_id>")
@resident_required
def thread_page(thread_id: int) -> tuple[str, int, dict[str, str]]:
    """Read a conversation."""
    return _thread_page(current_resident(), thread_id)  # type: ignore[arg-type]


def _error_text(exc: CommunityError) -> str:
    from flask_babel import gettext as _

    if isinstance(exc, SpamRefused):
        return _("This message looks like spam (%(reasons)s). Write it without links or "
                 "repeated words and send it again.", reasons="; ".join(exc.reasons))
    if isinstance(exc, TooManyRequests):
        return _("You sent many messages in the last hour: wait a little before sending "
                 "more.")
    if isinstance(exc, InvalidCommunityInput):
        return _("Write a message (at most 4,000 characters).")
    return _("This message cannot be sent: messages between you and this person are "
             "blocked, or their account no longer exists.")


_ERROR_STATUS = {SpamRefused: 422, TooManyRequests: 429, InvalidCommunityInput: 400}


@bp.post("/me/threads/<int:thread_id>")
@resident_required
def thread_reply(thread_id: int) -> Response | tuple[str, int, dict[str, str]]:
    """Reply in a conversation."""
    resident: Resident = current_resident()  # type: ignore[assignment]
    body = request.form.get("body", "")
    try:
        with db_session() as s, s.begin():
            send_message(s, resident.id, None, body, thread_id=thread_id,
                         settings=_message_settings())
    except CommunityNotFound:
        return _thread_page(resident, thread_id)
    except CommunityError as exc:
        status = next((v for k, v in _ERROR_STATUS.items() if isinstance(exc, k)), 403)
        return _thread_page(resident, thread_id, status, error=_error_text(exc), typed=body)
    return redirect(f"/me/threads/{thread_id}#last", code=303)


@bp.post("/me/threads/<int:thread_id>/block")
@resident_required
def thread_block(thread_id: int) -> Response | tuple[str, int, dict[str, str]]:
    """Block (or with ``action=unblock``, unblock) the other person of a conversation."""
    resident: Resident = current_resident()  # type: ignore[assignment]
    lifting = request.form.get("action") == "unblock"
    try:
        with db_session() as s, s.begin():
            view = thread_for(s, thread_id, resident.id)
            if lifting:
                unblock(s, resident.id, view.other_id)
            else:
                block(s, resident.id, view.other_id)
    except CommunityNotFound:
        return _thread_page(resident, thread_id)
    return redirect(f"/me/threads/{thread_id}?{'unblocked' if lifting else 'blocked'}=1",
                    code=303)


@bp.post("/me/threads/<int:thread_id>/messages/<int:message_id>/report")
@resident_required
def message_report(thread_id: int, message_id: int
                   ) -> Response | tuple[str, int, dict[str, str]]:
    """Report a received message to the moderators; the sender is not told.

    ``reason`` is optional; ``block=yes`` blocks the sender too.
    """
    from flask_babel import gettext as _

    resident: Resident = current_resident()  # type: ignore[assignment]
    reason = request.form.get("reason", "")
    try:
        with db_session() as s, s.begin():
            view = thread_for(s, thread_id, resident.id)
            if message_id not in {m.id for m in view.messages}:
                raise CommunityNotFound("no such message in this conversation")
            report_message(s, message_id, resident.id, reason,
                           settings=_message_settings())
            also_block = request.form.get("block") == "yes"
            if also_block:
                block(s, resident.id, view.other_id)
    except CommunityNotFound:
        return _thread_page(resident, thread_id, 404,
                            report_error=_("This message cannot be reported."))
    except TooManyRequests as exc:
        html, status, headers = _thread_page(
            resident, thread_id, 429, report_for=message_id, typed_reason=reason,
            report_error=_("You reported many messages today: the moderators are reading "
                           "them. Try again tomorrow."))
        return html, status, {**headers, "Retry-After": str(exc.retry_after)}
    except InvalidCommunityInput:
        return _thread_page(resident, thread_id, 400, report_for=message_id,
                            typed_reason=reason,
                            report_error=_("The reason can be at most 1,000 characters, "
                                           "and you cannot report your own message."))
    done = "reported_blocked" if also_block else "reported"
    return redirect(f"/me/threads/{thread_id}?{done}={message_id}#message-{message_id}",
                    code=303)


@bp.post("/me/blocks/<int:blocked_id>/unblock")
@resident_required
def me_unblock(blocked_id: int) -> Response:
    """Lift a block from ``/me`` (only the resident's own: nothing else is touched)."""
    resident: Resident = current_resident()  # type: ignore[assignment]
    with db_session() as s, s.begin():
        done = unblock(s, resident.id, blocked_id)
    return redirect(f"/me?unblocked={1 if done else 0}#blocks-h", code=303)


# --- the answer API (the map page's "Answer" section) ---------------------------------------


def _same_origin() -> bool:
    """The request comes from our own pages (Origin / Sec-Fetch-Site, when sent)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        return parts.netloc == request.host
    return origin != "null"


def _answerable(s: Session, feature_id: int) -> tuple[bool, int | None]:
    row = s.execute(text("""
        SELECT c.kind::text AS kind FROM feature f JOIN category c ON c.slug = f.category
        WHERE f.id = :f AND f.status = 'published'
    """), {"f": feature_id}).one_or_none()
    if row is None:
        raise CommunityNotFound("no such place")
    organiser = organiser_of(s, feature_id)
    return row.kind in ANSWERABLE_KINDS and organiser is not None, organiser


@bp.get("/api/v1/features/<int:feature_id>/contact")
def feature_contact(feature_id: int) -> Response:
    """Whether this place can be answered through the service, for the map's section."""
    resident = current_resident()
    with db_session() as s:
        answerable, organiser = _answerable(s, feature_id)
        thread = None
        if resident is not None and organiser is not None and organiser != resident.id:
            thread = thread_between(s, resident.id, organiser, feature_id)
        s.rollback()
    body = {"answerable": answerable, "signed_in": resident is not None,
            "mine": resident is not None and organiser == resident.id,
            "thread_url": f"/me/threads/{thread}" if thread else None}
    return json_response(body, headers={"Cache-Control": "private, no-store",
                                        "Vary": "Cookie"})


@bp.post("/api/v1/features/<int:feature_id>/messages")
@resident_required
def feature_message(feature_id: int) -> Response:
    """Answer the organiser of a place: ``{"body": "..."}`` → 201 ``{thread_id, thread_url}``."""
    if not _same_origin():
        return problem(403, "Forbidden", detail="cross-site requests are refused")
    if request.mimetype != "application/json":
        return problem(415, "Unsupported Media Type", detail="send application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        return problem(400, "Bad Request", detail="body: a JSON object with a text 'body'",
                       invalid_params=[{"name": "body", "reason": "a text is required"}])
    resident: Resident = current_resident()  # type: ignore[assignment]
    with db_session() as s, s.begin():
        answerable, organiser = _answerable(s, feature_id)
        if not answerable or organiser is None:
            raise CommunityNotFound("this place cannot be answered through the site")
        thread_id = send_message(s, resident.id, organiser, data["body"],
                                 feature_id=feature_id, settings=_message_settings())
    return json_response({"thread_id": thread_id, "thread_url": f"/me/threads/{thread_id}"},
                         201, headers={"Cache-Control": "no-store"})
