/* The no-JavaScript form (/submit, ingestion/templates/ingestion/submit.html), when a
   script does run: only the chosen category's own questions are shown (the others are
   hidden and disabled, so they are neither sent nor required), its required ones become
   `required`, and the "When?" card shows for events only (as the map's form does).
   Without this file every category's questions stay in the page, each under its name.
   A link of the error list moves the focus to its field. No strings here: every word
   is in the page (CSP script-src 'self', no inline script). */
(function () {
  "use strict";
  var form = document.getElementById("submit-form");
  var select = document.getElementById("category");
  if (!form || !select) return;
  var groups = form.querySelectorAll(".cat-group");
  var when = document.getElementById("when-card");
  var none = document.getElementById("details-none");
  var hint = document.getElementById("details-hint");
  form.classList.add("js-on");

  function show() {
    var slug = select.value;
    var option = select.options[select.selectedIndex];
    var kind = option ? option.getAttribute("data-kind") : "";
    Array.prototype.forEach.call(groups, function (g) {
      var mine = g.getAttribute("data-category") === slug;
      g.hidden = !mine;
      g.open = mine;
      var set = g.querySelector("fieldset");
      if (set) set.disabled = !mine;
      Array.prototype.forEach.call(g.querySelectorAll("[data-required]"), function (f) {
        f.required = mine;
      });
    });
    if (none) none.hidden = !!slug;
    if (hint) hint.hidden = true;
    if (when) {
      // an event's dates; a date typed before switching to another kind is kept, not sent
      var dated = kind === "event" || !slug;
      when.hidden = !dated;
      Array.prototype.forEach.call(when.querySelectorAll("input"), function (i) {
        i.disabled = !dated;
      });
    }
  }

  select.addEventListener("change", show);
  show();

  var errors = document.getElementById("errors");
  if (errors) {
    errors.addEventListener("click", function (e) {
      var a = e.target.closest("a[href^='#']");
      if (!a) return;
      var target = document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)));
      if (!target) return;
      e.preventDefault();
      var field = target.matches("input, select, textarea") ? target
        : target.querySelector("input, select, textarea");
      target.scrollIntoView({block: "center"});
      (field || target).focus({preventScroll: true});
    });
  }
}());
