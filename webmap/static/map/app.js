/* Carte citoyenne: the residents' map page.
 *
 * Runs after Leaflet, protomaps-leaflet, layers.js (window.CarteLayers: basemap, points
 * and clusters) and the folium-built map script. This file is the resident's side: the
 * panel (a bottom sheet on a phone), the list kept in step with the map, the filters
 * and the permalink, a place's panel, search, profile, walk and the pin form.
 *
 * Every piece of text that comes from data (titles, descriptions, category labels,
 * search results) reaches the page through textContent or attribute setters, never as
 * markup.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("carte-data").textContent);
  var S = DATA.strings;
  var LANG = DATA.lang;
  var TZ = DATA.timezone || "UTC";  // the server always sends the city's zone
  var map = window[DATA.map];
  CarteLayers.init(map, { lang: DATA.lang, categories: DATA.categories, strings: S });
  /*
   * window.Carte: the seam for the page's extension scripts (map/photos.js,
   * map/exchange.js, map/missions.js, map/services.js), loaded after this file.
   *   Carte.lang, Carte.timezone, Carte.categories (slug -> category), Carte.el(tag,
   *   text, attrs), Carte.clear(node), Carte.say(message);
   *   Carte.addDetailSection(name, render): render(props, box) fills `box`, a <div
   *   data-section=name> of its own inside #detail-extensions, each time a place's panel
   *   shows (props: the public feature properties, with id); the box is emptied when
   *   the panel closes or shows another place. Errors in one section do not stop others.
   *   Carte.openPlace(f, opts) opens a place's panel.
   *   Carte.listDecorators (photos): functions (props, button) called for each list item.
   *   Carte.walkStopDecorators (services): functions (stop, li) called for each walk stop;
   *   a checkbox #w-open in the walk form (added by services.js) sends open=1.
   *   Carte.beforeSubmit (photos): functions (body, form) called before a pin is sent; each
   *   returns a Promise of null (go on; it may add to body, e.g. photo_ids) or a message
   *   that stops the sending (shown at the top of the form, nothing is lost).
   */
  window.Carte = { lang: LANG, timezone: TZ, listDecorators: [], beforeSubmit: [] };
  var detailSections = [];
  var CATS = {};
  DATA.categories.forEach(function (c) { CATS[c.slug] = c; });
  var ACCESS = {};
  (DATA.access || []).forEach(function (a) { ACCESS[a.slug] = a; });
  var AUDIENCES = {};
  (DATA.audiences || []).forEach(function (a) { AUDIENCES[a.slug] = a.label; });
  var WEEK = DATA.weekdays || [];
  var PROFILE_KEY = "carte.profile";
  var LIST_LIMIT = 100;
  var NUMBER = new Intl.NumberFormat(LANG);

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
  var sayTimer = null;
  /** A short message over the map (a polite live region), gone after a while. */
  function say(message) {
    $("status").textContent = message || "";
    clearTimeout(sayTimer);
    if (message) sayTimer = setTimeout(function () { $("status").textContent = ""; }, 6000);
  }
  function debounce(fn, ms) {
    var t = null;
    return function () { var args = arguments; clearTimeout(t); t = setTimeout(function () { fn.apply(null, args); }, ms); };
  }
  function label(obj) { return LANG === "en" ? (obj.label_en || obj.label_fr) : (obj.label_fr || obj.label_en); }
  function categoryLabel(slug) { return CATS[slug] ? CATS[slug].label : slug; }
  function colour(slug) { return CATS[slug] ? CATS[slug].colour : "#555555"; }
  function swatch(slug) {
    var sw = el("span", null, { "class": "swatch", "aria-hidden": "true" });
    sw.style.backgroundColor = colour(slug);
    return sw;
  }
  function distanceText(metres) {
    if (metres < 1000) return fmt(S.metres, { n: NUMBER.format(Math.max(10, Math.round(metres / 10) * 10)) });
    return fmt(S.kilometres, { n: new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 }).format(metres / 1000) });
  }
  function isPhone() { return !window.matchMedia("(min-width: 800px)").matches; }

  document.querySelectorAll(".swatch[data-colour]").forEach(function (s) {
    s.style.backgroundColor = s.getAttribute("data-colour");
  });

  // ---------- time in the city's time zone (DATA.timezone, from the server) ----------
  var PARTS = new Intl.DateTimeFormat("en-US", {
    timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short"
  });
  var WEEKDAY_INDEX = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
  function cityParts(date) {
    var out = {};
    PARTS.formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  /** The calendar day it is now in the city: {y, m, d, wd} (wd 0 = Sunday). */
  function cityToday() {
    var p = cityParts(new Date());
    return { y: +p.year, m: +p.month, d: +p.day, wd: WEEKDAY_INDEX[p.weekday] };
  }
  function addDays(day, n) {
    var t = new Date(Date.UTC(day.y, day.m - 1, day.d + n));
    return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), wd: t.getUTCDay() };
  }
  function parseDay(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    if (!m) return null;
    return addDays({ y: +m[1], m: +m[2], d: +m[3] }, 0);
  }
  function dayString(day) {
    return day.y + "-" + (day.m < 10 ? "0" : "") + day.m + "-" + (day.d < 10 ? "0" : "") + day.d;
  }
  function rfc3339(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); }
  /**
   * `from`/`to` covering the days first..last. The server reads bare dates in the city's
   * time zone (TEAM.md); a window that starts today starts now (to the quarter hour, so
   * that tiles of the same query are shared), or events over this morning would return.
   */
  function dayWindow(first, last) {
    var from = dayString(first);
    if (from === dayString(cityToday())) from = rfc3339(Math.floor(Date.now() / 900000) * 900000);
    return { from: from, to: dayString(last) };
  }
  /** The `from`/`to` of the date filter, or null for "all dates". */
  function dateWindow() {
    var today = cityToday();
    switch (state.when) {
      case "today": return dayWindow(today, today);
      case "week": return dayWindow(today, addDays(today, 6));
      case "weekend":
        if (today.wd === 0) return dayWindow(today, today);  // Sunday: what is left of it
        return dayWindow(today.wd === 6 ? today : addDays(today, 6 - today.wd), addDays(today, 7 - today.wd));
      case "range":
        var a = parseDay(state.range[0]), b = parseDay(state.range[1]);
        if (!a && !b) return null;
        if (a && b && dayString(b) < dayString(a)) return null;
        var w = dayWindow(a || today, b || today);
        return { from: a ? w.from : undefined, to: b ? w.to : undefined };
      default: return null;
    }
  }
  var DATE_TIME = new Intl.DateTimeFormat(LANG, { timeZone: TZ, weekday: "long", day: "numeric",
                                                 month: "long", year: "numeric", hour: "2-digit", minute: "2-digit" });
  var DATE_SHORT = new Intl.DateTimeFormat(LANG, { timeZone: TZ, weekday: "short", day: "numeric",
                                                  month: "short", hour: "2-digit", minute: "2-digit" });
  var TIME_ONLY = new Intl.DateTimeFormat(LANG, { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  function cityDay(date) { var p = cityParts(date); return p.year + p.month + p.day; }
  /** An event's dates in the city's time zone; `short` for the list. */
  function whenText(startsAt, endsAt, short) {
    var f = short ? DATE_SHORT : DATE_TIME;
    var a = new Date(startsAt), b = endsAt ? new Date(endsAt) : null;
    if (!b || b.getTime() === a.getTime()) return f.format(a);
    if (cityDay(a) === cityDay(b)) return f.format(a) + " – " + TIME_ONLY.format(b);
    if (f.formatRange) return f.formatRange(a, b);
    return f.format(a) + " – " + f.format(b);
  }

  // ---------- profile (kept in localStorage only) ----------
  var LEGACY_DAYS = { "1": "mon", "2": "tue", "3": "wed", "4": "thu", "5": "fri", "6": "sat", "0": "sun" };
  function loadProfile() {
    var p;
    try { p = JSON.parse(localStorage.getItem(PROFILE_KEY)) || {}; } catch (e) { p = {}; }
    // Profiles saved before the days filter stored JavaScript's day numbers.
    if (Array.isArray(p.days)) p.days = p.days.map(function (d) { return LEGACY_DAYS[d] || d; });
    return p;
  }
  var profile = loadProfile();

  // ---------- the panel: a bottom sheet on a phone (collapsed, half, full) ----------
  var SHEET_STATES = ["collapsed", "half", "full"];
  var sheet = "collapsed";
  var panel = $("panel"), handle = $("sheet-handle"), panelBody = $("panel-body");
  function setSheet(next) {
    sheet = next;
    SHEET_STATES.forEach(function (s) { document.body.classList.toggle("sheet-" + s, s === next); });
    handle.setAttribute("aria-expanded", String(next !== "collapsed"));
    $("sheet-action").textContent = next === "collapsed" ? S.sheetExpand : S.sheetReduce;
    $("sheet-size").hidden = next === "collapsed";
    $("sheet-size").textContent = next === "full" ? S.sheetSmaller : S.sheetBigger;
    // What the collapsed sheet hides is out of the keyboard's and screen readers' way
    // (and the focus, if it was in there, stays on the handle rather than nowhere).
    if (isPhone() && next === "collapsed" && panelBody.contains(document.activeElement)) handle.focus();
    panelBody.inert = isPhone() && next === "collapsed";
  }
  /** Pixels of the map's bottom the sheet covers beyond its collapsed height. */
  function sheetCover() {
    // The state's height (52dvh in map.css), not offsetHeight: the sheet may be sliding.
    return isPhone() && sheet === "half" ? Math.max(0, window.innerHeight * 0.52 - 64) : 0;
  }
  function openSheet() { if (isPhone() && sheet === "collapsed") setSheet("half"); }
  handle.addEventListener("click", function () {
    if (dragged) { dragged = false; return; }
    setSheet(sheet === "collapsed" ? "half" : "collapsed");
  });
  handle.addEventListener("keydown", function (e) {
    var i = SHEET_STATES.indexOf(sheet);
    if (e.key === "ArrowUp" && i < 2) { e.preventDefault(); setSheet(SHEET_STATES[i + 1]); }
    if (e.key === "ArrowDown" && i > 0) { e.preventDefault(); setSheet(SHEET_STATES[i - 1]); }
  });
  $("sheet-size").addEventListener("click", function () { setSheet(sheet === "full" ? "half" : "full"); });
  // Dragging the handle: the sheet follows the finger, then settles on the nearest state.
  var drag = null, dragged = false;
  function fullHeight() { return window.innerHeight - $("menu").parentNode.offsetHeight - 40; }
  handle.addEventListener("pointerdown", function (e) {
    if (!isPhone()) return;
    drag = { y: e.clientY, h: panel.offsetHeight, id: e.pointerId };
    handle.setPointerCapture(e.pointerId);  // the finger leaves the handle as it drags
  });
  handle.addEventListener("pointermove", function (e) {
    if (!drag || e.pointerId !== drag.id) return;
    var dy = e.clientY - drag.y;
    if (!dragged && Math.abs(dy) < 8) return;
    if (!dragged) { dragged = true; document.body.classList.add("sheet-dragging"); }
    panel.style.height = Math.max(64, Math.min(fullHeight(), drag.h - dy)) + "px";
  });
  function endDrag(e) {
    if (!drag || e.pointerId !== drag.id) return;
    drag = null;
    if (!dragged) return;
    document.body.classList.remove("sheet-dragging");
    var visible = panel.offsetHeight;
    panel.style.height = "";
    var best = [["collapsed", 64], ["half", window.innerHeight * 0.52], ["full", fullHeight()]].sort(function (a, b) {
      return Math.abs(a[1] - visible) - Math.abs(b[1] - visible);
    })[0][0];
    setSheet(best);
    setTimeout(function () { dragged = false; }, 0);
  }
  handle.addEventListener("pointerup", endDrag);
  handle.addEventListener("pointercancel", endDrag);
  window.matchMedia("(min-width: 800px)").addEventListener("change", function () { setSheet(sheet); });

  // ---------- the menu of the top bar (a phone shows only search and this button) ----------
  var menuButton = $("btn-menu");
  function setMenu(open) {
    document.body.classList.toggle("menu-open", open);
    menuButton.setAttribute("aria-expanded", String(open));
  }
  menuButton.addEventListener("click", function () {
    var open = !document.body.classList.contains("menu-open");
    setMenu(open);
    if (open) { var first = $("menu").querySelector("button, a"); if (first) first.focus(); }
  });
  $("menu").addEventListener("click", function (e) { if (e.target.closest("button, a")) setMenu(false); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && document.body.classList.contains("menu-open")) { setMenu(false); menuButton.focus(); }
  });
  document.addEventListener("click", function (e) {
    if (document.body.classList.contains("menu-open") && !e.target.closest("#menu, #btn-menu")) setMenu(false);
  });

  // ---------- filters: categories (client side) and the query of the others ----------
  var state = { cats: null, useProfile: false, when: "", range: ["", ""] };  // cats: null = all

  function selectedCategories() {
    var boxes = document.querySelectorAll("#filters input[name=category]");
    var on = [];
    boxes.forEach(function (b) { if (b.checked) on.push(b.value); });
    return on.length === boxes.length ? null : on;
  }
  /** Categories shown on map and list: the ticks, narrowed by the profile's interests. */
  function shownCategories() {
    var all = DATA.categories.map(function (c) { return c.slug; });
    var cats = state.cats || all;
    if (state.useProfile && profile.interests && profile.interests.length) {
      cats = cats.filter(function (s) { return profile.interests.indexOf(s) >= 0; });
    }
    return cats.length === all.length ? null : cats;
  }
  /** The profile's filters, as the API names them (TEAM.md): also those of the walk. */
  function profileQuery(q) {
    if (profile.age) q.set("audience", profile.age);
    if (profile.access && profile.access.length) {
      q.set("accessible", profile.access.join(","));
      q.set("accessible_match", profile.access_match === "not_unsuitable" ? "not_unsuitable" : "known");
    }
    if (profile.days && profile.days.length) q.set("days", profile.days.join(","));
    if (profile.from && profile.to && profile.from < profile.to) q.set("hours", profile.from + "-" + profile.to);
    return q;
  }
  /** Every filter but the categories, as a query string shared by tiles and list. */
  function filterQuery() {
    var q = new URLSearchParams();
    var w = dateWindow();
    if (w && w.from) q.set("from", w.from);
    if (w && w.to) q.set("to", w.to);
    if (state.useProfile) profileQuery(q);
    return q;
  }
  function readFilterForm() {
    state.cats = selectedCategories();
    state.useProfile = $("use-profile").checked;
    state.when = $("date-filter").value;
    state.range = [$("date-from").value, $("date-to").value];
    $("date-range").hidden = state.when !== "range";
    var bad = state.when === "range" && state.range[0] && state.range[1] && state.range[1] < state.range[0];
    $("date-error").textContent = bad ? S.dateInvalid : "";
    if (bad) $("date-to").setAttribute("aria-invalid", "true"); else $("date-to").removeAttribute("aria-invalid");
    var active = (state.cats ? 1 : 0) + (state.when && dateWindow() ? 1 : 0);
    $("filters-count").textContent = active ? fmt(S.filtersActive, { n: active }) : "";
  }
  function pushMapFilter() {
    CarteLayers.setFilter({ categories: shownCategories(), query: filterQuery().toString() });
  }
  function applyFilters() {
    readFilterForm();
    pushMapFilter();
    refreshList();
    writeHash();
  }
  function profileIsEmpty() {
    return !["interests", "access", "days"].some(function (k) { return profile[k] && profile[k].length; }) &&
      !profile.age && !(profile.from && profile.to);
  }
  $("filters").addEventListener("change", function (e) {
    applyFilters();
    // "Only what suits my profile" with no profile yet: the form to make one.
    if (e.target.id === "use-profile" && e.target.checked && profileIsEmpty()) {
      fillProfileForm();
      show("profile-section");
    }
  });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  $("filters-reset").addEventListener("click", function () {
    document.querySelectorAll("#filters input[name=category]").forEach(function (b) { b.checked = true; });
    $("date-filter").value = "";
    $("date-from").value = $("date-to").value = "";
    applyFilters();
  });

  // ---------- views of the panel ----------
  var VIEWS = ["list-section", "detail-section", "chooser-section", "profile-section", "walk-section", "pin-section"];
  var currentView = "list-section";
  function show(view, focus) {
    VIEWS.forEach(function (id) { $(id).hidden = id !== view; });
    currentView = view;
    if (view !== "pin-section") setPinMode(false);
    if (view !== "detail-section") { selected = null; CarteLayers.highlight(null); }
    openSheet();
    updateSummary();
    if (focus !== false) {
      var heading = $(view).querySelector("h2");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
    }
  }
  /** Back to the list, the focus on the item the place was opened from (if still listed). */
  function backToList() {
    var from = returnTo;
    returnTo = null;
    show("list-section", false);
    writeHash();
    var target = null;
    if (from && from.kind === "chooser" && chooserItems.length) {
      show("chooser-section", false);
      target = $("chooser").querySelector("button[data-id='" + from.id + "']");
    } else if (from && from.kind === "list") {
      target = $("list").querySelector("button[data-id='" + from.id + "']");
    } else if (from && from.kind === "pin") {  // back to the form being filled, as it was
      startPin();
      target = $("pin-dupes-list").querySelector("button") || $("f-title");
    }
    if (!target) { target = $(currentView).querySelector("h2"); target.setAttribute("tabindex", "-1"); }
    target.focus();
  }
  document.querySelectorAll("[data-close]").forEach(function (b) {
    b.addEventListener("click", function () {
      // The place's own history entry is left as "back" would (followHash closes it).
      if (pushed && currentView === "detail-section") { pushed = false; history.back(); return; }
      backToList();
    });
  });
  var listSummary = "";
  function updateSummary() {
    var text = listSummary;
    if (currentView !== "list-section") text = $(currentView).querySelector("h2").textContent || listSummary;
    $("sheet-summary").textContent = text;
  }
  $("skip-link").addEventListener("click", function (e) {
    e.preventDefault();
    if (currentView === "list-section") { openSheet(); var h = $("list-title"); h.setAttribute("tabindex", "-1"); h.focus(); }
    else show("list-section");
  });

  // ---------- a place's panel ----------
  var selected = null;        // id of the place shown
  var selectedAt = null;      // its L.LatLng
  var returnTo = null;        // {kind: "list"|"chooser", id}: where "back" puts the focus
  var flagged = {};           // ids reported from this page: the form is not offered twice
  var detailRequest = 0;

  function choiceLabel(field, value) {
    var labels = field.choice_labels && field.choice_labels[value];
    if (labels && typeof labels === "object") return labels[LANG] || labels.fr || labels.en || String(value);
    return String(value);
  }
  function safeUrl(value) {
    try {
      var u = new URL(String(value));
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) { return null; }
  }
  function isSlots(v) {
    return Array.isArray(v) && v.length > 0 && v.every(function (s) { return s && typeof s === "object" && s.day; });
  }
  /** A week, Monday first, from slots [{day, from, to}]; days without a slot say closed. */
  function weekList(slots) {
    var ul = el("ul", null, { "class": "week" });
    var todaySlug = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][cityToday().wd];
    WEEK.forEach(function (d) {
      var mine = slots.filter(function (s) { return s.day === d.slug; })
        .sort(function (a, b) { return String(a.from).localeCompare(String(b.from)); })
        .map(function (s) { return fmt(S.hoursRange, { from: s.from, to: s.to }); });
      var li = el("li", null, d.slug === todaySlug ? { "class": "today" } : {});
      li.appendChild(el("span", d.label, { "class": "day" }));
      li.appendChild(el("span", mine.length ? mine.join(", ") : S.closed));
      ul.appendChild(li);
    });
    return ul;
  }
  /** "Open now, until 18:00" or "Closed now", by the city's clock. */
  function openNow(slots) {
    var p = cityParts(new Date());
    var day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][WEEKDAY_INDEX[p.weekday]];
    var now = p.hour + ":" + p.minute;
    var open = slots.filter(function (s) { return s.day === day && s.from <= now && now < s.to; })[0];
    return open ? fmt(S.openNow, { to: open.to }) : S.closedNow;
  }
  function fieldValue(f, v) {
    if (f.type === "boolean" || typeof v === "boolean") return v ? S.yes : S.no;
    if (f.type === "enum" || f.type === "tags") return Array.isArray(v) ? v.map(function (x) { return choiceLabel(f, x); }).join(", ") : choiceLabel(f, v);  // tags: labels too (services' sources)
    if (f.type === "url") {
      var href = safeUrl(v);
      if (!href) return String(v);
      return el("a", String(v), { href: href, rel: "noopener noreferrer nofollow", target: "_blank" });
    }
    if ((f.type === "number" || f.type === "integer") && typeof v === "number") return NUMBER.format(v);
    if (Array.isArray(v)) return v.map(String).join(", ");
    if (typeof v === "object") return null;  // never a raw JSON dump
    return String(v);
  }
  function renderAccess(attrs) {
    var box = $("detail-access");
    clear(box);
    var has = Array.isArray(attrs.accessibility) ? attrs.accessibility : [];
    var lacks = Array.isArray(attrs.accessibility_lacks) ? attrs.accessibility_lacks : [];
    if (!has.length && !lacks.length) { box.appendChild(el("p", S.accessUnknown)); return; }
    box.appendChild(el("h3", S.accessibility));
    var ul = el("ul");
    has.forEach(function (slug) { if (ACCESS[slug]) ul.appendChild(el("li", ACCESS[slug].label)); });
    lacks.forEach(function (slug) { if (ACCESS[slug]) ul.appendChild(el("li", ACCESS[slug].lacks)); });
    box.appendChild(ul);
  }
  function renderHours(attrs, fields) {
    var box = $("detail-hours");
    clear(box);
    if (isSlots(attrs.hours)) {
      box.appendChild(el("h3", S.openingHours));
      box.appendChild(el("p", openNow(attrs.hours), { "class": "open-now" }));
      box.appendChild(weekList(attrs.hours));
    }
    fields.forEach(function (f) {
      if (f.type === "availability" && f.name !== "hours" && isSlots(attrs[f.name])) {
        box.appendChild(el("h3", label(f) || S.availability));
        box.appendChild(weekList(attrs[f.name]));
      }
    });
  }
  /** Fill the place's panel from its public properties (API or OGC item). */
  function renderDetail(p) {
    $("detail-title").textContent = p.title || "";
    var cat = $("detail-category");
    clear(cat);
    cat.appendChild(swatch(p.category));
    // The city's area name properties, deepest level first (DATA.areaNames; Paris:
    // quartier_name, arrondissement_name).
    var where = (DATA.areaNames || []).map(function (k) { return p[k]; }).filter(Boolean).join(", ");
    cat.appendChild(document.createTextNode(categoryLabel(p.category) + (where ? " · " + where : "")));
    var message = $("detail-message");
    var over = p.starts_at && new Date(p.ends_at || p.starts_at) < new Date();
    message.hidden = !over;
    message.textContent = over ? S.eventOver : "";
    var when = $("detail-when");
    clear(when);
    if (p.starts_at) { when.appendChild(el("dt", S.when)); when.appendChild(el("dd", whenText(p.starts_at, p.ends_at))); }
    $("detail-description").textContent = p.description || "";
    var dl = $("detail-attributes");
    clear(dl);
    var attrs = p.attributes || {};
    var fields = CATS[p.category] ? (CATS[p.category].fields || []) : [];
    fields.forEach(function (f) {
      var v = attrs[f.name];
      if (v === undefined || v === null || v === "" || f.type === "availability") return;
      if (f.name === "hours" && isSlots(v)) return;  // structured opening hours: the week below
      var shown = fieldValue(f, v);
      if (shown === null) return;
      dl.appendChild(el("dt", label(f)));
      var dd = el("dd");
      if (typeof shown === "string") dd.textContent = shown; else dd.appendChild(shown);
      dl.appendChild(dd);
    });
    if (Array.isArray(attrs.audiences) && attrs.audiences.length) {
      dl.appendChild(el("dt", S.audiences));
      dl.appendChild(el("dd", attrs.audiences.map(function (a) { return AUDIENCES[a] || a; }).join(", ")));
    }
    renderAccess(attrs);
    renderHours(attrs, fields);
    var credit = p.attribution;  // the source is a code (resident, opendata:...); its credit is text
    $("detail-source").textContent = credit ? fmt(S.source, { source: credit }) : "";
    var ics = $("detail-ics");
    var isEvent = (CATS[p.category] && CATS[p.category].kind === "event") || !!p.starts_at;
    ics.hidden = !isEvent || !p.id;
    if (isEvent && p.id) ics.setAttribute("href", "/api/v1/features/" + encodeURIComponent(p.id) + ".ics");
    setDetailActions(true);
    currentPlace = p;  // what "suggest a change" starts from
    if (!correcting) $("correct-actions").hidden = !p.id;
    if (pendingCorrect && pendingCorrect === String(p.id)) { pendingCorrect = null; openCorrection("change"); }
    renderSections(p);
  }
  function renderSections(p) {
    var host = $("detail-extensions");
    clear(host);
    detailSections.forEach(function (s) {
      var box = el("div", null, { "data-section": s.name });
      host.appendChild(box);
      try { s.render(p, box); } catch (e) { if (window.console) console.error(s.name, e); }
    });
  }
  function setDetailActions(on) {
    $("copy-link").hidden = !on;
    $("flag-box").hidden = !on;
    if (!on) $("detail-ics").hidden = true;
  }
  function resetDetail() {
    currentPlace = null;
    correcting = null;
    $("correct-actions").hidden = true;
    $("correct-form").hidden = true;
    $("correct-done").hidden = true;
    ["detail-category", "detail-when", "detail-attributes", "detail-access", "detail-hours"].forEach(function (id) { clear($(id)); });
    ["detail-description", "detail-source", "copy-status"].forEach(function (id) { $(id).textContent = ""; });
    $("detail-message").hidden = true;
    clear($("detail-extensions"));
    $("copy-fallback").hidden = true;
    setDetailActions(false);
  }
  function resetFlag(id) {
    var done = !!flagged[id];
    $("flag-form").hidden = done;
    $("flag-done").hidden = !done;
    $("flag-done").textContent = done ? (flagged[id] === "again" && VF.flag_already ? VF.flag_already : S.flagThanks) : "";
    $("flag-status").textContent = "";
    $("flag-box").open = done;
  }

  /**
   * Open a place's panel. `f` carries at least {id}; with {title, category} the panel
   * shows them at once, with full properties (from the list) it needs no request;
   * otherwise the place is read from the OGC API by id.
   * opts: {centre: move the map onto it, from: {kind, id} for the way back}.
   */
  function openPlace(f, opts) {
    opts = opts || {};
    var id = String(f.id);
    var mine = ++detailRequest;
    pendingCorrect = opts.correct ? id : null;
    var changed = selected !== id;
    resetDetail();
    $("detail-title").textContent = f.title || S.placeLoading;
    if (f.category) { $("detail-category").appendChild(swatch(f.category)); $("detail-category").appendChild(document.createTextNode(categoryLabel(f.category))); }
    returnTo = opts.from || null;
    show("detail-section");
    selected = id;
    if (changed) { $("flag-reason").value = ""; }
    resetFlag(id);
    var at = (f.lat !== undefined && f.lon !== undefined) ? L.latLng(f.lat, f.lon) : null;
    writeHash(!opts.fromHash);
    if (at) place(id, at, opts.centre);
    if (f.description !== undefined && f.attributes !== undefined) { renderDetail(f); return; }
    if (!/^\d{1,18}$/.test(id)) { notFound(); return; }
    fetch("/ogc/collections/features/items/" + encodeURIComponent(id) + "?f=json", { headers: { Accept: "application/geo+json" } })
      .then(function (r) {
        if (r.status === 404) return null;
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (doc) {
        if (mine !== detailRequest) return;
        if (!doc) { notFound(); return; }
        var props = doc.properties || {};
        props.id = props.id !== undefined ? props.id : doc.id;
        renderDetail(props);
        updateSummary();
        var c = doc.geometry && doc.geometry.coordinates;
        if (c && !at) place(id, L.latLng(c[1], c[0]), opts.centre);
      })
      .catch(function () {
        if (mine !== detailRequest) return;
        $("detail-message").hidden = false;
        $("detail-message").textContent = S.placeFailed;
      });
  }
  function place(id, latlng, centre) {
    selectedAt = latlng;
    CarteLayers.highlight(id, latlng);
    if (centre) { map.setView(latlng, Math.max(map.getZoom(), 17)); return; }
    // Keep the place in sight above a half-open sheet.
    map.panInside(latlng, { paddingTopLeft: [20, 20], paddingBottomRight: [20, sheetCover() + 20] });
    writeHash();
  }
  function notFound() {
    $("detail-title").textContent = S.placeNotFound;
    clear($("detail-category"));
    selectedAt = null;
    CarteLayers.highlight(null);
    setDetailActions(false);
    updateSummary();
  }

  // ---------- several places at one spot: a chooser ----------
  var chooserItems = [];
  function showChooser(features) {
    chooserItems = features;
    $("chooser-title").textContent = fmt(S.chooserTitle, { n: features.length });
    $("chooser-hint").textContent = S.chooserHint;
    var ul = $("chooser");
    clear(ul);
    features.forEach(function (f) {
      var li = el("li"), btn = el("button", null, { type: "button", "data-id": String(f.id) });
      btn.appendChild(swatch(f.category));
      var t = el("span", null, { "class": "title" });
      t.appendChild(document.createTextNode(f.title || ""));
      t.appendChild(el("span", categoryLabel(f.category), { "class": "meta" }));
      btn.appendChild(t);
      btn.addEventListener("click", function () { openPlace(f, { from: { kind: "chooser", id: String(f.id) } }); });
      li.appendChild(btn);
      ul.appendChild(li);
    });
    returnTo = null;
    show("chooser-section");
  }

  CarteLayers.on("error", function () { say(S.mapFailed); });
  CarteLayers.on("select", function (e) {
    if (pinMode) return;  // the container's click handler places the pin
    var fs = e.features || [];
    if (fs.length === 1) openPlace(fs[0]);
    else if (fs.length > 1) showChooser(fs);
  });

  // ---------- copy the place's link ----------
  function placeLink() {
    var at = selectedAt || map.getCenter();
    return location.origin + "/#map=" + Math.max(map.getZoom(), 16) + "/" + at.lat.toFixed(5) + "/" +
      at.lng.toFixed(5) + "&f=" + encodeURIComponent(selected);
  }
  function copyFallback(url) {
    $("copy-status").textContent = "";
    $("copy-fallback").hidden = false;
    var input = $("copy-url");
    input.value = url;
    input.focus();
    input.select();
  }
  $("copy-link").addEventListener("click", function () {
    if (selected === null) return;
    var url = placeLink();
    $("copy-fallback").hidden = true;
    if (!navigator.clipboard || !navigator.clipboard.writeText) { copyFallback(url); return; }
    navigator.clipboard.writeText(url).then(function () {
      $("copy-status").textContent = "";
      setTimeout(function () { $("copy-status").textContent = S.linkCopied; }, 50);
    }, function () { copyFallback(url); });
  });

  // ---------- report a published place ----------
  $("flag-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("flag-reason").value.trim();
    var kind = document.querySelector("#flag-kinds input:checked");
    var other = kind && kind.hasAttribute("data-other");
    var reason = kind && !other ? kind.value + (text ? " — " + text : "") : text;
    var id = selected;
    if (!reason || id === null) { $("flag-status").textContent = S.flagNeedReason; (kind ? $("flag-reason") : document.querySelector("#flag-kinds input") || $("flag-reason")).focus(); return; }
    $("flag-status").textContent = S.pinSending;
    fetch("/api/v1/features/" + encodeURIComponent(id) + "/flags", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ reason: reason })
    }).then(function (r) {
      if (!r.ok) { $("flag-status").textContent = r.status === 429 ? S.flagTooMany : S.flagFailed; return; }
      flagged[id] = r.status === 200 ? "again" : true;  // 200: this client had flagged it already
      $("flag-reason").value = "";
      if (kind) kind.checked = false;
      if (selected === id) { resetFlag(id); $("flag-done").focus(); }
    }).catch(function () { $("flag-status").textContent = S.flagFailed; });
  });

  // ---------- the list: the map's set, nearest the centre first ----------
  var listRequest = 0;
  function setListSummary(text) {
    $("list-status").textContent = text;
    listSummary = text;
    updateSummary();
  }
  function countText(fc, shown) {
    var more = (fc.links || []).some(function (l) { return l.rel === "next"; });
    var total = fc.numberMatched;
    if (!shown) return S.listEmpty;
    if (total === undefined || total === null) {
      return more ? fmt(S.listMany, { n: NUMBER.format(shown), k: NUMBER.format(shown) }) : fmt(S.listCount, { n: NUMBER.format(shown) });
    }
    if (total > shown) return fmt(S.listNearest, { n: NUMBER.format(total), k: NUMBER.format(shown) });
    return total === 1 ? S.listCountOne : fmt(S.listCount, { n: NUMBER.format(total) });
  }
  function listItem(f, centre) {
    var p = f.properties, c = f.geometry.coordinates, at = L.latLng(c[1], c[0]);
    var li = el("li"), btn = el("button", null, { type: "button", "data-id": String(p.id) });
    btn.appendChild(swatch(p.category));
    var t = el("span", null, { "class": "title" });
    t.appendChild(document.createTextNode(p.title || ""));
    var meta = categoryLabel(p.category);
    if (p.starts_at) meta += " · " + whenText(p.starts_at, p.ends_at, true);
    t.appendChild(el("span", meta, { "class": "meta" }));
    btn.appendChild(t);
    btn.appendChild(el("span", distanceText(map.distance(centre, at)), { "class": "dist" }));
    btn.addEventListener("click", function () {
      var props = Object.assign({}, p, { lat: at.lat, lon: at.lng });
      openPlace(props, { from: { kind: "list", id: String(p.id) } });
    });
    window.Carte.listDecorators.forEach(function (d) { try { d(p, btn); } catch (e) { /* one decorator never breaks the list */ } });  // photos
    li.appendChild(btn);
    return li;
  }
  function refreshList() {
    var b = map.getBounds(), centre = map.getCenter();
    var params = filterQuery();
    var cats = shownCategories();
    var mine = ++listRequest;
    var list = $("list");
    if (cats && !cats.length) { clear(list); setListSummary(S.listEmpty); return; }
    if (cats) params.set("category", cats.join(","));
    params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","));
    params.set("near", centre.lng.toFixed(5) + "," + centre.lat.toFixed(5));
    params.set("limit", String(LIST_LIMIT));
    fetch("/api/v1/features?" + params.toString(), { headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (fc) {
        if (mine !== listRequest) return;
        var features = fc.features || [];
        var hadFocus = list.contains(document.activeElement) ? document.activeElement.getAttribute("data-id") : null;
        clear(list);
        features.forEach(function (f) { list.appendChild(listItem(f, centre)); });
        setListSummary(countText(fc, features.length));
        if (hadFocus) { var again = list.querySelector("button[data-id='" + hadFocus + "']"); if (again) again.focus(); }
      })
      .catch(function () { if (mine === listRequest) setListSummary(S.listUnavailable); });
  }

  // ---------- permalink: view, filters and the open place in the URL hash ----------
  // Opening a place adds a history entry, so that a phone's "back" closes it; every other
  // change of view or filters replaces the current entry.
  var lastHash = "", pushed = false;
  function writeHash(push) {
    var c = map.getCenter();
    var parts = ["map=" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5)];
    if (state.cats) parts.push("cat=" + state.cats.map(encodeURIComponent).join(","));
    if (state.useProfile) parts.push("profile=1");
    if (state.when === "range") parts.push("when=range:" + state.range.join(","));
    else if (state.when) parts.push("when=" + state.when);
    if (selected !== null && currentView === "detail-section") parts.push("f=" + encodeURIComponent(selected));
    var hash = "#" + parts.join("&");
    if (push && hash !== location.hash) { history.pushState(null, "", hash); pushed = true; }
    else history.replaceState(null, "", hash);
    lastHash = location.hash;
    var sw = $("lang-switch");
    if (sw) sw.setAttribute("href", "?lang=" + sw.getAttribute("hreflang") + location.hash);
  }

  /** Read the hash into the map and the filter form; returns {hadView, f}. */
  function readHash() {
    var h = new URLSearchParams(location.hash.slice(1));
    var view = (h.get("map") || "").split("/").map(Number);
    var hadView = view.length === 3 && view.every(isFinite);
    if (hadView) map.setView([view[1], view[2]], view[0], { animate: false });
    if (h.has("cat")) {
      var wanted = h.get("cat").split(",").map(decodeURIComponent);
      document.querySelectorAll("#filters input[name=category]").forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
    $("use-profile").checked = h.get("profile") === "1";
    var when = h.get("when") || "";
    if (when.indexOf("range:") === 0) {
      var r = when.slice(6).split(",");
      $("date-filter").value = "range";
      $("date-from").value = parseDay(r[0]) ? r[0] : "";
      $("date-to").value = parseDay(r[1]) ? r[1] : "";
    } else if (["today", "weekend", "week"].indexOf(when) >= 0) {
      $("date-filter").value = when;
    }
    readFilterForm();
    return { hadView: hadView, f: h.get("f") };
  }
  /** The hash changed under us (back, forward, a link pasted): follow it. */
  function followHash() {
    if (location.hash === lastHash) return;
    lastHash = location.hash;
    pushed = false;
    var wanted = readHash();
    pushMapFilter();
    refreshList();
    if (wanted.f && wanted.f !== selected) openPlace({ id: wanted.f }, { centre: !wanted.hadView, fromHash: true });
    else if (!wanted.f && currentView === "detail-section") backToList();
  }
  window.addEventListener("hashchange", followHash);
  window.addEventListener("popstate", followHash);
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
    if (item.feature) openPlace(item.feature);
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
      // Two places of the same title: the server's label tells them apart by area
      // ("Jardin partagé — 11e, Shared garden"); otherwise title and category.
      var text = f.label && f.label !== f.title ? f.label : f.title + " — " + categoryLabel(f.category);
      return { text: text, lat: f.lat, lon: f.lon, zoom: 17, feature: f };
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
    var c = map.getCenter();  // services: the nearest toilets, pools... first
    fetch("/api/v1/search?q=" + encodeURIComponent(q) + "&near=" + c.lng.toFixed(5) + "," + c.lat.toFixed(5))
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
    pform.querySelectorAll("input[name=access_match]").forEach(function (r) {
      r.checked = r.value === (profile.access_match || "known");
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
    var match = pform.querySelector("input[name=access_match]:checked");
    p.access_match = match ? match.value : "known";
    profile = p;
    try { localStorage.setItem(PROFILE_KEY, JSON.stringify(p)); } catch (err) { /* private mode: keep in memory */ }
    $("use-profile").checked = true;
    $("w-budget").value = p.budget || 90;
    show("list-section");
    say(S.profileSaved);
    applyFilters();
  });

  // ---------- Ma balade ----------
  // Drawn in a pane of its own above the basemap, letting clicks through to the places.
  map.createPane("carteWalk");
  map.getPane("carteWalk").style.zIndex = 440;  // over the basemap, under the places
  map.getPane("carteWalk").style.pointerEvents = "none";
  var walkLayer = L.layerGroup().addTo(map);
  window.Carte.walk = walkLayer;
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localNow() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  $("btn-walk").addEventListener("click", function () {
    if (profile.budget) $("w-budget").value = profile.budget;
    if (!$("w-at").value) $("w-at").value = localNow();  // the walk starts now unless told
    if (profile.quartier) $("w-start").value = "home";
    show("walk-section");
  });
  function planFrom(ll) {
    var minutes = $("w-budget").value || 90;
    var at = $("w-at").value ? new Date($("w-at").value) : new Date();
    if (isNaN(at.getTime())) at = new Date();
    // The same profile filters as the map's and the list's (TEAM.md).
    var params = profileQuery(new URLSearchParams());
    params.set("lon", ll.lng.toFixed(6));
    params.set("lat", ll.lat.toFixed(6));
    params.set("minutes", minutes);
    params.set("at", rfc3339(at.getTime()));
    var cats = shownCategories() || DATA.categories.map(function (c) { return c.slug; });
    if (profile.interests && profile.interests.length) {
      cats = cats.filter(function (s) { return profile.interests.indexOf(s) >= 0; });
    }
    params.set("category", cats.join(","));
    if ($("w-open") && $("w-open").checked) params.set("open", "1");  // services.js: open during the walk
    var pane = { pane: "carteWalk", interactive: false };
    fetch("/api/v1/walk?" + params.toString())
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (w) {
        walkLayer.clearLayers();
        var list = $("walk-list"); clear(list);
        if (!w.stops || !w.stops.length) { $("walk-summary").textContent = S.walkNone; return; }
        $("walk-summary").textContent = fmt(S.walkSummary, { stops: w.stops.length, km: new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 }).format(w.distance_m / 1000), minutes: w.minutes });
        var line = w.line.coordinates.map(function (c) { return [c[1], c[0]]; });
        L.polyline(line, Object.assign({ color: "#ffffff", weight: 8, opacity: 0.9 }, pane)).addTo(walkLayer);
        L.polyline(line, Object.assign({ color: "#0b57d0", weight: 4, dashArray: "8 6" }, pane)).addTo(walkLayer);
        L.circleMarker(line[0], Object.assign({ radius: 7, color: "#1a1a1a", fillColor: "#fff", fillOpacity: 1 }, pane)).addTo(walkLayer);
        w.stops.forEach(function (s) {
          L.circleMarker([s.lat, s.lon], Object.assign({ radius: 9, color: "#0b57d0", weight: 3, fillColor: colour(s.category), fillOpacity: 1 }, pane)).addTo(walkLayer);
          var li = el("li");
          li.appendChild(el("strong", s.title));
          li.appendChild(el("span", " — " + categoryLabel(s.category)));
          li.appendChild(el("div", fmt(S.walkLeg, { m: s.leg_m, min: s.arrive_min }), { "class": "hint" }));
          (window.Carte.walkStopDecorators || []).forEach(function (d) { try { d(s, li); } catch (e) { /* never breaks the walk */ } });  // services
          list.appendChild(li);
        });
        map.fitBounds(L.latLngBounds(line).pad(0.1), { paddingTopLeft: [20, 20], paddingBottomRight: [20, sheetCover() + 20] });
      })
      .catch(function () { $("walk-summary").textContent = S.walkFailed; });
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
  function setPinMode(on) {
    pinMode = on;
    CarteLayers.interactive = !on;  // a tap places the pin, it does not open a place
    document.body.classList.toggle("pinning", on);
  }
  var pform2 = $("pin-form");
  function placePin(ll) {
    pinLatLng = ll;
    if (pin) pin.setLatLng(ll);
    else pin = L.circleMarker(ll, { radius: 10, color: "#b3261e", weight: 3, fillOpacity: 0.2 }).addTo(map);
    $("pin-where").textContent = S.pinPlaced + " (" + ll.lat.toFixed(5) + ", " + ll.lng.toFixed(5) + ")";
    $("err-location").textContent = "";
    checkDupes();
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
  function startPin() {
    show("pin-section");
    setPinMode(true);
    pform2.hidden = false; $("pin-here").hidden = $("pin-centre").hidden = false;
    $("pin-done").hidden = true;
    if (!pinLatLng) $("pin-where").textContent = S.pinClick;
    if ($("f-fields").getAttribute("data-for") !== $("f-category").value) renderFields();
  }
  $("btn-pin").addEventListener("click", startPin);
  $("fab-pin").addEventListener("click", startPin);
  $("pin-here").addEventListener("click", function () { locate(function (ll) { placePin(ll); map.setView(ll, 17); }); });
  // Without a pointer: move the map with the arrow keys, then drop the pin at its centre.
  $("pin-centre").addEventListener("click", function () { placePin(map.getCenter()); });

  /*
   * The form's texts and checks come from the server's own message table
   * (ingestion.messages, via DATA.strings.validation): the browser says exactly what
   * the server would, in the page's language, and the server checks everything again.
   */
  var V = S.validation || { messages: {}, labels: {}, format: "{label}: {message}", form: {} };
  var VF = V.form || {};
  function fieldSpec(name) {
    var c = CATS[$("f-category").value];
    return c ? (c.fields || []).filter(function (f) { return f.name === name; })[0] : null;
  }
  function pointerLabel(pointer) {
    var parts = String(pointer || "").replace(/^\//, "").split("/");
    if (parts[0] === "attributes" && parts[1]) {
      var f = fieldSpec(parts[1]);
      return f ? label(f) || f.name : (V.labels[parts[1]] || parts[1]);
    }
    return V.labels[parts[0]] || parts[0];
  }
  /** One error as a line: "Fin : avant le début" (same format as the server's). */
  function vmessage(pointer, key, params) {
    var text = fmt(V.messages[key] || key, params || {});
    return fmt(V.format, { label: pointerLabel(pointer), message: text });
  }

  /**
   * Days and hours of an "availability" field (missions, time exchange, opening hours):
   * one row per slot (a day, from, to), rows added, removed or copied to the next day;
   * sent as [{day, from, to}].
   */
  function slotRow(id, slot) {
    var row = el("div", null, { "class": "slot row", "data-slot": "" });
    var day = el("select", null, { "data-slot-day": "", "aria-label": VF.day || "Day" });
    WEEK.forEach(function (d) { day.appendChild(el("option", d.label, { value: d.slug })); });
    day.value = slot.day || "mon";
    row.appendChild(day);
    [["from", S.slotFrom], ["to", S.slotTo]].forEach(function (t) {
      row.appendChild(el("input", null, { type: "time", "data-slot-time": t[0], "aria-label": t[1], value: slot[t[0]] || "" }));
    });
    var copy = el("button", VF.copy_slot || "Copy", { type: "button", "data-slot-copy": "", "class": "small" });
    var remove = el("button", VF.remove_slot || "Remove", { type: "button", "data-slot-remove": "", "class": "small" });
    copy.addEventListener("click", function () {
      var v = slotOf(row), i = WEEK.map(function (d) { return d.slug; }).indexOf(v.day);
      var next = slotRow(id, { day: WEEK[(i + 1) % 7].slug, from: v.from, to: v.to });
      row.parentNode.insertBefore(next, row.nextSibling);
      next.querySelector("select").focus();
    });
    remove.addEventListener("click", function () {
      var list = row.parentNode;
      list.removeChild(row);
      var last = list.querySelector("[data-slot]:last-child select");
      (last || list.parentNode.querySelector("[data-slot-add]")).focus();
    });
    row.appendChild(copy);
    row.appendChild(remove);
    return row;
  }
  function slotOf(row) {
    return { day: row.querySelector("[data-slot-day]").value,
             from: row.querySelector("[data-slot-time=from]").value,
             to: row.querySelector("[data-slot-time=to]").value };
  }
  function slotsInput(f) {
    var id = "attr-" + f.name;
    var box = el("fieldset", null, { "data-field": f.name, "data-type": f.type, id: id,
                                     "aria-describedby": "err-" + id, "class": "slots" });
    box.appendChild(el("legend", label(f) + (f.required ? " *" : "")));
    var list = el("div", null, { "data-slot-list": "" });
    if (f.required) list.appendChild(slotRow(id, { day: "mon", from: "09:00", to: "12:00" }));
    box.appendChild(list);
    var add = el("button", VF.add_slot || "+", { type: "button", "data-slot-add": "" });
    add.addEventListener("click", function () {
      var rows = list.querySelectorAll("[data-slot]"), last = rows[rows.length - 1];
      var row = slotRow(id, last ? slotOf(last) : { day: "mon", from: "09:00", to: "12:00" });
      list.appendChild(row);
      row.querySelector("select").focus();
    });
    box.appendChild(add);
    var wrap = el("div");
    wrap.appendChild(box);
    wrap.appendChild(el("p", null, { "class": "error", id: "err-" + id }));
    return wrap;
  }
  function slotsValue(box) {
    return Array.prototype.map.call(box.querySelectorAll("[data-slot]"), slotOf);
  }
  function fieldInput(f) {
    if (f.type === "availability") return slotsInput(f);
    var id = "attr-" + f.name, wrap = el("div"), input;
    var hint = (f.type === "integer" || f.type === "number") && f.min !== undefined && f.max !== undefined
      ? " (" + NUMBER.format(f.min) + " – " + NUMBER.format(f.max) + ")" : "";
    var lab = el("label", label(f) + (f.required ? " *" : "") + hint, { "for": id });
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
      (f.choices || []).forEach(function (c) { input.appendChild(el("option", choiceLabel(f, c), { value: c })); });
    } else if (f.type === "tags") {
      input = el("fieldset", null, { id: id });
      (f.choices || []).forEach(function (c) {
        var l = el("label", null, { "class": "check inline" });
        l.appendChild(el("input", null, { type: "checkbox", value: c, "data-tag": "" }));
        l.appendChild(document.createTextNode(" " + choiceLabel(f, c)));
        input.appendChild(l);
      });
    } else if (f.type === "text" && (f.max_length || 0) > 200) {
      input = el("textarea", null, { id: id, rows: "2", maxlength: String(f.max_length) });
    } else {
      var type = { integer: "number", number: "number", url: "url" }[f.type] || "text";
      input = el("input", null, { id: id, type: type });
      if (f.type === "integer") { input.setAttribute("step", "1"); input.setAttribute("inputmode", "numeric"); }
      if (f.type === "number") { input.setAttribute("step", "any"); input.setAttribute("inputmode", "decimal"); }
      if (f.min !== undefined) input.setAttribute("min", f.min);
      if (f.max !== undefined) input.setAttribute("max", f.max);
      if (f.type === "url") input.setAttribute("placeholder", "https://");
      if (f.type === "text" && f.max_length) input.setAttribute("maxlength", f.max_length);
    }
    input.setAttribute("data-field", f.name);
    input.setAttribute("data-type", f.type);
    input.setAttribute("aria-describedby", "err-" + id);
    if (f.required && f.type !== "boolean") input.required = true;
    if (f.type !== "boolean") wrap.appendChild(input);
    wrap.appendChild(el("p", null, { "class": "error", id: "err-" + id }));
    return wrap;
  }
  /** Who the place is for, and each accessibility feature: yes, no or don't know. */
  function profileInputs(c) {
    var wrap = el("div");
    if ((c.audiences || []).length) {
      var aud = el("fieldset", null, { id: "attr-audiences", "data-field": "audiences", "data-type": "audiences",
                                       "aria-describedby": "err-attr-audiences" });
      aud.appendChild(el("legend", V.labels.audiences || S.audiences));
      c.audiences.forEach(function (a) {
        var l = el("label", null, { "class": "check inline" });
        l.appendChild(el("input", null, { type: "checkbox", value: a, "data-audience": "" }));
        l.appendChild(document.createTextNode(" " + (AUDIENCES[a] || a)));
        aud.appendChild(l);
      });
      wrap.appendChild(aud);
      wrap.appendChild(el("p", null, { "class": "error", id: "err-attr-audiences" }));
    }
    if ((c.accessibility || []).length) {
      var acc = el("fieldset", null, { id: "attr-accessibility", "data-field": "accessibility", "data-type": "access",
                                       "aria-describedby": "err-attr-accessibility" });
      acc.appendChild(el("legend", S.accessibility));
      c.accessibility.forEach(function (a) {
        var row = el("div", null, { "class": "access-row" });
        row.appendChild(el("label", ACCESS[a] ? ACCESS[a].label : a, { "for": "access-" + a }));
        var sel = el("select", null, { id: "access-" + a, "data-access": a });
        [["", VF.unknown], ["yes", VF.yes], ["no", VF.no]].forEach(function (o) { sel.appendChild(el("option", o[1] || o[0], { value: o[0] })); });
        row.appendChild(sel);
        acc.appendChild(row);
      });
      wrap.appendChild(acc);
      wrap.appendChild(el("p", null, { "class": "error", id: "err-attr-accessibility" }));
    }
    return wrap;
  }
  function renderFields() {
    var c = CATS[$("f-category").value], box = $("f-fields");
    clear(box);
    box.setAttribute("data-for", $("f-category").value);
    if (!c) return;
    $("f-dates").hidden = c.kind !== "event";
    (c.fields || []).forEach(function (f) { if (!f.imported) box.appendChild(fieldInput(f)); });  // imported: filled by the city's data only
    box.appendChild(profileInputs(c));
  }
  $("f-category").addEventListener("change", renderFields);

  /**
   * Published items of the chosen category near the pin (or with a similar title a bit
   * further): shown before sending, each can be opened or corrected; a resident whose
   * place is another one ticks "different", which the moderator then sees.
   */
  var dupesRequest = 0, dupeIds = [];
  function checkDupes() {
    var box = $("pin-dupes"), mine = ++dupesRequest;
    if (!pinLatLng || !$("f-category").value) { box.hidden = true; dupeIds = []; return; }
    var q = new URLSearchParams({ lon: pinLatLng.lng.toFixed(6), lat: pinLatLng.lat.toFixed(6),
                                  category: $("f-category").value, title: $("f-title").value.trim().slice(0, 200) });
    fetch("/api/v1/submissions/nearby?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (d) {
        if (mine !== dupesRequest) return;
        var list = $("pin-dupes-list"), items = d.items || [];
        clear(list);
        $("pin-dupes-title").textContent = VF.dupes_title || "";
        $("pin-dupes-different").textContent = VF.dupe_different || "";
        var before = dupeIds.join(",");
        dupeIds = items.map(function (it) { return it.id; });
        if (dupeIds.join(",") !== before) $("f-different").checked = false;
        items.forEach(function (it) {
          var li = el("li", null, { "data-dupe": String(it.id) });
          li.appendChild(el("span", it.title + " — " + fmt(VF.dupe_distance || "{n} m", { n: it.distance_m })));
          var open = el("button", VF.dupe_open || "Open", { type: "button", "class": "small" });
          open.addEventListener("click", function () { openPlace({ id: it.id }, { from: { kind: "pin" } }); });
          li.appendChild(open);
          var fix = el("button", VF.dupe_correct || "Suggest a change", { type: "button", "class": "small" });
          fix.addEventListener("click", function () { openPlace({ id: it.id }, { from: { kind: "pin" }, correct: true }); });
          li.appendChild(fix);
          list.appendChild(li);
        });
        // Similar pending submissions (duplicates engineer): a count only, never their text.
        var pend = d.pending || 0;
        if (pend && items.length) {
          list.appendChild(el("li", fmt(LANG === "en"
            ? (pend === 1 ? "{n} similar submission is already waiting for moderation here"
                          : "{n} similar submissions are already waiting for moderation here")
            : (pend === 1 ? "{n} proposition similaire en attente de modération ici"
                          : "{n} propositions similaires en attente de modération ici"),
            { n: pend }), { "class": "hint", "data-dupes-pending": String(pend) }));
        }
        box.hidden = !items.length;
      })
      .catch(function () { if (mine === dupesRequest) { $("pin-dupes").hidden = true; dupeIds = []; } });
  }
  $("f-category").addEventListener("change", checkDupes);
  $("f-title").addEventListener("input", debounce(checkDupes, 400));

  function attributes() {
    var out = {};
    $("f-fields").querySelectorAll("[data-field]").forEach(function (i) {
      var t = i.getAttribute("data-type"), name = i.getAttribute("data-field"), v;
      if (t === "availability") {
        v = slotsValue(i);
        if (v.length) out[name] = v;
        return;
      }
      if (t === "audiences" || t === "tags") {
        v = Array.prototype.filter.call(i.querySelectorAll("input[type=checkbox]"), function (b) { return b.checked; })
          .map(function (b) { return b.value; });
        if (v.length) out[name] = v;
        return;
      }
      if (t === "access") {
        var yes = [], no = [];
        i.querySelectorAll("[data-access]").forEach(function (s) {
          if (s.value === "yes") yes.push(s.getAttribute("data-access"));
          if (s.value === "no") no.push(s.getAttribute("data-access"));
        });
        if (yes.length) out.accessibility = yes;
        if (no.length) out.accessibility_lacks = no;
        return;
      }
      if (t === "boolean") { if (i.checked) out[name] = true; return; }
      v = i.value.trim();
      if (v === "") return;
      if (t === "integer" || t === "number") v = Number(v.replace(",", "."));
      out[name] = v;
    });
    return out;
  }
  var URL_RE = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
  var EMAIL_RE = /^[^\s@]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
  var INVISIBLE_RE = /[\s\u00ad\u034f\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufeff\uffa0]/g;
  /** What the browser can check before sending, as [{pointer, message}]. */
  function checkForm(body) {
    var errors = [];
    function add(pointer, key, params) { errors.push({ pointer: pointer, detail: vmessage(pointer, key, params) }); }
    if (!pinLatLng) add("/location", "need_point");
    if (!body.title.replace(INVISIBLE_RE, "")) add("/title", "required");
    var c = CATS[body.category];
    if (c && c.kind === "event") {
      if (!body.starts_at) add("/starts_at", "required");
      if (!body.ends_at) add("/ends_at", "required");
      if (body.starts_at && body.ends_at && Date.parse(body.ends_at) < Date.parse(body.starts_at)) add("/ends_at", "order");
      else if (body.ends_at && Date.parse(body.ends_at) < Date.now() - 86400000) add("/ends_at", "past");
    }
    ((c && c.fields) || []).forEach(function (f) {
      var p = "/attributes/" + f.name, v = body.attributes[f.name];
      if (v === undefined || v === "" || (Array.isArray(v) && !v.length)) {
        if (f.required) add(p, f.type === "availability" ? "slots" : "required");
        return;
      }
      if (f.type === "integer" || f.type === "number") {
        if (!isFinite(v) || (f.type === "integer" && Math.floor(v) !== v)) add(p, f.type);
        else if ((f.min !== undefined && v < f.min) || (f.max !== undefined && v > f.max))
          add(p, "out_of_range", { min: NUMBER.format(f.min), max: NUMBER.format(f.max) });
      } else if (f.type === "url" && !URL_RE.test(v)) add(p, "url");
      else if (f.type === "availability") {
        v.forEach(function (s, i) {
          if (!s.from || !s.to) add(p, "slot_time", { n: i + 1 });
          else if (s.to <= s.from) add(p, "slot_order", { n: i + 1 });
        });
      }
    });
    if (body.email && !EMAIL_RE.test(body.email)) add("/email", "email");
    if (!$("f-charter").checked) add("/charter", "charter");
    if (dupeIds.length && !$("f-different").checked) add("/dupes", "dupes_confirm");
    return errors;
  }
  function errorTarget(pointer) {
    var parts = String(pointer || "").replace(/^\//, "").split("/");
    if (parts[0] === "attributes" && parts[1]) {
      var name = parts[1] === "accessibility_lacks" ? "accessibility" : parts[1];
      return $("err-attr-" + name) || $("pin-top");
    }
    if (parts[0] === "lon" || parts[0] === "lat" || parts[0] === "location" || parts[0] === "category") return $("err-location");
    return (parts[0] && $("err-" + parts[0])) || $("pin-top");
  }
  /** One message per line next to its field; the first faulty field gets the focus. */
  function showErrors(errors) {
    pform2.querySelectorAll(".error").forEach(function (p) { clear(p); });
    $("pin-top").textContent = "";
    var first = null;
    errors.forEach(function (e) {
      var target = errorTarget(e.pointer);
      var line = el("span", e.detail || e.message || "", { "class": "line" });
      target.appendChild(line);
      if (!first) first = target;
    });
    if (first) {
      var input = first.id === "pin-top" ? null : document.querySelector("[aria-describedby~='" + first.id + "']");
      if (input && input.tagName === "FIELDSET") input = input.querySelector("input, select") || input;
      if (!input) { first.setAttribute("tabindex", "-1"); input = first; }
      input.focus();
    }
  }
  /** A datetime-local value read as the city's wall clock: "2026-06-05T18:30:00+02:00". */
  function cityIso(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(v || "");
    if (!m) return v || undefined;
    var wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]), t = wall;
    for (var i = 0; i < 3; i++) {
      var p = cityParts(new Date(t));
      t += wall - Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute);
    }
    var off = Math.round((wall - t) / 60000), sign = off < 0 ? "-" : "+", a = Math.abs(off);
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":00" + sign +
      String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
  }
  function topMessage(text) {
    $("pin-top").textContent = text;
    $("pin-top").setAttribute("tabindex", "-1");
    $("pin-top").focus();
  }

  pform2.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = {
      title: $("f-title").value.trim(), description: $("f-description").value.trim(),
      category: $("f-category").value, attributes: attributes()
    };
    if (pinLatLng) { body.lon = +pinLatLng.lng.toFixed(6); body.lat = +pinLatLng.lat.toFixed(6); }
    if (!$("f-dates").hidden) { body.starts_at = cityIso($("f-starts").value); body.ends_at = cityIso($("f-ends").value); }
    if ($("f-email").value.trim()) body.email = $("f-email").value.trim();
    var key = newKey();  // the same key for every retry: never stored twice
    if (dupeIds.length && $("f-different").checked) body.not_duplicate_of = dupeIds.slice();
    var errors = checkForm(body);
    if (errors.length) { say(S.pinError); showErrors(errors); return; }
    showErrors([]);
    say(S.pinSending);
    beforeSubmit(body, "pin")  // photos: waits for the uploads, adds photo_ids
      .then(function (stop) { if (stop) throw { stop: stop }; return sendPin(body, key); })
      .then(function (res) {
        if (res.status === 422 && res.body.errors) { say(S.pinError); showErrors(res.body.errors); return; }
        if (!res.ok) {  // a rate limit or a fault: said at the top, what was typed is kept
          topMessage(res.status === 429 ? (res.body.detail || VF.server_down) : VF.server_down);
          return;
        }
        pinSent(res.body);
      })
      .catch(function (err) {
        if (err && err.stop) { say(S.pinError); topMessage(err.stop); return; }  // photos
        // No network: kept on this device, sent with the same key when it is back.
        outboxAdd({ key: key, body: body, at: Date.now() }).then(function () {
          pinDone(VF.pin_waiting);
          showOutbox();
        }, function () { topMessage(VF.server_down || S.pinFailed); });
      });
  });


  // ---------- pins dropped offline: an outbox in IndexedDB ----------
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  /** Carte.beforeSubmit hooks (photos.js): null when the pin may go, else why it may not. */
  function beforeSubmit(body, form) {
    return Promise.all(window.Carte.beforeSubmit.map(function (h) { return Promise.resolve(h(body, form)); }))
      .then(function (stops) { return stops.filter(Boolean)[0] || null; });
  }
  function sendPin(body, key) {
    return fetch("/api/v1/submissions?lang=" + LANG, {
      method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key }
    }).then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, body: j }; }); });
  }
  /** The form's end: thanks (and the tracking link once the server has answered). */
  function pinDone(message, trackingUrl) {
    pform2.hidden = true; $("pin-here").hidden = $("pin-centre").hidden = true;
    $("pin-done").hidden = false; setPinMode(false);
    $("pin-thanks").textContent = message;
    $("pin-tracking").hidden = !trackingUrl;
    $("pin-keep").textContent = "";
    if (trackingUrl) {
      $("pin-tracking").textContent = S.pinTrack;
      $("pin-tracking").setAttribute("href", trackingUrl.pathname + trackingUrl.search);
      $("pin-keep").textContent = S.pinKeep + " " + trackingUrl.href;
      $("pin-tracking").focus();
    } else {
      $("pin-thanks").setAttribute("tabindex", "-1");
      $("pin-thanks").focus();
    }
    say(message);
    pform2.reset();
    renderFields();
  }
  function pinSent(answer, message) {
    var url = new URL(answer.tracking_url, location.href);
    if (url.origin !== location.origin) return;  // only ever link to our own site
    pinDone(message || S.pinThanks, url);
  }
  function outboxDo(mode, work) {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
      var open = indexedDB.open("carte-outbox", 1);
      open.onupgradeneeded = function () { open.result.createObjectStore("pins", { keyPath: "key" }); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        var db = open.result, tx = db.transaction("pins", mode), req = work(tx.objectStore("pins"));
        tx.oncomplete = function () { db.close(); resolve(req ? req.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      };
    });
  }
  function outboxAdd(item) { return outboxDo("readwrite", function (s) { return s.put(item); }); }
  function outboxRemove(key) { return outboxDo("readwrite", function (s) { return s.delete(key); }); }
  function outboxAll() { return outboxDo("readonly", function (s) { return s.getAll(); }); }
  function showOutbox() {
    return outboxAll().then(function (items) {
      $("pin-outbox").hidden = !items.length;
      $("pin-outbox").textContent = items.length ? fmt(VF.outbox_count || "{n}", { n: items.length }) : "";
      return items;
    }, function () { return []; });
  }
  var flushing = false;
  /** Send what waits, oldest first, each with its own key; stop at the first network error. */
  function flushOutbox() {
    if (flushing || navigator.onLine === false) return showOutbox();
    flushing = true;
    return showOutbox().then(function (items) {
      items.sort(function (a, b) { return a.at - b.at; });
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return sendPin(item.body, item.key).then(function (res) {
            if (res.status >= 500 || res.status === 429 || res.status === 409) return;  // later
            return outboxRemove(item.key).then(function () {
              if (res.ok && !$("pin-done").hidden) pinSent(res.body, VF.outbox_sent);
              else if (res.ok) say(VF.outbox_sent);
            });
          });
        });
      }, Promise.resolve());
    }).catch(function () { /* still offline: the next "online" tries again */ })
      .then(function () { flushing = false; return showOutbox(); });
  }
  window.addEventListener("online", function () { flushOutbox(); });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").then(function () { return navigator.serviceWorker.ready; })
      .then(function (reg) {
        var urls = [location.pathname + location.search].concat(Array.prototype.map.call(
          document.querySelectorAll("script[src], link[rel=stylesheet][href], link[rel=manifest]"),
          function (n) { return n.src || n.href; }));
        if (reg.active) reg.active.postMessage({ cache: urls });
      })
      .catch(function () { /* the map works without it */ });
  }

  // ---------- suggest a change / report closed (a published place) ----------
  var currentPlace = null, correcting = null;  // correcting: "change" | "closed"
  var pendingCorrect = null;  // a place to open straight on its correction form
  function slotsText(v) {
    if (!isSlots(v)) return "";
    return v.map(function (s) {
      var d = WEEK.filter(function (w) { return w.slug === s.day; })[0];
      return (d ? d.label : s.day) + " " + s.from + "-" + s.to;
    }).join("\n");
  }
  /** One input per field of the place, holding its current value (as text to compare). */
  function correctionInput(f, value) {
    var id = "c-" + f.name, wrap = el("div"), input;
    wrap.appendChild(el("label", label(f) || f.name, { "for": id }));
    if (f.type === "enum" || f.type === "boolean") {
      input = el("select", null, { id: id });
      input.appendChild(el("option", "—", { value: "" }));
      var opts = f.type === "boolean" ? [["true", VF.yes], ["false", VF.no]]
        : (f.choices || []).map(function (c) { return [c, choiceLabel(f, c)]; });
      opts.forEach(function (o) { input.appendChild(el("option", o[1], { value: o[0] })); });
      input.value = value === undefined || value === null ? "" : String(value);
    } else if (f.type === "availability" || (f.type === "text" && (f.max_length || 0) > 200) || f.name === "description") {
      input = el("textarea", null, { id: id, rows: f.type === "availability" ? "3" : "2" });
      input.value = f.type === "availability" ? slotsText(value) : (value || "");
      if (f.type === "availability") input.setAttribute("placeholder", VF.slots_hint || "");
    } else {
      var type = { integer: "number", number: "number", url: "url" }[f.type] || "text";
      input = el("input", null, { id: id, type: type });
      if (f.type === "number") input.setAttribute("step", "any");
      input.value = value === undefined || value === null ? "" : String(value);
    }
    input.setAttribute("data-field", f.name);
    input.setAttribute("data-type", f.type);
    input.setAttribute("data-was", input.value);
    input.setAttribute("aria-describedby", "c-err-" + f.name);
    wrap.appendChild(input);
    wrap.appendChild(el("p", null, { "class": "error", id: "c-err-" + f.name }));
    return wrap;
  }
  function openCorrection(kind) {
    var p = currentPlace;
    if (!p) return;
    correcting = kind;
    var box = $("c-fields");
    clear(box);
    $("correct-title").textContent = kind === "closed" ? VF.closed_title : VF.correct_title;
    if (kind === "change") {
      var attrs = p.attributes || {};
      box.appendChild(correctionInput({ name: "title", type: "text", label_fr: V.labels.title, label_en: V.labels.title }, p.title));
      box.appendChild(correctionInput({ name: "description", type: "text", label_fr: V.labels.description, label_en: V.labels.description }, p.description));
      ((CATS[p.category] || {}).fields || []).forEach(function (f) { box.appendChild(correctionInput(f, attrs[f.name])); });
    } else {
      box.appendChild(el("p", VF.closed_hint, { "class": "hint" }));
    }
    $("c-comment").value = ""; $("c-email").value = "";
    $("correct-form").querySelectorAll(".error").forEach(function (e) { clear(e); });
    $("correct-form").hidden = false; $("correct-done").hidden = true;
    $("correct-actions").hidden = true;
    var first = box.querySelector("input, textarea, select") || $("c-comment");
    first.focus();
  }
  function closeCorrection() {
    $("correct-form").hidden = true;
    $("correct-actions").hidden = !currentPlace;
    correcting = null;
  }
  function correctionBody() {
    var changes = {};
    $("c-fields").querySelectorAll("[data-field]").forEach(function (i) {
      if (i.value === i.getAttribute("data-was")) return;
      var t = i.getAttribute("data-type"), v = i.value.trim();
      if (v === "") v = null;
      else if (t === "integer" || t === "number") v = Number(v.replace(",", "."));
      else if (t === "boolean") v = v === "true";
      changes[i.getAttribute("data-field")] = v;
    });
    var body = { changes: changes, closed: correcting === "closed", comment: $("c-comment").value.trim() };
    if ($("c-email").value.trim()) body.email = $("c-email").value.trim();
    return body;
  }
  function correctionErrors(errors) {
    $("correct-form").querySelectorAll(".error").forEach(function (e) { clear(e); });
    var first = null;
    errors.forEach(function (e) {
      var parts = String(e.pointer || "").replace(/^\//, "").split("/");
      var target = (parts[0] === "changes" && parts[1] && $("c-err-" + parts[1])) ||
        ((parts[0] === "comment" || parts[0] === "email") && $("c-err-" + parts[0])) || $("c-top");
      target.appendChild(el("span", e.detail || "", { "class": "line" }));
      if (!first) first = target;
    });
    if (first) {
      var input = document.querySelector("[aria-describedby~='" + first.id + "']");
      if (!input) { first.setAttribute("tabindex", "-1"); input = first; }
      input.focus();
    }
  }
  // Flags: a short list of reasons, then free text (needed for "other").
  $("flag-kinds-legend").textContent = VF.flag_kind_legend || "";
  $("flag-reason-label").textContent = VF.flag_details || $("flag-reason-label").textContent;
  String(VF.flag_kinds || "").split("|").filter(Boolean).forEach(function (k, i, all) {
    var lab = el("label", null, { "class": "check" });
    var radio = el("input", null, { type: "radio", name: "flag-kind", value: k });
    if (i === all.length - 1) radio.setAttribute("data-other", "");
    lab.appendChild(radio);
    lab.appendChild(document.createTextNode(" " + k));
    $("flag-kinds").appendChild(lab);
  });
  $("btn-correct").textContent = VF.correct || "";
  $("btn-closed").textContent = VF.report_closed || "";
  $("c-comment-label").textContent = VF.comment || "";
  $("c-email-label").textContent = VF.email_optional || "";
  $("c-send").textContent = VF.send || "";
  $("c-cancel").textContent = VF.cancel || "";
  $("btn-correct").addEventListener("click", function () { openCorrection("change"); });
  $("btn-closed").addEventListener("click", function () { openCorrection("closed"); });
  $("c-cancel").addEventListener("click", function () { closeCorrection(); $("btn-correct").focus(); });
  $("correct-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var p = currentPlace, body = correctionBody();
    if (!p) return;
    var withPhotos = !!document.querySelector("#c-photos .photo-item");  // photos alone are a proposal
    if (!body.closed && !Object.keys(body.changes).length && !withPhotos) {
      correctionErrors([{ pointer: "", detail: fmt(V.format, { label: V.labels.changes, message: VF.nothing_changed }) }]);
      return;
    }
    say(S.pinSending);
    beforeSubmit(body, "correction").then(function (stop) {  // photos: uploads them, adds photo_ids
      if (stop) throw { stop: stop };
      return fetch("/api/v1/features/" + encodeURIComponent(p.id) + "/corrections?lang=" + LANG, {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(body)
      });
    }).then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, status: r.status, body: j }; }); })
      .then(function (res) {
        if (res.status === 422 && res.body.errors) { correctionErrors(res.body.errors); return; }
        if (!res.ok) { correctionErrors([{ pointer: "", detail: res.status === 429 ? res.body.detail : VF.server_down }]); return; }
        var url = new URL(res.body.tracking_url, location.href);
        if (url.origin !== location.origin) return;
        $("correct-form").hidden = true;
        $("correct-done").hidden = false;
        correcting = null;
        $("correct-actions").hidden = false;
        $("correct-thanks").textContent = VF.correct_thanks;
        $("correct-tracking").textContent = VF.correct_track;
        $("correct-tracking").setAttribute("href", url.pathname + url.search);
        say(VF.correct_thanks);
        $("correct-thanks").focus();
      })
      .catch(function (err) { correctionErrors([{ pointer: "", detail: err && err.stop ? err.stop : VF.server_down }]); });
  });


  // ---------- the seam for extension scripts (see window.Carte at the top) ----------
  window.Carte.categories = CATS;
  window.Carte.el = el;
  window.Carte.clear = clear;
  window.Carte.say = say;
  window.Carte.openPlace = openPlace;
  window.Carte.addDetailSection = function (name, render) {
    detailSections.push({ name: String(name), render: render });
    if (currentPlace && currentView === "detail-section") renderSections(currentPlace);
  };

  // ---------- start ----------
  flushOutbox();
  var wanted = readHash();
  setSheet("collapsed");
  if (!isPhone()) $("filters-box").open = true;
  if (shownCategories() || filterQuery().toString()) pushMapFilter();
  map.on("moveend", debounce(function () { writeHash(); refreshList(); }, 250));
  setListSummary(S.listLoading);
  refreshList();
  writeHash();
  if (wanted.f) openPlace({ id: wanted.f }, { centre: !wanted.hadView, fromHash: true });
})();
