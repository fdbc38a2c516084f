/* Carte citoyenne: joining missions and events from a place's panel (issue 20).
 *
 * Loaded after app.js (webmap/views/map.py EXTENSIONS), through window.Carte only.
 * Carte.addDetailSection("signup") shows, for a mission or an event, what
 * GET /api/v1/features/{id}/signups says: places left, "complet / full", the waiting
 * list, and the resident's own sign-up; then "Je participe / I'm in":
 *   - signed out: a link to /auth/magic?next=/missions/{id}/join (sign in, then join);
 *   - signed in, the item asks questions: a link to /missions/{id}/join (the form);
 *   - signed in, no question: POST /api/v1/features/{id}/signups (JSON) right here.
 * The organiser gets a link to their page of sign-ups. Text goes through textContent
 * only; the strings are this file's own {fr, en} table.
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
      sending: "Envoi…"
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
      sending: "Sending…"
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
                           { "class": "signup-mine" }));
      box.appendChild(C.el("a", T.manage, { href: joinPath(id), "class": "signup-link" }));
    } else if (info.open) {
      var label = info.full && info.waiting_list ? T.joinWaiting : T.join;
      if (!info.signed_in) {
        box.appendChild(C.el("a", info.full && info.waiting_list ? T.joinWaiting : T.signIn, {
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
})();
