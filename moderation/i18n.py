"""The moderation pages' language, local times and the labels of codes.

The language is the one the map chooses (``?lang=``, then the ``lang`` cookie, then
``Accept-Language``, then French: Flask-Babel's locale selector is installed by the
web app). Strings are written in French in the code and templates and translated to
English through the ``moderation`` Flask-Babel domain (``moderation/translations``):
``t``/``tn``/``tp`` in a request; :func:`translate` for a language given explicitly
(and for tables of codes, whose French words are marked with :func:`N_`).

Times are stored in UTC and shown in the city's time zone (``app.config["CITY"]``),
formatted for the language by Babel.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, request
from flask_babel import Domain, get_locale
from markupsafe import Markup, escape

from geo.city import City, load_city

__all__ = ["ACCESS_WORDS", "ACTION_WORDS", "AUDIENCE_WORDS", "DAY_WORDS", "DOMAIN", "LANGS",
           "LOCALEDIR", "NP_", "N_", "STATUS_WORDS", "action_word", "area_heading",
           "domain", "lang", "local", "local_input", "outside_areas", "t",
           "template_globals", "tn", "tp", "translate", "when", "word", "zone"]

LANGS = ("fr", "en")
LOCALEDIR = Path(__file__).parent / "translations"
DOMAIN = "moderation"
domain = Domain(translation_directories=str(LOCALEDIR), domain=DOMAIN)
t = domain.gettext
tn = domain.ngettext
tp = domain.pgettext  # a word whose English depends on what it qualifies


def N_(message: str) -> str:
    """Mark ``message`` (French) for the catalogue without translating it yet (tables)."""
    return message


def NP_(context: str, message: str) -> str:
    """:func:`N_` for a word read with a ``context`` (``translate(..., context=)``)."""
    return message


@lru_cache(maxsize=8)
def _catalogue(language: str) -> gettext.NullTranslations:
    # The same compiled catalogue Flask-Babel reads, opened without a request so that
    # pure functions given a language (fields, tests, the CLI) translate too; French,
    # the source language, has none (fallback: the msgid itself).
    return gettext.translation(DOMAIN, str(LOCALEDIR), languages=[language], fallback=True)


def translate(message: str, language: str | None = None, context: str | None = None
              ) -> str:
    """``message`` (French, marked with :func:`N_`) in ``language`` (the page's if none).

    French for a language without a catalogue, as the pages themselves.
    """
    catalogue = _catalogue(language or lang())
    return catalogue.pgettext(context, message) if context else catalogue.gettext(message)


# Codes as words, French msgids translated by the ``moderation`` catalogue (:func:`word`).
# Audit actions (past participle: what happened).
ACTION_WORDS = {
    "approve": N_("Approuvé"), "refuse": N_("Refusé"), "edit": N_("Modifié"),
    "merge": N_("Fusionné"), "unpublish": N_("Retiré"), "restore": N_("Rétabli"),
    "hide": N_("Masqué (signalements)"), "dismiss_flags": N_("Signalements rejetés"),
    "import": N_("Importé"), "block": N_("Client bloqué"), "unblock": N_("Blocage levé"),
}
DAY_WORDS = {
    "mon": N_("lundi"), "tue": N_("mardi"), "wed": N_("mercredi"), "thu": N_("jeudi"),
    "fri": N_("vendredi"), "sat": N_("samedi"), "sun": N_("dimanche"),
}
AUDIENCE_WORDS = {
    "children": N_("Enfants"), "families": N_("Familles"), "seniors": N_("Seniors"),
    "everyone": N_("Tout public"),
}
ACCESS_WORDS = {
    "step_free_access": N_("Accès de plain-pied"),
    "adapted_toilets": N_("Toilettes adaptées"),
    "seating": N_("Places assises"),
    "hearing_loop": N_("Boucle magnétique"),
    "braille_or_large_print": N_("Braille ou gros caractères"),
    "quiet_space": N_("Espace calme"),
    "assistance_dogs_welcome": N_("Chiens d'assistance acceptés"),
}
STATUS_WORDS = {
    "pending": N_("en attente"), "approved": N_("approuvée"), "refused": N_("refusée"),
    "merged": N_("fusionnée"), "published": N_("publié"),
    "hidden": N_("masqué (signalements)"), "unpublished": N_("retiré"),
    "open": N_("ouvert"), "upheld": N_("retenu"), "dismissed": N_("rejeté"),
    "moderator": N_("modérateur"), "admin": N_("administrateur"),
}


def lang() -> str:
    """``fr`` (default) or ``en``, as the map chooses it."""
    try:
        chosen = str(get_locale() or "fr")
    except RuntimeError:  # outside a request (CLI, tests of pure functions)
        return "fr"
    return chosen if chosen in LANGS else "fr"


def word(table: dict[str, str], code: str | None, language: str | None = None) -> str:
    """The word of ``code`` in ``table`` in the language; the code itself if unknown."""
    if code is None:
        return ""
    message = table.get(code)
    return code if message is None else translate(message, language)


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
    return {"t": t, "tn": tn, "tp": tp, "lang": current, "when": when,
            "local_input": local_input, "action_word": action_word,
            "status_word": lambda code: word(STATUS_WORDS, code, current),
            "day_word": lambda code: word(DAY_WORDS, code, current),
            "other_lang": "en" if current == "fr" else "fr",
            "switch_url": switch_url, "escape": escape,
            "area_heading": area_heading, "outside_areas": outside_areas}
