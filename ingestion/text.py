"""Text hygiene for everything residents and partners type: NFC, no control or bidi tricks.

Pure functions. Text is stored as plain text and escaped where it is shown; what is
removed here is what no context can display safely: C0/C1 control characters (other
than line breaks and tabs in multi-line text) and the bidirectional overrides and
isolates (U+202A–U+202E, U+2066–U+2069) that make text read differently from how it is
stored ("Trojan Source"). Unassigned code points and lone surrogates go too.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["BIDI_CONTROLS", "INVISIBLE", "clean_text", "forbidden_character", "is_visible",
           "mixed_script_words"]

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
# Invisible formatting a resident's keyboard or a copy-paste adds without meaning it:
# removed (zero-width space, word joiner, soft hyphen, invisible operators, fillers).
# ZWJ/ZWNJ (U+200C/U+200D) are kept inside text (emoji, Persian) but do not make it visible.
INVISIBLE = frozenset("\u200b\u2060\u00ad\u180e\u2061\u2062\u2063\u2064\u115f\u1160"
                      "\u3164\uffa0\u034f")
# What can never be stored: NUL (PostgreSQL text refuses it), lone surrogates (not
# UTF-8), and the tag characters of the U+E0000 block (invisible text smuggled along).
_FORBIDDEN = re.compile("[\x00\ud800-\udfff\U000e0000-\U000e007f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def _keep(ch: str, multiline: bool) -> bool:
    if ch in BIDI_CONTROLS:
        return False
    if multiline and ch in "\n\t":
        return True
    cat = unicodedata.category(ch)
    return cat not in ("Cc", "Cs", "Cn", "Co") and ch not in "\u2028\u2029\ufeff" \
        and ch not in INVISIBLE and not 0xE0000 <= ord(ch) <= 0xE007F


def forbidden_character(value: str) -> str | None:
    """The first character of ``value`` that must be refused, as ``U+XXXX``; else ``None``.

    Refused rather than removed: these are in what the resident (or client) sent, and
    silently changing their text would hide the fault from them.
    """
    m = _FORBIDDEN.search(value)
    return None if m is None else f"U+{ord(m.group()):04X}"


def is_visible(value: str) -> bool:
    """Whether ``value`` shows anything once spaces and format characters are left out."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Mn", "Me")
               and ch not in INVISIBLE for ch in value)


_SCRIPT_WORD = re.compile(r"[^\W\d_]{2,}")


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK"):
        if name.startswith(script):
            return script
    return None


def mixed_script_words(value: str) -> list[str]:
    """Words mixing Latin, Cyrillic and Greek letters ("Jаrdin" with a Cyrillic "а").

    One word written in two of these scripts is how a look-alike imitates another word
    (a brand, an official name); real text keeps one script per word.
    """
    out = []
    for word in _SCRIPT_WORD.findall(value):
        if word.isascii():
            continue
        scripts = {s for s in map(_script, word) if s is not None}
        if len(scripts) > 1:
            out.append(word)
    return out


def clean_text(value: str, *, multiline: bool = False) -> str:
    r"""NFC-normalised text without control, bidi-override or unassigned characters.

    Single-line text gets its whitespace runs collapsed; multi-line text keeps line
    breaks (``\\r\\n`` becomes ``\\n``) but no more than one blank line in a row.

    >>> clean_text("  Jardin\\u202e des\\x00 Plantes ")
    'Jardin des Plantes'
    """
    if value.isascii() and value.isprintable() and "  " not in value:
        return value.strip()  # the common case: nothing to normalise or remove
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        value = value.replace("\n", " ").replace("\t", " ")
    value = unicodedata.normalize("NFC", value)
    if not value.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        value = "".join(ch for ch in value if _keep(ch, multiline))
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in value.split("\n")]
        value = _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines))
    else:
        value = _SPACES.sub(" ", value)
    # Removing characters can leave a decomposed sequence: normalise once more.
    return unicodedata.normalize("NFC", value).strip()
