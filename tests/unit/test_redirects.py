"""``next`` after login stays on our own origin, whatever an attacker writes in it.

The bypasses are from the OWASP open-redirect cheat sheet and PayloadsAllTheThings'
open-redirect list: protocol-relative URLs, backslashes (browsers read them as ``/``),
tabs and newlines (browsers drop them inside URLs), percent-encoded variants, schemes.
"""

from __future__ import annotations

import pytest

from moderation.redirects import DEFAULT_NEXT, local_path

BYPASSES = [
    "//evil.example", "///evil.example", "////evil.example/", "//evil.example/%2F..",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "\\/evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00/evil.example",
    "/\x0b/evil.example", "/\x0c/evil.example", "/ /evil.example", "\t//evil.example",
    " //evil.example", "/\u200b/evil.example", "/\u2028/evil.example", "/\u00a0/evil.example",
    "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%00/evil.example",
    "/%5Cevil.example", "/%5C%5Cevil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "%2F%2Fevil.example", "https://evil.example", "http:evil.example", "http:/evil.example",
    "https:/\\evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "evil.example", "evil.example/moderation/",
    "\uff0f\uff0fevil.example", "\u3002evil.example", "@evil.example",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", BYPASSES)
def test_known_open_redirect_bypasses_fall_back_to_the_queue(target: str) -> None:
    assert local_path(target) == DEFAULT_NEXT


@pytest.mark.parametrize(("target", "expected"), [
    ("/moderation/flags", "/moderation/flags"),
    ("/moderation/submissions/12?tab=history", "/moderation/submissions/12?tab=history"),
    ("/auth/password", "/auth/password"),
    ("/moderation/#top", "/moderation/"),
    ("/@evil.example", "/@evil.example"),  # a path on our site, not a host
    (None, DEFAULT_NEXT), ("", DEFAULT_NEXT),
])
def test_our_own_paths_are_kept(target: str | None, expected: str) -> None:
    assert local_path(target) == expected
