// The HTTP surface as one Elysia app. Handlers are thin: they authorise, call the pipeline or a store, and every
// error reaches the single onError below, which turns it into the OpenAI error JSON.
import { Elysia } from "elysia";
import type { Server } from "bun";
import { GatewayError, toErrorResponse } from "./errors.ts";
import type { Gateway } from "./gateway.ts";
import { handleChat } from "./pipeline/chat.ts";
import { handleEmbeddings } from "./pipeline/embeddings.ts";
import { getModel, listModels, modelHealth } from "./api/models.ts";
import { openapiRoutes } from "./api/openapi.ts";
import { createKey, getKey, listKeys, revokeKey, updateKey } from "./api/keys.ts";
import { usageReport } from "./api/usage.ts";
import { addSearchDocuments, addVectorDocuments, listVectorDatabases, removeSearchDocuments, removeVectorDocuments } from "./api/tools-admin.ts";
import { createSession } from "./api/session.ts";
import { dashboardRoutes } from "./api/dashboard.ts";
import { generationApp } from "./api/generation-routes.ts";
import { requireSameOrigin } from "./api/dashboard-access.ts";
import { ANONYMOUS, Authenticator, requireModel, requireScope, type Principal } from "./auth/authenticate.ts";
import { addCredits, createAccount, deactivateAccount, getAccount, listAccounts, updateAccount } from "./api/accounts.ts";
import { creditBalance, creditTransactions } from "./api/credits.ts";
import type { Scope } from "./auth/key-record.ts";
import { clientIpOf } from "./client-ip.ts";
import { allowedMethods, type RouteEntry } from "./api/allowed-methods.ts";

type Context = { request: Request; server: Server<unknown> | null };

/** A model the gateway serves, for the OpenAPI document's example bodies. */
const firstBackendName = (gateway: Gateway): string | undefined => gateway.snapshot.backends.keys().next().value;

