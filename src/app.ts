// The HTTP surface as one Elysia app. Handlers are thin: they call the pipeline, and every error reaches the
// single onError below, which turns it into the OpenAI error JSON.
import { Elysia } from "elysia";
import { GatewayError, toErrorResponse } from "./errors.ts";
import type { Gateway } from "./gateway.ts";
import { handleChat } from "./pipeline/chat.ts";
import { handleEmbeddings } from "./pipeline/embeddings.ts";
import { getModel, listModels, modelHealth } from "./api/models.ts";
import { openapiRoutes } from "./api/openapi.ts";

export function createApp(gateway: Gateway) {
  return new Elysia({ name: "sluice" })
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return toErrorResponse(new GatewayError("not_found", "no such route; see GET /openapi.json or /docs for the API"));
      if (code === "PARSE") return toErrorResponse(new GatewayError("invalid_json", "request body is not valid JSON"));
      return toErrorResponse(error);
    })
    .use(openapiRoutes())
    .post("/v1/chat/completions", ({ request }) => handleChat(request, gateway), {
      parse: "none",
      detail: { operationId: "createChatCompletion", tags: ["Chat Completions"], summary: "Create a chat completion (buffered or SSE)" },
    })
    .post("/v1/embeddings", ({ request }) => handleEmbeddings(request, gateway), {
      parse: "none",
      detail: { operationId: "createEmbedding", tags: ["Embeddings"], summary: "Create embeddings" },
    })
    .get("/v1/models", () => listModels(gateway.snapshot), {
      detail: { operationId: "listModels", tags: ["Models"], summary: "List the models this key may use" },
    })
    .get("/v1/models/*", ({ params }) => modelRoute(gateway, decodeURIComponent(params["*"])), {
      detail: { operationId: "getModel", tags: ["Models"], summary: "Retrieve a model; append /health for its readiness" },
    })
    .get("/healthz", () => ({ status: "ok" }), { detail: { tags: ["Operations"], summary: "Liveness" } })
    .get("/readyz", async ({ set }) => {
      const statuses = await Promise.all([...gateway.snapshot.backends.values()].map(async (b) => [b.id, await gateway.health.status(b)] as const));
      const ready = statuses.length === 0 || statuses.some(([, status]) => status === "ready");
      set.status = ready ? 200 : 503;
      return { status: ready ? "ready" : "no backend ready", backends: Object.fromEntries(statuses) };
    }, { detail: { tags: ["Operations"], summary: "Readiness: 503 while no backend is ready" } })
    .get("/metrics", () => new Response(gateway.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } }), {
      detail: { tags: ["Operations"], summary: "Prometheus metrics" },
    });
}

function modelRoute(gateway: Gateway, path: string) {
  if (path.endsWith("/health")) return modelHealth(gateway, path.slice(0, -"/health".length));
  return getModel(gateway.snapshot, path);
}
