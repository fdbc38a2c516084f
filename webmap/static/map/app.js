/* Carte citoyenne: the residents' map page.
 *
 * Runs after Leaflet, protomaps-leaflet, layers.js (window.CarteLayers: the basemap, the
 * places and their clusters) and the folium-built map script. Every piece of text
 * that comes from data (titles, descriptions, category labels, search results) reaches
 * the page through textContent or attribute setters, never as markup.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("carte-data").textContent);
  var S = DATA.strings;
  var map = window[DATA.map];
  CarteLayers.init(map, { lang: DATA.lang, categories: DATA.categories, strings: S });
  var CATS = {};
  DATA.categories.forEach(function (c) { CATS[c.slug] = c; });
  var PROFILE_KEY = "carte.profile";
  var LIST_LIMIT = 100;

  // ---------- small helpers ----------
  function $(id) { return document.getElementById(id); }
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }
  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function say(message) { $("status").textContent = message || ""; }
  function debounce(fn, ms) {
    var t = null;
    return function () { var args = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, args); }, ms); };
  }
  function label(obj) { return DATA.lang === "en" ? (obj.label_en || obj.label_fr) : (obj.label_fr || obj.label_en); }
  function categoryLabel(slug) { return CATS[slug] ? CATS[slug].label : slug; }
  function colour(slug) { return CATS[slug] ? CATS[slug].colour : "#555555"; }

  document.querySelectorAll(".swatch[data-colour]").forEach(function (s) {
    s.style.backgroundColor = s.getAttribute("data-colour");
  });

  // ---------- profile (kept in localStorage only) ----------
  function loadProfile() {
    try { return JSON.parse(localStorage.getItem(PROFILE_KEY)) || {}; } catch (e) { return {}; }
  }
  var profile = loadProfile();

  // ---------- filters ----------
  var state = { cats: null, useProfile: false };  // cats: null means every category

  function selectedCategories() {
    var boxes = document.querySelectorAll("#filters input[name=category]");
    var on = [];
    boxes.forEach(function (b) { if (b.checked) on.push(b.value); });
    return on.length === boxes.length ? null : on;
  }

  function suitsProfile(slug) {
    var c = CATS[slug];
    if (!c) return true;
    if (profile.interests && profile.interests.length && profile.interests.indexOf(slug) < 0) return false;
    if (profile.age && c.audiences.length && c.audiences.indexOf(profile.age) < 0 &&
        c.audiences.indexOf("everyone") < 0) return false;
    if (profile.access && profile.access.length) {
      for (var i = 0; i < profile.access.length; i++) {
        if (c.accessibility.indexOf(profile.access[i]) < 0) return false;
      }
    }
    return true;
  }

  function visible(slug) {
    if (state.cats && state.cats.indexOf(slug) < 0) return false;
    if (state.useProfile && !suitsProfile(slug)) return false;
    return true;
  }

  // The map draws the categories that are visible (clusters recount them client side).
  window.Carte = {};
  function mapFilter() {
    var cats = DATA.categories.map(function (c) { return c.slug; }).filter(visible);
    return { categories: cats.length === DATA.categories.length ? null : cats, query: "" };
  }

  function applyFilters() {
    state.cats = selectedCategories();
    state.useProfile = $("use-profile").checked;
    CarteLayers.setFilter(mapFilter());
    refreshList();
    writeHash();
  }
  $("filters").addEventListener("change", applyFilters);

  // ---------- views of the side panel ----------
  var VIEWS = ["list-section", "detail-section", "profile-section", "walk-section", "pin-section"];
  function show(view, focus) {
    VIEWS.forEach(function (id) { $(id).hidden = id !== view; });
    if (view !== "pin-section") pinMode = false;
    if (focus !== false) {
      var heading = $(view).querySelector("h2");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    }
  }
  document.querySelectorAll("[data-close]").forEach(function (b) {
    b.addEventListener("click", function () { show("list-section"); });
  });

  // ---------- feature detail ----------
  function bboxAround(latlng, metres) {
    var dLat = metres / 111320, dLon = metres / (111320 * Math.cos(latlng.lat * Math.PI / 180));
    return [latlng.lng - dLon, latlng.lat - dLat, latlng.lng + dLon, latlng.lat + dLat];
  }

  function showDetail(props, latlng) {
    $("detail-title").textContent = props.title || "";
    $("detail-category").textContent = categoryLabel(props.category);
    $("detail-description").textContent = props.description || "";
    var dl = $("detail-attributes");
    clear(dl);
    function row(k, v) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
    if (props.starts_at) row(S.starts, new Date(props.starts_at).toLocaleString(DATA.lang));
    if (props.ends_at) row(S.ends, new Date(props.ends_at).toLocaleString(DATA.lang));
    var attrs = props.attributes || {};
    var fields = CATS[props.category] ? CATS[props.category].fields : [];
    fields.forEach(function (f) {
      var v = attrs[f.name];
      if (v === undefined || v === null || v === "") return;
      if (typeof v === "boolean") v = v ? S.yes : S.no;
      if (Array.isArray(v)) v = v.join(", ");
      row(label(f), typeof v === "object" ? JSON.stringify(v) : v);
    });
    if (selected !== props.id) { $("flag-status").textContent = ""; $("flag-box").open = false; }
    show("detail-section");
    selected = props.id;
    writeHash();
    if (props.description === undefined && latlng) {
      // Tiles carry id, category and title; the rest comes from the open-data API.
      fetch("/api/v1/features?bbox=" + bboxAround(latlng, 30).join(","))
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (fc) {
          if (!fc || selected !== props.id) return;
          (fc.features || []).forEach(function (f) {
            if (String(f.properties.id) === String(props.id)) showDetail(f.properties, null);
          });
        }).catch(function () {});
    }
  }
  var selected = null;

  // ---------- flag a published place ----------
  $("flag-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var reason = $("flag-reason").value.trim();
    if (!reason || selected === null) { $("flag-status").textContent = S.flagNeedReason; return; }
    fetch("/api/v1/features/" + encodeURIComponent(selected) + "/flags", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ reason: reason })
    }).then(function (r) {
      $("flag-status").textContent = r.ok ? S.flagThanks : (r.status === 429 ? S.flagTooMany : S.flagFailed);
      if (r.ok) $("flag-reason").value = "";
    }).catch(function () { $("flag-status").textContent = S.flagFailed; });
  });

  CarteLayers.on("select", function (e) {
    if (pinMode) return;  // the container's click handler places the pin
    var f = e.features[0];  // the nearest of the points within reach
    showDetail(f, L.latLng(f.lat, f.lon));
  });

  // ---------- list kept in step with the map ----------
  var listRequest = 0;
  function refreshList() {
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); });
    var params = new URLSearchParams({ bbox: bbox.join(","), limit: String(LIST_LIMIT) });
    var cats = DATA.categories.map(function (c) { return c.slug; }).filter(visible);
    if (cats.length < DATA.categories.length) params.set("category", cats.join(","));
    if (state.useProfile && profile.age) params.set("audience", profile.age);
    if (state.useProfile && profile.access && profile.access.length) params.set("accessible", profile.access.join(","));
    var mine = ++listRequest;
    var list = $("list"), status = $("list-status");
    if (!cats.length) { clear(list); status.textContent = S.listEmpty; return; }
    fetch("/api/v1/features?" + params.toString())
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (fc) {
        if (mine !== listRequest) return;
        var features = (fc.features || []).filter(function (f) { return visible(f.properties.category); });
        clear(list);
        features.slice(0, LIST_LIMIT).forEach(function (f) {
          var li = el("li"), btn = el("button", null, { type: "button" });
          var sw = el("span", null, { "class": "swatch", "aria-hidden": "true" });
          sw.style.backgroundColor = colour(f.properties.category);
          btn.appendChild(sw);
          btn.appendChild(document.createTextNode(f.properties.title + " — " + categoryLabel(f.properties.category)));
          btn.addEventListener("click", function () {
            var c = f.geometry.coordinates;
            map.setView([c[1], c[0]], Math.max(map.getZoom(), 17));
            showDetail(f.properties, null);
          });
          li.appendChild(btn);
          list.appendChild(li);
        });
        var total = fc.numberMatched !== undefined ? fc.numberMatched : features.length;
        status.textContent = !features.length ? S.listEmpty
          : (features.length >= LIST_LIMIT || total > features.length) ? fmt(S.listMore, { n: features.length })
          : fmt(S.listCount, { n: features.length });
      })
      .catch(function () { if (mine === listRequest) status.textContent = S.listUnavailable; });
  }

  // ---------- permalink: view and filters in the URL hash ----------
  function writeHash() {
    var c = map.getCenter();
    var parts = ["map=" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5)];
    if (state.cats) parts.push("cat=" + state.cats.map(encodeURIComponent).join(","));
    if (state.useProfile) parts.push("profile=1");
    if (selected !== null && !$("detail-section").hidden) parts.push("f=" + encodeURIComponent(selected));
    history.replaceState(null, "", "#" + parts.join("&"));
    var sw = $("lang-switch");
    if (sw) sw.setAttribute("href", "?lang=" + sw.getAttribute("hreflang") + location.hash);
  }

  function readHash() {
    var h = new URLSearchParams(location.hash.slice(1));
    var view = (h.get("map") || "").split("/").map(Number);
    if (view.length === 3 && view.every(isFinite)) map.setView([view[1], view[2]], view[0]);
    if (h.has("cat")) {
      var wanted = h.get("cat").split(",").map(decodeURIComponent);
      document.querySelectorAll("#filters input[name=category]").forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
    $("use-profile").checked = h.get("profile") === "1";
    state.cats = selectedCategories();
    state.useProfile = $("use-profile").checked;
  }

  // ---------- locate me ----------
  var here = null, lastPosition = null;
  function locate(then) {
    if (!navigator.geolocation) { say(S.locateFailed); return; }
    say(S.locating);
    navigator.geolocation.getCurrentPosition(function (pos) {
      var ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      lastPosition = ll;
      say(S.youAreHere);
      if (here) map.removeLayer(here);
      here = L.circleMarker(ll, { radius: 9, color: "#0b57d0", fillColor: "#0b57d0", fillOpacity: 0.35 }).addTo(map);
      if (then) then(ll); else map.setView(ll, Math.max(map.getZoom(), 16));
    }, function () { say(S.locateFailed); }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }
  $("btn-locate").addEventListener("click", function () { locate(); });

  // ---------- search: our features, areas, Paris addresses ----------
  var input = $("search"), results = $("search-results"), options = [], active = -1, searchMark = null;
  function closeResults() { results.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; input.removeAttribute("aria-activedescendant"); }
  function choose(item) {
    closeResults();
    input.value = item.text;
    if (searchMark) { map.removeLayer(searchMark); searchMark = null; }
    if (item.bbox) { map.fitBounds([[item.bbox[1], item.bbox[0]], [item.bbox[3], item.bbox[2]]]); return; }
    map.setView([item.lat, item.lon], item.zoom);
    if (item.feature) showDetail(item.feature, L.latLng(item.lat, item.lon));
    else searchMark = L.circleMarker([item.lat, item.lon], { radius: 8, color: "#b3261e" }).addTo(map);
  }
  function renderResults(data) {
    clear(results); options = []; active = -1;
    function group(title, items, make) {
      if (!items.length) return;
      results.appendChild(el("li", title, { role: "presentation", "class": "group" }));
      items.forEach(function (it) {
        var item = make(it), li = el("li", item.text, { role: "option", id: "sr-" + options.length, "aria-selected": "false" });
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(item); });
        results.appendChild(li);
        options.push({ li: li, item: item });
      });
    }
    group(S.searchFeatures, data.features, function (f) {
      return { text: f.title + " — " + categoryLabel(f.category), lat: f.lat, lon: f.lon, zoom: 17, feature: f };
    });
    group(S.searchAreas, data.areas, function (a) { return { text: a.name, bbox: a.bbox }; });
    group(S.searchAddresses, data.addresses, function (a) { return { text: a.label, lat: a.lat, lon: a.lon, zoom: 18 }; });
    if (!options.length) results.appendChild(el("li", S.searchNone, { role: "presentation" }));
    results.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }
  var searchSeq = 0;
  input.addEventListener("input", debounce(function () {
    var q = input.value.trim();
    if (q.length < 2) { closeResults(); return; }
    var mine = ++searchSeq;
    fetch("/api/v1/search?q=" + encodeURIComponent(q))
      .then(function (r) { return r.ok ? r.json() : { features: [], areas: [], addresses: [] }; })
      .then(function (d) { if (mine === searchSeq) renderResults(d); })
      .catch(function () {});
  }, 200));
  input.addEventListener("keydown", function (e) {
    if (results.hidden || !options.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (active >= 0) options[active].li.setAttribute("aria-selected", "false");
      active = (active + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length;
      options[active].li.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", options[active].li.id);
    } else if (e.key === "Enter") {
      e.preventDefault();
      choose(options[Math.max(active, 0)].item);
    } else if (e.key === "Escape") { closeResults(); }
  });
  $("search-form").addEventListener("submit", function (e) { e.preventDefault(); if (options.length) choose(options[Math.max(active, 0)].item); });
  input.addEventListener("blur", function () { setTimeout(closeResults, 150); });

  // ---------- profile form ----------
  var pform = $("profile-form");
  function fillProfileForm() {
    pform.querySelectorAll("input[type=checkbox]").forEach(function (b) {
      var list = profile[b.name] || [];
      b.checked = list.indexOf(b.value) >= 0;
    });
    ["age", "from", "to", "quartier", "budget"].forEach(function (k) {
      if (profile[k] !== undefined) pform.elements[k].value = profile[k];
    });
    if (profile.budget) $("w-budget").value = profile.budget;
  }
  $("btn-profile").addEventListener("click", function () { fillProfileForm(); show("profile-section"); });
  pform.addEventListener("submit", function (e) {
    e.preventDefault();
    var p = {};
    ["interests", "access", "days"].forEach(function (k) {
      p[k] = Array.prototype.map.call(pform.querySelectorAll("input[name=" + k + "]:checked"), function (b) { return b.value; });
    });
    ["age", "from", "to", "quartier", "budget"].forEach(function (k) { p[k] = pform.elements[k].value; });
    profile = p;
    try { localStorage.setItem(PROFILE_KEY, JSON.stringify(p)); } catch (err) { /* private mode: keep in memory */ }
    $("use-profile").checked = true;
    $("w-budget").value = p.budget || 90;
    show("list-section");
    say(S.profileSaved);
    applyFilters();
  });

  // ---------- Ma balade ----------
  var walkLayer = L.layerGroup().addTo(map);
  window.Carte.walk = walkLayer;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function defaultStart() {
    var d = new Date(), days = profile.days || [];
    if (profile.from) {
      var hm = profile.from.split(":");
      for (var i = 0; i < 8; i++) {
        var c = new Date(d.getFullYear(), d.getMonth(), d.getDate() + i, +hm[0], +hm[1]);
        if ((!days.length || days.indexOf(String(c.getDay())) >= 0) && c > d) { d = c; break; }
      }
    }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  $("btn-walk").addEventListener("click", function () {
    if (profile.budget) $("w-budget").value = profile.budget;
    if (!$("w-at").value) $("w-at").value = defaultStart();
    if (profile.quartier) $("w-start").value = "home";
    show("walk-section");
  });
  function planFrom(ll) {
    var minutes = $("w-budget").value || 90;
    var at = $("w-at").value ? new Date($("w-at").value) : new Date();
    var params = new URLSearchParams({ lon: ll.lng.toFixed(6), lat: ll.lat.toFixed(6), minutes: minutes, at: at.toISOString() });
    var cats = DATA.categories.map(function (c) { return c.slug; }).filter(function (s) {
      return visible(s) && (!profile.interests || !profile.interests.length || profile.interests.indexOf(s) >= 0);
    });
    params.set("category", cats.join(","));
    fetch("/api/v1/walk?" + params.toString())
      .then(function (r) { return r.json(); })
      .then(function (w) {
        walkLayer.clearLayers();
        var list = $("walk-list"); clear(list);
        if (!w.stops || !w.stops.length) { $("walk-summary").textContent = S.walkNone; return; }
        $("walk-summary").textContent = fmt(S.walkSummary, { stops: w.stops.length, km: (w.distance_m / 1000).toFixed(1), minutes: w.minutes });
        var line = w.line.coordinates.map(function (c) { return [c[1], c[0]]; });
        L.polyline(line, { color: "#0b57d0", weight: 4, dashArray: "6 6" }).addTo(walkLayer);
        L.circleMarker(line[0], { radius: 7, color: "#1a1a1a", fillColor: "#fff", fillOpacity: 1 }).addTo(walkLayer);
        w.stops.forEach(function (s) {
          L.circleMarker([s.lat, s.lon], { radius: 9, color: "#0b57d0", fillColor: colour(s.category), fillOpacity: 1 }).addTo(walkLayer);
          var li = el("li");
          li.appendChild(el("strong", s.title));
          li.appendChild(el("span", " — " + categoryLabel(s.category)));
          li.appendChild(el("div", fmt(S.walkLeg, { m: s.leg_m, min: s.arrive_min }), { "class": "hint" }));
          list.appendChild(li);
        });
        map.fitBounds(L.latLngBounds(line).pad(0.15));
      })
      .catch(function () { $("walk-summary").textContent = S.walkNone; });
  }
  $("walk-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var start = $("w-start").value;
    if (start === "position") { if (lastPosition) planFrom(lastPosition); else locate(planFrom); return; }
    if (start === "home" && profile.quartier) {
      var q = DATA.quartiers.filter(function (x) { return x.code === profile.quartier; })[0];
      if (q) { planFrom(L.latLng(q.lat, q.lon)); return; }
    }
    planFrom(map.getCenter());
  });
  $("walk-print").addEventListener("click", function () { window.print(); });

  // ---------- drop a pin ----------
  var pinMode = false, pin = null, pinLatLng = null;
  var pform2 = $("pin-form");
  function placePin(ll) {
    pinLatLng = ll;
    if (pin) pin.setLatLng(ll);
    else pin = L.circleMarker(ll, { radius: 10, color: "#b3261e", weight: 3, fillOpacity: 0.2 }).addTo(map);
    $("pin-where").textContent = S.pinPlaced + " (" + ll.lat.toFixed(5) + ", " + ll.lng.toFixed(5) + ")";
    $("err-location").textContent = "";
  }
  // The vector tiles' canvases take pointer events and keep clicks that hit no feature
  // from Leaflet's map "click", so pin placing listens on the container itself.
  var downAt = null;
  map.getContainer().addEventListener("pointerdown", function (e) { downAt = [e.clientX, e.clientY]; });
  map.getContainer().addEventListener("click", function (e) {
    if (!pinMode || e.target.closest(".leaflet-control")) return;
    if (downAt && Math.abs(downAt[0] - e.clientX) + Math.abs(downAt[1] - e.clientY) > 6) return;  // a drag
    placePin(map.mouseEventToLatLng(e));
  });
  $("btn-pin").addEventListener("click", function () {
    show("pin-section");
    pinMode = true;
    pform2.hidden = false; $("pin-here").hidden = $("pin-centre").hidden = false;
    $("pin-done").hidden = true;
    if (!pinLatLng) $("pin-where").textContent = S.pinClick;
    renderFields();
  });
  $("pin-here").addEventListener("click", function () { locate(function (ll) { placePin(ll); map.setView(ll, 17); }); });
  // Without a pointer: move the map with the arrow keys, then drop the pin at its centre.
  $("pin-centre").addEventListener("click", function () { placePin(map.getCenter()); });

  function fieldInput(f) {
    var id = "attr-" + f.name, wrap = el("div"), input;
    var lab = el("label", label(f) + (f.required ? " *" : ""), { "for": id });
    wrap.appendChild(lab);
    if (f.type === "boolean") {
      input = el("input", null, { type: "checkbox", id: id });
      lab.textContent = "";
      lab.className = "check";
      lab.appendChild(input);
      lab.appendChild(document.createTextNode(" " + label(f)));
    } else if (f.type === "enum") {
      input = el("select", null, { id: id });
      input.appendChild(el("option", S.choose, { value: "" }));
      (f.choices || []).forEach(function (c) { input.appendChild(el("option", c, { value: c })); });
    } else if (f.type === "text" && (f.max_length || 0) > 200) {
      input = el("textarea", null, { id: id, rows: "2", maxlength: String(f.max_length) });
    } else {
      var type = { integer: "number", number: "number", url: "url" }[f.type] || "text";
      input = el("input", null, { id: id, type: type });
      if (f.type === "integer") input.setAttribute("step", "1");
      if (f.type === "number") input.setAttribute("step", "any");
      if (f.min !== undefined) input.setAttribute("min", f.min);
      if (f.max !== undefined) input.setAttribute("max", f.max);
      if (f.max_length) input.setAttribute("maxlength", f.max_length);
      if (f.type === "tags") input.setAttribute("placeholder", S.tagsHint);
    }
    input.setAttribute("data-field", f.name);
    input.setAttribute("data-type", f.type);
    input.setAttribute("aria-describedby", "err-" + id);
    if (f.required && f.type !== "boolean") input.required = true;
    if (f.type !== "boolean") wrap.appendChild(input);
    wrap.appendChild(el("p", null, { "class": "error", id: "err-" + id }));
    return wrap;
  }
  function renderFields() {
    var c = CATS[$("f-category").value], box = $("f-fields");
    clear(box);
    if (!c) return;
    $("f-dates").hidden = c.kind !== "event";
    (c.fields || []).forEach(function (f) { box.appendChild(fieldInput(f)); });
  }
  $("f-category").addEventListener("change", renderFields);

  function attributes() {
    var out = {};
    $("f-fields").querySelectorAll("[data-field]").forEach(function (i) {
      var t = i.getAttribute("data-type"), v;
      if (t === "boolean") { if (i.checked) out[i.getAttribute("data-field")] = true; return; }
      v = i.value.trim();
      if (v === "") return;
      if (t === "integer" || t === "number") v = Number(v);
      if (t === "tags") v = v.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      out[i.getAttribute("data-field")] = v;
    });
    return out;
  }
  function showErrors(errors) {
    pform2.querySelectorAll(".error").forEach(function (p) { p.textContent = ""; });
    var first = null;
    errors.forEach(function (e) {
      var field = String(e.field || e.name || e.pointer || "").replace(/^\//, "").replace(/^attributes[./]/, "attr-");
      var target = $("err-" + field) || $("err-location");
      target.textContent = (target.textContent ? target.textContent + " " : "") + (e.message || e.detail || "");
      if (!first) first = target;
    });
    if (first) {
      var input = document.querySelector("[aria-describedby~='" + first.id + "']");
      (input || first).focus && (input || first).focus();
    }
  }
  function localIso(v) { return v ? new Date(v).toISOString() : undefined; }

  pform2.addEventListener("submit", function (e) {
    e.preventDefault();
    var errors = [];
    if (!pinLatLng) errors.push({ field: "location", message: S.pinNeedPoint });
    if (!$("f-title").value.trim()) errors.push({ field: "title", message: $("f-title").validationMessage || "—" });
    if (!$("f-charter").checked) errors.push({ field: "charter", message: $("f-charter").validationMessage || "—" });
    if (errors.length) { say(S.pinError); showErrors(errors); return; }
    var body = {
      lon: +pinLatLng.lng.toFixed(6), lat: +pinLatLng.lat.toFixed(6),
      title: $("f-title").value.trim(), description: $("f-description").value.trim(),
      category: $("f-category").value, attributes: attributes()
    };
    if (!$("f-dates").hidden) { body.starts_at = localIso($("f-starts").value); body.ends_at = localIso($("f-ends").value); }
    if ($("f-email").value.trim()) body.email = $("f-email").value.trim();
    say(S.pinSending);
    fetch("/api/v1/submissions", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { say(S.pinError); showErrors(res.body.errors || [{ field: "location", message: res.body.detail || res.body.title }]); return; }
        var url = new URL(res.body.tracking_url, location.href);
        if (url.origin !== location.origin) return;  // only ever link to our own site
        pform2.hidden = true; $("pin-here").hidden = $("pin-centre").hidden = true;
        $("pin-done").hidden = false; pinMode = false;
        $("pin-thanks").textContent = S.pinThanks;
        $("pin-tracking").textContent = S.pinTrack;
        $("pin-tracking").setAttribute("href", url.pathname + url.search);
        $("pin-keep").textContent = S.pinKeep + " " + url.href;
        say(S.pinThanks);
        $("pin-tracking").focus();
        pform2.reset();
      })
      .catch(function () { say(S.pinFailed); });
  });

  // ---------- start ----------
  readHash();
  map.on("moveend", debounce(function () { writeHash(); refreshList(); }, 250));
  refreshList();
  writeHash();
  var wantedFeature = new URLSearchParams(location.hash.slice(1)).get("f");
  if (wantedFeature) showDetail({ id: wantedFeature, title: "" }, map.getCenter());
  if (state.cats || state.useProfile) CarteLayers.setFilter(mapFilter());
})();
