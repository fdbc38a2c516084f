"""The community texts in a recipient's language, from gettext catalogues, without Flask.

Mails of exchanges, loans and sign-in links are written by a worker or inside a
request for *another* person, so the language is always passed explicitly (the
recipient's ``resident.lang``), never read from a request. Catalogues live in
``community/translations/<lang>/LC_MESSAGES/community.po`` (domain ``community``),
compiled to ``.mo`` beside them and committed, like the ``messages`` (webmap) and
``moderation`` catalogues. As in ``moderation``, texts are written in French in the
code (the source language) and translated from French.

Adding a language is adding its ``.po`` (copy ``en``'s and translate every ``msgstr``,
or ``pybabel init`` from a template extracted as ``community/translations/babel.cfg``
says) and compiling it; the ``.mo`` is committed beside it::

    .venv/bin/pybabel compile -D community -d community/translations

``tests/unit/test_translations.py`` fails on a missing, fuzzy or uncompiled entry.

Strings stay ``str.format`` templates (``"{who} a confirmé : {time}…"``): callers
fill them after translation, so a translation may move the placeholders around.
"""

from __future__ import annotations

import gettext
from datetime import date
from functools import lru_cache
from pathlib import Path

__all__ = ["DOMAIN", "LOCALEDIR", "N_", "SOURCE", "Phrase", "language", "languages", "t"]

DOMAIN = "community"
LOCALEDIR = Path(__file__).parent / "translations"
SOURCE = "fr"
"""The language the code's strings are written in (no catalogue needed)."""


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet (tables of texts)."""
    return message


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The source language, then every language that has a compiled catalogue."""
    found = sorted(p.parents[1].name for p in LOCALEDIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (SOURCE, *(lang for lang in found if lang != SOURCE))


def language(lang: str | None) -> str:
    """``lang`` when the texts exist in it, else the source language (French)."""
    return lang if lang in languages() else SOURCE


@lru_cache(maxsize=16)
def _translations(lang: str) -> gettext.NullTranslations:
    # fallback=True: the source language has no catalogue and reads the msgids as is.
    return gettext.translation(DOMAIN, str(LOCALEDIR), languages=[lang], fallback=True)


def t(lang: str | None, message: str) -> str:
    """``message`` (French source text) in ``lang``; French for an unknown language."""
    return _translations(language(lang)).gettext(message)


DATE_FORMAT = N_("%d/%m/%Y")
"""How a day is written in a mail (a ``strftime`` format, translated: ``%Y-%m-%d`` in
English)."""


def day(lang: str | None, value: date) -> str:
    """``value`` written the way ``lang`` writes a day (``07/12/2026``, ``2026-12-07``)."""
    return value.strftime(t(lang, DATE_FORMAT))


class Phrase:
    """One source text read by language like the old ``{"fr": ..., "en": ...}`` tables.

    ``phrase["en"]`` and ``phrase.get(lang, default)`` translate; kept so that modules
    which indexed such a table by language keep working unchanged.
    """

    def __init__(self, message: str) -> None:
        self.message = message

    def __getitem__(self, lang: str) -> str:
        return t(lang, self.message)

    def get(self, lang: str | None, default: str | None = None) -> str:
        """The text in ``lang`` (French when the language has no catalogue)."""
        return t(lang, self.message)

    def __repr__(self) -> str:
        return f"Phrase({self.message!r})"
