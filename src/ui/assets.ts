// GET /ui: the dashboard page and its two assets (one script, one stylesheet), all in memory. The bundle comes
// from a macro (see bundle.ts), so this module is imported lazily: running from source, only the first /ui request
// pays for bundling, not every `sluice` start.
import { dashboardBundle } from "./bundle.ts" with { type: "macro" };

const BUNDLE = dashboardBundle();

// Asset URLs change with their content, so browsers may cache them for a year and never run a stale script.
const TAG = Bun.hash(BUNDLE.js + BUNDLE.css).toString(36);
export const ASSET_PREFIX = `/ui/assets/${TAG}/`;
const IMMUTABLE = "public, max-age=31536000, immutable";

// Everything the page loads is from this origin; uPlot and Preact set styles through the CSSOM, which the policy
// allows. frame-ancestors stops the dashboard from being framed (clickjacking on the revoke buttons).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>sluice dashboard</title>
  <link rel="stylesheet" href="${ASSET_PREFIX}app.css">
  <link rel="icon" href="data:,">
  <script type="module" src="${ASSET_PREFIX}app.js"></script>
</head>
<body>
  <div id="app"><noscript>The sluice dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;

const SECURITY_HEADERS = { "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY" };

export function dashboardPage(): Response {
  return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", ...SECURITY_HEADERS } });
}

/** The asset, or undefined for an unknown name or an old tag. */
export function dashboardAsset(tag: string, name: string): Response | undefined {
  if (tag !== TAG) return undefined;
  if (name === "app.js") return new Response(BUNDLE.js, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": IMMUTABLE, ...SECURITY_HEADERS } });
  if (name === "app.css") return new Response(BUNDLE.css, { headers: { "content-type": "text/css; charset=utf-8", "cache-control": IMMUTABLE, ...SECURITY_HEADERS } });
  return undefined;
}
