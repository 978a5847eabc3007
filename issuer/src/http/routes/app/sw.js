// The app page's service worker: the page loads with no network once it has been opened.
// The cache is named after a digest of the assets (filled in by the issuer), so an updated
// page brings a new worker, which replaces the old cache.
"use strict";
const CACHE = "yibao-app-__ASSETS_VERSION__";
const ASSETS = ["/app", "/app/app.js", "/app/login.js", "/app/shares.js", "/app/offline.js", "/app/qrcode.js", "/app/manifest.webmanifest", "/app/icon.svg"];
// Slower than this and the cached page is shown: a hanging network is an outage too.
const NETWORK_TIMEOUT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith("yibao-app-") && k !== CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // Only the page and its assets; codes, certificates and the rest of the API never come
  // from a cache.
  if (url.pathname !== "/app" && !url.pathname.startsWith("/app/")) return;
  event.respondWith(networkFirst(event.request));
});

// The network first, so an online phone always runs the newest page; the cache when the
// issuer or the network does not answer.
async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, fail) => setTimeout(() => fail(new Error("timeout")), NETWORK_TIMEOUT_MS)),
    ]);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw e;
  }
}
