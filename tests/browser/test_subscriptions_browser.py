"""The subscription page in a real browser: usable without a mouse, WCAG 2.1 AA, FR and EN."""

import pytest

from tests.browser.conftest import axe_violations
from tests.moderation_fixtures import *  # noqa: F403 - mdb


@pytest.mark.parametrize("locale,heading,button", [
    ("fr-FR", "S'abonner aux nouveautés", "S'abonner"),
    ("en-GB", "Subscribe to new items", "Subscribe"),
])
def test_subscribing_from_the_keyboard_in_either_language(page_factory, live_server, mdb,
                                                          locale, heading, button):
    page, rec = page_factory(locale=locale)
    page.goto(live_server + "/subscriptions")
    assert page.locator("h1").inner_text() == heading
    assert axe_violations(page, exclude=()) == []
    # A wrong address is said next to its field, and the field is marked.
    page.locator("#email").fill("pas une adresse")
    page.locator("#area").select_option("75104")
    page.get_by_role("button", name=button).press("Enter")
    page.wait_for_selector("#email-error")
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    assert axe_violations(page, exclude=()) == []
    page.locator("#email").fill("reader@example.org")
    page.get_by_role("button", name=button).click()
    page.wait_for_selector("[role=status]")
    assert axe_violations(page, exclude=()) == []
    assert rec.page_errors == []
    # The one console message is the browser noting the refused form's 422 answer.
    assert [e for e in rec.console_errors if "422" not in e] == []
    assert rec.foreign(live_server) == []
