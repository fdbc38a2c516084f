"""Browser tests: a real server on 127.0.0.1 and Debian's Chromium driven by Playwright.

Playwright cannot download its own browser here, so it drives the ``chromium`` found on
PATH (``make test`` installs Debian's package). Every page records the requests it
makes, so a test can check that none left the app's origin. Screenshots of the main
screens go to ``tests/browser/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.wsgi_server import make_test_server

ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: make test installs it (apt-get)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test app served by werkzeug on a free port, in a thread."""
    server = make_test_server(app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Recorder:
    """Every request a page made, and every dialog it tried to open."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []  # uncaught exceptions of the page's scripts

    def foreign(self, origin: str) -> list[str]:
        """Requests that went anywhere but ``origin`` (data: and blob: stay local)."""
        own = urlsplit(origin)
        return [u for u in self.urls
                if urlsplit(u).scheme not in ("data", "blob")
                and (urlsplit(u).scheme, urlsplit(u).netloc) != (own.scheme, own.netloc)]


@pytest.fixture
def page_factory(browser, live_server):
    """Open pages on the live server, each in its own context, recording requests."""
    contexts = []

    def make(*, width: int = 1280, height: int = 800, locale: str = "fr-FR",
             geolocation: dict | None = None, service_workers: str = "block"):
        # The service worker (offline pins) is tested on its own; elsewhere it would
        # answer from its cache and revalidate behind the test's back, so tests would
        # not see what the server sends.
        options = {"viewport": {"width": width, "height": height}, "locale": locale,
                   "service_workers": service_workers}
        if geolocation:
            options.update(geolocation=geolocation, permissions=["geolocation"])
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        rec = Recorder()
        page.on("request", lambda r: rec.urls.append(r.url))
        page.on("console", lambda m: m.type == "error" and rec.console_errors.append(m.text))
        page.on("pageerror", lambda e: rec.page_errors.append(str(e)))

        def on_dialog(dialog):
            rec.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page, rec

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def axe_violations(page, *, exclude: tuple[str, ...] = ("#map_carte",)) -> list[dict]:
    """WCAG 2.1 A and AA violations axe-core finds, outside the map canvas."""
    # Evaluated through the DevTools protocol: the page's CSP forbids inline script, and
    # rightly so, so axe cannot be added as a <script> tag.
    page.evaluate(AXE.read_text() + "\n;true")
    return page.evaluate(
        """async (exclude) => {
            const r = await axe.run({include: [document], exclude: exclude.map(s => [s])},
                {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }""", list(exclude))


# Every visible control with the box a finger has to hit (a checkbox's is its label's).
# Links inside a sentence are exempt (WCAG 2.5.8 "inline"); links that stand on their own
# (bar, tabs, lists, actions, "back") are blocks or inline-flex boxes and are counted.
_TARGETS = """() => {
  const out = [];
  for (const el of document.querySelectorAll(
      'a[href], button, select, input:not([type=hidden]), textarea, summary')) {
    const box = (el.type === 'checkbox' || el.type === 'radio') && el.closest('label')
      ? el.closest('label') : el;
    const r = box.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.matches('.skip, .skip-link')) continue;
    if (el.tagName === 'A' && getComputedStyle(el).display === 'inline') continue;
    if (r.width < 44 || r.height < 44)
      out.push(el.tagName + ' ' + (el.textContent || el.name || el.id).trim().slice(0, 40)
               + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
  }
  return out;
}"""


def small_targets(page) -> list[str]:
    """Controls smaller than 44 × 44 px (WCAG 2.5.5), named with their size."""
    return page.evaluate(_TARGETS)


@pytest.fixture(scope="session")
def base_tiles(engine, tmp_path_factory) -> Path:
    """The offline base layer, rendered once per session (it takes ~10 s)."""
    from tiles.raster import build_base

    directory = tmp_path_factory.mktemp("base-tiles")
    build_base(engine, directory)
    return directory / "base.mbtiles"


def build_tiles(engine, var_dir: Path, base: Path) -> None:
    """Build the feature tiles as ``carte tiles build`` does, reusing the base layer."""
    from tiles.build import build_full
    from tiles.options import TileOptions

    (var_dir / "tiles").mkdir(exist_ok=True)
    shutil.copy2(base, var_dir / "tiles" / "base.mbtiles")
    build_full(engine, var_dir, TileOptions(processes=1), density=True)


def click_lonlat(page, lon: float, lat: float) -> None:
    """Click the map where (lon, lat) is drawn."""
    point = page.evaluate(
        "([lat, lon]) => { const p = map_carte.latLngToContainerPoint([lat, lon]);"
        " const r = map_carte.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }", [lat, lon])
    page.mouse.click(point[0], point[1])
