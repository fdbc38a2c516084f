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

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "S'abonner aux nouveautés", "email": "Votre adresse e-mail",
        "category": "Catégorie", "or": "ou", "any": "Toutes",
        "any_area": "Toute la ville", "submit": "S'abonner",
        "intro": "Recevez un e-mail quand un lieu, un événement ou une offre est publié "
                 "dans la catégorie ou la partie de la ville de votre choix. Votre adresse "
                 "n'est jamais publiée ; chaque message a un lien de désabonnement.",
        "sent_title": "Vérifiez votre boîte mail",
        "sent": "Si l'adresse est valide, un message de confirmation vient d'y être "
                "envoyé. L'abonnement commence quand vous cliquez sur son lien.",
        "confirm_title": "Confirmer l'abonnement", "confirm": "Confirmer mon abonnement",
        "confirmed_title": "Abonnement confirmé",
        "confirmed": "C'est fait : vous recevrez les nouveautés par e-mail.",
        "unsub_title": "Se désabonner", "unsub": "Me désabonner",
        "unsubbed_title": "Désabonné", "unsubbed": "Vous ne recevrez plus ces messages.",
        "bad_title": "Lien non valide",
        "bad": "Ce lien n'est pas valide ou l'abonnement n'existe plus.",
        "err_email": "Indiquez une adresse e-mail valide.",
        "err_what": "Choisissez une catégorie, un lieu, ou les deux.",
        "err_category": "Cette catégorie n'existe pas.", "err_area": "Ce lieu n'existe pas.",
        "feed": "Ou suivez le flux Atom",
    },
    "en": {
        "title": "Subscribe to new items", "email": "Your e-mail address",
        "category": "Category", "or": "or", "any": "All",
        "any_area": "The whole city", "submit": "Subscribe",
        "intro": "Get an e-mail when a place, an event or an offer is published in the "
                 "category or part of the city you choose. Your address is never published; "
                 "every message has an unsubscribe link.",
        "sent_title": "Check your inbox",
        "sent": "If the address is valid, a confirmation message was just sent to it. "
                "The subscription starts when you click its link.",
        "confirm_title": "Confirm the subscription", "confirm": "Confirm my subscription",
        "confirmed_title": "Subscription confirmed",
        "confirmed": "Done: new items will reach you by e-mail.",
        "unsub_title": "Unsubscribe", "unsub": "Unsubscribe me",
        "unsubbed_title": "Unsubscribed", "unsubbed": "You will receive no more of these.",
        "bad_title": "Invalid link",
        "bad": "This link is not valid, or the subscription no longer exists.",
        "err_email": "Give a valid e-mail address.",
        "err_what": "Choose a category, a place, or both.",
        "err_category": "This category does not exist.", "err_area": "This place does not exist.",
        "feed": "Or follow the Atom feed",
    },
}


def area_label(lang: str) -> str:
    """The area field's label in the city's own words: its levels, "or" between the last two.

    Paris: "Arrondissement ou quartier"; a city of one level: "District"; of three:
    "Secteur, district ou îlot". From the city's configuration, never a word of the code.
    """
    words = list(current_city().level_labels(lang))
    joined = words[-1] if len(words) < 2 else \
        f"{', '.join(words[:-1])} {TEXTS[lang]['or']} {words[-1]}"
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
    texts = {**TEXTS[lang], "area": area_label(lang)}
    return (render_template(f"subscriptions/{template}.html", lang=lang, t=texts,
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
    t = TEXTS[lang]
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
    t = TEXTS[current_lang()]
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
    t = TEXTS[current_lang()]
    if not _apply("confirm", token):
        return _page("message", 404, heading=t["bad_title"], message=t["bad"])
    return _page("message", heading=t["confirmed_title"], message=t["confirmed"])


@bp.post("/subscriptions/unsubscribe/<token>")
def unsubscribe_post(token: str) -> tuple[str, int, dict[str, str]]:
    """Unsubscribe (from the page's button)."""
    t = TEXTS[current_lang()]
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