export function createApp(gateway: Gateway) {
  const ip = (c: Context) => () => clientIpOf(c.request) ?? c.server?.requestIP(c.request)?.address;
  /** The caller's principal, refused unless it holds `scope`. */
  const authorize = async (context: Context, scope: Scope): Promise<Principal> => {
    requireSameOrigin(context.request); // a write carried by the session cookie must come from this origin (CSRF)
    const principal = await gateway.principal(context.request, ip(context));
    requireScope(principal, scope);
    return principal;
  };
  /** Seed 003: the model list and health need no key unless auth.public_models is false; a key presented is checked. */
  const servedModel = (): string | undefined => firstBackendName(gateway);
  const modelsReader = (context: Context): Principal | Promise<Principal> =>
    gateway.snapshot.auth.public_models && !Authenticator.presentsCredential(context.request) ? ANONYMOUS : authorize(context, "models");

  let routes: readonly RouteEntry[] = []; // the app's own, once it is built
  const app = new Elysia({ name: "sluice" })
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") return notFound(request, routes);
      if (code === "PARSE") return toErrorResponse(new GatewayError("invalid_json", "request body is not valid JSON"));
      return toErrorResponse(error);
    })
    .use(openapiRoutes(servedModel))
    .use(dashboardRoutes(gateway, async (c) => gateway.principal(c.request, ip(c as Context))))
    .post("/v1/chat/completions", (c) => handleChat(c.request, gateway, ip(c)), { parse: "none" })
    .post("/v1/embeddings", (c) => handleEmbeddings(c.request, gateway, ip(c)), { parse: "none" })
    .use(generationApp(gateway))
    .get("/v1/models", async (c) => listModels(gateway.snapshot, await modelsReader(c)))
    .get("/v1/models/*", async (c) => {
      const principal = await modelsReader(c);
      const path = decodePath(c.params["*"]);
      const health = path.endsWith("/health");
      const id = health ? path.slice(0, -"/health".length) : path;
      const model = getModel(gateway.snapshot, id);
      requireModel(principal, model.id);
      return health ? modelHealth(gateway, id) : model;
    })
    .post("/v1/keys", async (c) => {
      await authorize(c, "admin");
      return new Response(JSON.stringify(await createKey(c.request, gateway)), { status: 201, headers: { "content-type": "application/json" } });
    }, { parse: "none" })
    .get("/v1/keys", async (c) => (await authorize(c, "admin"), listKeys(gateway)))
    .get("/v1/keys/:id", async (c) => (await authorize(c, "admin"), getKey(gateway, c.params.id)))
    .patch("/v1/keys/:id", async (c) => (await authorize(c, "admin"), updateKey(c.request, gateway, c.params.id)), { parse: "none" })
    .delete("/v1/keys/:id", async (c) => (await authorize(c, "admin"), revokeKey(gateway, c.params.id)))
    .post("/v1/accounts", async (c) => (await authorize(c, "admin"), createAccount(c.request, gateway)), { parse: "none" })
    .get("/v1/accounts", async (c) => (await authorize(c, "admin"), listAccounts(gateway)))
    .get("/v1/accounts/:id", async (c) => (await authorize(c, "admin"), getAccount(gateway, c.params.id)))
    .patch("/v1/accounts/:id", async (c) => (await authorize(c, "admin"), updateAccount(c.request, gateway, c.params.id)), { parse: "none" })
    .delete("/v1/accounts/:id", async (c) => (await authorize(c, "admin"), deactivateAccount(gateway, c.params.id)))
    .post("/v1/accounts/:id/credits", async (c) => (await authorize(c, "admin"), addCredits(c.request, gateway, c.params.id)), { parse: "none" })
    // Any key of the account may read its balance (seed 003 asks for no particular scope).
    .get("/v1/credits", async (c) => creditBalance(gateway, await gateway.principal(c.request, ip(c)), new URL(c.request.url)))
    .get("/v1/credits/transactions", async (c) => creditTransactions(gateway, await gateway.principal(c.request, ip(c)), new URL(c.request.url)))
    .get("/v1/plugins", async (c) => (await authorize(c, "admin"), { object: "list" as const, data: gateway.plugins.status() }))
    .get("/v1/vector_databases", async (c) => (await authorize(c, "admin"), listVectorDatabases(gateway)))
    .post("/v1/vector_databases/:name/documents", async (c) => (await authorize(c, "admin"), addVectorDocuments(c.request, gateway, c.params.name)), { parse: "none" })
    .delete("/v1/vector_databases/:name/documents", async (c) => (await authorize(c, "admin"), removeVectorDocuments(c.request, gateway, c.params.name)), { parse: "none" })
    .post("/v1/search/documents", async (c) => (await authorize(c, "admin"), addSearchDocuments(c.request, gateway)), { parse: "none" })
    .delete("/v1/search/documents", async (c) => (await authorize(c, "admin"), removeSearchDocuments(c.request, gateway)), { parse: "none" })
    .get("/v1/usage", async (c) => usageReport(gateway, await authorize(c, "usage"), new URL(c.request.url)))
    .post("/v1/auth/session", (c) => createSession(c.request, gateway, ip(c)), { parse: "none" })
    .get("/healthz", () => ({ status: "ok" }))
    .get("/readyz", async ({ set }) => {
      const statuses = await Promise.all([...gateway.snapshot.backends.values()].map(async (b) => [b.id, await gateway.health.status(b)] as const));
      const ready = statuses.length === 0 || statuses.some(([, status]) => status === "ready");
      set.status = ready ? 200 : 503;
      return { status: ready ? "ready" : "no backend ready", backends: Object.fromEntries(statuses) };
    })
    .get("/metrics", async (c) => {
      if (gateway.snapshot.server.metrics_auth) await authorize(c, "admin");
      return new Response(await gateway.metrics.exposition(), { headers: { "content-type": "text/plain; version=0.0.4" } });
    });
  routes = app.routes;
  return app;
}

/** A path no route serves is 404; a path served with other methods is 405 with `Allow`. */
function notFound(request: Request, routes: readonly RouteEntry[]): Response {
  const allow = allowedMethods(routes, new URL(request.url).pathname);
  if (!allow.length) return toErrorResponse(new GatewayError("not_found", "no such route; see GET /openapi.json or /docs for the API"));
  const error = new GatewayError("method_not_allowed", `${request.method.slice(0, 10)} is not served here; this path takes ${allow.join(", ")}`, { headers: { allow: allow.join(", ") } });
  return toErrorResponse(error);
}

/** A model id from the URL; a malformed escape (`%`) is the client's 400, not a URIError. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new GatewayError("invalid_request", "the path holds a malformed %-escape");
  }
}

