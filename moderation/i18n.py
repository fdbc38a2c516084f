"""The moderation pages' language, local times and the labels of codes.

The language is the one the map chooses (``?lang=``, then the ``lang`` cookie, then
``Accept-Language``, then French: Flask-Babel's locale selector is installed by the
web app). Strings are written in French in the code and templates and translated to
English through the ``moderation`` Flask-Babel domain (``moderation/translations``).

Times are stored in UTC and shown in the city's time zone (``app.config["CITY"]``),
formatted for the language by Babel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, request
from flask_babel import Domain, get_locale
from markupsafe import Markup, escape

from geo.city import City, load_city

__all__ = ["ACTION_WORDS", "DAY_WORDS", "LANGS", "action_word", "area_heading", "domain",
           "lang", "local", "local_input", "outside_areas", "t", "template_globals", "tn",
           "when", "zone"]

LANGS = ("fr", "en")
domain = Domain(translation_directories=str(Path(__file__).parent / "translations"),
                domain="moderation")
t = domain.gettext
tn = domain.ngettext

# Audit actions as words (past participle: what happened), by language.
ACTION_WORDS = {
    "approve": ("Approuvé", "Approved"), "refuse": ("Refusé", "Refused"),
    "edit": ("Modifié", "Edited"), "merge": ("Fusionné", "Merged"),
    "unpublish": ("Retiré", "Unpublished"), "restore": ("Rétabli", "Restored"),
    "hide": ("Masqué (signalements)", "Hidden (flags)"),
    "dismiss_flags": ("Signalements rejetés", "Flags dismissed"),
    "import": ("Importé", "Imported"), "block": ("Client bloqué", "Client blocked"),
    "unblock": ("Blocage levé", "Block lifted"),
}
DAY_WORDS = {
    "mon": ("lundi", "Monday"), "tue": ("mardi", "Tuesday"), "wed": ("mercredi", "Wednesday"),
    "thu": ("jeudi", "Thursday"), "fri": ("vendredi", "Friday"), "sat": ("samedi", "Saturday"),
    "sun": ("dimanche", "Sunday"),
}
AUDIENCE_WORDS = {
    "children": ("Enfants", "Children"), "families": ("Familles", "Families"),
    "seniors": ("Seniors", "Seniors"), "everyone": ("Tout public", "Everyone"),
}
ACCESS_WORDS = {
    "step_free_access": ("Accès de plain-pied", "Step-free access"),
    "adapted_toilets": ("Toilettes adaptées", "Adapted toilets"),
    "seating": ("Places assises", "Seating"),
    "hearing_loop": ("Boucle magnétique", "Hearing loop"),
    "braille_or_large_print": ("Braille ou gros caractères", "Braille or large print"),
    "quiet_space": ("Espace calme", "Quiet space"),
    "assistance_dogs_welcome": ("Chiens d'assistance acceptés", "Assistance dogs welcome"),
}
STATUS_WORDS = {
    "pending": ("en attente", "waiting"), "approved": ("approuvée", "approved"),
    "refused": ("refusée", "refused"), "merged": ("fusionnée", "merged"),
    "published": ("publié", "published"), "hidden": ("masqué (signalements)",
                                                     "hidden (flags)"),
    "unpublished": ("retiré", "unpublished"), "open": ("ouvert", "open"),
    "upheld": ("retenu", "upheld"), "dismissed": ("rejeté", "dismissed"),
    "moderator": ("modérateur", "moderator"), "admin": ("administrateur", "administrator"),
}


def lang() -> str:
    """``fr`` (default) or ``en``, as the map chooses it."""
    try:
        chosen = str(get_locale() or "fr")
    except RuntimeError:  # outside a request (CLI, tests of pure functions)
        return "fr"
    return chosen if chosen in LANGS else "fr"


def word(table: dict[str, tuple[str, str]], code: str | None, language: str | None = None
         ) -> str:
    """The word of ``code`` in ``table`` in the language; the code itself if unknown."""
    if code is None:
        return ""
    pair = table.get(code)
    if pair is None:
        return code
    return pair[1] if (language or lang()) == "en" else pair[0]


def action_word(code: str | None, language: str | None = None) -> str:
    """An audit action as a word ("Approuvé", "Merged"), never its code."""
    return word(ACTION_WORDS, code, language)


def city() -> City:
    """The app's city (``app.config["CITY"]``: a City, or its slug, loaded once here)."""
    value = current_app.config.get("CITY")
    if not isinstance(value, City):
        value = current_app.config["CITY"] = load_city(
            value if isinstance(value, str) else None, check_files=False)
    return value


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def area_heading(depth: int | None = None) -> str:
    """The heading of an area column, in the city's own words and the page's language.

    Every level ("Arrondissement / quartier" in Paris, "District" in a city of one
    level), or the level of ``depth`` alone (1: the first). Never a word of the code:
    another city's moderators read their own levels.
    """
    words = city().level_labels(lang())
    if depth is not None:
        words = words[depth - 1:depth]
    return _capital(" / ".join(words))


def outside_areas() -> str:
    """What an item outside every area of the first level is said to be.

    "hors des arrondissements" / "outside the arrondissements" from the first level's
    plural; a city that configures no plural gets the singular form ("hors secteur",
    "outside any district"), which needs none.
    """
    level = city().levels[0]
    plural = level.label(lang(), plural=True)
    if plural:
        return t("hors des %(areas)s", areas=plural)
    return t("hors %(area)s", area=level.label(lang()))


def zone() -> ZoneInfo:
    """The configured city's time zone."""
    return city().zone


def local(value: datetime | None) -> datetime | None:
    """``value`` in the city's time zone (naive values are UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone())


def local_input(value: datetime | None) -> str:
    """A date-time as a ``datetime-local`` input value, in the city's time zone."""
    moved = local(value)
    return moved.strftime("%Y-%m-%dT%H:%M") if moved else ""


def when(value: datetime | None, fmt: str = "medium") -> Markup:
    """A ``<time>`` element: machine-readable UTC instant, local text for the language."""
    if value is None:
        return Markup("—")
    moved = local(value)
    assert moved is not None
    text = format_datetime(moved, fmt, tzinfo=moved.tzinfo, locale=lang())
    return Markup('<time datetime="{}">{}</time>').format(moved.isoformat(), text)


def switch_url(other: str) -> str:
    """The current page in the other language (the query kept, ``lang`` replaced)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", other))
    from urllib.parse import urlencode

    return f"{request.path}?{urlencode(args)}"


def template_globals() -> dict[str, Any]:
    """What every moderation template may call (a blueprint context processor)."""
    current = lang()
    return {"t": t, "tn": tn, "lang": current, "when": when, "local_input": local_input,
            "action_word": action_word,
            "status_word": lambda code: word(STATUS_WORDS, code, current),
            "day_word": lambda code: word(DAY_WORDS, code, current),
            "other_lang": "en" if current == "fr" else "fr",
            "switch_url": switch_url, "escape": escape,
            "area_heading": area_heading, "outside_areas": outside_areas}
