/* Carte citoyenne: residents' photos on the map page (issue 19).
 *
 * Loaded after app.js (webmap/views/map.py EXTENSIONS), through window.Carte only:
 *   - a place's panel: Carte.addDetailSection("photos") shows the published photos as
 *     lazy thumbnails (width/height given, so nothing jumps), a tap opens the display
 *     size in a dialog; each photo's credit "© author, licence" is text under it;
 *   - the list: Carte.listDecorators adds a small thumbnail to places with photos;
 *   - the pin form: a picker (#f-photos in map.html) for up to CARTE_PHOTO_MAX_PER_ITEM
 *     photos (4 by default; the page's #carte-data carries it), with a preview
 *     (object URLs, revoked once shown), a licence (CC BY-SA 4.0 by default, or CC0), the
 *     name to credit and an alt text per photo. When the resident sends the pin,
 *     Carte.beforeSubmit uploads each file (a big JPEG made smaller first, on the phone)
 *     through POST /api/v1/photos (part `photo`, fields `licence`, `author`, `alt`: the
 *     server keeps them with the photo) with XMLHttpRequest, one at a time, so each
 *     one's progress shows, then adds their ids to the submission as `photo_ids`. A refused or failed photo stops the sending with its
 *     reason next to it (the rest of the form is kept); one already uploaded is not sent
 *     again unless its licence, credit or alt text changed since;
 *   - the "suggest a change" form (#c-photos): the same picker; its photo_ids go with
 *     the correction, and photos alone are a proposal.
 *
 * Photo data reaches the page through textContent and attribute setters only, and only
 * URLs under our own /photos/ are ever shown.
 */
