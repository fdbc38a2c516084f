/* Carte citoyenne: answering an offer, a request or a mission from a place's panel
 * (issue 20: residents reach each other only through the site).
 *
 * Loaded after app.js (webmap/views/map.py EXTENSIONS), through window.Carte only.
 *
 * ---- Identity and relayed messages (identity engineer) ----
 * Carte.addDetailSection("answer") asks GET /api/v1/features/{id}/contact whether the
 * place can be answered (an item of an answerable kind whose organiser is a resident;
 * open data has no organiser, so no button), then shows "Répondre / Answer":
 *   - signed out: a link to /auth/magic?next=/#f={id} (sign in by e-mail, come back);
 *   - the organiser: a line saying answers arrive in their conversations (/me);
 *   - signed in: a small form that POSTs {"body"} as JSON to
 *     /api/v1/features/{id}/messages; the answer is relayed by e-mail, never the
 *     addresses; an earlier conversation is linked.
 * Text reaches the page through textContent only; the strings are this file's own
 * {fr, en} table. The ledger engineer's block (time exchange, loans) follows below.
 */
(function () {
  "use strict";
  var C = window.Carte;
  if (!C || !C.addDetailSection) return;

  var STRINGS = {
    fr: {
      heading: "Répondre",
      intro: "Écrivez à la personne qui propose ceci. Le message passe par le site : ni votre adresse ni la sienne ne sont communiquées.",
      signIn: "Répondre (connexion par e-mail)",
      mine: "C'est votre annonce : les réponses arrivent par e-mail et dans vos conversations.",
      myPage: "Ma page",
      label: "Votre message",
      send: "Envoyer",
      sending: "Envoi…",
      sent: "Message envoyé. La réponse arrivera par e-mail et dans vos conversations.",
      thread: "Voir la conversation",
      empty: "Écrivez un message.",
      spam: "Ce message ressemble à du spam ({reasons}). Écrivez-le sans liens ni mots répétés.",
      tooMany: "Vous avez envoyé beaucoup de messages dans l'heure : attendez un peu.",
      blocked: "Ce message ne peut pas être envoyé (messages bloqués).",
      expired: "Votre session a expiré : reconnectez-vous.",
      failed: "Le message n'est pas parti. Réessayez dans un instant."
    },
    en: {
      heading: "Answer",
      intro: "Write to the person who offers this. The message goes through the site: neither your address nor theirs is shared.",
      signIn: "Answer (sign in by e-mail)",
      mine: "This is yours: answers arrive by e-mail and in your conversations.",
      myPage: "My page",
      label: "Your message",
      send: "Send",
      sending: "Sending…",
      sent: "Message sent. The answer will come by e-mail and in your conversations.",
      thread: "See the conversation",
      empty: "Write a message.",
      spam: "This message looks like spam ({reasons}). Write it without links or repeated words.",
      tooMany: "You sent many messages in the last hour: wait a little.",
      blocked: "This message cannot be sent (messages blocked).",
      expired: "Your session has expired: sign in again.",
      failed: "The message was not sent. Try again in a moment."
    }
  };
  var T = STRINGS[C.lang] || STRINGS.fr;
  var ANSWERABLE = { offer: true, request: true, loan: true, exchange: true, mission: true };

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/map/exchange.css";
  document.head.appendChild(css);

  function kindOf(props) {
    var cat = C.categories && C.categories[props.category];
    return cat ? cat.kind : null;
  }
  function signInUrl(id) {
    return "/auth/magic?next=" + encodeURIComponent("/#f=" + id);
  }
  function link(text, href) {
    return C.el("a", text, { href: href });
  }

  function problemText(status, body) {
    if (status === 422 && body && body.reasons) return T.spam.replace("{reasons}", body.reasons.join(" ; "));
    if (status === 429) return T.tooMany;
    if (status === 403) return T.blocked;
    if (status === 401) return T.expired;
    if (status === 400) return T.empty;
    return T.failed;
  }

  function form(props, box, info) {
    var id = props.id;
    var f = C.el("form", null, { "class": "exchange-answer", novalidate: "" });
    var fieldId = "answer-body-" + id;
    f.appendChild(C.el("label", T.label, { "for": fieldId }));
    var area = C.el("textarea", null, { id: fieldId, name: "body", maxlength: "4000", rows: "4", required: "" });
    f.appendChild(area);
    var err = C.el("p", null, { "class": "exchange-error", role: "alert", id: fieldId + "-error" });
    f.appendChild(err);
    var button = C.el("button", T.send, { type: "submit" });
    f.appendChild(button);
    var threadBox = C.el("p", null, { "class": "exchange-thread" });
    if (info.thread_url) threadBox.appendChild(link(T.thread, info.thread_url));
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      area.removeAttribute("aria-invalid");
      var text = area.value.trim();
      if (!text) {
        err.textContent = T.empty;
        area.setAttribute("aria-invalid", "true");
        area.setAttribute("aria-describedby", err.id);
        area.focus();
        return;
      }
      button.disabled = true;
      button.textContent = T.sending;
      fetch("/api/v1/features/" + encodeURIComponent(id) + "/messages", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ body: text })
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          return { status: r.status, body: body };
        });
      }).then(function (res) {
        button.disabled = false;
        button.textContent = T.send;
        if (res.status === 201 && res.body) {
          area.value = "";
          C.clear(threadBox);
          threadBox.appendChild(link(T.thread, res.body.thread_url));
          err.textContent = "";
          var before = f.querySelector(".exchange-sent");
          if (before) f.removeChild(before);
          var ok = C.el("p", T.sent, { "class": "exchange-sent", role: "status" });
          f.insertBefore(ok, button);
          C.say(T.sent);
          return;
        }
        err.textContent = problemText(res.status, res.body);
        area.setAttribute("aria-invalid", "true");
        area.setAttribute("aria-describedby", err.id);
        if (res.status === 401) {
          err.appendChild(document.createTextNode(" "));
          err.appendChild(link(T.signIn, signInUrl(id)));
        }
      }).catch(function () {
        button.disabled = false;
        button.textContent = T.send;
        err.textContent = T.failed;
      });
    });
    box.appendChild(f);
    box.appendChild(threadBox);
  }

  function render(props, box) {
    if (!ANSWERABLE[kindOf(props)] || props.id === undefined || props.id === null) return;
    fetch("/api/v1/features/" + encodeURIComponent(props.id) + "/contact", {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (info) {
      if (!info || !info.answerable) return;
      box.classList.add("exchange-box");
      box.appendChild(C.el("h3", T.heading));
      if (info.mine) {
        var p = C.el("p", T.mine);
        p.appendChild(document.createTextNode(" "));
        p.appendChild(link(T.myPage, "/me"));
        box.appendChild(p);
        return;
      }
      box.appendChild(C.el("p", T.intro, { "class": "exchange-intro" }));
      if (!info.signed_in) {
        box.appendChild(link(T.signIn, signInUrl(props.id)));
        return;
      }
      form(props, box, info);
    }).catch(function () { /* the rest of the panel stays */ });
  }

  C.addDetailSection("answer", render);
})();

