"""``/subscriptions``: anyone subscribes to new items of a category and/or an area.

* ``GET /subscriptions`` the form; ``POST /subscriptions`` records an unconfirmed
  subscription and sends the confirmation e-mail (double opt-in). The answer is the
  same whether the address was known, new or already subscribed.
* ``GET /subscriptions/confirm/<token>`` a page with one button; its ``POST`` confirms
  (a GET never changes anything: mail scanners that open links confirm nothing).
* ``GET /subscriptions/unsubscribe/<token>`` likewise, and
  ``POST /api/v1/subscriptions/unsubscribe/<token>`` is the RFC 8058 one-click target
  of the ``List-Unsubscribe`` header (under ``/api/``: a mail client posts it without
  a CSRF token; the signed token is the authority).

Pages in French or English, chosen like the map (``lang``, cookie, ``Accept-Language``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext, pgettext
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.db import get_engine
from mail.errors import BadToken
from mail.subscriptions import confirm, subscribe, unsubscribe

from .city import current_city
from .residents_auth import current_resident
from .views.i18n import current_lang

__all__ = ["bp"]

bp = Blueprint("subscriptions", __name__)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def texts() -> dict[str, str]:
    """The pages' words in the request's language (the ``messages`` catalogue)."""
    return {"title": gettext("Subscribe to new items"),
            "email": gettext("Your e-mail address"),
            "category": gettext("Category"),
            "or": gettext("or"),
            "any": pgettext("categories", "All"),
            "any_area": gettext("The whole city"),
            "submit": gettext("Subscribe"),
            "intro": gettext("Get an e-mail when a place, an event or an offer is published in "
                             "the category or part of the city you choose. Your address is "
                             "never published; every message has an unsubscribe link."),
            "sent_title": gettext("Check your inbox"),
            "sent": gettext("If the address is valid, a confirmation message was just sent to it. "
                            "The subscription starts when you click its link."),
            "confirm_title": gettext("Confirm the subscription"),
            "confirm": gettext("Confirm my subscription"),
            "confirmed_title": gettext("Subscription confirmed"),
            "confirmed": gettext("Done: new items will reach you by e-mail."),
            "unsub_title": gettext("Unsubscribe"),
            "unsub": gettext("Unsubscribe me"),
            "unsubbed_title": gettext("Unsubscribed"),
            "unsubbed": gettext("You will receive no more of these."),
            "bad_title": gettext("Invalid link"),
            "bad": gettext("This link is not valid, or the subscription no longer exists."),
            "err_email": gettext("Give a valid e-mail address."),
            "err_what": gettext("Choose a category, a place, or both."),
            "err_category": gettext("This category does not exist."),
            "err_area": gettext("This place does not exist."),
            "feed": gettext("Or follow the Atom feed")}


def area_label(lang: str) -> str:
    """The area field's label in the city's own words: its levels, "or" between the last two.

    Paris: "Arrondissement ou quartier"; a city of one level: "District"; of three:
    "Secteur, district ou îlot". From the city's configuration, never a word of the code.
    """
    words = list(current_city().level_labels(lang))
    joined = words[-1] if len(words) < 2 else \
        f"{', '.join(words[:-1])} {gettext('or')} {words[-1]}"
    return joined[:1].upper() + joined[1:]


def _engine() -> Any:
    return get_engine(current_app.config["DATABASE_URL"])


def _choices(lang: str) -> tuple[list[Any], list[Any]]:
    with _engine().connect() as conn:
        cats = conn.execute(text(
            "SELECT slug, CASE WHEN :l = 'en' THEN label_en ELSE label_fr END AS label "
            "FROM category WHERE active ORDER BY position, slug"), {"l": lang}).all()
        areas = conn.execute(text(
            "SELECT code, name, kind::text AS kind FROM area "
            "WHERE depth > 0 ORDER BY depth, code")).all()  # every level of the city
    return cats, areas


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    lang = current_lang()
    words = {**texts(), "area": area_label(lang)}
    return (render_template(f"subscriptions/{template}.html", lang=lang, t=words,
                            resident=current_resident(), **context), status, PRIVATE)


@bp.get("/subscriptions")
def form() -> tuple[str, int, dict[str, str]]:
    """The subscription form."""
    cats, areas = _choices(current_lang())
    return _page("form", cats=cats, areas=areas, values=request.args, errors={})


@bp.post("/subscriptions")
def subscribe_post() -> tuple[str, int, dict[str, str]]:
    """Record a subscription and send its confirmation (double opt-in)."""
    lang = current_lang()
    t = texts()
    f = request.form
    email = (f.get("email") or "").strip()
    category = (f.get("category") or "").strip() or None
    area = (f.get("area") or "").strip() or None
    errors: dict[str, str] = {}
    if len(email) > 254 or not _EMAIL.match(email):
        errors["email"] = t["err_email"]
    if category is None and area is None:
        errors["category"] = t["err_what"]
    cats, areas = _choices(lang)
    if category is not None and category not in {c.slug for c in cats}:
        errors["category"] = t["err_category"]
    if area is not None and area not in {a.code for a in areas}:
        errors["area"] = t["err_area"]
    if errors:
        return _page("form", 422, cats=cats, areas=areas, values=f, errors=errors)
    with Session(_engine()) as session, session.begin():
        area_id = None
        if area is not None:
            area_id = session.execute(text("SELECT id FROM area WHERE code = :c"),
                                      {"c": area}).scalar_one()
        subscribe(session, email=email, category=category, area_id=area_id, lang=lang,
                  secret=current_app.config["SECRET_KEY"])
    return _page("message", 202, heading=t["sent_title"], message=t["sent"])


def _token_page(purpose: str, token: str) -> tuple[str, int, dict[str, str]]:
    t = texts()
    if purpose == "confirm":
        return _page("action", heading=t["confirm_title"], button=t["confirm"], token=token,
                     action=f"/subscriptions/confirm/{token}")
    return _page("action", heading=t["unsub_title"], button=t["unsub"], token=token,
                 action=f"/subscriptions/unsubscribe/{token}")


@bp.get("/subscriptions/confirm/<token>")
def confirm_page(token: str) -> tuple[str, int, dict[str, str]]:
    """One button that confirms (a GET changes nothing)."""
    return _token_page("confirm", token)


@bp.get("/subscriptions/unsubscribe/<token>")
def unsubscribe_page(token: str) -> tuple[str, int, dict[str, str]]:
    """One button that unsubscribes."""
    return _token_page("unsubscribe", token)


def _apply(purpose: str, token: str) -> bool:
    secret = current_app.config["SECRET_KEY"]
    try:
        with Session(_engine()) as session, session.begin():
            action = confirm if purpose == "confirm" else unsubscribe
            return action(session, token, secret=secret)
    except BadToken:
        return False


@bp.post("/subscriptions/confirm/<token>")
def confirm_post(token: str) -> tuple[str, int, dict[str, str]]:
    """Confirm the subscription."""
    t = texts()
    if not _apply("confirm", token):
        return _page("message", 404, heading=t["bad_title"], message=t["bad"])
    return _page("message", heading=t["confirmed_title"], message=t["confirmed"])


@bp.post("/subscriptions/unsubscribe/<token>")
def unsubscribe_post(token: str) -> tuple[str, int, dict[str, str]]:
    """Unsubscribe (from the page's button)."""
    t = texts()
    try:
        with Session(_engine()) as session, session.begin():
            unsubscribe(session, token, secret=current_app.config["SECRET_KEY"])
    except BadToken:
        return _page("message", 404, heading=t["bad_title"], message=t["bad"])
    # Unsubscribing twice is still "unsubscribed": nothing more will be sent.
    return _page("message", heading=t["unsubbed_title"], message=t["unsubbed"])


@bp.post("/api/v1/subscriptions/unsubscribe/<token>")
def one_click(token: str) -> Response:
    """RFC 8058 one-click unsubscribe (``List-Unsubscribe-Post``)."""
    try:
        with Session(_engine()) as session, session.begin():
            unsubscribe(session, token, secret=current_app.config["SECRET_KEY"])
    except BadToken:
        return Response("invalid link\n", 404, {"Content-Type": "text/plain; charset=utf-8",
                                                 **PRIVATE})
    return Response("unsubscribed\n", 200, {"Content-Type": "text/plain; charset=utf-8",
                                            **PRIVATE})
