// Starts the HTTP server. The chat route is also registered as a plain Bun.serve route: it is the hot path, and
// skipping the framework's router there is measurably faster (DESIGN.md §2). Both paths call the same handler.
import type { Server } from "bun";
import { createApp } from "./app.ts";
import type { Gateway } from "./gateway.ts";
import { handleChat } from "./pipeline/chat.ts";
import { handleEmbeddings } from "./pipeline/embeddings.ts";
import { noteClientIp } from "./client-ip.ts";
import { liftIdleTimeoutWith } from "./pipeline/read-body.ts";
import { GENERATION_ROUTES } from "./api/generation-routes.ts";

/** Idle connections close after this; a request whose body is in and that waits on a model lifts it for itself. */
const IDLE_TIMEOUT_S = 60;
/** Bun's own cap; server.max_body_bytes is enforced by the handlers with an OpenAI-shaped 413. */
const HARD_BODY_LIMIT = 1024 * 1024 * 1024;

/** `reusePort`: several workers listen on the same port (server.workers); the kernel spreads connections. */
export function startServer(gateway: Gateway, host: string, port: number, options: { reusePort?: boolean } = {}): Server<undefined> {
  const app = createApp(gateway).compile();
  const server: Server<undefined> = Bun.serve({
    hostname: host,
    port,
    reusePort: options.reusePort ?? false,
    idleTimeout: IDLE_TIMEOUT_S,
    maxRequestBodySize: HARD_BODY_LIMIT,
    routes: {
      "/v1/chat/completions": {
        POST: (req) => handleChat(req, gateway, () => server.requestIP(req)?.address),
      },
      "/v1/embeddings": {
        POST: (req) => handleEmbeddings(req, gateway, () => server.requestIP(req)?.address),
      },
      // Responses, Messages, completions and the passthroughs: served like chat, off the framework's router.
      ...Object.fromEntries(Object.entries(GENERATION_ROUTES).map(([path, handler]) => [path, { POST: (req: Request) => handler(req, gateway, () => server.requestIP(req)?.address) }])),
    },
    fetch: async (req) => {
      const address = server.requestIP(req)?.address;
      req = withRoutableHost(req);
      const base = gateway.snapshot.server.base_path;
      const path = base ? pathUnderBase(req.url, base) : undefined;
      if (path !== undefined && req.method === "POST" && (path === "/v1/chat/completions" || path === "/v1/embeddings")) {
        return (path === "/v1/embeddings" ? handleEmbeddings : handleChat)(req, gateway, () => address);
      }
      // The other generation routes too, with the server's own request: its idle timeout can only be lifted on that one.
      if (path !== undefined && req.method === "POST" && Object.hasOwn(GENERATION_ROUTES, path)) return GENERATION_ROUTES[path]!(req, gateway, () => address);
      if (path !== undefined) req = new Request(withPath(req.url, path), req);
      noteClientIp(req, address);
      const response = await app.fetch(req);
      // Every response carries a request id (the chat and embeddings handlers set their own).
      if (!response.headers.has("x-request-id")) response.headers.set("x-request-id", crypto.randomUUID());
      return response;
    },
  });
  // Headers and body arrive under the idle timeout and server.body_timeout_ms; once a body is in, generation may
  // take minutes without a byte on the wire.
  liftIdleTimeoutWith((req) => {
    try {
      server.timeout(req, 0);
    } catch {
      // a request re-addressed in fetch (short Host header, base path) is no longer the server's own object
    }
  });
  return server;
}

/**
 * `server.base_path` (seed 003's base URL, e.g. /api/v1/inference) stands for /v1: `<base>/models` is
 * /v1/models. `<base>/openapi.json` and `<base>/docs` are the document and its UI. Undefined when outside it.
 */
export function pathUnderBase(url: string, base: string): string | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const path = url.slice(start).split("?")[0]!;
  if (!path.startsWith(base) || (path.length > base.length && path[base.length] !== "/")) return undefined;
  const rest = path.slice(base.length) || "/";
  if (rest === "/openapi.json" || rest === "/docs" || rest.startsWith("/docs/")) return rest;
  return `/v1${rest === "/" ? "" : rest}`;
}

function withPath(url: string, path: string): string {
  const parsed = new URL(url);
  parsed.pathname = path;
  return parsed.toString();
}

/**
 * Elysia looks for the path from the URL's 11th character on (it assumes a host of 4 characters at least), so a
 * short Host header (`Host: x`) would shift every path: such a request is re-addressed to localhost.
 */
function withRoutableHost(req: Request): Request {
  const url = req.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  if (pathStart >= 11 || pathStart === -1) return req;
  return new Request(`http://localhost${url.slice(pathStart)}`, req);
}
