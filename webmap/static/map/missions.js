/* Carte citoyenne: joining missions and events from a place's panel (issue 20).
 *
 * Loaded after app.js (webmap/views/map.py EXTENSIONS), through window.Carte only.
 * Carte.addDetailSection("signup") shows, for a mission or an event, what
 * GET /api/v1/features/{id}/signups says: places left, "complet / full", the waiting
 * list, and the resident's own sign-up; then "Je participe / I'm in":
 *   - signed out: a link to /auth/magic?next=/missions/{id}/join (sign in, then join);
 *   - signed in, the item asks questions: a link to /missions/{id}/join (the form);
 *   - signed in, no question: POST /api/v1/features/{id}/signups (JSON) right here.
 * The organiser gets a link to their page of sign-ups. A full item offers its waiting
 * list ("Liste d'attente / Join the waiting list").
 *
 * The map's list (Carte.listDecorators): each mission or event of the list gets a line
 * "Complet · liste d'attente" or "3 places restantes" when it has a capacity, from one
 * GET /api/v1/missions/places?ids=... per drawing of the list (live counts, not a
 * published attribute; answers kept 15 s here as the server's cache says). A checkbox
 * in the filters, "Seulement les missions avec des places / Only missions with places
 * left" (kept in this browser), hides the list's full or closed missions and events
 * and says how many it hid. Text goes through textContent only; the strings are this
 * file's own {fr, en} table.
 */
