"""The map page: every asset from our origin, no inline script, both languages, safe text."""

from __future__ import annotations

import re

from tests.map_fixtures import NASTY_TITLE, drop_map_data, seed_map_categories
from webmap.views.page import build_map_script, folium_text

CDN = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_page_loads_every_script_and_style_from_our_own_origin(client, engine):
    html = client.get("/").get_data(as_text=True)
    assert not CDN.search(html), "the page must not name another host"
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    srcs = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert srcs and all(s.startswith("/") for s in srcs)
    assert "/static/vendor/leaflet/leaflet.js" in srcs
    assert "/static/vendor/protomaps-leaflet/protomaps-leaflet.js" in srcs
    assert "/static/map/layers.js" in srcs
    for url in srcs + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        response = client.get(url)
        response.close()
        assert response.status_code == 200, url


def test_no_inline_script_so_the_csp_can_forbid_it(client, engine):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    script_src = csp.split("script-src")[1].split(";")[0]
    assert script_src.strip() == "'self'"
    html = response.get_data(as_text=True)
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        if "src=" in attrs:
            assert not body.strip()
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"


def test_map_script_is_served_with_a_long_cache_and_names_our_tiles(client, engine):
    html = client.get("/").get_data(as_text=True)
    url = re.search(r'src="(/map/carte\.fr\.[0-9a-f]+\.js)"', html).group(1)
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "immutable" in response.headers["Cache-Control"]
    script = response.get_data(as_text=True)
    assert "/tiles/base/{z}/{x}/{y}.png" in script  # the raster fallback
    assert "window.carte_layer_control = " in script  # for layers.js
    assert "/tiles/density/{z}/{x}/{y}.png" in script
    assert "var map_carte = L.map(" in script
    assert client.get("/map/carte.xx.0.js").status_code == 404


def test_french_by_default_english_on_request(client, engine):
    assert '<html lang="fr">' in client.get("/").get_data(as_text=True)
    assert "Ajouter un lieu" in client.get("/").get_data(as_text=True)
    en = client.get("/?lang=en")
    assert '<html lang="en">' in en.get_data(as_text=True)
    assert "Add a place" in en.get_data(as_text=True)
    assert "lang=en" in en.headers["Set-Cookie"]
    # The choice sticks for the next page; Accept-Language counts when nothing was chosen.
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    fresh = client.application.test_client()
    page = fresh.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)
    page = fresh.get("/", headers={"Accept-Language": "de-DE"})
    assert '<html lang="fr">' in page.get_data(as_text=True)


def test_category_labels_come_from_the_data_in_the_page_language(client, clean_db):
    seed_map_categories(clean_db)
    try:
        assert "Jardin partagé (test)" in client.get("/").get_data(as_text=True)
        assert "Shared garden (test)" in client.get("/?lang=en").get_data(as_text=True)
    finally:
        drop_map_data(clean_db)


def test_text_passed_through_folium_cannot_leave_its_context():
    built = build_map_script(labels={
        "base": NASTY_TITLE, "external": "e", "features": "f", "density": "d",
        "attribution": NASTY_TITLE}, centre=(48.8566, 2.3522, 12))
    for bad in ("</script", "${", "\\`", "<img"):
        assert bad not in built.script
    assert folium_text("a & b") == "a &amp; b"


def test_an_external_base_map_is_off_by_default_and_allowed_by_csp_when_set(app, engine):
    client = app.test_client()
    assert "img-src 'self' data: blob:" in client.get("/").headers["Content-Security-Policy"]
    app.config["BASEMAP_URL"] = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    app.extensions.pop("carte_map_scripts", None)
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' https://*.tiles.example.org" in csp


def test_every_message_has_a_french_translation_and_the_catalogue_is_compiled():
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).parents[2] / "webmap" / "translations" / "fr" / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        po = read_po(fh)
    with (folder / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    missing = [m.id for m in po if m.id and not m.string]
    assert missing == []

    def key(value):  # a plural entry's id and strings are lists
        return value if isinstance(value, str) else tuple(value)

    assert {key(m.id): key(m.string) for m in po if m.id} == \
        {key(m.id): key(m.string) for m in mo if m.id}


def _page_data(client, url: str) -> dict:
    import json

    html = client.get(url).get_data(as_text=True)
    raw = re.search(r'<script type="application/json" id="carte-data">(.*?)</script>',
                    html, re.S).group(1)
    return json.loads(raw)


def test_page_data_gives_the_script_the_city_zone_and_every_label_it_shows(client, engine):
    import json
    from pathlib import Path

    data = _page_data(client, "/?lang=en")
    assert data["timezone"] == "Europe/Paris"  # "today" and times are the city's
    reference = json.loads((Path(__file__).parents[2] / "data" / "categories.json").read_text())
    assert [a["slug"] for a in data["access"]] == reference["accessibility"]
    assert data["access"][0] == {"slug": "step_free_access", "label": "Step-free access",
                                 "lacks": "No step-free access"}
    assert {a["slug"] for a in data["audiences"]} == set(reference["audiences"])
    assert [d["slug"] for d in data["weekdays"]] == ["mon", "tue", "wed", "thu", "fri",
                                                     "sat", "sun"]
    fr = _page_data(client, "/?lang=fr")
    assert fr["access"][0]["lacks"] == "Pas d'accès de plain-pied"
    assert fr["strings"]["listNearest"] == (
        "{n} lieux dans la vue — les {k} plus proches sont listés")
    assert fr["weekdays"][0]["label"] == "Lundi"


def test_the_phone_layout_pieces_are_in_the_page(client, engine):
    html = client.get("/").get_data(as_text=True)
    for piece in ('id="sheet-handle"', 'id="fab-pin"', 'id="btn-menu"', 'id="date-filter"',
                  'name="access_match" value="not_unsuitable"', 'id="copy-link"',
                  'id="chooser"', 'name="days" value="sat"'):
        assert piece in html, piece
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_the_page_leads_to_e_mail_alerts_and_announces_its_atom_feed(client, engine):
    """A resident finds how to be told of new places; a feed reader finds the feed."""
    html = client.get("/").get_data(as_text=True)
    assert 'href="/subscriptions"' in html and "Être prévenu·e par e-mail" in html
    assert ('<link rel="alternate" type="application/atom+xml" href="/feeds/features.atom"'
            in html)
    assert client.get("/subscriptions").status_code == 200
    assert client.get("/feeds/features.atom").status_code == 200
