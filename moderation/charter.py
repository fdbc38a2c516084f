"""The contributor charter: its text and the refusal reasons moderators pick from.

The text is ``data/charter.md`` (French and English); the reasons are its own headings.

A refusal must cite one of :data:`REASONS`; a test checks that each code appears in
both languages of the charter, so the list and the text cannot drift apart.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from markupsafe import Markup, escape

from geo.config import data_dir

__all__ = ["LANGS", "REASONS", "Reason", "charter_html", "charter_text", "reason_label"]

LANGS = ("fr", "en")


class Reason(NamedTuple):
    """A refusal (or takedown) reason of the charter."""

    code: str
    fr: str
    en: str


REASONS: dict[str, Reason] = {r.code: r for r in (
    Reason("respect", "Manque de respect", "Disrespect"),
    Reason("personal-data", "Données personnelles d'autrui", "Personal data about others"),
    Reason("advertising", "Publicité", "Advertising"),
    Reason("rules-of-use", "Règles d'usage du lieu", "The place's rules of use"),
    Reason("off-topic", "Hors sujet", "Off topic"),
    Reason("inaccurate", "Inexact", "Inaccurate"),
    Reason("duplicate", "Doublon", "Duplicate"),
    Reason("outside-area", "Hors de la ville", "Outside the city"),
    Reason("illegal", "Illégal ou dangereux", "Illegal or dangerous"),
)}


def reason_label(code: str) -> str:
    """``"Publicité / Advertising"`` for ``"advertising"`` (the code itself if unknown)."""
    r = REASONS.get(code)
    return f"{r.fr} / {r.en}" if r else code


@lru_cache(maxsize=4)
def _sections(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^<!-- lang: (\w+) -->\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def charter_text(lang: str = "fr", *, path: Path | None = None) -> str:
    """The charter's Markdown source in ``lang`` (French when unknown)."""
    sections = _sections(path or data_dir() / "charter.md")
    return sections.get(lang) or sections["fr"]


def _inline(line: str) -> Markup:
    out = escape(line)
    out = Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(out)))  # noqa: S704 (escaped)
    return Markup(re.sub(r"`(.+?)`", r"<code>\1</code>", str(out)))  # noqa: S704 (escaped)


def charter_html(lang: str = "fr", *, path: Path | None = None) -> Markup:
    """The charter as HTML.

    Only the small Markdown subset it uses (headings, lists, paragraphs, bold, code);
    every piece of text is escaped before any tag is added.
    """
    html: list[str] = []
    para: list[str] = []
    in_list = False

    def flush() -> None:
        nonlocal in_list
        if para:
            tag = "li" if in_list else "p"
            html.append(f"<{tag}>{_inline(' '.join(para))}</{tag}>")
            para.clear()

    for raw in charter_text(lang, path=path).splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        if not line or heading or line.startswith("- "):
            flush()
        if heading:
            if in_list:
                html.append("</ul>")
                in_list = False
            level = len(heading.group(1))
            html.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.startswith("- "):
            if not in_list:
                html.append("<ul>")
                in_list = True
            para.append(line[2:])
        elif not line:
            if in_list:
                html.append("</ul>")
                in_list = False
        else:
            para.append(line)
    flush()
    if in_list:
        html.append("</ul>")
    return Markup("\n".join(html))  # noqa: S704 (escaped parts)
