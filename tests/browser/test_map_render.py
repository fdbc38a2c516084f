"""The map's renderer in a real Chromium: a labelled basemap, clusters that count, points
that can be clicked (layers.js, protomaps-leaflet), against the real server and PostGIS.

Screenshots go to ``tests/browser/artifacts/`` (map at z12 and z16 in French, z16 in
English, and on a phone).
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta

import mapbox_vector_tile
import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from geo.publish import FeatureDraft, publish_feature
from geo.tilemath import lonlat_to_tile
from tests.basemap_fixtures import basemap_var  # noqa: F401  (a pytest fixture)
from tests.browser.conftest import axe_violations, click_lonlat, screenshot
from tests.map_fixtures import drop_map_data, seed_map_features
from tiles.archive import MBTiles
from tiles.build import build_full
from tiles.options import TileOptions

HOTEL_DE_VILLE = (2.3522, 48.8566)
PLACES_CANVASES = ".leaflet-carte-places-pane canvas"


@pytest.fixture
def places(clean_db):
    """The map fixtures' places plus a crowd of gardens and soups around the Hôtel de
    Ville, so that clusters of both categories form at city zooms."""
    ids = seed_map_features(clean_db)
    now = datetime.now(UTC)
    with Session(clean_db) as s, s.begin():
        for i in range(60):
            soup = i % 3 == 0
            publish_feature(s, FeatureDraft(
                category="soupe-map" if soup else "jardin-map", title=f"Lieu {i}",
                lon=2.3440 + (i % 10) * 0.0012, lat=48.8540 + (i // 10) * 0.0010,
                starts_at=now - timedelta(hours=1) if soup else None,
                ends_at=now + timedelta(hours=5) if soup else None), max_zoom=2)
        # Two places 4 m apart: one tap between them reports both (the panel's chooser).
        for title, lon in (("Bac à compost", 2.35800), ("Boîte à livres", 2.35805)):
            publish_feature(s, FeatureDraft(category="jardin-map", title=title, lon=lon,
                                            lat=48.8600), max_zoom=2)
    yield ids
    drop_map_data(clean_db)


@pytest.fixture
def tiles_built(places, clean_db, var_dir, basemap_var):  # noqa: F811
    build_full(clean_db, var_dir, TileOptions(processes=1), density=False)
    for name in ("basemap.mbtiles", "basemap.pmtiles"):
        shutil.copy2(basemap_var / "tiles" / name, var_dir / "tiles" / name)
    return var_dir


def open_map(page, base: str, view: str) -> None:
    page.goto(base + "/" + view)
    page.wait_for_function("() => window.CarteLayers && CarteLayers.ready")
    assert page.evaluate("CarteLayers.ready.then(r => r.basemap)") is True
    page.wait_for_load_state("networkidle")


def street_names(var_dir, z: int, lon: float, lat: float) -> set[str]:
    """Street names in the basemap tile that holds (lon, lat), read from the archive."""
    x, y = lonlat_to_tile(lon, lat, z)
    with MBTiles(var_dir / "tiles" / "basemap.mbtiles") as mb:
        data, _etag = mb.get(z, int(x), int(y))
    layers = mapbox_vector_tile.decode(gzip.decompress(data))
    return {f["properties"]["name"] for f in layers["streets"]["features"]
            if f["properties"].get("name")}


def untick(page, slug: str) -> None:
    """Untick a category of the filters form as a resident does (the form's change event),
    wherever the panel shows the form (it may be folded away on this viewport)."""
    page.evaluate("""(slug) => { const b = document.querySelector(
        `#filters input[name=category][value="${slug}"]`);
        b.checked = false; b.dispatchEvent(new Event('change', {bubbles: true})); }""", slug)


def places_pixels(page) -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('{PLACES_CANVASES}'))
        .map(c => c.toDataURL())""")


