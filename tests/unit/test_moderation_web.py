"""Redirect targets after login never leave the site."""

import pytest

from moderation.web import safe_next


@pytest.mark.parametrize("target,expected", [
    ("/moderation/flags", "/moderation/flags"),
    ("/moderation/?area=75104", "/moderation/?area=75104"),
    ("//evil.example/", "/moderation/"),
    ("/\\evil.example", "/moderation/"),
    ("https://evil.example/", "/moderation/"),
    ("/x\r\nSet-Cookie: a=b", "/moderation/"),
    (None, "/moderation/"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected
