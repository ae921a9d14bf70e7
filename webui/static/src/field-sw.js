// The field app's service worker (served at /field/sw.js, so its scope is /field/): the app shell is cached
// so the app opens without a connection. The visits themselves live in IndexedDB, never in this cache; the
// API is never cached (its answers carry personal data and must be current when online).
import { precacheAndRoute } from "workbox-precaching";
import { registerRoute } from "workbox-routing";
import { NetworkFirst } from "workbox-strategies";

const PAGES = "field-pages";
// The server writes the shell's files with their content hashes in front of this script.
precacheAndRoute(self.FIELD_SHELL || []);

// The app's page: the network when there is one (new words, a new language), else the last copy.
registerRoute(({ request, url }) => request.mode === "navigate" && url.pathname.startsWith(self.FIELD_SCOPE || "/field/"),
              new NetworkFirst({ cacheName: PAGES, networkTimeoutSeconds: 4 }));

self.addEventListener("install", (event) => {
  // The page the app was installed from is in the cache from the start, not only after a second visit.
  event.waitUntil(caches.open(PAGES).then((cache) => cache.add(new Request(self.FIELD_PAGE || "/field/",
                                                                           { credentials: "same-origin" })))
    .then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
