"""After one visit the map opens with no network: its shell, the basemap and the points
of the last viewed area come from the service worker's cache (issue 16, item 7).

The pin dropped offline is tested in ``test_contribute_browser.py``; this is the other
half of "offline": a resident in a metro corridor reopens the map they looked at.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.basemap_fixtures import basemap_var  # noqa: F401  (a pytest fixture)
from tests.browser.conftest import screenshot
from tests.browser.test_map_render import places, tiles_built  # noqa: F401  (fixtures)

PHONE = {"width": 375, "height": 740}
VIEW = "#map=16/48.85450/2.34700"
PLACES_CANVASES = ".leaflet-carte-places-pane canvas"

DRAWN = f"""() => Array.from(document.querySelectorAll('{PLACES_CANVASES}')).some(c => {{
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
    return false; }})"""


def _cached(kind: str) -> str:
    return (f"async () => (await (await caches.open('carte-tiles-v1')).keys())"
            f".some(r => r.url.includes('/tiles/{kind}/'))")


def test_the_map_last_viewed_reopens_with_no_network(page_factory, live_server,
                                                       tiles_built):  # noqa: F811
    page, rec = page_factory(**PHONE, service_workers="allow")
    page.goto(live_server + "/" + VIEW)
    page.wait_for_function(
        "() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)")
    page.reload()  # now under the worker: the tiles of this view go through its cache
    page.wait_for_function("() => window.CarteLayers && CarteLayers.ready")
    page.wait_for_function(_cached("basemap"))
    page.wait_for_function(_cached("features"))
    page.wait_for_function(
        "async () => !!(await caches.match('/', {ignoreVary: true})) && "
        "!!(await caches.match('/static/map/app.js', {ignoreVary: true}))")

    page.context.set_offline(True)
    page.reload()
    page.wait_for_function("() => window.CarteLayers && CarteLayers.ready")
    assert page.evaluate("CarteLayers.ready.then(r => r.basemap)") is True
    expect(page.locator("#btn-pin:visible, #fab-pin:visible").first).to_be_visible()
    page.wait_for_function(DRAWN, timeout=10_000)  # the points of the area, from the cache
    page.wait_for_timeout(500)
    assert "could not be drawn" not in page.locator("#status").inner_text()
    assert "pu être dessinée" not in page.locator("#status").inner_text()
    screenshot(page, "offline-reopened-phone")
    assert rec.page_errors == []