/* ---- Time exchange and loans (ledger engineer): a separate block below this line ---- */
/* The panel of a time-exchange or lending offer (categories echange-temps, pret-troc)
 * asks GET /api/v1/features/{id}/exchange and shows:
 *   - "En prêt jusqu'au … / On loan until …" while the object is out (the published
 *     attribute on_loan_until, which every public output carries too);
 *   - the step that fits the visitor: start a time exchange or ask to borrow
 *     (/exchange/offers/{id}; signed out: sign in first, then come back there), the
 *     exchange or loan already open with this offer, or, for its author, their time
 *     bank page. Never who published the offer.
 * In the list of places (Carte.listDecorators), an object out on loan says so too.
 * textContent only (C.el); strings from this block's own {fr, en} table.
 */
(function () {
  "use strict";
  var C = window.Carte;
  if (!C || !C.addDetailSection) return;
  var CATEGORIES = { "echange-temps": "time", "pret-troc": "loan" };
  var STRINGS = {
    fr: {
      onLoan: "En prêt jusqu'au {date}",
      late: "En prêt (retour prévu le {date})",
      available: "Disponible",
      startTime: "Proposer un échange de temps",
      borrow: "Demander à l'emprunter",
      signIn: "Se connecter pour proposer un échange",
      openTime: "Votre échange en cours",
      openLoan: "Votre prêt en cours",
      mine: "Ma banque de temps et mes prêts",
      timeIntro: "Banque de temps : un quart d'heure donné vaut un quart d'heure à recevoir.",
      loanIntro: "Prêt entre voisins : vous convenez des dates, vous indiquez tous les deux la remise et le retour."
    },
    en: {
      onLoan: "On loan until {date}",
      late: "On loan (due back on {date})",
      available: "Available",
      startTime: "Start a time exchange",
      borrow: "Ask to borrow it",
      signIn: "Sign in to start an exchange",
      openTime: "Your exchange in progress",
      openLoan: "Your loan in progress",
      mine: "My time bank and loans",
      timeIntro: "Time bank: a quarter of an hour given earns a quarter of an hour to receive.",
      loanIntro: "Lending between neighbours: agree on the dates, both say when it changes hands and comes back."
    }
  };
  var T = STRINGS[C.lang] || STRINGS.fr;

  function day(iso) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!parts) return iso;
    var d = new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3], 12));
    try {
      return d.toLocaleDateString(C.lang === "en" ? "en-GB" : "fr-FR",
        { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
    } catch (e) { return iso; }
  }

  /** Today in the city's time zone, YYYY-MM-DD (a due date is a day of the city). */
  function today() {
    try {
      var parts = new Intl.DateTimeFormat("en-CA", { timeZone: C.timezone || "Europe/Paris",
        year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date());
      var get = function (t) { return parts.filter(function (p) { return p.type === t; })[0].value; };
      return get("year") + "-" + get("month") + "-" + get("day");
    } catch (e) { return new Date().toISOString().slice(0, 10); }
  }

  function render(props, box) {
    var kind = CATEGORIES[props.category];
    if (!kind || props.id === undefined || props.id === null) return;
    fetch("/api/v1/features/" + encodeURIComponent(props.id) + "/exchange", {
      credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (info) {
      if (!info) return;
      box.classList.add("exchange-box", "timebank-box");
      if (info.kind === "loan") {
        var due = info.on_loan_until;
        var state = !due ? T.available
          : (due < today() ? T.late : T.onLoan).replace("{date}", day(due));
        box.appendChild(C.el("p", null, { "class": "timebank-loan" })).appendChild(
          C.el("strong", state, { "data-on-loan-until": info.on_loan_until || "" }));
      }
      if (!info.answerable) return;
      box.appendChild(C.el("p", info.kind === "time" ? T.timeIntro : T.loanIntro,
                           { "class": "exchange-intro" }));
      var target, text;
      if (info.mine) {
        target = "/exchange/"; text = T.mine;
      } else if (info.open) {
        target = info.open.url; text = info.kind === "time" ? T.openTime : T.openLoan;
      } else if (!info.signed_in) {
        target = "/auth/magic?next=" + encodeURIComponent(info.answer_url); text = T.signIn;
      } else {
        target = info.answer_url; text = info.kind === "time" ? T.startTime : T.borrow;
      }
      box.appendChild(C.el("p")).appendChild(
        C.el("a", text, { href: target + (target.indexOf("?") < 0 ? "?lang=" + C.lang : ""),
                          "class": "timebank-action" }));
    }).catch(function () { /* the rest of the panel stays */ });
  }

  C.addDetailSection("timebank", render);

  // The list of places: an object out on loan says so next to its title.
  if (Array.isArray(C.listDecorators)) {
    C.listDecorators.push(function (props, button) {
      var attrs = props.attributes;
      if (typeof attrs === "string") { try { attrs = JSON.parse(attrs); } catch (e) { attrs = null; } }
      var due = attrs && attrs.on_loan_until;
      if (!due || props.category !== "pret-troc") return;
      var meta = button.querySelector(".meta");
      var text = " · " + T.onLoan.replace("{date}", day(due));
      if (meta) meta.appendChild(C.el("span", text, { "class": "timebank-list-loan" }));
    });
  }
})();