def test_street_names_are_placed_at_street_zoom(page_factory, live_server, tiles_built):
    page, rec = page_factory()
    open_map(page, live_server, "#map=16/48.85700/2.35400")
    in_tile = street_names(tiles_built, 16, 2.3540, 48.8570)
    assert "Rue de Rivoli" in in_tile
    page.wait_for_function("() => CarteLayers.placedLabels().includes('Rue de Rivoli')")
    placed = set(page.evaluate("CarteLayers.placedLabels()"))
    assert len(placed & in_tile) >= 3, placed  # street names, not one lucky label
    # Basemap tiles were drawn at their data zoom, points over them; nothing foreign.
    assert any("/tiles/basemap/16/" in u for u in rec.urls)
    assert not any("/tiles/base/" in u for u in rec.urls), "no raster under the basemap"
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "Ville de Paris" in attribution
    assert page.locator("#map_carte").get_attribute("aria-label")  # the map has a name
    assert rec.foreign(live_server) == [] and rec.page_errors == []
    assert rec.console_errors == []  # no tile refused, none outside the basemap's bounds
    screenshot(page, "render-z16-fr")
    # Beyond the data's zooms the basemap is overzoomed, labels still placed.
    page.evaluate("map_carte.setZoom(18)")
    page.wait_for_function("() => CarteLayers.placedLabels().length > 0")
    assert not any("/tiles/basemap/17/" in u or "/tiles/features/17/" in u for u in rec.urls)


def test_clusters_count_and_recount_when_a_category_is_unticked(page_factory, live_server,
                                                                tiles_built):
    page, rec = page_factory()
    open_map(page, live_server, "#map=13/48.85600/2.35000")
    page.wait_for_function("() => CarteLayers.drawnClusters().length > 0")
    before = page.evaluate("CarteLayers.drawnClusters()")
    total_before = sum(c["count"] for c in before)
    by_cat = {}
    for c in before:
        for slug, n in c["categories"].items():
            by_cat[slug] = by_cat.get(slug, 0) + n
    assert by_cat.get("soupe-map", 0) > 0 and by_cat.get("jardin-map", 0) > 0
    assert all(c["text"] == str(c["count"]) for c in before)  # the count is drawn
    label = page.locator(f"{PLACES_CANVASES}[aria-label*='Disco Soupe']").first
    expect(label).to_have_attribute("aria-label", __import__("re").compile(r"groupe|lieu"))
    pixels = places_pixels(page)
    requests = len(rec.urls)
    untick(page, "soupe-map")
    page.wait_for_function(f"() => CarteLayers.drawnClusters().reduce((a, c) => a + c.count, 0)"
                           f" < {total_before}")
    after = page.evaluate("CarteLayers.drawnClusters()")
    assert all("soupe-map" not in c["categories"] for c in after)
    assert sum(c["count"] for c in after) + sum(
        1 for p in page.evaluate("CarteLayers.drawnPoints()") if p["category"] == "jardin-map"
    ) >= by_cat["jardin-map"] - 1  # gardens are all still counted (or drawn as points)
    assert places_pixels(page) != pixels
    assert not any("/tiles/features/" in u for u in rec.urls[requests:]), "redrawn, not refetched"
    assert page.evaluate("CarteLayers.stats.lastRedrawMs") < 150
    # A cluster is clicked: the map zooms in towards it.
    c = after[0]
    click_lonlat(page, c["lon"], c["lat"])
    page.wait_for_function("() => map_carte.getZoom() === 15")
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_a_point_at_z18_opens_its_panel_within_a_finger_of_it(page_factory, live_server,
                                                             tiles_built):
    page, rec = page_factory()
    open_map(page, live_server, "#map=18/48.85900/2.35090")
    page.wait_for_function(
        "() => CarteLayers.drawnPoints().some(p => p.title === 'Jardin Saint-Merri')")
    # 15 px beside the dot still selects it (a 44 px target).
    point = page.evaluate("() => { const p = map_carte.latLngToContainerPoint([48.8590, 2.3509]);"
                          " const r = map_carte.getContainer().getBoundingClientRect();"
                          " return [r.left + p.x, r.top + p.y]; }")
    page.mouse.click(point[0] + 15, point[1])
    expect(page.locator("#detail-section")).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text("Jardin Saint-Merri")
    # The selected place gets a ring on the map.
    page.evaluate("CarteLayers.highlight(CarteLayers.drawnPoints()"
                  ".find(p => p.title === 'Jardin Saint-Merri').id)")
    expect(page.locator(".leaflet-carte-highlight-pane path")).to_have_count(2)
    page.evaluate("CarteLayers.highlight(null)")
    expect(page.locator(".leaflet-carte-highlight-pane path")).to_have_count(0)
    # Two places side by side: a tap between them reports both, nearest first.
    page.evaluate("window.__selected = []; CarteLayers.on('select', e => __selected.push("
                  "e.features.map(f => f.title)))")
    page.evaluate("map_carte.setView([48.8600, 2.35801], 18, {animate: false})")
    page.wait_for_function("() => CarteLayers.drawnPoints().length >= 2")
    click_lonlat(page, 2.35801, 48.8600)
    page.wait_for_function("() => __selected.length > 0")
    assert page.evaluate("__selected[0]") == ["Bac à compost", "Boîte à livres"]
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_screenshots_of_the_city_in_both_languages_and_on_a_phone(page_factory, live_server,
                                                                  tiles_built):
    page, rec = page_factory()
    open_map(page, live_server, "#map=12/48.85700/2.35200")
    page.wait_for_timeout(300)
    screenshot(page, "render-z12-fr")
    en, rec_en = page_factory(locale="en-GB")
    open_map(en, live_server, "#map=16/48.85650/2.35100")
    en.wait_for_function("() => CarteLayers.placedLabels().length > 3")
    screenshot(en, "render-z16-en")
    phone, rec_phone = page_factory(width=390, height=844)
    open_map(phone, live_server, "#map=16/48.85700/2.35400")
    phone.wait_for_function("() => CarteLayers.placedLabels().length > 3")
    # The attribution does not cover the scale bar.
    scale = phone.locator(".leaflet-control-scale").bounding_box()
    attribution = phone.locator(".leaflet-control-attribution").bounding_box()
    assert scale and attribution
    overlap_x = scale["x"] + scale["width"] > attribution["x"]
    overlap_y = scale["y"] + scale["height"] > attribution["y"]
    assert not (overlap_x and overlap_y), (scale, attribution)
    screenshot(phone, "render-phone")
    # Clusters and points have accessible names: axe finds nothing, the map included.
    assert axe_violations(en, exclude=()) == []
    for r in (rec, rec_en, rec_phone):
        assert r.foreign(live_server) == [] and r.page_errors == [] and r.console_errors == []


def test_a_city_without_basemap_says_so_and_keeps_its_points(page_factory, live_server,
                                                             places, clean_db, var_dir):
    build_full(clean_db, var_dir, TileOptions(processes=1), density=False)
    page, rec = page_factory()
    page.goto(live_server + "/#map=16/48.85900/2.35090")
    assert page.evaluate("CarteLayers.ready.then(r => r.basemap)") is False
    expect(page.locator(".carte-notice")).to_contain_text("Pas encore de plan des rues")
    page.wait_for_function("() => CarteLayers.drawnPoints().length > 0")
    assert page.evaluate("map_carte.getZoom()") == 16  # the raster's z14 does not cap it
    assert not any("/tiles/basemap/" in u for u in rec.urls)
    # The raster boundaries are the fallback, but only at the zooms they were built for.
    assert not any("/tiles/base/" in u for u in rec.urls)
    page.evaluate("map_carte.setZoom(13)")
    page.wait_for_function("() => performance.getEntriesByType('resource')"
                           ".some(e => e.name.includes('/tiles/base/13/'))")
    assert rec.foreign(live_server) == [] and rec.page_errors == []


def test_other_filters_fetch_filtered_tiles_and_errors_are_reported_once(
        page_factory, live_server, tiles_built):
    page, rec = page_factory()
    open_map(page, live_server, "#map=13/48.85600/2.35000")
    page.wait_for_function("() => CarteLayers.drawnClusters().length > 0")
    page.evaluate("window.__errors = []; CarteLayers.on('error', e => __errors.push(e))")
    # No seeded place is known to have step-free access: the map empties, as the list.
    page.evaluate("CarteLayers.setFilter({categories: null,"
                  " query: 'accessible=step_free_access'})")
    page.wait_for_function("() => CarteLayers.drawnClusters().length === 0"
                           " && CarteLayers.drawnPoints().length === 0")
    assert any("/tiles/features/13/" in u and "?accessible=step_free_access" in u
               for u in rec.urls)
    # Back to no query: drawn again from the tiles already decoded.
    requests = len(rec.urls)
    page.evaluate("CarteLayers.setFilter({categories: null, query: ''})")
    page.wait_for_function("() => CarteLayers.drawnClusters().length > 0")
    assert not any("/tiles/features/" in u for u in rec.urls[requests:])
    # A query the server refuses draws nothing and is reported once, not once a tile.
    page.evaluate("CarteLayers.setFilter({categories: null, query: 'from=not-a-date'})")
    page.wait_for_function("() => __errors.length > 0")
    page.wait_for_timeout(300)
    errors = page.evaluate("__errors")
    assert len(errors) == 1 and errors[0]["query"] == "from=not-a-date"
    assert page.evaluate("CarteLayers.drawnClusters().length") == 0
    assert rec.foreign(live_server) == [] and rec.page_errors == []