(function () {
  "use strict";
  var C = window.Carte;
  if (!C || !C.addDetailSection) return;

  var STRINGS = {
    fr: {
      photos: "Photos",
      photoOf: "Photo {n} : {title}",
      photoCount: ["{n} photo", "{n} photos"],
      open: "Agrandir la photo {n}",
      close: "Fermer",
      previous: "Photo précédente",
      next: "Photo suivante",
      of: "Photo {n} sur {total}",
      legend: "Photos (facultatif, {max} au plus)",
      legendFix: "Ajouter des photos de ce lieu (facultatif, {max} au plus)",
      hint: "JPEG, PNG ou WebP. Avant publication, la position GPS, l'appareil et toutes les autres métadonnées sont retirées ; les modérateurs les voient d'abord.",
      choose: "Ajouter des photos",
      licence: "Licence de vos photos",
      bySa: "CC BY-SA 4.0 : réutilisables en vous citant, sous la même licence",
      cc0: "CC0 : domaine public, réutilisables sans condition",
      author: "Nom à citer (publié avec la photo, facultatif)",
      alt: "Ce que montre la photo (pour les personnes qui ne la voient pas)",
      remove: "Retirer",
      retry: "Réessayer",
      waiting: "Sera envoyée avec le lieu",
      queued: "En attente…",
      sending: "Envoi… {p} %",
      busy: "Le serveur est occupé : nouvel essai dans {s} s…",
      sent: "Photo prête",
      progress: "Envoi de {name}",
      tooMany: "{max} photos au plus : {name} n'est pas ajoutée.",
      notImage: "{name} : ce n'est pas une photo JPEG, PNG ou WebP.",
      heic: "{name} : photo au format HEIC, que nous ne lisons pas. Choisissez-la dans « Photos » (l'iPhone l'envoie alors en JPEG), ou réglez Réglages › Appareil photo › Formats › « Le plus compatible ».",
      tooLarge: "{name} : le fichier est trop lourd.",
      failed: "{name} : l'envoi a échoué. Vérifiez votre connexion puis réessayez.",
      offline: "{name} : pas de connexion. Réessayez une fois connecté·e, ou retirez la photo pour garder le lieu sur cet appareil.",
      refused: "{name} : {reason}",
      notSent: "Une photo n'a pas pu être envoyée : retirez-la ou réessayez. Le reste du formulaire est gardé.",
      uploading: "Envoi des photos…",
      uploadingPct: "Envoi des photos : {p} %",
      anonymous: "contributeur·rice de Carte citoyenne",
      size: "{n} Mo"
    },
    en: {
      photos: "Photos",
      photoOf: "Photo {n}: {title}",
      photoCount: ["{n} photo", "{n} photos"],
      open: "Enlarge photo {n}",
      close: "Close",
      previous: "Previous photo",
      next: "Next photo",
      of: "Photo {n} of {total}",
      legend: "Photos (optional, up to {max})",
      legendFix: "Add photos of this place (optional, up to {max})",
      hint: "JPEG, PNG or WebP. Before publication the GPS position, the camera and every other piece of metadata are removed; moderators see them first.",
      choose: "Add photos",
      licence: "Licence of your photos",
      bySa: "CC BY-SA 4.0: reusable with credit to you, under the same licence",
      cc0: "CC0: public domain, reusable without conditions",
      author: "Name to credit (published with the photo, optional)",
      alt: "What the photo shows (for people who cannot see it)",
      remove: "Remove",
      retry: "Try again",
      waiting: "Will be sent with the place",
      queued: "Waiting…",
      sending: "Sending… {p}%",
      busy: "The server is busy: trying again in {s} s…",
      sent: "Photo ready",
      progress: "Sending {name}",
      tooMany: "{max} photos at most: {name} is not added.",
      notImage: "{name}: not a JPEG, PNG or WebP photo.",
      heic: "{name}: a HEIC photo, which we cannot read. Pick it from \"Photos\" (the iPhone then sends a JPEG), or set Settings › Camera › Formats › \"Most Compatible\".",
      tooLarge: "{name}: the file is too large.",
      failed: "{name}: sending failed. Check your connection and try again.",
      offline: "{name}: no connection. Try again once online, or remove the photo to keep the place on this device.",
      refused: "{name}: {reason}",
      notSent: "A photo could not be sent: remove it or try again. The rest of the form is kept.",
      uploading: "Sending the photos…",
      uploadingPct: "Sending the photos: {p}%",
      anonymous: "a Carte citoyenne contributor",
      size: "{n} MB"
    }
  };
  var T = STRINGS[C.lang] || STRINGS.fr;
  /*
   * How many photos one submission or correction may carry: the server's setting
   * (CARTE_PHOTO_MAX_PER_ITEM), which the page's own configuration carries
   * (#carte-data, written by webmap/views/map.py), so the picker and the server never
   * disagree; 4, the default, if the page was built without it.
   */
  function maxPhotos() {
    try {
      var n = JSON.parse(document.getElementById("carte-data").textContent).photos.max_per_item;
      n = Math.floor(Number(n));
      return n >= 1 && n <= 100 ? n : 4;
    } catch (e) { return 4; }
  }
  var MAX_PHOTOS = maxPhotos();
  /*
   * The picker's accept list, JPEG first, and no image/heic nor image/*: an iPhone's
   * HEIC photo then arrives as a JPEG. iOS Safari (and every iOS browser: WebKit) turns
   * a photo picked from the library into a JPEG whatever accept says; macOS Safari
   * converts a HEIC file into the first type of accept it can write, and only when
   * accept does not allow HEIC (with image/* it sends the HEIC as it is). A HEIC that
   * still gets through (from the Files app, or another system) is named at once with
   * what to do, and the server refuses it too (no HEVC decoder in the upload path).
   */
  var TYPES = ["image/jpeg", "image/png", "image/webp"];
  function isHeic(file) {
    return /^image\/hei[cf]/i.test(file.type || "") || /\.hei[cf]$/i.test(file.name || "");
  }
  var LICENCES = {
    "CC-BY-SA-4.0": { label: "CC BY-SA 4.0", url: "https://creativecommons.org/licenses/by-sa/4.0/" },
    "CC0-1.0": { label: "CC0 1.0", url: "https://creativecommons.org/publicdomain/zero/1.0/" }
  };
  var el = C.el, clear = C.clear;

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }
  /*
   * Only our own derivatives (…/photos/<hash>.<ext>) are ever put in a src, and always
   * from this page's origin: the API gives absolute URLs under the site's configured
   * public root (CARTE_PUBLIC_URL) for open-data users, and the page shows the same
   * path from where it was loaded (the CSP allows our own origin only, and a page
   * opened at another address than the configured one still shows its photos).
   */
  var OWN_PATH = /^(\/[A-Za-z0-9._~-]+)*\/photos\/[A-Za-z0-9._-]+$/;
  function own(url) {
    if (typeof url !== "string") return null;
    var u;
    try { u = new URL(url, window.location.href); } catch (e) { return null; }
    if (u.protocol !== "https:" && u.protocol !== "http:") return null;
    return OWN_PATH.test(u.pathname) && !u.search && !u.hash ? u.pathname : null;
  }
  function usable(ph) { return ph && own(ph.url) && own(ph.thumbnail_url); }
  function local(ph) { return Object.assign({}, ph, { url: own(ph.url), thumbnail_url: own(ph.thumbnail_url) }); }
  function dimension(v) { v = Math.round(+v); return v > 0 && v < 100000 ? String(v) : null; }
  function photosOf(props) { return Array.isArray(props.photos) ? props.photos.filter(usable).map(local) : []; }

  // Our stylesheet, next to this script.
  var me = document.currentScript && document.currentScript.src;
  if (me) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = me.replace(/photos\.js(\?.*)?$/, "photos.css");
    document.head.appendChild(link);
  }

  // ---------- credit: "© author, licence" ----------
  function credit(ph) {
    var p = el("p", null, { "class": "photo-credit" });
    var lic = LICENCES[ph.licence];
    p.appendChild(document.createTextNode((ph.licence === "CC0-1.0" ? "" : "© ") + (ph.author || T.anonymous) + ", "));
    if (lic) p.appendChild(el("a", lic.label, { href: lic.url, rel: "license noopener", target: "_blank" }));
    else p.appendChild(document.createTextNode(String(ph.licence || "")));
    return p;
  }

  // ---------- full size: one dialog for the page ----------
  var viewer = null;
  function buildViewer() {
    var d = el("dialog", null, { "class": "photo-viewer", "aria-labelledby": "photo-viewer-count" });
    var bar = el("div", null, { "class": "photo-viewer-bar" });
    var count = el("p", null, { id: "photo-viewer-count" });
    var prev = el("button", "‹", { type: "button", "data-go": "-1", "aria-label": T.previous, title: T.previous });
    var next = el("button", "›", { type: "button", "data-go": "1", "aria-label": T.next, title: T.next });
    var close = el("button", T.close, { type: "button", "class": "primary" });
    bar.appendChild(count); bar.appendChild(prev); bar.appendChild(next); bar.appendChild(close);
    var fig = el("figure");
    var img = el("img", null, { decoding: "async" });
    var cap = el("figcaption");
    fig.appendChild(img); fig.appendChild(cap);
    d.appendChild(bar); d.appendChild(fig);
    document.body.appendChild(d);
    viewer = { dialog: d, img: img, cap: cap, count: count, prev: prev, next: next, list: [], at: 0, opener: null };
    close.addEventListener("click", function () { d.close(); });
    [prev, next].forEach(function (b) {
      b.addEventListener("click", function () { show(viewer.at + Number(b.getAttribute("data-go"))); });
    });
    d.addEventListener("keydown", function (e) {
      if (e.key === "ArrowLeft") show(viewer.at - 1);
      if (e.key === "ArrowRight") show(viewer.at + 1);
    });
    d.addEventListener("click", function (e) { if (e.target === d) d.close(); });  // the backdrop
    d.addEventListener("close", function () {
      viewer.img.removeAttribute("src");
      if (viewer.opener && document.contains(viewer.opener)) viewer.opener.focus();
    });
  }
  function show(i) {
    var list = viewer.list, n = list.length;
    if (!n) return;
    viewer.at = (i + n) % n;
    var ph = list[viewer.at];
    viewer.img.setAttribute("src", ph.url);
    viewer.img.setAttribute("alt", ph.alt);
    ["width", "height"].forEach(function (k) {
      var v = dimension(ph[k]);
      if (v) viewer.img.setAttribute(k, v); else viewer.img.removeAttribute(k);
    });
    clear(viewer.cap);
    viewer.cap.appendChild(el("span", ph.alt, { "class": "photo-alt" }));
    viewer.cap.appendChild(credit(ph));
    viewer.count.textContent = fmt(T.of, { n: viewer.at + 1, total: n });
    viewer.prev.hidden = viewer.next.hidden = n < 2;
  }
  function openViewer(list, i, opener) {
    if (!viewer) buildViewer();
    viewer.list = list;
    viewer.opener = opener;
    show(i);
    if (viewer.dialog.showModal) viewer.dialog.showModal(); else viewer.dialog.setAttribute("open", "");
  }

  // ---------- a place's panel ----------
  function withAlt(list, title) {
    return list.map(function (ph, i) {
      return Object.assign({}, ph, { alt: ph.alt || fmt(T.photoOf, { n: i + 1, title: title || "" }) });
    });
  }
  C.addDetailSection("photos", function (props, box) {
    var list = withAlt(photosOf(props), props.title);
    if (!list.length) return;
    box.classList.add("photos");
    box.appendChild(el("h3", T.photos));
    var ul = el("ul", null, { "class": "photo-strip" });
    list.forEach(function (ph, i) {
      var li = el("li");
      var a = el("a", null, { href: ph.url, "class": "photo-open", "aria-label": fmt(T.open, { n: i + 1 }) + " — " + ph.alt });
      var img = el("img", null, { src: ph.thumbnail_url, alt: ph.alt, loading: "lazy", decoding: "async" });
      var w = dimension(ph.width), h = dimension(ph.height);
      if (w && h) { img.setAttribute("width", w); img.setAttribute("height", h); }
      a.appendChild(img);
      a.addEventListener("click", function (e) {
        if (e.ctrlKey || e.metaKey || e.shiftKey) return;  // a new tab: the browser's own view
        e.preventDefault();
        openViewer(list, i, a);
      });
      li.appendChild(a);
      li.appendChild(credit(ph));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  });

  // ---------- the list: a small thumbnail ----------
  C.listDecorators.push(function (props, button) {
    var list = photosOf(props);
    if (!list.length) return;
    var img = el("img", null, { src: list[0].thumbnail_url, alt: "", loading: "lazy", decoding: "async",
                                width: "44", height: "44", "class": "list-thumb" });
    var title = button.querySelector(".title");
    button.insertBefore(img, title || null);
    var meta = button.querySelector(".meta");
    var count = T.photoCount[list.length === 1 ? 0 : 1];
    if (meta) meta.appendChild(el("span", " · " + fmt(count, { n: list.length }), { "class": "photo-count" }));
  });

  // ---------- the pin form's picker ----------
  /*
   * A big JPEG is made smaller on the phone before it goes (long side MAX_SIDE, drawn
   * upright from its EXIF orientation): a 12-megapixel photo of 4-5 MB becomes a few
   * hundred KB on a slow network, and its GPS position and camera details never leave
   * the phone (a canvas keeps none). The server re-encodes and checks it anyway; other
   * files, and browsers without createImageBitmap, send the file as it is.
   */
  var MAX_SIDE = 2048, KEEP_BYTES = 1536 * 1024;
  function shrink(file) {
    if (file.type !== "image/jpeg" || !window.createImageBitmap || !HTMLCanvasElement.prototype.toBlob) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
      var k = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      if (k === 1 && file.size <= KEEP_BYTES) { if (bmp.close) bmp.close(); return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bmp.width * k);
      canvas.height = Math.round(bmp.height * k);
      canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
      if (bmp.close) bmp.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", 0.9);
      });
    }).catch(function () { return file; });
  }
  /**
   * A photo picker in `host`, inside `form`; `which` is the form's name for
   * Carte.beforeSubmit ("pin", "correction"); clicking one of `opened` starts it empty.
   */
  function picker(host, form, which, opened) {
    var items = [];
    var uid = 0;
    var fs = el("fieldset", null, { "class": "photos-fieldset" });
    fs.appendChild(el("legend", fmt(which === "pin" ? T.legend : T.legendFix, { max: MAX_PHOTOS })));
    var hint = el("p", T.hint, { "class": "hint", id: which + "-photos-hint" });
    fs.appendChild(hint);
    var errorId = which === "pin" ? "err-photo_ids" : "c-err-photo_ids";  // where app.js puts /photo_ids errors
    var inputId = which + "-photo-input";
    var pick = el("label", T.choose, { "for": inputId, "class": "button-link photo-choose" });
    var input = el("input", null, { type: "file", id: inputId, accept: TYPES.join(","), multiple: "",
                                    "aria-describedby": which + "-photos-hint " + errorId, "class": "photo-input" });
    fs.appendChild(input);  // visually hidden, still focusable: the label looks like a button
    fs.appendChild(pick);
    var notice = el("p", null, { "class": "error", id: errorId, role: "alert" });
    fs.appendChild(notice);
    var ul = el("ul", null, { "class": "photo-items" });
    fs.appendChild(ul);
    var options = el("div", null, { "class": "photo-options" });
    options.hidden = true;
    var lic = el("fieldset", null, { "class": "photo-licence" });
    lic.appendChild(el("legend", T.licence));
    [["CC-BY-SA-4.0", T.bySa, true], ["CC0-1.0", T.cc0, false]].forEach(function (o) {
      var id = which + "-licence-" + o[0];
      var lab = el("label", null, { "class": "check", "for": id });
      var radio = el("input", null, { type: "radio", name: which + "-photo-licence", value: o[0], id: id });
      if (o[2]) { radio.setAttribute("checked", ""); radio.checked = true; }
      lab.appendChild(radio);
      lab.appendChild(document.createTextNode(" " + o[1]));
      lic.appendChild(lab);
    });
    options.appendChild(lic);
    var authorId = which + "-photo-author";
    options.appendChild(el("label", T.author, { "for": authorId }));
    var author = el("input", null, { id: authorId, maxlength: "120", autocomplete: "name" });
    options.appendChild(author);
    fs.appendChild(options);
    host.appendChild(fs);

    function licence() {
      var on = lic.querySelector("input:checked");
      return on ? on.value : "CC-BY-SA-4.0";
    }
    function refresh() {
      options.hidden = !items.length;
      input.disabled = items.length >= MAX_PHOTOS;
      pick.classList.toggle("disabled", input.disabled);
    }
    function setStatus(item, text, kind) {
      item.status.textContent = text;
      item.status.className = "photo-status" + (kind ? " " + kind : "");
    }
    /** What the server keeps with a photo: sent again if it changed after the upload. */
    function meta(item) {
      return { licence: licence(), author: author.value.trim(), alt: item.alt.value.trim() };
    }
    /*
     * One upload at a time (the server decodes one photo at a time per process, and on a
     * slow network each photo is ready sooner this way); a busy server (503) or a rate
     * limit (429) is tried again after its Retry-After, a few times.
     */
    var chain = Promise.resolve();
    var MAX_TRIES = 5;
    function upload(item) {
      var m = meta(item);
      item.token = null;
      item.error = null;
      item.busy = true;
      item.loaded = item.total = 0;
      item.sent = JSON.stringify(m);
      item.progress.value = 0;
      item.progress.hidden = false;
      item.retry.hidden = true;
      setStatus(item, T.queued);
      item.done = new Promise(function (resolve) {
        chain = chain.then(function () { return attempt(item, m, 1); })
          .then(function () { item.busy = false; resolve(item); });
      });
    }
    function attempt(item, m, n) {
      return new Promise(function (resolve) {
        if (item.gone) { resolve(); return; }
        var xhr = new XMLHttpRequest();
        item.xhr = xhr;
        xhr.open("POST", "/api/v1/photos?lang=" + encodeURIComponent(C.lang));
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.addEventListener("progress", function (e) {
          if (!e.lengthComputable) return;
          var p = Math.min(100, Math.round(e.loaded * 100 / e.total));
          item.loaded = e.loaded;
          item.total = e.total;
          item.progress.value = p;
          setStatus(item, fmt(T.sending, { p: p }));
          overall();
        });
        function fail(message) {
          item.error = message;
          item.progress.hidden = true;
          item.retry.hidden = false;
          setStatus(item, message, "error");
          resolve();
        }
        xhr.addEventListener("load", function () {
          var body = null;
          try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
          if (xhr.status >= 200 && xhr.status < 300 && body && body.id) {
            item.token = String(body.id);
            item.progress.value = 100;
            item.progress.hidden = true;
            setStatus(item, T.sent, "ok");
            resolve();
            return;
          }
          if ((xhr.status === 503 || xhr.status === 429) && n < MAX_TRIES) {
            var wait = Math.min(30, Math.max(1, parseInt(xhr.getResponseHeader("Retry-After"), 10) || 2));
            item.loaded = 0;
            setStatus(item, fmt(T.busy, { s: wait }));
            setTimeout(function () { attempt(item, m, n + 1).then(resolve); }, wait * 1000);
            return;
          }
          if (xhr.status === 413) { fail(fmt(T.tooLarge, { name: item.name })); return; }
          var reason = body && (body.detail || (body.errors && body.errors[0] && (body.errors[0].detail || body.errors[0].message)));
          fail(reason ? fmt(T.refused, { name: item.name, reason: reason }) : fmt(T.failed, { name: item.name }));
        });
        xhr.addEventListener("error", function () {
          fail(fmt(navigator.onLine === false ? T.offline : T.failed, { name: item.name }));
        });
        xhr.addEventListener("abort", function () { resolve(); });
        item.prepared = item.prepared || shrink(item.file);
        item.prepared.then(function (blob) {
          if (item.gone) { resolve(); return; }
          var data = new FormData();
          data.append("photo", blob, item.name);
          data.append("licence", m.licence);
          if (m.author) data.append("author", m.author);
          if (m.alt) data.append("alt", m.alt);
          xhr.send(data);
        });
      });
    }
    /*
     * All the uploads' progress, next to the send button and over the map: the photos'
     * own bars are usually scrolled out of sight when the resident presses "Send".
     */
    var totalBox = el("div", null, { "class": "photo-total" });
    var totalText = el("p");  // announced through Carte.say, in tens
    var totalBar = el("progress", null, { max: "100", value: "0", "aria-hidden": "true" });
    totalBox.appendChild(totalText);
    totalBox.appendChild(totalBar);
    totalBox.hidden = true;
    var send = form.querySelector("button[type=submit]");
    if (send) send.parentNode.insertBefore(totalBox, send);
    var said = -1;
    function overall() {
      var loaded = 0, total = 0;
      items.forEach(function (i) { if (i.total) { loaded += i.loaded; total += i.total; } });
      var exact = total ? Math.round(loaded * 100 / total) : 0;
      totalBar.value = exact;
      totalText.textContent = fmt(T.uploadingPct, { p: exact });
      var p = Math.floor(exact / 10) * 10;  // in tens: a live region, not a ticker
      if (p !== said) { said = p; C.say(fmt(T.uploadingPct, { p: p })); }
    }
    function removeItem(item) {
      item.gone = true;
      if (item.xhr && item.xhr.readyState !== 4) item.xhr.abort();
      if (item.url) { URL.revokeObjectURL(item.url); item.url = null; }
      items = items.filter(function (i) { return i !== item; });
      ul.removeChild(item.li);
      refresh();
      (items.length ? items[items.length - 1].remove : input).focus();
    }
    function add(file) {
      var n = ++uid;
      var item = { file: file, name: file.name || ("photo " + n), token: null, error: null };
      var li = el("li", null, { "class": "photo-item" });
      var preview = el("img", null, { alt: "", "class": "photo-preview", width: "96", height: "96" });
      var body = el("div", null, { "class": "photo-body" });
      body.appendChild(el("p", item.name + " (" + fmt(T.size, { n: (file.size / 1048576).toFixed(1) }) + ")", { "class": "photo-name" }));
      var progress = el("progress", null, { max: "100", value: "0", "aria-label": fmt(T.progress, { name: item.name }) });
      var status = el("p", null, { "class": "photo-status", "aria-live": "polite" });
      var altId = which + "-photo-alt-" + n;
      var altLabel = el("label", T.alt, { "for": altId });
      var alt = el("input", null, { id: altId, maxlength: "250", "class": "photo-alt-input" });
      var actions = el("div", null, { "class": "photo-actions" });
      var retry = el("button", T.retry, { type: "button" });
      var remove = el("button", T.remove, { type: "button", "aria-label": T.remove + " " + item.name });
      retry.hidden = true;
      actions.appendChild(retry);
      actions.appendChild(remove);
      body.appendChild(progress);
      body.appendChild(status);
      body.appendChild(altLabel);
      body.appendChild(alt);
      body.appendChild(actions);
      li.appendChild(preview);
      li.appendChild(body);
      ul.appendChild(li);
      Object.assign(item, { li: li, progress: progress, status: status, alt: alt, retry: retry, remove: remove });
      items.push(item);
      retry.addEventListener("click", function () { upload(item); });
      progress.hidden = true;
      remove.addEventListener("click", function () { removeItem(item); });
      if (TYPES.indexOf(file.type) < 0) {  // said at once; nothing sent
        item.error = fmt(isHeic(file) ? T.heic : T.notImage, { name: item.name });
        progress.hidden = true;
        setStatus(item, item.error, "error");
        item.done = Promise.resolve(item);
        return;
      }
      item.url = URL.createObjectURL(file);
      preview.addEventListener("load", function () { if (item.url) { URL.revokeObjectURL(item.url); item.url = null; } });
      preview.addEventListener("error", function () { if (item.url) { URL.revokeObjectURL(item.url); item.url = null; } });
      preview.setAttribute("src", item.url);
      setStatus(item, T.waiting);
    }
    input.addEventListener("change", function () {
      notice.textContent = "";
      var refused = [];
      Array.prototype.forEach.call(input.files || [], function (file) {
        if (items.length >= MAX_PHOTOS) { refused.push(fmt(T.tooMany, { max: MAX_PHOTOS, name: file.name })); return; }
        add(file);
      });
      notice.textContent = refused.join(" ");
      input.value = "";
      refresh();
    });
    function empty() {
      items.slice().forEach(function (item) {
        item.gone = true;
        if (item.xhr && item.xhr.readyState !== 4) item.xhr.abort();
        if (item.url) URL.revokeObjectURL(item.url);
      });
      items = [];
      clear(ul);
      notice.textContent = "";
      refresh();
    }
    form.addEventListener("reset", empty);  // the pin was sent: start again empty
    (opened || []).forEach(function (b) { if (b) b.addEventListener("click", empty); });
    C.beforeSubmit.push(function (body, kind) {
      if (kind !== which || !items.length) return null;
      notice.textContent = "";
      var todo = items.filter(function (i) {
        if (TYPES.indexOf(i.file.type) < 0 || i.busy) return false;  // refused here, or on its way
        return !i.token || i.sent !== JSON.stringify(meta(i));  // never sent, failed, or changed since
      });
      if (todo.length) {
        said = -1;
        totalBar.value = 0;
        totalText.textContent = T.uploading;
        totalBox.hidden = false;
        if (send) send.disabled = true;  // one press sends once, however long the photos take
        C.say(T.uploading);
      }
      todo.forEach(upload);
      return Promise.all(items.map(function (i) { return i.done; })).then(function () {
        totalBox.hidden = true;
        if (send) send.disabled = false;
        var bad = items.filter(function (i) { return !i.token; })[0];
        if (bad) {
          notice.textContent = T.notSent;
          return T.notSent;
        }
        body.photo_ids = items.map(function (i) { return i.token; });
        return null;
      });
    });
    refresh();
  }
  var pinForm = document.getElementById("pin-form"), pinHost = document.getElementById("f-photos");
  if (pinForm && pinHost) picker(pinHost, pinForm, "pin");
  // A resident's proposal on a published place may add photos (photos alone are fine).
  var fixForm = document.getElementById("correct-form"), fixHost = document.getElementById("c-photos");
  if (fixForm && fixHost) {
    picker(fixHost, fixForm, "correction", [document.getElementById("btn-correct"), document.getElementById("btn-closed")]);
  }
})();
