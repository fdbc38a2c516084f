"""The moderator's edit map in Chromium: the point is drawn, typed and dragged in the frame
the server drew it in (around the configured city's centre), not around a fixed Paris."""
# ruff: noqa: F811 (pytest fixtures are imported by name from the fixtures modules)

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.moderation_fixtures import MOD, PASSWORD, mdb, pending  # noqa: F401


def test_typed_and_dragged_coordinates_stay_in_the_city_frame(page_factory, live_server, mdb):
    sid = pending(mdb, lon=2.3580, lat=48.8570)
    page, _rec = page_factory()
    page.goto(live_server + "/auth/login")
    page.locator("#email").fill(MOD)
    page.locator("#password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/moderation/$"))
    page.goto(f"{live_server}/moderation/submissions/{sid}")

    svg = page.locator("#edit-map svg")
    # Paris's centre from data/cities/paris/city.json, as the frame's origin.
    expect(svg).to_have_attribute("data-lon0", "2.3522")
    expect(svg).to_have_attribute("data-lat0", "48.8566")
    point = svg.locator(".point")
    drawn = (float(point.get_attribute("cx")), float(point.get_attribute("cy")))

    # Typing the same coordinates redraws the point where the server drew it.
    page.locator("[data-coord=lon]").fill("2.358000")
    page.locator("[data-coord=lat]").fill("48.857000")
    assert abs(float(point.get_attribute("cx")) - drawn[0]) <= 1
    assert abs(float(point.get_attribute("cy")) - drawn[1]) <= 1

    # Dragging east and north moves the typed coordinates east and north, near the start.
    point.scroll_into_view_if_needed()  # typing scrolled the form into view
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y - 20, steps=5)
    page.mouse.up()
    lon = float(page.locator("[data-coord=lon]").input_value())
    lat = float(page.locator("[data-coord=lat]").input_value())
    assert 2.3580 < lon < 2.40 and 48.8570 < lat < 48.90
