/*
 * The map's service worker (served as /sw.js, scope "/"): after one visit the map
 * opens with no network. The page itself is fetched from the network first and kept
 * as the fallback; scripts, styles and the map script are served from the cache while
 * a fresh copy is fetched; basemap and point tiles already seen are kept (the last
 * viewed area) and answered from the cache when the network is gone. API calls are
 * never cached: a pin dropped offline waits in the page's IndexedDB outbox (app.js).
 */
"use strict";
var VERSION = "v1";
var SHELL = "carte-shell-" + VERSION, TILES = "carte-tiles-" + VERSION;
var MAX_TILES = 3000;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL && k !== TILES; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function trim(cacheName, max) {
  return caches.open(cacheName).then(function (cache) {
    return cache.keys().then(function (keys) {
      var extra = keys.length - max;
      return Promise.all(keys.slice(0, Math.max(0, extra)).map(function (k) { return cache.delete(k); }));
    });
  });
}
function networkFirst(request, cacheName) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(cacheName).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(cacheName).then(function (cache) {
      return cache.match(request, { ignoreVary: true }).then(function (hit) {
        return hit || cache.match(request, { ignoreSearch: true, ignoreVary: true });
      }).then(function (hit) { return hit || cache.match("/", { ignoreVary: true }); });
    }).then(function (hit) { return hit || Response.error(); });
  });
}
function cacheThenRefresh(request, cacheName, max) {
  return caches.open(cacheName).then(function (cache) {
    // ignoreVary: pages vary on Accept-Language and Cookie, which a worker cannot see
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok || response.status === 204) {
          cache.put(request, response.clone());
          if (max) trim(cacheName, max);
        }
        return response;
      });
      if (hit) { fresh.catch(function () {}); return hit; }
      return fresh;
    });
  });
}

// The page says which files it was built from (itself, its scripts and styles): they
// are kept, so the next visit opens with no network even if this one began without us.
self.addEventListener("message", function (event) {
  var urls = event.data && event.data.cache;
  if (!Array.isArray(urls)) return;
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return Promise.all(urls.filter(function (u) {
      try { return new URL(u, self.location.href).origin === self.location.origin; } catch (e) { return false; }
    }).slice(0, 50).map(function (u) { return cache.add(u).catch(function () {}); }));
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/") {
    event.respondWith(networkFirst(request, SHELL));
  } else if (url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/map/") === 0 ||
             url.pathname === "/manifest.webmanifest") {
    event.respondWith(cacheThenRefresh(request, SHELL));
  } else if (url.pathname.indexOf("/tiles/") === 0 && !url.search) {
    event.respondWith(cacheThenRefresh(request, TILES, MAX_TILES));
  }
});
