/* Carte citoyenne: the map's vector layers, exposed as window.CarteLayers.
 *
 * Loaded after Leaflet and protomaps-leaflet (static/vendor/protomaps-leaflet); app.js
 * calls CarteLayers.init once the folium-built map exists. Two layers:
 *
 * - the basemap: our city's streets, water, parks, rail and names, drawn by
 *   protomaps-leaflet from /tiles/basemap/{z}/{x}/{y}.mvt (TileJSON /tiles/basemap.json,
 *   data zooms 11-16, overzoomed to 19), labels placed by its labeler;
 * - the places: our own L.GridLayer drawing /tiles/features/{z}/{x}/{y}.mvt on canvas
 *   tiles (overzoomed beyond the archive's maxzoom), clusters with their count and the
 *   categories they hold (the tiles' 8-px cluster grid merged into 64-px cells below
 *   the maxzoom), points that can be clicked (22 px around each, a 44 px target). Each
 *   canvas tile is an image named by what it draws ("3 groupes, 42 lieux : 30 Marché…").
 *   Category filters are applied here from the decoded tiles (no refetch); the other
 *   filters fetch the filtered tiles the server builds for that query string.
 *
 * Interface
 * ---------
 * CarteLayers.init(map, {lang, categories: [{slug, colour, label}], strings, tiles?, levels?})
 *     Creates both layers on `map` (once; a second call returns the same object).
 *     `strings` are DATA.strings (see webmap/views/strings.py); `tiles` defaults to
 *     DATA.tiles of the page (URLs and the names folium gave its layers); `levels`
 *     defaults to DATA.levels, the city's area level slugs first level first (which
 *     basemap boundaries and area names are drawn as first and second level).
 *     Returns {basemap: <protomaps layer, null without basemap (or until the TileJSON
 *     was fetched)>, places: <L.GridLayer>}.
 * CarteLayers.ready
 *     A Promise resolving {basemap: boolean} once the layers are added (basemap false:
 *     the city has no basemap, /tiles/basemap.json answers 404; a line on the map says
 *     so and the raster boundaries are the fallback). The page carries both TileJSON
 *     documents (DATA.tiles.basemapTileJSON, null without basemap); when a page does
 *     not, /tiles/basemap.json and /tiles/features.json are read first.
 * CarteLayers.setFilter({categories, query})
 *     categories: null (all) or an array of slugs, applied client side (a redraw from the
 *     decoded tiles); query: the URLSearchParams string of the other filters ("" when
 *     none): tiles are then fetched as /tiles/features/{z}/{x}/{y}.mvt?<query>.
 * CarteLayers.on(type, fn) / CarteLayers.off(type, fn)
 *     "select": fn({features: [{id, category, title, lat, lon}], latlng}) after a click or
 *         tap within 22 px of one or several points (nearest first). A click on a cluster
 *         zooms in (+2, centred on it) and fires nothing.
 *     "error": fn({message, query, url}) once per query string whose tiles fail.
 * CarteLayers.highlight(id | null, latlng?)
 *     A ring around the selected place (found in the drawn tiles when latlng is omitted);
 *     null removes it.
 * CarteLayers.interactive
 *     true; set false (e.g. while a pin is being placed) and clicks select nothing.
 * Debug accessors (used by the browser tests and the benchmark):
 * CarteLayers.placedLabels() -> texts of the basemap labels placed in the current view;
 * CarteLayers.drawnClusters() -> [{count, text, colour, lat, lon, categories}] drawn in
 *     the current view; CarteLayers.drawnPoints() -> [{id, category, title, lat, lon}];
 * CarteLayers.stats -> {lastRedrawMs, tilesDrawn, and performance.now() times of the
 *     first and of all visible tiles drawn: placesFirst, placesAll, basemapFirst,
 *     basemapAll (the benchmark's probes)}.
 *
 * Text from data is drawn on canvas or set with setAttribute, never as markup; the
 * attribution (which Leaflet shows as markup) is escaped.
 */
