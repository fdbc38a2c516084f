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

__all__ = ["BIDI_CONTROLS", "clean_text"]

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def _keep(ch: str, multiline: bool) -> bool:
    if ch in BIDI_CONTROLS:
        return False
    if multiline and ch in "\n\t":
        return True
    cat = unicodedata.category(ch)
    return cat not in ("Cc", "Cs", "Cn", "Co") and ch not in "\u2028\u2029\ufeff"


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
