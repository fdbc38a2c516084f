"""The map page's Leaflet script, built with folium and served as a file of our own.

Folium writes a page that loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs
and runs its map in an inline ``<script>``. Here folium only builds the map (raster
layers, layer control, scale) and:

* every asset it asks for is swapped for our vendored copy under ``static/vendor``
  (:data:`VENDORED`); an asset we do not vendor is refused at build time rather than
  silently fetched from a CDN, and the ones our page does not need (jQuery, Bootstrap,
  icon fonts, used by folium's markers and popups) are dropped (:data:`UNUSED`);
* the map script is served from ``/map/carte.<lang>.<digest>.js`` so the
  Content-Security-Policy can keep ``script-src 'self'`` with no inline script;
* every string that passes through folium is made inert for all the contexts it
  reaches (:func:`folium_text`): HTML (Leaflet inserts layer names and attributions
  as markup), JavaScript string and template literals (folium writes some of them
  between backticks), and ``</script>``. No feature text ever passes through folium:
  popups and panels are built in ``static/map/app.js`` with text nodes.

The vector layers (the basemap drawn by protomaps-leaflet, our points and clusters) are
not folium's: ``static/map/layers.js`` creates them when ``app.js`` calls
``CarteLayers.init``; folium only lists their scripts (:data:`LAYER_ASSETS`). The
old raster boundary layer stays in the build as the fallback of a city without a
vector basemap, limited to the zooms it was rendered for.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import folium
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from jinja2 import Template

from tiles.raster import BASE_ZOOMS, DENSITY_MIN_ZOOM, DENSITY_ZOOM

__all__ = [
    "CONTROL_NAME",
    "LAYER_ASSETS",
    "MAP_NAME",
    "RASTER_BASE_NAME",
    "UNUSED",
    "VENDORED",
    "MapScript",
    "build_map_script",
    "folium_text",
]

MAP_NAME = "map_carte"  # the global variable (and element id) folium gives our map
RASTER_BASE_NAME = "tile_layer_base"  # the raster fallback, hidden when a basemap exists
CONTROL_NAME = "carte_layer_control"  # the layer control, exposed for layers.js

VENDORED = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
}
# Loaded after Leaflet (and before the folium script, which does not use them): the
# basemap renderer and our layers; app.js calls CarteLayers.init once the map exists.
LAYER_ASSETS = ["vendor/protomaps-leaflet/protomaps-leaflet.js", "map/layers.js"]
UNUSED = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
          "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}

def folium_text(text: str) -> str:
    r"""``text`` made inert wherever folium and Leaflet put it.

    HTML-escaped (Leaflet shows layer names and attributions as markup), with the
    backtick, dollar sign and backslash as character references too, so the result can
    sit inside a JavaScript string or template literal unchanged and still displays as
    the original text.

    >>> folium_text("<b>${x}`\\")
    '&lt;b&gt;&#36;{x}&#96;&#92;'
    """
    escaped = html.escape(text, quote=True)
    return escaped.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


class _ViewFromPermalink(MacroElement):
    """Set the view from the URL's ``#map=z/lat/lon`` before any layer asks for tiles.

    Rendered right after the map is created, so a permalink does not first load the
    tiles of the default view. Constant code: nothing from the URL becomes script.
    """

    _template = Template("""{% macro script(this, kwargs) %}
        (function (m) {
            var v = /map=(\\d+)\\/(-?[\\d.]+)\\/(-?[\\d.]+)/.exec(location.hash);
            if (v) { m.setView([+v[2], +v[3]], +v[1], {animate: false}); }
        })({{ this._parent.get_name() }});
    {% endmacro %}""")


class _ExposeControl(MacroElement):
    """Expose folium's layer control as ``window.carte_layer_control``.

    Folium declares its control with ``let``, which other scripts cannot reach through
    ``window``; layers.js adds the vector basemap and the points to it.
    """

    def __init__(self, control: Element) -> None:
        super().__init__()
        self.control = control

    _template = Template("""{% macro script(this, kwargs) %}
        window.""" + CONTROL_NAME + """ = {{ this.control.get_name() }};
    {% endmacro %}""")


class MapScript(NamedTuple):
    """The built map: its script, its digest (for the URL) and the assets it needs."""

    script: str
    digest: str
    js: list[str]
    css: list[str]


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _localise(root: Element) -> None:
    """Point every folium asset at our vendored copy; refuse any we do not have."""
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            assets = getattr(element, attr, None)
            if not assets:
                continue
            local = []
            for name, _url in assets:
                if name in UNUSED:
                    continue
                if name not in VENDORED:
                    raise LookupError(f"folium asset {name!r} is not vendored under static/")
                local.append((name, VENDORED[name]))
            setattr(element, attr, local)  # instance attribute: the class keeps folium's


def build_map_script(*, labels: dict[str, str], centre: tuple[float, float, int],
                     root: str = "", basemap_url: str | None = None,
                     basemap_attribution: str = "") -> MapScript:
    """Build the map's Leaflet script with folium.

    Parameters
    ----------
    labels
        Translated layer names and attributions: ``base``, ``features``, ``density``,
        ``external``, ``attribution``.
    centre
        ``(lat, lon, zoom)`` where the map opens without a permalink: the city's centre.
    root
        The application's URL prefix (``request.script_root``).
    basemap_url, basemap_attribution
        An external base map (``{z}/{x}/{y}`` URL), off unless configured.
    """
    m = folium.Map(location=centre[:2], zoom_start=centre[2], tiles=None, control_scale=True,
                   min_zoom=10, max_zoom=19, prefer_canvas=True)
    m._id = "carte"
    m.default_js = list(folium.Map.default_js)
    m.default_css = list(folium.Map.default_css)
    _ViewFromPermalink().add_to(m)
    attribution = folium_text(labels["attribution"])
    # The raster boundaries are shown only at the zooms they were rendered for (scaled
    # beyond, their lines blur); layers.js removes them when a vector basemap exists.
    base = folium.TileLayer(tiles=root + "/tiles/base/{z}/{x}/{y}.png", attr=attribution,
                            name=folium_text(labels["base"]), max_zoom=BASE_ZOOMS[-1],
                            overlay=False, show=False,
                            min_native_zoom=BASE_ZOOMS.start, max_native_zoom=BASE_ZOOMS[-1])
    base._id = "base"
    base.add_to(m)
    if basemap_url:
        credit = basemap_attribution or urlsplit(basemap_url).netloc
        external = folium.TileLayer(tiles=basemap_url, attr=folium_text(credit),
                                    name=folium_text(labels["external"]), max_zoom=19,
                                    overlay=False, show=False)
        external._id = "external"
        external.add_to(m)
    density = folium.TileLayer(tiles=root + "/tiles/density/{z}/{x}/{y}.png", attr=attribution,
                               name=folium_text(labels["density"]), overlay=True, show=False,
                               opacity=0.7, max_zoom=19, min_zoom=DENSITY_MIN_ZOOM,
                               max_native_zoom=DENSITY_ZOOM)
    density._id = "density"
    density.add_to(m)
    control = folium.LayerControl(collapsed=True)
    control._id = "layers"
    control.add_to(m)
    _ExposeControl(control).add_to(m)

    figure = m.get_root()
    _localise(figure)
    figure.render()
    script = figure.script.render()
    js: list[str] = []
    css: list[str] = []
    for child in figure.header._children.values():
        if isinstance(child, JavascriptLink):
            js.append(child.url)
        elif isinstance(child, CssLink):
            css.append(child.url)
    js += LAYER_ASSETS
    digest = hashlib.sha256(script.encode()).hexdigest()[:16]
    return MapScript(script, digest, js, css)


def map_labels(gettext: Any, city_attribution: Sequence[str]) -> dict[str, str]:
    """The translated names folium needs, through ``gettext``.

    The attribution is the city's lines (its boundaries' and data's sources, from
    ``city.json``) and the contributors'.
    """
    return {
        "base": gettext("Plan (our own tiles)"),
        "external": gettext("External base map"),
        "features": gettext("Places and events"),
        "density": gettext("Density"),
        "attribution": " · ".join([*city_attribution, gettext("pins © their contributors")]),
    }