(function () {
  "use strict";

  var P = window.protomapsL;
  var HIT_RADIUS = 22;      // px around a point that select it: a 44 px touch target
  var EDGE = 26;            // px of neighbouring tiles drawn into each tile (cluster radius)
  var BACKGROUND = "#f3f0ea";  // the basemap's land
  var CELL = 64;            // px of the grid clusters are merged into below the maxzoom
  var CACHE_TILES = 96;     // decoded tiles kept per query string
  var CACHE_QUERIES = 3;    // query strings whose tiles are kept
  var FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', sans-serif";

  var listeners = { select: [], error: [] };
  var api = {
    interactive: true,
    stats: { lastRedrawMs: null, tilesDrawn: 0 }
  };
  var state = null;  // set by init
  var resolveReady;
  api.ready = new Promise(function (resolve) { resolveReady = resolve; });

  function emit(type, payload) {
    listeners[type].forEach(function (fn) {
      try { fn(payload); } catch (e) { setTimeout(function () { throw e; }); }
    });
  }
  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // ---------------------------------------------------------------- basemap style
  // Widths at z16 in CSS px, scaled by ~1.8x a zoom level (streets grow slower than the
  // ground so that deep zooms stay light).
  var STREET = {
    periph: { w: 9, fill: "#f4c27f", casing: "#d79b4c" },
    major: { w: 8, fill: "#fce9b8", casing: "#dcc07f" },
    medium: { w: 6, fill: "#ffffff", casing: "#cdc6b8" },
    minor: { w: 4.5, fill: "#ffffff", casing: "#d6d0c6" },
    path: { w: 1.4, fill: "#ffffff", casing: "#cfc8bb" }
  };
  var STREET_MINZOOM = { periph: 11, major: 12, medium: 13, minor: 14, path: 15 };
  function streetWidth(cls, z) {
    var s = STREET[cls] || STREET.minor;
    var w = s.w * Math.pow(2, (z - 16) * 0.85);
    return Math.max(cls === "periph" || cls === "major" ? 1.2 : 0.6, w);
  }
  function cls(f) { return STREET[f.props["class"]] ? f.props["class"] : "minor"; }
  function isClass(names) {
    return function (z, f) { return names.indexOf(cls(f)) >= 0 && z >= STREET_MINZOOM[cls(f)]; };
  }

  var TEXT = new WeakMap();  // label draw function -> its text, for placedLabels()
  function named(symbolizer, shorten) {
    return {
      place: function (layout, geom, feature) {
        if (shorten) {
          var short = shorten(String(feature.props.name || ""), feature.props);
          feature = { props: Object.assign({}, feature.props, { name: short }), bbox: feature.bbox,
                      geomType: feature.geomType, geom: feature.geom, numVertices: feature.numVertices };
        }
        var labels = symbolizer.place(layout, geom, feature);
        if (labels) {
          labels.forEach(function (l) { TEXT.set(l.draw, String(feature.props.name || "")); });
        }
        return labels;
      }
    };
  }

  /* The name of a river inside its water, once every ~500 px: at the middle of the
     widest stretch of water that the horizontal line through the piece's centre
     crosses (a bend's bounding box centre is often on land). */
  function waterName(options) {
    var text = new P.CenteredTextSymbolizer(options);
    return {
      place: function (layout, geom, feature) {
        var minY = Infinity, maxY = -Infinity;
        geom.forEach(function (ring) { ring.forEach(function (p) { minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y); }); });
        var cy = (minY + maxY) / 2, xs = [];
        geom.forEach(function (ring) {
          for (var i = 0; i + 1 < ring.length; i++) {
            var a = ring[i], b = ring[i + 1];
            if ((a.y > cy) !== (b.y > cy)) xs.push(a.x + (cy - a.y) * (b.x - a.x) / (b.y - a.y));
          }
        });
        xs.sort(function (a, b) { return a - b; });
        var best = null;
        for (var k = 0; k + 1 < xs.length; k += 2) {
          if (!best || xs[k + 1] - xs[k] > best[1] - best[0]) best = [xs[k], xs[k + 1]];
        }
        if (!best || best[1] - best[0] < 24) return undefined;
        var Point = geom[0][0].constructor;
        var labels = text.place(layout, [[new Point((best[0] + best[1]) / 2, cy)]], feature);
        (labels || []).forEach(function (l) {
          l.deduplicationKey = "water:" + feature.props.name;
          l.deduplicationDistance = 500;
        });
        return labels;
      }
    };
  }

  // Whether a boundary or place belongs to the city's level of this depth (1: the first):
  // the tiles carry the level's slug (Paris: arrondissement, quartier), the page the
  // city's slugs in order (DATA.levels), so no level name is written here.
  function atDepth(f, depth) {
    return !!state && f.props.level === state.levels[depth - 1];
  }

  function paintRules() {
    var rules = [
      { dataLayer: "water", symbolizer: new P.PolygonSymbolizer({ fill: "#b4d4ea" }) },
      { dataLayer: "parks", symbolizer: new P.PolygonSymbolizer({ fill: "#d3e8c6" }) },
      { dataLayer: "boundaries", maxzoom: 16, filter: function (z, f) { return atDepth(f, 1); },
        symbolizer: new P.LineSymbolizer({ color: "#a79cc2", width: function (z) { return z <= 13 ? 1.6 : 1.2; },
                                           dash: [6, 4], dashWidth: 1.4, dashColor: "#a79cc2", opacity: 0.9 }) },
      { dataLayer: "boundaries", minzoom: 13, maxzoom: 16, filter: function (z, f) { return atDepth(f, 2); },
        symbolizer: new P.LineSymbolizer({ color: "#c6bfd8", dash: [3, 3], dashWidth: 1, dashColor: "#c6bfd8", opacity: 0.9 }) }
    ];
    // Casings under every fill, from the small streets up: bigger streets cross on top.
    var order = ["path", "minor", "medium", "major", "periph"];
    order.forEach(function (c) {
      if (c === "path") return;
      rules.push({ dataLayer: "streets", filter: isClass([c]), minzoom: STREET_MINZOOM[c],
        symbolizer: new P.LineSymbolizer({ color: STREET[c].casing, lineCap: "round", lineJoin: "round",
          width: function (z) { return streetWidth(c, z) + (z >= 17 ? 3 : z >= 15 ? 2 : 1.2); } }) });
    });
    rules.push({ dataLayer: "streets", filter: isClass(["path"]), minzoom: 15,
      symbolizer: new P.LineSymbolizer({ color: "#bdb5a6", dash: [2, 2], dashColor: "#bdb5a6",
        dashWidth: function (z) { return z >= 17 ? 1.6 : 1; } }) });
    order.forEach(function (c) {
      if (c === "path") return;
      rules.push({ dataLayer: "streets", filter: isClass([c]), minzoom: STREET_MINZOOM[c],
        symbolizer: new P.LineSymbolizer({ color: STREET[c].fill, lineCap: "round", lineJoin: "round",
          width: function (z) { return streetWidth(c, z); } }) });
    });
    rules.push(
      // Metro lines run underground: faint, and not before z13; RER, trains and trams
      // (on the surface, or the regional network) a little stronger.
      { dataLayer: "rail", filter: function (z, f) {
          var m = f.props.mode;
          return m === "metro" ? z >= 13 : m === "tram" ? z >= 14 : true;
        },
        symbolizer: new P.LineSymbolizer({
          color: function (z, f) { return /^#[0-9a-fA-F]{6}$/.test(f.props.colour) ? f.props.colour : "#8a8a8a"; },
          width: function (z, f) { return (z >= 16 ? 2.5 : z >= 14 ? 1.8 : 1.1) * (f.props.mode === "metro" ? 0.8 : 1); },
          opacity: function (z, f) { return f.props.mode === "metro" ? (z >= 15 ? 0.5 : 0.35) : (z >= 14 ? 0.7 : 0.5); } }) },
      { dataLayer: "stations", minzoom: 14,
        symbolizer: new P.CircleSymbolizer({
          radius: function (z, f) { return z >= 16 ? 4 : 3; },
          fill: function (z, f) { return /^#[0-9a-fA-F]{6}$/.test(f.props.colour) ? f.props.colour : "#666666"; },
          stroke: "#ffffff", width: 1.5 }) }
    );
    return rules;
  }

  function labelRules() {
    var halo = "#ffffff";
    return [
      { dataLayer: "places", maxzoom: 13, filter: function (z, f) { return atDepth(f, 1); },
        symbolizer: named(new P.CenteredTextSymbolizer({
          font: function (z) { return "600 " + (z >= 13 ? 14 : 13) + "px " + FONT; },
          fill: "#5d5280", stroke: halo, width: 2.5, maxLineChars: 14, lineHeight: 1.3 }),
          // "17e arrondissement" -> "17e" (the tiles' short name: without its level's word).
          function (name, props) { return props.short || name; }) },
      { dataLayer: "water", minzoom: 13, filter: function (z, f) { return !!f.props.name; },
        symbolizer: named(waterName({
          font: function (z) { return "italic 500 " + (z >= 15 ? 14 : 12) + "px " + FONT; },
          fill: "#3d6f97", stroke: "#d9e9f5", width: 2.5, maxLineChars: 20 })) },
      { dataLayer: "stations", minzoom: 15,
        symbolizer: named(new P.OffsetTextSymbolizer({
          font: "500 11px " + FONT, fill: "#303030", stroke: halo, width: 2.5,
          offsetX: 6, offsetY: 4, maxLineChars: 18, lineHeight: 1.2 })) },
      { dataLayer: "streets", minzoom: 14,
        filter: function (z, f) {
          var c = cls(f);
          return c === "periph" || c === "major" || (c === "medium" && z >= 15) || (c === "minor" && z >= 16) ||
            (c === "path" && z >= 17);
        },
        symbolizer: named(new P.LineLabelSymbolizer({
          font: function (z) { return "500 " + (z >= 17 ? 13 : z >= 15 ? 12 : 11) + "px " + FONT; },
          fill: "#3f3f3f", stroke: halo, width: 3, position: P.LineLabelPlacement.Center,
          maxLabelChars: 60, repeatDistance: 400 })) },
      { dataLayer: "places", minzoom: 13, maxzoom: 15, filter: function (z, f) { return atDepth(f, 2); },
        symbolizer: named(new P.CenteredTextSymbolizer({
          font: "italic 500 12px " + FONT, fill: "#6d6490", stroke: halo, width: 2.5,
          maxLineChars: 16, lineHeight: 1.3 })) }
    ];
  }

  // ---------------------------------------------------------------- point tiles
  function tileIndex(z, x, y) { return z + "/" + x + "/" + y; }

  /* Decoded tiles of one query string: protomaps-leaflet's ZxySource fetches and
     decodes (coordinates in px of a 256-px tile); the Map keeps them for redraws. */
  function TileStore(url) {
    this.source = new P.ZxySource(url, true);
    this.tiles = new Map();      // "z/x/y" -> Map(layer -> features)
    this.inflight = new Map();   // "z/x/y" -> Promise
    this.failed = new Set();
  }
  TileStore.prototype.peek = function (z, x, y) {
    var k = tileIndex(z, x, y), t = this.tiles.get(k);
    if (t) { this.tiles.delete(k); this.tiles.set(k, t); }  // most recently used last
    return t;
  };
  TileStore.prototype.load = function (z, x, y) {
    var k = tileIndex(z, x, y), self = this;
    if (this.tiles.has(k)) return Promise.resolve(this.peek(z, x, y));
    if (this.failed.has(k)) return Promise.reject(new Error("failed before"));
    if (this.inflight.has(k)) return this.inflight.get(k);
    var p = this.source.get({ z: z, x: x, y: y }, 256).then(function (data) {
      self.inflight.delete(k);
      self.tiles.set(k, data);
      while (self.tiles.size > CACHE_TILES) self.tiles.delete(self.tiles.keys().next().value);
      return data;
    }, function (err) {
      self.inflight.delete(k);
      if (!err || err.name !== "AbortError") self.failed.add(k);
      throw err;
    });
    this.inflight.set(k, p);
    return p;
  };

  function storeFor(query) {
    var stores = state.stores, s = stores.get(query);
    if (s) { stores.delete(query); stores.set(query, s); return s; }
    s = new TileStore(state.tiles.features + (query ? "?" + query : ""));
    stores.set(query, s);
    while (stores.size > CACHE_QUERIES) stores.delete(stores.keys().next().value);
    return s;
  }

  function activeCounts(props) {
    // [[slug, n], ...] of the active categories in a cluster, largest first.
    var out = [], cats = state.filter.categories;
    state.categories.forEach(function (c) {
      if (cats && cats.indexOf(c.slug) < 0) return;
      var n = +props["count_" + c.slug] || 0;
      if (n > 0) out.push([c.slug, n]);
    });
    out.sort(function (a, b) { return b[1] - a[1]; });
    return out;
  }
  function pointVisible(slug) {
    var cats = state.filter.categories;
    return !cats || cats.indexOf(slug) >= 0;
  }
  function colourOf(slug) { return (state.bySlug[slug] || {}).colour || "#555555"; }
  function labelOf(slug) { return (state.bySlug[slug] || {}).label || slug; }

  function abbreviate(n) {
    if (n < 1000) return String(n);
    var s = state.compact.format(n);
    return state.lang === "en" ? s.replace("K", "k").replace("M", "m") : s;
  }
  function clusterRadius(n) { return Math.min(26, 11 + 3.4 * Math.log10(n)); }
  function pointRadius(z) { return z >= 17 ? 8.5 : z >= 15 ? 7 : z >= 13 ? 5.5 : 4.5; }

  function luminance(hex) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!m) return 0;
    var c = [m[1], m[2], m[3]].map(function (h) {
      var v = parseInt(h, 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  /* The features of a decoded tile in an 8x8 grid of 32-px buckets, built once: a
     display tile reads only the buckets it covers (a neighbour's edge, or the part of
     an overzoomed tile it shows), not the thousands of points of a dense z16 tile. */
  var BUCKETS = new WeakMap();
  function candidates(data, x0, y0, x1, y1) {
    var grid = BUCKETS.get(data);
    if (!grid) {
      grid = [];
      for (var b = 0; b < 64; b++) grid.push([]);
      (data.get("features") || []).forEach(function (f) {
        var g = f.geom[0] && f.geom[0][0];
        if (!g) return;
        var cx = Math.max(0, Math.min(7, Math.floor(g.x / 32)));
        var cy = Math.max(0, Math.min(7, Math.floor(g.y / 32)));
        grid[cy * 8 + cx].push(f);
      });
      BUCKETS.set(data, grid);
    }
    var c0 = Math.max(0, Math.min(7, Math.floor(x0 / 32))), c1 = Math.max(0, Math.min(7, Math.floor(x1 / 32)));
    var r0 = Math.max(0, Math.min(7, Math.floor(y0 / 32))), r1 = Math.max(0, Math.min(7, Math.floor(y1 / 32)));
    if (x1 < -8 || y1 < -8 || x0 > 264 || y0 > 264) return [];  // beyond the tile's buffer
    var out = [];
    for (var r = r0; r <= r1; r++) {
      for (var c = c0; c <= c1; c++) {
        var bucket = grid[r * 8 + c];
        for (var i = 0; i < bucket.length; i++) out.push(bucket[i]);
      }
    }
    return out;
  }

  /* Everything drawn in the display tile (z, x, y), from the decoded data tiles that
     cover it and its edge (neighbours only if already decoded). Positions in the
     tile's CSS px. Clusters whose active count is 0 and points of inactive categories
     are left out.

     Below the archive's maxzoom, the tiles' clusters (an 8-px grid) are merged into
     cells of CELL px of the world grid, so that the symbols, which are wider than 8 px,
     do not pile up: one symbol per cell, at the weighted centre of what it holds, its
     counts summed per active category. A cell holding a single point draws the point.
     At maxzoom and beyond, every place is drawn as a point. */
  function itemsFor(store, z, x, y, only) {
    var dz = Math.min(z, state.maxzoom), s = 1 << (z - dz), size = 256 * s;
    var merge = z < state.maxzoom, margin = merge ? CELL : EDGE;
    var ox = x * 256, oy = y * 256;
    var tx0 = Math.floor((ox - margin) / size), tx1 = Math.floor((ox + 256 + margin) / size);
    var ty0 = Math.floor((oy - margin) / size), ty1 = Math.floor((oy + 256 + margin) / size);
    var raw = [], dim = 1 << dz;
    for (var tx = tx0; tx <= tx1; tx++) {
      for (var ty = ty0; ty <= ty1; ty++) {
        if (tx < 0 || ty < 0 || tx >= dim || ty >= dim) continue;
        if (only && (tx !== only.x || ty !== only.y)) continue;
        var data = store.peek(dz, tx, ty);
        if (!data) continue;
        // Only the buckets of the data tile that the display tile (and its edge) covers.
        var feats = candidates(data, (ox - margin) / s - tx * 256, (oy - margin) / s - ty * 256,
                               (ox + 256 + margin) / s - tx * 256, (oy + 256 + margin) / s - ty * 256);
        for (var i = 0; i < feats.length; i++) {
          var f = feats[i], g = f.geom[0] && f.geom[0][0];
          // A tile's buffer repeats its neighbours' features: each is read from its own
          // tile only, so a cell is never made of a neighbour's buffer alone.
          if (!g || g.x < 0 || g.y < 0 || g.x >= 256 || g.y >= 256) continue;
          var px = (tx * 256 + g.x) * s - ox, py = (ty * 256 + g.y) * s - oy;
          if (px < -margin || py < -margin || px > 256 + margin || py > 256 + margin) continue;
          var p = f.props;
          if (p.cluster) {
            var counts = activeCounts(p), total = 0;
            counts.forEach(function (c) { total += c[1]; });
            if (!state.filter.categories && +p.point_count > total) total = +p.point_count;
            if (total) raw.push({ cluster: true, x: px, y: py, total: total, counts: counts });
          } else if (pointVisible(p.category)) {
            raw.push({ cluster: false, x: px, y: py, props: p, total: 1, counts: [[p.category, 1]] });
          }
        }
      }
    }
    var items = raw;
    if (merge) {
      var cells = new Map();
      raw.forEach(function (r) {
        var k = Math.floor((r.x + ox) / CELL) + ":" + Math.floor((r.y + oy) / CELL);
        var c = cells.get(k);
        if (!c) { c = { members: [], sx: 0, sy: 0, total: 0, per: {} }; cells.set(k, c); }
        c.members.push(r);
        c.sx += r.x * r.total;
        c.sy += r.y * r.total;
        c.total += r.total;
        r.counts.forEach(function (n) { c.per[n[0]] = (c.per[n[0]] || 0) + n[1]; });
      });
      items = [];
      cells.forEach(function (c) {
        if (c.members.length === 1) { items.push(c.members[0]); return; }
        var counts = Object.keys(c.per).map(function (slug) { return [slug, c.per[slug]]; });
        counts.sort(function (a, b) { return b[1] - a[1]; });
        items.push({ cluster: true, x: c.sx / c.total, y: c.sy / c.total, total: c.total, counts: counts });
      });
    }
    return items.filter(function (it) {
      it.inside = it.x >= 0 && it.y >= 0 && it.x < 256 && it.y < 256;
      return it.x >= -EDGE && it.y >= -EDGE && it.x <= 256 + EDGE && it.y <= 256 + EDGE;
    });
  }

  function drawCluster(ctx, it) {
    var r = clusterRadius(it.total), ring = r >= 16 ? 4.5 : 3.5;
    var dominant = it.counts.length ? it.counts[0][0] : null;
    var fill = dominant ? colourOf(dominant) : "#37474f";
    ctx.beginPath();
    ctx.arc(it.x, it.y, r + 1, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(255,255,255,0.95)";
    ctx.fill();
    // The ring: one arc per active category, in proportion (a mini pie of what it holds).
    var a = -Math.PI / 2, sum = 0;
    it.counts.forEach(function (c) { sum += c[1]; });
    ctx.lineWidth = ring;
    it.counts.forEach(function (c) {
      var da = 2 * Math.PI * c[1] / (sum || 1);
      ctx.beginPath();
      ctx.arc(it.x, it.y, r - ring / 2, a, a + da);
      ctx.strokeStyle = colourOf(c[0]);
      ctx.stroke();
      a += da;
    });
    ctx.beginPath();
    ctx.arc(it.x, it.y, r - ring - 1.2, 0, 2 * Math.PI);
    ctx.fillStyle = fill;
    ctx.fill();
    var text = abbreviate(it.total);
    var dark = luminance(fill) > 0.35;
    ctx.font = "700 " + (text.length > 4 ? 10 : 11.5) + "px " + FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 2.5;
    ctx.lineJoin = "round";
    ctx.strokeStyle = dark ? "rgba(255,255,255,0.85)" : "rgba(0,0,0,0.55)";
    ctx.strokeText(text, it.x, it.y + 0.5);
    ctx.fillStyle = dark ? "#111111" : "#ffffff";
    ctx.fillText(text, it.x, it.y + 0.5);
    it.text = text;
    it.colour = fill;
  }

  /* A point is a sprite (a faint dark edge, a white halo, the category's colour),
     drawn once per colour, size and pixel ratio and then copied: a z16 tile of a
     dense city holds thousands of points, and a copy costs far less than three arcs. */
  var SPRITES = new Map();
  function sprite(colour, r, halo, dpr) {
    var key = colour + "|" + r + "|" + halo + "|" + dpr, found = SPRITES.get(key);
    if (found) return found;
    var R = r + halo + 1, size = Math.ceil(2 * R * dpr);
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    var ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    [[r + halo + 0.75, "rgba(0,0,0,0.3)"], [r + halo, "#ffffff"], [r, colour]].forEach(function (d) {
      ctx.beginPath();
      ctx.arc(R, R, d[0], 0, 2 * Math.PI);
      ctx.fillStyle = d[1];
      ctx.fill();
    });
    found = { canvas: canvas, half: R };
    SPRITES.set(key, found);
    return found;
  }

  function drawPoints(ctx, points, z, dpr) {
    var r = pointRadius(z), halo = z >= 15 ? 2 : 1.5;
    for (var i = 0; i < points.length; i++) {
      var it = points[i], sp = sprite(colourOf(it.props.category), r, halo, dpr);
      ctx.drawImage(sp.canvas, it.x - sp.half, it.y - sp.half, 2 * sp.half, 2 * sp.half);
    }
  }

  function summary(items) {
    var S = state.strings, groups = 0, places = 0, per = {};
    items.forEach(function (it) {
      if (!it.inside) return;
      if (it.cluster) {
        groups += 1;
        places += it.total;
        it.counts.forEach(function (c) { per[c[0]] = (per[c[0]] || 0) + c[1]; });
      } else {
        places += 1;
        per[it.props.category] = (per[it.props.category] || 0) + 1;
      }
    });
    if (!places) return null;
    var parts = [];
    if (groups) parts.push(groups === 1 ? S.tileGroup : fmt(S.tileGroups, { n: groups }));
    parts.push(places === 1 ? S.tilePlace : fmt(S.tilePlaces, { n: places }));
    var detail = Object.keys(per).sort(function (a, b) { return per[b] - per[a]; }).slice(0, 6)
      .map(function (slug) { return per[slug] + " " + labelOf(slug); }).join(", ");
    return fmt(S.tileSummary, { summary: parts.join(", "), detail: detail });
  }

  var PlacesLayer = L.GridLayer.extend({
    options: { tileSize: 256, pane: "carte-places", updateWhenZooming: false, keepBuffer: 1 },

    createTile: function (coords, done) {
      var canvas = L.DomUtil.create("canvas", "leaflet-tile");
      var dpr = Math.min(window.devicePixelRatio || 1, 3);
      canvas.width = canvas.height = 256 * dpr;
      canvas._carte = { coords: coords, dpr: dpr, items: [], waiting: [], dirty: false, drawn: false };
      canvas.setAttribute("aria-hidden", "true");
      var self = this;
      this._fill(canvas, function () { done(null, canvas); });
      return canvas;
    },

    // Load the tile's data for the current query (if needed), then draw it.
    _fill: function (canvas, then) {
      var c = canvas._carte.coords, query = state.filter.query, store = storeFor(query);
      var dz = Math.min(c.z, state.maxzoom), s = 1 << (c.z - dz);
      var self = this;
      store.load(dz, Math.floor(c.x / s), Math.floor(c.y / s)).then(function () {
        if (query !== state.filter.query) { then(); return; }
        self._neighbours(dz, Math.floor(c.x / s), Math.floor(c.y / s));
        self._schedule(canvas, then);
      }, function (err) {
        if (query !== state.filter.query || (err && err.name === "AbortError")) { then(); return; }
        self._schedule(canvas, then);  // what the neighbours hold; nothing from the failed tile
        if (!state.reported.has(query)) {
          state.reported.add(query);
          emit("error", { message: String(err && err.message || err), query: query,
                          url: store.source.url });
        }
      });
    },

    /* Draws are gathered into the next animation frame: when the tiles of a view arrive
       together, each canvas is drawn once, not once for itself and again for each
       neighbour that arrives after it. */
    _schedule: function (canvas, then) {
      var meta = canvas._carte;
      meta.dirty = true;
      if (then) meta.waiting.push(then);
      if (this._frame) return;
      var self = this;
      this._frame = L.Util.requestAnimFrame(function () {
        self._frame = null;
        for (var key in self._tiles) {
          var el = self._tiles[key].el, m = el._carte;
          if (m && m.dirty) self._drawNow(el);
        }
      });
    },

    // Draw a tile now, and tell whoever waited for it (Leaflet's tile "done").
    _drawNow: function (canvas) {
      var m = canvas._carte;
      m.dirty = false;
      this._draw(canvas);
      var callbacks = m.waiting;
      m.waiting = [];
      callbacks.forEach(function (fn) { fn(); });
    },

    // A data tile arrived: the tiles beside it that are drawn already may have clusters
    // or points to draw over their edge.
    _neighbours: function (dz, dx, dy) {
      for (var key in this._tiles) {
        var tile = this._tiles[key], el = tile.el;
        if (!el._carte || !el._carte.drawn || !tile.current) continue;
        var c = el._carte.coords, s = 1 << (c.z - Math.min(c.z, state.maxzoom));
        if (Math.min(c.z, state.maxzoom) !== dz) continue;
        var tx = Math.floor(c.x / s), ty = Math.floor(c.y / s);
        if (Math.abs(tx - dx) <= 1 && Math.abs(ty - dy) <= 1 && (tx !== dx || ty !== dy)) this._drawEdge(el, dx, dy);
      }
    },

    /* What the data tile (dx, dy) adds over the edge of a tile drawn before it arrived,
       drawn on top: cells and points belong to one data tile, so nothing already drawn
       changes (a whole redraw of every neighbour cost more than the tile itself). */
    _drawEdge: function (canvas, dx, dy) {
      var meta = canvas._carte, c = meta.coords;
      if (meta.dirty) return;  // a whole redraw is on its way
      var items = itemsFor(storeFor(state.filter.query), c.z, c.x, c.y, { x: dx, y: dy })
        .filter(function (it) { return !it.inside; });
      if (!items.length) return;
      var ctx = canvas.getContext("2d");
      ctx.setTransform(meta.dpr, 0, 0, meta.dpr, 0, 0);
      drawPoints(ctx, items.filter(function (it) { return !it.cluster; }), c.z, meta.dpr);
      items.filter(function (it) { return it.cluster; })
        .sort(function (a, b) { return a.total - b.total; })
        .forEach(function (it) { drawCluster(ctx, it); });
      meta.items = meta.items.concat(items);
    },

    _draw: function (canvas) {
      var meta = canvas._carte, c = meta.coords;
      var items = itemsFor(storeFor(state.filter.query), c.z, c.x, c.y);
      var ctx = canvas.getContext("2d");
      ctx.setTransform(meta.dpr, 0, 0, meta.dpr, 0, 0);
      ctx.clearRect(0, 0, 256, 256);
      // Points under clusters; big clusters last (on top).
      var clusters = items.filter(function (it) { return it.cluster; });
      clusters.sort(function (a, b) { return a.total - b.total; });
      drawPoints(ctx, items.filter(function (it) { return !it.cluster; }), c.z, meta.dpr);
      clusters.forEach(function (it) { drawCluster(ctx, it); });
      meta.items = items;
      meta.drawn = true;
      var text = summary(items);
      if (text) {
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", text);
        canvas.removeAttribute("aria-hidden");
      } else {
        canvas.removeAttribute("role");
        canvas.removeAttribute("aria-label");
        canvas.setAttribute("aria-hidden", "true");
      }
      api.stats.tilesDrawn += 1;
    },

    // Redraw from the decoded cache, no request: the tiles in view at once, the ones
    // kept around the view (keepBuffer) in the next frame.
    redrawFromCache: function () {
      var b = this._map.getPixelBounds(), z = this._map.getZoom();
      for (var key in this._tiles) {
        var el = this._tiles[key].el, m = el._carte;
        if (!m) continue;
        var x = m.coords.x * 256, y = m.coords.y * 256;
        var seen = m.coords.z === z && x < b.max.x && y < b.max.y && x + 256 > b.min.x && y + 256 > b.min.y;
        if (seen) this._drawNow(el); else this._schedule(el);
      }
    },

    // The query changed: fetch the tiles of the new query, keep the old drawing meanwhile.
    refill: function () {
      for (var key in this._tiles) {
        var el = this._tiles[key].el;
        if (el._carte) this._fill(el, function () {});
      }
    },

    // Every drawn item of the current view, in map coordinates (deduplicated).
    drawnItems: function () {
      if (!this._map) return [];
      var out = [], map = this._map, bounds = map.getPixelBounds(), z = map.getZoom();
      for (var key in this._tiles) {
        var el = this._tiles[key].el, meta = el._carte;
        if (!meta || meta.coords.z !== z) continue;
        meta.items.forEach(function (it) {
          if (!it.inside) return;
          var wx = meta.coords.x * 256 + it.x, wy = meta.coords.y * 256 + it.y;
          if (wx < bounds.min.x || wy < bounds.min.y || wx > bounds.max.x || wy > bounds.max.y) return;
          out.push({ item: it, latlng: map.unproject([wx, wy], z), wx: wx, wy: wy });
        });
      }
      return out;
    }
  });

  // ---------------------------------------------------------------- hit testing
  function hitTest(latlng) {
    var map = state.map, z = map.getZoom(), pt = map.project(latlng, z);
    var points = [], clusters = [];
    var x0 = Math.floor((pt.x - HIT_RADIUS) / 256), x1 = Math.floor((pt.x + HIT_RADIUS) / 256);
    var y0 = Math.floor((pt.y - HIT_RADIUS) / 256), y1 = Math.floor((pt.y + HIT_RADIUS) / 256);
    var seen = new Set(), store = storeFor(state.filter.query);
    for (var x = x0; x <= x1; x++) {
      for (var y = y0; y <= y1; y++) {
        itemsFor(store, z, x, y).forEach(function (it) {
          var wx = x * 256 + it.x, wy = y * 256 + it.y;
          var d = Math.sqrt((wx - pt.x) * (wx - pt.x) + (wy - pt.y) * (wy - pt.y));
          if (it.cluster) {
            var key = "c" + Math.round(wx) + ":" + Math.round(wy);
            if (!seen.has(key) && d <= Math.max(HIT_RADIUS, clusterRadius(it.total) + 4)) {
              seen.add(key);
              clusters.push({ d: d, wx: wx, wy: wy });
            }
          } else if (d <= HIT_RADIUS && !seen.has("p" + it.props.id)) {
            seen.add("p" + it.props.id);
            var ll = map.unproject([wx, wy], z);
            points.push({ d: d, f: { id: it.props.id, category: it.props.category,
                                     title: it.props.title, lat: ll.lat, lon: ll.lng } });
          }
        });
      }
    }
    points.sort(function (a, b) { return a.d - b.d; });
    clusters.sort(function (a, b) { return a.d - b.d; });
    return { points: points, clusters: clusters, z: z };
  }

  function onClick(e) {
    if (!api.interactive || !state) return;
    var hit = hitTest(e.latlng), map = state.map;
    // A point within reach wins over a cluster, unless the cluster is clearly closer.
    if (hit.points.length && !(hit.clusters.length && hit.clusters[0].d + 6 < hit.points[0].d)) {
      emit("select", { features: hit.points.map(function (p) { return p.f; }), latlng: e.latlng });
      return;
    }
    if (hit.clusters.length) {
      var c = hit.clusters[0];
      map.setView(map.unproject([c.wx, c.wy], hit.z), Math.min(hit.z + 2, map.getMaxZoom()));
    }
  }

  // ---------------------------------------------------------------- highlight
  var ring = null;
  api.highlight = function (id, latlng) {
    if (!state) return;
    var map = state.map;
    if (ring) { map.removeLayer(ring); ring = null; }
    if (id === null || id === undefined) return;
    if (!latlng) {
      state.places.drawnItems().forEach(function (d) {
        if (!d.item.cluster && String(d.item.props.id) === String(id)) latlng = d.latlng;
      });
    }
    if (!latlng) return;
    // SVG (the map prefers canvas): two circles, white under dark, visible on any colour.
    if (!state.ringRenderer) state.ringRenderer = L.svg({ pane: "carte-highlight" });
    var opts = { pane: "carte-highlight", renderer: state.ringRenderer, radius: 15, fill: false,
                 interactive: false };
    ring = L.layerGroup([
      L.circleMarker(latlng, L.extend({ color: "#ffffff", weight: 6 }, opts)),
      L.circleMarker(latlng, L.extend({ color: "#1a1a1a", weight: 3 }, opts))
    ]).addTo(map);
  };

  // ---------------------------------------------------------------- filters
  api.setFilter = function (filter) {
    if (!state) return;
    var t0 = performance.now();
    var cats = filter && filter.categories ? filter.categories.slice() : null;
    var query = filter && filter.query ? String(filter.query).replace(/^\?/, "") : "";
    var queryChanged = query !== state.filter.query;
    state.filter = { categories: cats, query: query };
    if (!state.places._map) return;
    if (queryChanged) state.places.refill();
    else state.places.redrawFromCache();
    api.stats.lastRedrawMs = performance.now() - t0;
  };

  api.on = function (type, fn) {
    if (!listeners[type]) throw new Error("CarteLayers: no event " + type);
    listeners[type].push(fn);
    return api;
  };
  api.off = function (type, fn) {
    listeners[type] = (listeners[type] || []).filter(function (f) { return f !== fn; });
    return api;
  };

  // ---------------------------------------------------------------- debug accessors
  api.placedLabels = function () {
    if (!state || !state.basemap || !state.basemap._map) return [];
    var map = state.map, z = map.getZoom(), index = state.basemap.labelers.getIndex(z);
    if (!index) return [];
    var b = map.getPixelBounds(), out = new Set();
    index.tree.search({ minX: b.min.x, minY: b.min.y, maxX: b.max.x, maxY: b.max.y }).forEach(function (m) {
      var text = TEXT.get(m.indexedLabel.draw);
      if (text) out.add(text);
    });
    return Array.from(out);
  };
  api.drawnClusters = function () {
    if (!state) return [];
    return state.places.drawnItems().filter(function (d) { return d.item.cluster; }).map(function (d) {
      var cats = {};
      d.item.counts.forEach(function (c) { cats[c[0]] = c[1]; });
      return { count: d.item.total, text: d.item.text, colour: d.item.colour,
               lat: d.latlng.lat, lon: d.latlng.lng, categories: cats };
    });
  };
  api.drawnPoints = function () {
    if (!state) return [];
    return state.places.drawnItems().filter(function (d) { return !d.item.cluster; }).map(function (d) {
      return { id: d.item.props.id, category: d.item.props.category, title: d.item.props.title,
               lat: d.latlng.lat, lon: d.latlng.lng };
    });
  };

  // ---------------------------------------------------------------- init
  function pageData() {
    var node = document.getElementById("carte-data");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 404) return null;
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  function fitAttribution(map) {
    // The attribution wraps beside the scale bar instead of covering it; on a narrow map
    // (a phone) it is one line, ellipsed, that a tap unfolds.
    var attr = map.getContainer().querySelector(".leaflet-control-attribution");
    var scale = map.getContainer().querySelector(".leaflet-control-scale");
    if (!attr) return;
    var room = map.getSize().x - (scale ? scale.offsetWidth + 20 : 0) - 12;
    attr.style.maxWidth = Math.max(120, room) + "px";
    var narrow = map.getSize().x < 640;
    if (narrow && !attr.hasAttribute("data-compact")) {
      // Folded for the eye only: screen readers read the whole text either way.
      attr.setAttribute("data-compact", "");
      var fold = function (open) {
        attr.setAttribute("data-open", open ? "true" : "false");
        attr.style.whiteSpace = open ? "normal" : "nowrap";
        attr.style.overflow = open ? "visible" : "hidden";
        attr.style.textOverflow = open ? "clip" : "ellipsis";
      };
      fold(false);
      var toggle = function (e) {
        if (e.target.closest && e.target.closest("a")) return;  // links keep working
        fold(attr.getAttribute("data-open") !== "true");
      };
      attr.addEventListener("click", toggle);
      L.DomEvent.disableClickPropagation(attr);
    }
  }

  // Leaflet's own controls are named in English: named in the page's language here.
  function translateControls(map, S) {
    var c = map.getContainer();
    [[".leaflet-control-zoom-in", S.zoomIn], [".leaflet-control-zoom-out", S.zoomOut],
     [".leaflet-control-layers-toggle", S.layersControl]].forEach(function (pair) {
      var node = c.querySelector(pair[0]);
      if (node && pair[1]) { node.setAttribute("title", pair[1]); node.setAttribute("aria-label", pair[1]); }
    });
  }

  function mark(name) {
    if (window.performance && performance.mark) performance.mark("carte:" + name);
  }

  function timeDraws(layer, name) {
    layer.once("tileload", function () { api.stats[name + "First"] = performance.now(); });
    layer.once("load", function () { api.stats[name + "All"] = performance.now(); });
  }

  function noBasemapNotice(map, text) {
    var Notice = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var p = L.DomUtil.create("p", "carte-notice");
        p.textContent = text;
        return p;
      }
    });
    new Notice().addTo(map);
  }

  api.init = function (map, options) {
    if (state) return { basemap: state.basemap, places: state.places };
    mark("init");
    options = options || {};
    var data = pageData();
    var given = options.tiles || data.tiles || {}, tiles = given;
    var root = tiles.root || "";
    tiles = {
      features: tiles.features || root + "/tiles/features/{z}/{x}/{y}.mvt",
      featuresJson: tiles.featuresJson || root + "/tiles/features.json",
      basemap: tiles.basemap || root + "/tiles/basemap/{z}/{x}/{y}.mvt",
      basemapJson: tiles.basemapJson || root + "/tiles/basemap.json",
      rasterBase: tiles.rasterBase || "tile_layer_base",
      control: tiles.control || "carte_layer_control",
      maxzoom: tiles.maxzoom || 16
    };
    var lang = options.lang || data.lang || document.documentElement.lang || "fr";
    var categories = options.categories || data.categories || [];
    var bySlug = {};
    categories.forEach(function (c) { bySlug[c.slug] = c; });
    state = {
      map: map, lang: lang, tiles: tiles, categories: categories, bySlug: bySlug,
      strings: options.strings || data.strings || {}, maxzoom: tiles.maxzoom,
      levels: options.levels || data.levels || [],
      filter: { categories: null, query: "" }, stores: new Map(), reported: new Set(),
      compact: new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 }),
      basemap: null, places: null
    };
    var S = state.strings;

    var container = map.getContainer();
    if (!container.getAttribute("role")) container.setAttribute("role", "region");
    if (!container.getAttribute("aria-label") && S.mapLabel) container.setAttribute("aria-label", S.mapLabel);

    translateControls(map, S);
    // The map's zoom range, not the one of whichever layer is added first (folium leaves
    // it to the layers; the raster fallback stops at z14 and would pull the view there).
    if (map.options.maxZoom === undefined) map.setMaxZoom(19);
    if (map.options.minZoom === undefined) map.setMinZoom(10);
    map.createPane("carte-places").style.zIndex = 450;
    map.createPane("carte-highlight").style.zIndex = 460;
    map.getPane("carte-highlight").style.pointerEvents = "none";
    state.places = new PlacesLayer({ maxZoom: map.getMaxZoom(),
                                     attribution: escapeHtml(S.attributionPlaces || "") });
    timeDraws(state.places, "places");
    map.on("click", onClick);

    var control = window[tiles.control] || null;
    var raster = window[tiles.rasterBase] || null;
    // The raster boundaries are the fallback: not drawn (nor fetched) until we know the
    // city has no vector basemap.
    if (raster && map.hasLayer(raster)) map.removeLayer(raster);

    function setup(bm, fj) {
      mark("tilejson");
      if (fj && isFinite(+fj.maxzoom)) state.maxzoom = +fj.maxzoom;
      if (bm) {
        var bounds = bm.bounds && bm.bounds.length === 4 ? L.latLngBounds([bm.bounds[1], bm.bounds[0]], [bm.bounds[3], bm.bounds[2]]) : undefined;
        var url = (bm.tiles && bm.tiles[0]) || tiles.basemap;
        state.basemap = P.leafletLayer({
          url: url, maxDataZoom: +bm.maxzoom || 16, levelDiff: 0,
          minZoom: Math.max(+bm.minzoom || 11, 0), maxZoom: map.getMaxZoom() || 19,
          bounds: bounds, backgroundColor: BACKGROUND,
          paintRules: paintRules(), labelRules: labelRules(),
          attribution: escapeHtml(bm.attribution || ""), lang: lang
        });
        state.basemap.on("tileload", function (e) { e.tile.setAttribute("aria-hidden", "true"); });
        timeDraws(state.basemap, "basemap");
        map.getContainer().style.background = BACKGROUND;  // beyond the city's bounds too
        if (map.getMinZoom() < state.basemap.options.minZoom) map.setMinZoom(state.basemap.options.minZoom);
        state.basemap.addTo(map);
        mark("basemap-added");
        if (control && raster) control.removeLayer(raster);
        if (control) control.addBaseLayer(state.basemap, escapeHtml(S.layerBasemap || "Plan"));
      } else {
        if (raster) raster.addTo(map);
        noBasemapNotice(map, S.noBasemap || "");
      }
      // The places after the basemap: its tiles are asked first, the city is drawn
      // first, and the points (quicker to draw) follow on it.
      state.places.addTo(map);
      if (control) control.addOverlay(state.places, escapeHtml(S.layerPlaces || ""));
      fitAttribution(map);
      map.on("resize", function () { fitAttribution(map); });
      return { basemap: !!bm };
    }
    // The page carries both TileJSON documents (null: no basemap, as a 404 of
    // /tiles/basemap.json says); without them, they are read from the server.
    if (given.basemapTileJSON !== undefined) {
      resolveReady(setup(given.basemapTileJSON, given.featuresTileJSON || null));
    } else {
      Promise.all([
        getJson(tiles.basemapJson).catch(function () { return null; }),
        getJson(tiles.featuresJson).catch(function () { return null; })
      ]).then(function (res) { resolveReady(setup(res[0], res[1])); });
    }
    return { basemap: state.basemap, places: state.places };
  };

  window.CarteLayers = api;
})();