(function () {
  "use strict";
  var C = window.Carte;
  if (!C || !C.addDetailSection) return;

  var STRINGS = {
    fr: {
      heading: "Participer",
      left1: "1 place restante", left: "{n} places restantes",
      full: "Complet", waiting: "liste d'attente : {n}",
      count1: "1 inscrit·e", count: "{n} inscrit·e·s",
      over: "C'est terminé.", closed: "Les inscriptions sont closes.",
      join: "Je participe", joinWaiting: "M'inscrire en liste d'attente",
      signIn: "Je participe (connexion par e-mail)",
      mine: "Vous participez.", mineWaiting: "Vous êtes en liste d'attente (position {n}).",
      manage: "Gérer mon inscription", organiser: "Voir les inscriptions (vous organisez)",
      done: "C'est noté : vous participez. Une confirmation arrive par e-mail.",
      doneWaiting: "C'est complet : vous êtes en liste d'attente (position {n}).",
      failed: "L'inscription n'a pas abouti. Réessayez dans un instant.",
      fullNow: "Désolé, c'est complet.",
      sending: "Envoi…",
      joinWaitingSignIn: "Liste d'attente (connexion par e-mail)",
      listFull: "Complet", listFullWaiting: "Complet · liste d'attente",
      listClosed: "Inscriptions closes",
      onlyPlaces: "Seulement les missions avec des places",
      hidden1: "1 mission complète masquée", hidden: "{n} missions complètes masquées"
    },
    en: {
      heading: "Take part",
      left1: "1 place left", left: "{n} places left",
      full: "Full", waiting: "waiting list: {n}",
      count1: "1 signed up", count: "{n} signed up",
      over: "This is over.", closed: "Sign-ups are closed.",
      join: "I'm in", joinWaiting: "Join the waiting list",
      signIn: "I'm in (sign in by e-mail)",
      mine: "You're in.", mineWaiting: "You are on the waiting list (number {n}).",
      manage: "Manage my sign-up", organiser: "See the sign-ups (you organise this)",
      done: "Done: you're in. A confirmation is on its way by e-mail.",
      doneWaiting: "It is full: you are on the waiting list (number {n}).",
      failed: "The sign-up did not go through. Try again in a moment.",
      fullNow: "Sorry, it is full.",
      sending: "Sending…",
      joinWaitingSignIn: "Join the waiting list (sign in by e-mail)",
      listFull: "Full", listFullWaiting: "Full · waiting list",
      listClosed: "Sign-ups closed",
      onlyPlaces: "Only missions with places left",
      hidden1: "1 full mission hidden", hidden: "{n} full missions hidden"
    }
  };
  var T = STRINGS[C.lang] || STRINGS.fr;

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/map/missions.css";
  document.head.appendChild(link);

  function fmt(s, n) { return s.replace("{n}", String(n)); }
  function kindOf(props) {
    var cat = C.categories && C.categories[props.category];
    return cat ? cat.kind : null;
  }
  function joinPath(id) { return "/missions/" + encodeURIComponent(id) + "/join"; }

  function placesText(info) {
    if (info.over) return T.over;
    if (info.closed) return T.closed;
    if (info.full) {
      return info.waiting_list && info.waiting ? T.full + " — " + fmt(T.waiting, info.waiting) : T.full;
    }
    if (info.places_left !== null && info.places_left !== undefined) {
      return info.places_left === 1 ? T.left1 : fmt(T.left, info.places_left);
    }
    return info.confirmed === 1 ? T.count1 : fmt(T.count, info.confirmed);
  }

  function render(props, box) {
    var kind = kindOf(props);
    if (kind !== "mission" && kind !== "event") return;
    var id = props.id;
    fetch("/api/v1/features/" + encodeURIComponent(id) + "/signups", {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (info) {
      if (!info || !box.isConnected) return;
      draw(box, info, id);
    }).catch(function () { /* the panel stays as it is without this section */ });
  }

  function draw(box, info, id) {
    C.clear(box);
    box.classList.add("signup-box");
    box.appendChild(C.el("h3", T.heading));
    var places = C.el("p", placesText(info), { "class": "signup-places" + (info.full ? " is-full" : "") });
    box.appendChild(places);
    if (info.mine) {
      box.appendChild(C.el("p", info.mine === "waiting" ? fmt(T.mineWaiting, info.waiting_position) : T.mine,
                           { "class": "signup-mine" + (info.mine === "waiting" ? " is-waiting" : "") }));
      box.appendChild(C.el("a", T.manage, { href: joinPath(id), "class": "signup-link" }));
    } else if (info.open) {
      var label = info.full && info.waiting_list ? T.joinWaiting : T.join;
      if (!info.signed_in) {
        box.appendChild(C.el("a", info.full && info.waiting_list ? T.joinWaitingSignIn : T.signIn, {
          href: "/auth/magic?next=" + encodeURIComponent(joinPath(id)), "class": "signup-button"
        }));
      } else if (info.questions && info.questions.length) {
        box.appendChild(C.el("a", label, { href: joinPath(id), "class": "signup-button" }));
      } else {
        var button = C.el("button", label, { type: "button", "class": "signup-button" });
        button.addEventListener("click", function () { join(box, button, id); });
        box.appendChild(button);
      }
    }
    if (info.organiser) {
      box.appendChild(C.el("a", T.organiser, { href: "/missions/" + encodeURIComponent(id) + "/organiser",
                                               "class": "signup-link" }));
    }
    box.appendChild(C.el("p", "", { "class": "signup-status", role: "status" }));
  }

  function join(box, button, id) {
    button.disabled = true;
    button.textContent = T.sending;
    fetch("/api/v1/features/" + encodeURIComponent(id) + "/signups", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ answers: [] })
    }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      if (res.status === 409) { C.say(T.fullNow); }
      else if (res.status >= 400) { C.say(T.failed); }
      else if (res.body.status === "waiting") { C.say(fmt(T.doneWaiting, res.body.waiting_position)); }
      else { C.say(T.done); }
      return fetch("/api/v1/features/" + encodeURIComponent(id) + "/signups", {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) { return r.json(); }).then(function (info) {
        if (!box.isConnected) return;
        draw(box, info, id);  // says "you're in" / the waiting position (C.say announced it)
        if (res.status >= 400) {
          var status = box.querySelector(".signup-status");
          if (status) status.textContent = res.status === 409 ? T.fullNow : T.failed;
        }
      });
    }).catch(function () {
      button.disabled = false;
      button.textContent = T.join;
      C.say(T.failed);
    });
  }

  C.addDetailSection("signup", render);

  // ---------- the map's list: "Complet" and "only missions with places left" ----------
  var FRESH_MS = 15000;          // the server's Cache-Control: max-age
  var BATCH = 100;               // ids per request (the list shows at most 100)
  var ONLY_KEY = "carte.onlyPlaces";
  var known = {};                // id -> {p: places, at: time}
  var pending = {};              // id -> [list buttons] waiting for counts
  var timer = null;

  function noLongerJoinable(p) { return p.full || p.closed; }
  function badgeText(p) {
    if (p.closed) return T.listClosed;
    if (p.full) return p.waiting_list ? T.listFullWaiting : T.listFull;
    if (p.places_left === null || p.places_left === undefined) return null;
    return p.places_left === 1 ? T.left1 : fmt(T.left, p.places_left);
  }
  function decorate(btn, p) {
    var old = btn.querySelector(".places-badge");
    if (old) old.parentNode.removeChild(old);
    var li = btn.parentNode;
    var text = badgeText(p);
    if (li) li.classList.toggle("is-full", noLongerJoinable(p));
    if (!text) return;
    var where = btn.querySelector(".title") || btn;
    where.appendChild(C.el("span", text, { "class": "places-badge" + (noLongerJoinable(p) ? " is-full" : "") }));
  }
  function onlyPlaces() {
    var box = document.getElementById("only-places");
    return !!(box && box.checked);
  }
  /** Hide (or show again) the list's full missions and events; say how many are hidden. */
  function applyHide() {
    var list = document.getElementById("list");
    if (!list) return;
    var hide = onlyPlaces(), n = 0;
    Array.prototype.forEach.call(list.children, function (li) {
      var gone = hide && li.classList.contains("is-full");
      li.hidden = gone;
      if (gone) n += 1;
    });
    var note = document.getElementById("places-hidden");
    if (note) note.textContent = n ? (n === 1 ? T.hidden1 : fmt(T.hidden, n)) : "";
  }
  function flush() {
    timer = null;
    var batch = pending;
    pending = {};
    var ids = Object.keys(batch);
    for (var i = 0; i < ids.length; i += BATCH) fetchPlaces(ids.slice(i, i + BATCH), batch);
  }
  function fetchPlaces(ids, batch) {
    fetch("/api/v1/missions/places?ids=" + ids.join(","), { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (found) {
        var now = Date.now();
        ids.forEach(function (id) {
          var p = found[id];
          if (!p) return;
          known[id] = { p: p, at: now };
          batch[id].forEach(function (btn) { if (btn.isConnected) decorate(btn, p); });
        });
        applyHide();
      })
      .catch(function () { /* the list stays as it is, without counts */ });
  }
  C.listDecorators.push(function (props, btn) {
    var kind = kindOf(props);
    if (kind !== "mission" && kind !== "event") return;
    var id = String(props.id), seen = known[id];
    if (seen && Date.now() - seen.at < FRESH_MS) {
      decorate(btn, seen.p);
      if (!timer) timer = setTimeout(function () { timer = null; applyHide(); }, 0);
      return;
    }
    (pending[id] = pending[id] || []).push(btn);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, 0);  // once the list is drawn: one request for all of it
  });

  // A list drawn before this script ran (its answer came from the cache first): ask for
  // all its ids, the server answers for the missions and events among them only.
  Array.prototype.forEach.call(document.querySelectorAll("#list li button[data-id]"), function (btn) {
    var id = btn.getAttribute("data-id");
    (pending[id] = pending[id] || []).push(btn);
  });
  if (Object.keys(pending).length) timer = setTimeout(flush, 0);

  // The filter, only when the city has missions or events that can be joined.
  var joinable = Object.keys(C.categories || {}).some(function (slug) {
    var k = C.categories[slug].kind;
    return k === "mission" || k === "event";
  });
  var filtersBox = document.getElementById("filters-box");
  if (joinable && filtersBox) {
    var input = C.el("input", null, { type: "checkbox", id: "only-places" });
    var stored = null;
    try { stored = window.localStorage.getItem(ONLY_KEY); } catch (e) { /* private mode */ }
    input.checked = stored === "1";
    var label = C.el("label", null, { "class": "check", "for": "only-places" });
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + T.onlyPlaces));
    var reset = document.getElementById("filters-reset");
    filtersBox.insertBefore(label, reset && reset.parentNode === filtersBox ? reset : null);
    input.addEventListener("change", function (e) {
      e.stopPropagation();  // the list is already drawn: no refetch, only hide or show
      try { window.localStorage.setItem(ONLY_KEY, input.checked ? "1" : "0"); } catch (e) { /* private mode */ }
      applyHide();
    });
    if (reset) reset.addEventListener("click", function () {
      input.checked = false;
      try { window.localStorage.removeItem(ONLY_KEY); } catch (e) { /* private mode */ }
      applyHide();
    });
    var status = document.getElementById("list-status");
    if (status) {
      var note = C.el("p", "", { id: "places-hidden", "class": "places-hidden" });
      status.parentNode.insertBefore(note, status.nextSibling);
    }
  }
})();
