// Starts the HTTP server. The chat route is also registered as a plain Bun.serve route: it is the hot path, and
// skipping the framework's router there is measurably faster (DESIGN.md §2). Both paths call the same handler.
import type { Server } from "bun";
import { createApp } from "./app.ts";
import type { Gateway } from "./gateway.ts";
import { handleChat } from "./pipeline/chat.ts";
import { handleEmbeddings } from "./pipeline/embeddings.ts";
import { noteClientIp } from "./client-ip.ts";

/** Idle connections close after this; requests waiting on a model disable it for themselves. */
const IDLE_TIMEOUT_S = 60;
/** Bun's own cap; server.max_body_bytes is enforced by the handlers with an OpenAI-shaped 413. */
const HARD_BODY_LIMIT = 1024 * 1024 * 1024;

export function startServer(gateway: Gateway, host: string, port: number): Server<undefined> {
  const app = createApp(gateway).compile();
  const server: Server<undefined> = Bun.serve({
    hostname: host,
    port,
    idleTimeout: IDLE_TIMEOUT_S,
    maxRequestBodySize: HARD_BODY_LIMIT,
    routes: {
      "/v1/chat/completions": {
        POST: (req) => {
          server.timeout(req, 0); // generation may take minutes without a byte on the wire
          return handleChat(req, gateway, () => server.requestIP(req)?.address);
        },
      },
      "/v1/embeddings": {
        POST: (req) => {
          server.timeout(req, 0);
          return handleEmbeddings(req, gateway, () => server.requestIP(req)?.address);
        },
      },
    },
    fetch: async (req) => {
      noteClientIp(req, server.requestIP(req)?.address);
      const response = await app.fetch(req);
      // Every response carries a request id (the chat and embeddings handlers set their own).
      if (!response.headers.has("x-request-id")) response.headers.set("x-request-id", crypto.randomUUID());
      return response;
    },
  });
  return server;
}
