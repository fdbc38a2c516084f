"""Messages from templates: subject, plain text and an HTML alternative, in FR or EN.

A template is ``mail/templates/<lang>/<name>.j2`` with three blocks: ``subject`` (one
line), ``text`` and ``html`` (the HTML block is autoescaped by the template itself with
``{% autoescape true %}``: resident text in it is escaped, the plain text is not).
Dates go through Babel in the message's language (filter ``when``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import escape

from geo.events import city_zone

from .errors import UnknownTemplate

__all__ = ["LANGS", "Rendered", "render"]

LANGS = ("fr", "en")
TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Rendered:
    """One rendered message."""

    subject: str
    text: str
    html: str


def _when(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    # In the city's zone (its city.json), whichever city this is.
    return format_datetime(value.astimezone(city_zone()), "medium", locale=lang)


@cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False,  # noqa: S701 - html block autoescapes itself
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    return env


def _page(subject: str, body: str, lang: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(subject)}</title></head>\n"
            '<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">\n'
            f"{body.strip()}\n</body></html>\n")


def render(template: str, lang: str, context: dict[str, Any]) -> Rendered:
    """Render ``template`` in ``lang`` (``fr`` or ``en``) with ``context``.

    Raises
    ------
    UnknownTemplate
        No such template in that language.
    """
    if lang not in LANGS:
        raise UnknownTemplate(f"no language {lang!r} (fr, en)")
    try:
        tmpl = _env().get_template(f"{lang}/{template}.j2")
    except TemplateNotFound as exc:
        raise UnknownTemplate(f"no mail template {template!r} in {lang}") from exc
    ctx = tmpl.new_context({**context, "lang": lang,
                            "when": lambda v: _when(v, lang)})

    def block(name: str) -> str:
        return "".join(tmpl.blocks[name](ctx))

    # A subject is one header line: no newline can smuggle another header in.
    subject = " ".join(block("subject").split())
    return Rendered(subject=subject, text=block("text").strip() + "\n",
                    html=_page(subject, block("html"), lang))
