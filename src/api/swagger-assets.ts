// GET /docs: Swagger UI served from the binary. GPU hosts are often offline, so nothing may come from a CDN
// (the UI plugins default to one). `with { type: "file" }` makes `bun build --compile` embed each asset; at run
// time the import is a path (under /$bunfs in a compiled binary) that Bun.file reads.
import { Elysia } from "elysia";
import { GatewayError } from "../errors.ts";
// TypeScript 7.0 has no types for `with { type: "file" }` imports (bun-types declares them for >= 7.1, where
// these directives turn into errors and can go); each import is a path string, typed by `embedded` below.
// @ts-expect-error see above
import bundleJs from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
// @ts-expect-error see above
import uiCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
// @ts-expect-error see above
import favicon from "swagger-ui-dist/favicon-32x32.png" with { type: "file" };
import { version as swaggerUiVersion } from "swagger-ui-dist/package.json";

// BaseLayout needs only the bundle (the standalone preset adds a URL bar we don't want). validatorUrl: null
// stops the UI from calling validator.swagger.io, which an offline host cannot reach.
const INIT_JS = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

// Assets live under a path that changes with their content, so browsers may cache them for a year.
const TAG = `${swaggerUiVersion}-${Bun.hash(INIT_JS).toString(36)}`;
const ASSETS_PREFIX = `/docs/assets/${TAG}/`;
const IMMUTABLE = "public, max-age=31536000, immutable";

interface Asset {
  body: () => Blob | string;
  type: string;
}

const embedded = (path: string) => () => Bun.file(path);

const ASSETS: Record<string, Asset> = {
  "swagger-ui-bundle.js": { body: embedded(bundleJs), type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { body: embedded(uiCss), type: "text/css; charset=utf-8" },
  "favicon-32x32.png": { body: embedded(favicon), type: "image/png" },
  "init.js": { body: () => INIT_JS, type: "text/javascript; charset=utf-8" },
};

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>sluice API</title>
  <link rel="stylesheet" href="${ASSETS_PREFIX}swagger-ui.css">
  <link rel="icon" type="image/png" href="${ASSETS_PREFIX}favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${ASSETS_PREFIX}swagger-ui-bundle.js"></script>
  <script src="${ASSETS_PREFIX}init.js"></script>
</body>
</html>
`;

export function docsRoutes() {
  return new Elysia({ name: "docs" })
    .get("/docs", () => new Response(DOCS_HTML, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" } }))
    .get("/docs/assets/:tag/:name", ({ params }) => {
      const asset = params.tag === TAG ? ASSETS[params.name] : undefined;
      if (!asset) throw new GatewayError("not_found", `no docs asset '${params.name}'; GET /docs loads the current ones`);
      return new Response(asset.body(), { headers: { "content-type": asset.type, "cache-control": IMMUTABLE } });
    });
}
