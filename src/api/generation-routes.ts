// The POST routes of the translated and passed-through APIs, in one table that both the Bun.serve route list
// (server.ts: no idle timeout while a model works) and the Elysia app (app.ts: in-process tests) mount.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { Elysia } from "elysia";
import type { Server } from "bun";
import { clientIpOf } from "../client-ip.ts";
import { createResponse, deleteResponse, getResponse } from "./responses.ts";
import { countTokens, createMessage } from "./messages.ts";
import { handlePassthrough } from "./passthrough.ts";

type Handler = (req: Request, gateway: Gateway, clientIp: ClientAddress) => Promise<Response>;

export const GENERATION_ROUTES: Readonly<Record<string, Handler>> = {
  "/v1/responses": createResponse,
  "/v1/messages": createMessage,
  "/v1/messages/count_tokens": countTokens,
  "/v1/completions": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "completions"),
  "/v1/rerank": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "rerank"),
  "/v1/score": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "score"),
  "/v1/audio/transcriptions": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "audio_transcriptions"),
  "/tokenize": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "tokenize"),
  "/detokenize": (req, gateway, ip) => handlePassthrough(req, gateway, ip, "detokenize"),
};

/** The same routes (and stored responses' GET / DELETE) as an Elysia plugin; handlers answer their own errors. */
export function generationApp(gateway: Gateway) {
  const ip = (c: { request: Request; server: Server<unknown> | null }) => () => clientIpOf(c.request) ?? c.server?.requestIP(c.request)?.address;
  let app = new Elysia({ name: "sluice-generation" })
    .get("/v1/responses/:id", (c) => getResponse(c.request, gateway, ip(c), c.params.id))
    .delete("/v1/responses/:id", (c) => deleteResponse(c.request, gateway, ip(c), c.params.id));
  for (const [path, handler] of Object.entries(GENERATION_ROUTES)) app = app.post(path, (c) => handler(c.request, gateway, ip(c)), { parse: "none" }) as unknown as typeof app;
  return app;
}
