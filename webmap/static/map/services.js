/* Carte citoyenne: the city's services on the map page (issue 21).
 *
 * Loaded after app.js (webmap/views/map.py EXTENSIONS) and uses only window.Carte:
 *   - the panel: the "open now" line app.js writes above a place's week of hours
 *     (#detail-hours .open-now) becomes "Ouvert maintenant, ferme à 19 h", "Fermé,
 *     ouvre à 9 h (demain)", "Open now, closes at 7 pm", "Open 24/7" (a detail section,
 *     "open-now", runs after app.js has drawn the hours);
 *   - the list: each place with structured hours says "Ouvert · ferme à 19 h" or
 *     "Fermé · ouvre lundi à 9 h" under its title (Carte.listDecorators, when the page
 *     has it).
 * Times are the city's (Carte.timezone), words the resident's language (Carte.lang).
 * The rules are those of geo/opening.py (the walk uses them): weekly slots
 * {day, from, to}, slots that touch across midnight are one opening, the week wraps.
 * Text reaches the page through textContent only.
 */
(function () {
  "use strict";
  var C = window.Carte;
  if (!C) return;
  var LANG = C.lang === "en" ? "en" : "fr";
  var T = {
    fr: {
      openUntil: "Ouvert maintenant, ferme à {t}", openAlways: "Ouvert 24 h/24",
      closedOpens: "Fermé, ouvre à {t}", closedOpensDay: "Fermé, ouvre {day} à {t}",
      closedNever: "Fermé", tomorrow: " (demain)",
      stale: " — horaires donnés jusqu'au {d}, à vérifier",
      listOpen: "Ouvert · ferme à {t}", listAlways: "Ouvert 24 h/24",
      listClosed: "Fermé · ouvre à {t}", listClosedDay: "Fermé · ouvre {day} à {t}",
      days: ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    },
    en: {
      openUntil: "Open now, closes at {t}", openAlways: "Open 24/7",
      closedOpens: "Closed, opens at {t}", closedOpensDay: "Closed, opens {day} at {t}",
      closedNever: "Closed", tomorrow: " (tomorrow)",
      stale: " — hours given until {d}, check before going",
      listOpen: "Open · closes at {t}", listAlways: "Open 24/7",
      listClosed: "Closed · opens at {t}", listClosedDay: "Closed · opens {day} at {t}",
      days: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    }
  }[LANG];
  var DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  var WEEK = 7 * 1440;
  var PARTS = new Intl.DateTimeFormat("en-GB", {
    timeZone: C.timezone || "Europe/Paris", weekday: "short", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23"
  });
  var WD = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }
  function minutes(hhmm) {
    var p = String(hhmm).split(":");
    return (+p[0]) * 60 + (+p[1] || 0);
  }
  /** The minute of the week it is now in the city (Monday 00:00 = 0). */
  function nowMinute(date) {
    var out = {};
    PARTS.formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return WD[out.weekday] * 1440 + (+out.hour % 24) * 60 + (+out.minute);
  }
  /** Merged openings [start, end) in minutes of the week; see geo/opening.py. */
  function openings(slots) {
    var spans = slots.filter(function (s) { return s && DAYS.indexOf(s.day) >= 0 && s.from && s.to; })
      .map(function (s) { var d = DAYS.indexOf(s.day) * 1440; return [d + minutes(s.from), d + minutes(s.to)]; })
      .filter(function (x) { return x[1] > x[0]; })
      .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var merged = [];
    spans.forEach(function (x) {
      var last = merged[merged.length - 1];
      if (last && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
      else merged.push([x[0], x[1]]);
    });
    if (merged.length > 1 && merged[0][0] === 0 && merged[merged.length - 1][1] === WEEK) {
      var first = merged.shift();
      merged[merged.length - 1][1] = WEEK + first[1];
    }
    return merged;
  }
  /** {open, always, at (minute of week of the change), days (0 today, 1 tomorrow...)} */
  function state(slots, date) {
    var spans = openings(slots);
    if (!spans.length) return { open: false };
    if (spans.length === 1 && spans[0][0] === 0 && spans[0][1] === WEEK) return { open: true, always: true };
    var now = nowMinute(date || new Date());
    for (var i = 0; i < spans.length; i++) {
      var shifts = [-WEEK, 0];
      for (var k = 0; k < shifts.length; k++) {
        var a = spans[i][0] + shifts[k], b = spans[i][1] + shifts[k];
        if (a <= now && now < b) return { open: true, at: b, days: Math.floor((b - 1) / 1440) - Math.floor(now / 1440) };  // closing at midnight is today
      }
    }
    var next = Infinity;
    spans.forEach(function (s) { var a = s[0] > now ? s[0] : s[0] + WEEK; if (a < next) next = a; });
    return { open: false, at: next, days: Math.floor(next / 1440) - Math.floor(now / 1440) };
  }
  /** "19 h", "9 h 30", "minuit" / "7 pm", "9:30 am", "midnight". */
  function clock(minuteOfWeek) {
    var m = ((minuteOfWeek % 1440) + 1440) % 1440, h = Math.floor(m / 60), mm = m % 60;
    if (LANG === "fr") {
      if (m === 0) return "minuit";
      return h + " h" + (mm ? " " + (mm < 10 ? "0" : "") + mm : "");
    }
    if (m === 0) return "midnight";
    if (m === 720) return "noon";
    var h12 = h % 12 === 0 ? 12 : h % 12;
    return h12 + (mm ? ":" + (mm < 10 ? "0" : "") + mm : "") + (h < 12 ? " am" : " pm");
  }
  function dayName(minuteOfWeek) { return T.days[Math.floor(minuteOfWeek / 1440) % 7]; }

  /** The panel's sentence for weekly slots, now (or at `date`). */
  function sentence(slots, date) {
    var s = state(slots, date);
    if (s.always) return T.openAlways;
    if (s.open) return fill(T.openUntil, { t: clock(s.at) }) + (s.days === 1 ? T.tomorrow : "");
    if (s.at === undefined) return T.closedNever;
    if (s.days === 0) return fill(T.closedOpens, { t: clock(s.at) });
    if (s.days === 1) return fill(T.closedOpens, { t: clock(s.at) }) + T.tomorrow;
    return fill(T.closedOpensDay, { t: clock(s.at), day: dayName(s.at) });
  }
  function shortSentence(slots, date) {
    var s = state(slots, date);
    if (s.always) return T.listAlways;
    if (s.open) return fill(T.listOpen, { t: clock(s.at) }) + (s.days === 1 ? T.tomorrow : "");
    if (s.at === undefined) return T.closedNever;
    if (s.days === 0) return fill(T.listClosed, { t: clock(s.at) });
    if (s.days === 1) return fill(T.listClosed, { t: clock(s.at) }) + T.tomorrow;
    return fill(T.listClosedDay, { t: clock(s.at), day: dayName(s.at) });
  }
  function slotsOf(props) {
    var a = (props && props.attributes) || {};
    return Array.isArray(a.hours) && a.hours.length && a.hours.every(function (s) { return s && s.day; }) ? a.hours : null;
  }
  function now() { return typeof C.now === "function" ? C.now() : new Date(); }

  /** The end of a period such as "du 01/09/25 au 05/07/26" when it is already past. */
  function staleUntil(props, date) {
    var period = String(((props && props.attributes) || {}).hours_period || "");
    var m = /au (\d{2})\/(\d{2})\/(\d{2,4})\s*$/.exec(period);
    if (!m) return null;
    var year = m[3].length === 2 ? 2000 + (+m[3]) : +m[3];
    var end = Date.UTC(year, +m[2] - 1, +m[1] + 1);  // the end of that day, near enough
    return end < date.getTime() ? m[1] + "/" + m[2] + "/" + m[3] : null;
  }

  // The panel: app.js wrote its own "open now" line in #detail-hours; say it better.
  C.addDetailSection("open-now", function (props, box) {
    var slots = slotsOf(props);
    var line = document.querySelector("#detail-hours .open-now");
    if (!slots || !line) return;
    var s = state(slots, now());
    var stale = staleUntil(props, now());  // a season's hours whose season is over
    line.textContent = sentence(slots, now()) + (stale ? fill(T.stale, { d: stale }) : "");
    line.classList.add(s.open ? "is-open" : "is-closed");
    box.hidden = true;  // nothing of its own to show
  });

  // The list: a line under each title that has structured hours.
  if (Array.isArray(C.listDecorators)) {
    C.listDecorators.push(function (props, button) {
      var slots = slotsOf(props);
      if (!slots) return;
      var s = state(slots, now());
      var title = button.querySelector(".title") || button;
      title.appendChild(C.el("span", shortSentence(slots, now()), { "class": "open-state " + (s.open ? "is-open" : "is-closed") }));
    });
  }

  // Ma balade: "only places open during the walk", and each stop's state at arrival.
  var W = {
    fr: { only: "Seulement les lieux ouverts pendant la balade",
          openThen: "Ouvert à votre arrivée, ferme à {t}", openThenAlways: "Ouvert à votre arrivée",
          closedThen: "Fermé à votre arrivée, ouvre à {t}", closedThenDay: "Fermé à votre arrivée, ouvre {day} à {t}",
          closedThenNever: "Fermé à votre arrivée" },
    en: { only: "Only places open during the walk",
          openThen: "Open when you arrive, closes at {t}", openThenAlways: "Open when you arrive",
          closedThen: "Closed when you arrive, opens at {t}", closedThenDay: "Closed when you arrive, opens {day} at {t}",
          closedThenNever: "Closed when you arrive" }
  }[LANG];
  var walkForm = document.getElementById("walk-form");
  if (walkForm && !document.getElementById("w-open")) {
    var row = C.el("p", null, { "class": "walk-open" });
    var box = C.el("input", null, { type: "checkbox", id: "w-open", name: "open", value: "1" });
    row.appendChild(box);
    row.appendChild(C.el("label", " " + W.only, { "for": "w-open" }));
    var hint = walkForm.querySelector(".hint");
    walkForm.insertBefore(row, hint || walkForm.querySelector("button"));
  }
  /** "2026-12-07T14:00+01:00" (the city's local time) -> minute of the week. */
  function localMinute(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) return null;
    var wd = (new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).getUTCDay() + 6) % 7;
    return wd * 1440 + (+m[4]) * 60 + (+m[5]);
  }
  C.walkStopDecorators = C.walkStopDecorators || [];
  C.walkStopDecorators.push(function (stop, li) {
    if (stop.open === true) {
      var until = localMinute(stop.closes_at);
      li.appendChild(C.el("div", until === null ? W.openThenAlways : fill(W.openThen, { t: clock(until) }), { "class": "open-state is-open" }));
    } else if (stop.open === false) {
      var at = localMinute(stop.opens_at), sameDay = !!stop.opens_at && stop.opens_at.slice(0, 10) === String(stop.arrive_at || "").slice(0, 10);
      var text = at === null ? W.closedThenNever : fill(sameDay ? W.closedThen : W.closedThenDay, { t: clock(at), day: dayName(at) });
      li.appendChild(C.el("div", text, { "class": "open-state is-closed" }));
    }
  });

  C.openingSentence = sentence;  // for other extensions (and the browser test)

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = (document.currentScript && document.currentScript.src
    ? document.currentScript.src.replace(/services\.js(\?.*)?$/, "services.css")
    : "/static/map/services.css");
  document.head.appendChild(link);
})();
