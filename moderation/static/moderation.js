// The top bar's links fold under "Menu" on a narrow screen: the page opens with the menu
// closed there (open without script, so every link stays reachable), and always open on
// a wider screen, where the summary is not drawn (moderation.css, 48rem).
(function () {
  "use strict";
  var menu = document.getElementById("menu");
  if (!menu || !window.matchMedia) { return; }
  var wide = window.matchMedia("(min-width: 48rem)");
  function fit() { menu.open = wide.matches; }
  fit();
  if (wide.addEventListener) { wide.addEventListener("change", fit); }
})();

// Drag the point of the edit map to move it; typed coordinates move the point too.
// Progressive enhancement only: every action works with the keyboard and no script.
(function () {
  "use strict";
  var SCALE = 10000;
  var map = document.querySelector("#edit-map svg");
  var form = document.getElementById("edit-form");
  if (!map || !form) { return; }
  // The frame the server drew in (moderation/svg.py Frame): around the city's centre.
  var LON0 = parseFloat(map.getAttribute("data-lon0"));
  var LAT0 = parseFloat(map.getAttribute("data-lat0"));
  if (!isFinite(LON0) || !isFinite(LAT0)) { return; }
  var COS = Math.cos(LAT0 * Math.PI / 180);
  var point = map.querySelector(".point");
  var lon = form.querySelector("[data-coord=lon]"), lat = form.querySelector("[data-coord=lat]");
  if (!point || !lon || !lat) { return; }
  function toLonLat(x, y) { return [x / (SCALE * COS) + LON0, LAT0 - y / SCALE]; }
  function toXY(lo, la) { return [(lo - LON0) * SCALE * COS, (LAT0 - la) * SCALE]; }
  function place() {
    var lo = parseFloat(lon.value.replace(",", ".")), la = parseFloat(lat.value.replace(",", "."));
    if (isFinite(lo) && isFinite(la)) {
      var xy = toXY(lo, la);
      point.setAttribute("cx", xy[0].toFixed(0));
      point.setAttribute("cy", xy[1].toFixed(0));
    }
  }
  var dragging = false;
  function move(ev) {
    if (!dragging) { return; }
    var pt = map.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(map.getScreenCTM().inverse());
    var ll = toLonLat(p.x, p.y);
    lon.value = ll[0].toFixed(6); lat.value = ll[1].toFixed(6);
    place();
  }
  point.addEventListener("pointerdown", function (ev) { dragging = true; map.setPointerCapture(ev.pointerId); ev.preventDefault(); });
  map.addEventListener("pointermove", move);
  map.addEventListener("pointerup", function () { dragging = false; });
  lon.addEventListener("input", place);
  lat.addEventListener("input", place);
})();

// A background decision on an import: poll its state, redraw the progress, reload when
// it has finished (the page then shows the run as decided). Without script, the page
// has an "Actualiser / Refresh" link.
(function () {
  "use strict";
  var box = document.querySelector("[data-job-url]");
  if (!box) { return; }
  var state = box.getAttribute("data-job-status");
  if (state !== "queued" && state !== "running") { return; }
  var bar = box.querySelector(".job-progress"), count = box.querySelector(".job-count");
  function poll() {
    fetch(box.getAttribute("data-job-url"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        if (job.status === "done" || job.status === "failed") { window.location.reload(); return; }
        if (bar && job.total) { bar.max = job.total; bar.value = job.done; }
        if (count && job.total) { count.textContent = job.done + " / " + job.total; }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
})();

// Keyboard shortcuts of an item page (documented in its "?" help, #shortcuts):
// j = next waiting item, k = previous one (the links of #item-nav, which keep the
// queue's filters), ? = open or close the help. Never while the moderator types in a
// field or a key is held with Ctrl/Alt/Meta (the browser's own shortcuts stay theirs).
(function () {
  "use strict";
  var nav = document.getElementById("item-nav");
  var help = document.getElementById("shortcuts");
  if (!nav || !help) { return; }
  function typing(el) {
    if (!el || el === document.body) { return false; }
    if (el.isContentEditable) { return true; }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    if (tag !== "INPUT") { return false; }
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset", "image", "hidden"].indexOf(type) < 0;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) { return; }
    if (typing(ev.target)) { return; }
    var link = null;
    if (ev.key === "j") { link = nav.querySelector('a[data-key="j"]'); }
    else if (ev.key === "k") { link = nav.querySelector('a[data-key="k"]'); }
    else if (ev.key === "?") {
      ev.preventDefault();
      help.open = !help.open;
      if (help.open) { help.querySelector("summary").focus(); }
      return;
    } else { return; }
    if (link) { ev.preventDefault(); window.location.assign(link.href); }
  });
})();

// Back on the queue after a decision (#item-<id> of the next row): keyboard focus goes
// to that row's title link, where the eyes already are (Enter opens it; never to a
// decision button, so a second Enter cannot decide the next row by accident).
(function () {
  "use strict";
  var m = /^#item-(\d+)$/.exec(window.location.hash);
  if (!m) { return; }
  var row = document.getElementById("item-" + m[1]);
  var link = row && row.querySelector(".item-title a");
  if (!link) { return; }
  // after the browser's own scroll to the fragment, which would take the focus back
  function focus() { window.setTimeout(function () { link.focus({preventScroll: true}); }, 0); }
  if (document.readyState === "complete") { focus(); } else { window.addEventListener("load", focus); }
})();

// A decision is sent once: a second tap while the page loads would only meet the
// "already decided" conflict page. Forms are free again when the page comes back from
// the browser's history.
(function () {
  "use strict";
  var DECISION = /\/moderation\/submissions\/\d+\/(approve|refuse|edit|merge)$/;
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || !DECISION.test(form.getAttribute("action") || "")) { return; }
    if (form.getAttribute("data-sent")) { ev.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
  });
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) { return; }
    var sent = document.querySelectorAll("form[data-sent]");
    for (var i = 0; i < sent.length; i++) { sent[i].removeAttribute("data-sent"); }
  });
})();
