"""Spam score: a registry of small, explained, pure rules.

Each rule takes a :class:`SpamContext` and returns a :class:`Verdict` (a score, and a
reason a moderator can read) or ``None``. :data:`RULES` maps short names to dotted
paths; a dotted path works too, so a city can add its own rule without touching this
module. Nothing is deleted on a high score: the moderator sees the score and reasons.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import NamedTuple

from .text import mixed_script_words
from .types import Record

__all__ = ["RULES", "SpamContext", "Verdict", "burst", "confirmed_different", "links", "load_rule",
           "mixed_script",
           "repeated_text",
           "score", "shouting"]


class SpamContext(NamedTuple):
    """What the rules may look at: the record and how busy its client has been."""

    record: Record
    recent_from_client: int = 0  # submissions from the same client key in the window


class Verdict(NamedTuple):
    """One rule's opinion: how suspicious (0–1 per rule) and why."""

    rule: str
    score: float
    reason: str


Rule = Callable[[SpamContext], Verdict | None]

RULES: dict[str, str] = {
    "links": "ingestion.spam:links",
    "repeated_text": "ingestion.spam:repeated_text",
    "burst": "ingestion.spam:burst",
    "shouting": "ingestion.spam:shouting",
    "mixed_script": "ingestion.spam:mixed_script",
    "confirmed_different": "ingestion.spam:confirmed_different",
}
DEFAULT_RULES = tuple(RULES)

_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def _text(record: Record) -> str:
    # Every text a resident typed: title, description and the category's text fields.
    extra = [v for v in (record.attributes or {}).values()
             if isinstance(v, str) and not _URL.fullmatch(v.strip())]
    return "\n".join([record.title, record.description or "", *extra])


def links(ctx: SpamContext) -> Verdict | None:
    """Links in the title or description: one is common, several look like advertising."""
    n = len(_URL.findall(_text(ctx.record)))
    if n == 0:
        return None
    if _URL.search(ctx.record.title):
        return Verdict("links", 0.6, "a link in the title")
    return Verdict("links", min(1.0, 0.2 * n), f"{n} link(s) in the description")


def repeated_text(ctx: SpamContext) -> Verdict | None:
    """The same word over and over (keyword stuffing) or one character repeated."""
    words = [w.lower() for w in _WORD.findall(_text(ctx.record))]
    if len(words) >= 8:
        top = max(words.count(w) for w in set(words))
        if top / len(words) > 0.4:
            return Verdict("repeated_text", 0.5, f"one word makes {top} of {len(words)} words")
    if re.search(r"(.)\1{9,}", _text(ctx.record)):
        return Verdict("repeated_text", 0.3, "a character repeated 10 times or more")
    return None


def burst(ctx: SpamContext) -> Verdict | None:
    """Many submissions from one client in the rate-limit window."""
    n = ctx.recent_from_client
    if n <= 3:
        return None
    return Verdict("burst", min(1.0, 0.1 * n), f"{n} submissions from this client recently")


def shouting(ctx: SpamContext) -> Verdict | None:
    """A title in capitals (with enough letters to tell)."""
    letters = [c for c in ctx.record.title if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        return Verdict("shouting", 0.2, "the title is in capitals")
    return None


def mixed_script(ctx: SpamContext) -> Verdict | None:
    """A title word mixing scripts (Cyrillic "а" in a Latin word): a look-alike."""
    words = mixed_script_words(ctx.record.title)
    if not words:
        return None
    return Verdict("mixed_script", 0.6, "look-alike letters from another script in the "
                   f"title: {', '.join(words[:3])}")


def confirmed_different(ctx: SpamContext) -> Verdict | None:
    """Not a suspicion: the resident was shown nearby items and said theirs is different."""
    ids = ctx.record.not_duplicate_of
    if not ids:
        return None
    return Verdict("confirmed_different", 0.0, "the resident confirmed it is different from "
                   + ", ".join(f"#{i}" for i in ids))


@cache
def load_rule(name: str) -> Rule:
    """The rule registered as ``name``, or found at the dotted path ``module:function``."""
    path = RULES.get(name, name)
    module, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"unknown spam rule {name!r}: not registered, not module:function")
    return getattr(importlib.import_module(module), attr)


def score(ctx: SpamContext, rules: Iterable[str] = DEFAULT_RULES) -> tuple[float, list[dict]]:
    """Sum of the rules' scores, and their reasons as stored in ``spam_reasons``."""
    verdicts = [v for v in (load_rule(r)(ctx) for r in rules) if v is not None]
    total = round(sum(v.score for v in verdicts), 3)
    return total, [v._asdict() for v in verdicts]
