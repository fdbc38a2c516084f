r"""Where a login may send the browser next: a path on our own origin, nothing else.

``next`` comes from a query string or a form, so an attacker chooses it; a redirect to
it must never leave the site (an open redirect: a link on our domain that lands on a
look-alike login page). The target is *parsed*, not pattern-matched: refused if it has
a scheme or a host once parsed, does not start with exactly one ``/``, or holds a
backslash, whitespace or a control character — raw or percent-encoded (browsers treat
``\`` as ``/`` and drop tabs and newlines inside URLs, so ``/\evil`` and
``/<TAB>/evil`` are ``//evil``).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["DEFAULT_NEXT", "MAX_NEXT", "local_path"]

DEFAULT_NEXT = "/moderation/"
MAX_NEXT = 2000


def _suspicious(text: str) -> bool:
    """Backslash, whitespace, control or format characters anywhere in ``text``."""
    return any(ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
               for ch in text)


def _is_local(target: str) -> bool:
    if not target.startswith("/") or target.startswith("//"):
        return False
    if _suspicious(target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return False
    return not parts.path.startswith("//")


def local_path(target: str | None, default: str = DEFAULT_NEXT) -> str:
    r"""``target`` if it is a path on our own origin, else ``default``.

    The decoded form must pass too (``/%5Cevil`` or ``/%09/evil`` are refused), and the
    answer is rebuilt from the parsed parts, without a fragment.

    >>> local_path("/moderation/flags?page=2")
    '/moderation/flags?page=2'
    >>> local_path("/\t/evil.example")
    '/moderation/'
    """
    if not target or len(target) > MAX_NEXT:
        return default
    decoded = unquote(target)
    if not (_is_local(target) and _is_local(decoded)):
        return default
    parts = urlsplit(target)
    return urlunsplit(("", "", parts.path, parts.query, ""))
