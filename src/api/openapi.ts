// GET /openapi.json (OpenAPI 3.1) and GET /docs.
//
// Why an explicit builder and not @elysiajs/openapi: the plugin documents what Elysia knows about a route, and
// here Elysia knows little. Chat and embeddings use `parse: "none"` (no body schema), `/v1/models/*` would show
// up as a literal `*` path with `/health` folded into it, and streaming content types, per-status error
// responses and the public-route security overrides would all need hand-written `detail` blocks in app.ts
// anyway. Add the plugin's `$id` trap and its CDN-hosted UI, and the plugin would cost more code than it
// saves. So the document is written here from the same TypeBox objects that validate requests: each path is
// one entry in PATHS, each schema one entry in schemas.ts's `components`.
import { Elysia } from "elysia";
import { Type as T, type TSchema } from "@sinclair/typebox";
import { version } from "../../package.json";
import { components } from "./schemas.ts";
import { docsRoutes } from "./swagger-assets.ts";
import { ApiKeyObject, KeyCreateRequest, KeyUpdateRequest } from "../auth/key-record.ts";
import { AccountCreateRequest, AccountObject, AccountUpdateRequest, CreditBalance, CreditRequest, CreditTransaction } from "../auth/account-record.ts";
import { DASHBOARD_PATHS, dashboardParameters, dashboardSchemas } from "./dashboard-openapi.ts";
import { GENERATION_PATHS, generationParameters, generationSchemas } from "../translate/openapi.ts";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type OpenApiDocument = JsonObject & { openapi: "3.1.0" };

// Shapes only the document needs (no request is validated against them), so they live here, not in schemas.ts.
const docOnlySchemas: TSchema[] = [
  T.Object({ status: T.Literal("ok") }, { $id: "Liveness" }),
  T.Object(
    {
      status: T.Union([T.Literal("ready"), T.Literal("no backend ready")]),
      backends: T.Record(T.String(), T.Union([T.Literal("ready"), T.Literal("loading"), T.Literal("unavailable")]), {
        description: "health of each backend by serving name",
      }),
    },
    { $id: "Readiness" },
  ),
  KeyCreateRequest,
  KeyUpdateRequest,
  ApiKeyObject,
  T.Object({ object: T.Literal("list"), data: T.Array(T.Ref("ApiKey")) }, { $id: "ApiKeyList" }),
  AccountCreateRequest,
  AccountUpdateRequest,
  AccountObject,
  T.Object({ object: T.Literal("list"), data: T.Array(T.Ref("Account")) }, { $id: "AccountList" }),
  CreditRequest,
  CreditBalance,
  CreditTransaction,
  T.Composite([CreditTransaction, T.Object({ account: T.Ref("Account") })], { $id: "CreditTransactionResult" }),
  T.Object({ object: T.Literal("list"), data: T.Array(T.Ref("CreditTransaction")), has_more: T.Boolean(), next_cursor: T.Optional(T.String({ description: "pass as starting_after for the next page" })) }, { $id: "CreditTransactionList" }),
  T.Object(
    {
      object: T.Literal("usage"),
      data: T.Array(
        T.Object({
          key_id: T.Optional(T.Union([T.String(), T.Null()])),
          model: T.Optional(T.String()),
          day: T.Optional(T.String({ description: "YYYY-MM-DD (UTC)" })),
          requests: T.Integer(),
          prompt_tokens: T.Integer(),
          completion_tokens: T.Integer(),
          cost_usd: T.Number(),
        }),
      ),
      total: T.Object({ requests: T.Integer(), prompt_tokens: T.Integer(), completion_tokens: T.Integer(), cost_usd: T.Number() }),
    },
    { $id: "UsageReport" },
  ),
  T.Object(
    {
      object: T.Literal("list"),
      data: T.Array(
        T.Object({
          name: T.Union([T.String(), T.Null()], { description: "null when the file never loaded" }),
          kind: T.Union([T.Literal("processor"), T.Literal("tool"), T.Literal("firewall")]),
          file: T.String({ description: "path inside the plugins folder" }),
          state: T.Union([T.Literal("active"), T.Literal("failed")], { description: "failed: the last load failed; an earlier version (if any) keeps serving" }),
          version: T.Union([T.Integer(), T.Null()]),
          loaded_at: T.Union([T.String(), T.Null()]),
          last_error: T.Union([T.String(), T.Null()]),
        }),
      ),
    },
    { $id: "PluginList" },
  ),
  T.Object(
    {
      object: T.Literal("list"),
      data: T.Array(
        T.Object({ name: T.String(), store: T.String(), embedding_backend: T.String(), description: T.String(), documents: T.Integer(), chunks: T.Integer(), dimensions: T.Union([T.Integer(), T.Null()]) }),
      ),
    },
    { $id: "VectorDatabaseList" },
  ),
  T.Object(
    {
      documents: T.Array(
        T.Object({
          id: T.Optional(T.String({ description: "replaces the document with this id" })),
          text: T.String(),
          title: T.Optional(T.String({ description: "search documents: required" })),
          url: T.Optional(T.String()),
          metadata: T.Optional(T.Record(T.String(), T.Union([T.String(), T.Number(), T.Boolean()]), { description: "vector documents: filterable by exact value" })),
        }),
        { minItems: 1 },
      ),
    },
    { $id: "DocumentsRequest" },
  ),
  T.Object({ ids: T.Array(T.String()) }, { $id: "DocumentIds" }),
  T.Object({ object: T.String(), added: T.Optional(T.Integer()), removed: T.Optional(T.Integer()), ids: T.Optional(T.Array(T.String())) }, { $id: "DocumentsResult", additionalProperties: true }),
  T.Object({ api_key: T.String() }, { $id: "SessionRequest" }),
  T.Object({ object: T.Literal("session"), key_id: T.String(), scopes: T.Array(T.String()), expires_at: T.Integer({ description: "unix seconds" }) }, { $id: "Session" }),
];

/** DESIGN.md's error list: what each status means here. */
const ERRORS = {
  400: ["BadRequest", "Invalid body (the message names the field), or an unknown processor, tool or firewall."],
  401: ["Unauthorized", "Missing or invalid API key."],
  402: ["InsufficientCredits", "`insufficient_credits`: the key's account has not enough credit left for this request's worst-case cost; top up with POST /v1/accounts/{id}/credits."],
  403: ["Forbidden", "The key's scopes, IP allow-list or allowed models do not permit this request; `key_revoked` for a revoked key, `account_inactive` for a deactivated account."],
  404: ["NotFound", "Unknown model; GET /v1/models lists the ones this key may use."],
  408: ["RequestTimeout", "The body did not arrive within server.body_timeout_ms (an audio upload: it stalled that long); the connection is closed."],
  413: ["PayloadTooLarge", "Body larger than server.max_body_bytes (audio uploads: server.max_upload_bytes)."],
  415: ["UnsupportedMediaType", "A content-encoding other than gzip, deflate, br or identity (audio uploads: any but identity)."],
  422: ["PolicyRejected", "Rejected by a firewall or processor policy, or inferada.language is missing or unsupported."],
  429: ["RateLimited", "Rate, concurrency or budget limit reached (the key's or the engine's); retry after Retry-After seconds."],
  502: ["BadGateway", "The engine failed or could not be reached."],
  503: ["NoHealthyBackend", "No healthy backend can serve this model right now."],
  504: ["GatewayTimeout", "The engine did not answer in time."],
  500: ["InternalError", "A bug in the gateway (never for bad input); the message and x-request-id help report it."],
} as const satisfies Record<number, readonly [string, string]>;
type ErrorStatus = keyof typeof ERRORS;

const UPSTREAM_ERRORS = [400, 401, 402, 403, 404, 413, 429, 502, 503, 504] as const satisfies ErrorStatus[];
const TRACE_HEADERS = ["x-request-id", "x-sluice-backend"];

export interface OperationSpec {
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Component name of the JSON request body. */
  body?: string;
  /** A request body of another media type (multipart uploads), as the document's `content` map. */
  requestContent?: JsonObject;
  /** The success status, 200 unless given. */
  okStatus?: number;
  /** The success response: `json` names a component; `content` gives other media types. */
  ok: { description: string; json?: string; content?: JsonObject; headers?: string[] };
  errors?: readonly ErrorStatus[];
  /** Names in components.parameters. */
  params?: string[];
  optionalBody?: true;
  /** Served without a key. */
  public?: true;
  /** Served without a key, but a key that is sent counts (the model list). */
  optionalKey?: true;
  /** The request body's example (Swagger UI sends it as is); `$model` becomes a served model's name. */
  example?: JsonObject;
  /** Responses beyond 200 and the error list. */
  more?: JsonObject;
}

const CHAT_DESCRIPTION = `OpenAI chat completions. \`model\` is a backend's serving name, \`public:<name>\`, a balancer's name, or \`auto\`.
With \`stream: true\` the answer is server-sent events: the first chunk carries the role, the last chunk before \`data: [DONE]\` carries \`usage\` and \`timings\`; a stream the engine cuts ends with an \`error\` event and no \`[DONE]\`.

**sluice request extensions** (all optional; the OpenAI SDKs send them through \`extra_body\`):
- \`firewall: "<slug>"\`: screen the request with a firewall declared in the config; a block is a 422.
- \`tools\`: besides \`{type: "function"}\` tools (returned to the client as usual), platform tools the gateway runs itself: \`{type: "search"}\`, \`{type: "browser"}\`, \`{type: "flexible_vector_database_search", vector_database, query?, top_k?}\`. Buffered answers list \`tool_runs\` and sum \`usage\` over all rounds; streams send tool results as content chunks before the answer.
- \`inferada: {processors: [...], language?, <processor>: {...config}}\`: processors that run before and after the model; the response's \`inferada\` holds each one's metadata. A processor that needs the whole answer turns streaming off and says so there.
- \`routing: {model_pool?, optimize?: balanced|quality|cost|latency, task?}\`: overrides for \`model: "auto"\`, ignored for other models. The response's \`routing\` explains the choice; an \`auto\` stream starts with a \`{"object": "routing", ...}\` event.

**Response extensions:** \`timings\` (total_ms, upstream_ms, tokens_per_second, processors_ms, queued_ms, gateway_ms), \`inferada\`, \`routing\`, \`tool_runs\`. Queue wait is also in the \`x-inferada-queued-ms\` header.`;

const PATHS: Record<string, Record<string, OperationSpec>> = {
  "/v1/chat/completions": {
    post: {
      operationId: "createChatCompletion",
      tag: "Chat Completions",
      summary: "Create a chat completion (buffered or streamed)",
      description: CHAT_DESCRIPTION,
      body: "ChatCompletionRequest",
      example: { model: "$model", messages: [{ role: "user", content: "Hello!" }], max_tokens: 64 },
      ok: {
        description: "The completion: JSON, or server-sent events when `stream` is true.",
        json: "ChatCompletionResponse",
        content: {
          "text/event-stream": {
            schema: { type: "string", description: "`data: <chat.completion.chunk JSON>` events, then `data: [DONE]`" },
          },
        },
        headers: [...TRACE_HEADERS, "x-inferada-queued-ms"],
      },
      errors: [...UPSTREAM_ERRORS, 422],
    },
  },
  "/v1/embeddings": {
    post: {
      operationId: "createEmbedding",
      tag: "Embeddings",
      summary: "Create embeddings",
      description: "OpenAI embeddings; `encoding_format: base64` returns little-endian float32s as base64.",
      body: "EmbeddingRequest",
      example: { model: "$model", input: "Hello!" },
      ok: { description: "The embeddings, in input order.", json: "EmbeddingResponse", headers: TRACE_HEADERS },
      errors: UPSTREAM_ERRORS,
    },
  },
  "/v1/models": {
    get: {
      operationId: "listModels",
      tag: "Models",
      summary: "List the models (filtered by the key's allowed models when a key is sent)",
      description: "Needs no key (seed 003) unless `auth.public_models: false`; a key that is sent is checked, and the list is then what it may use.",
      optionalKey: true,
      ok: { description: "The models, with display_name and description.", json: "ModelList" },
      errors: [401, 403],
    },
  },
  "/v1/models/{model_id}": {
    get: {
      operationId: "getModel",
      tag: "Models",
      summary: "Retrieve a model",
      optionalKey: true,
      params: ["ModelId"],
      ok: { description: "The model.", json: "Model" },
      errors: [401, 403, 404],
    },
  },
  "/v1/models/{model_id}/health": {
    get: {
      operationId: "getModelHealth",
      tag: "Models",
      summary: "A model's readiness, from its engine's own health checks",
      optionalKey: true,
      params: ["ModelId"],
      ok: { description: "ready, loading or unavailable.", json: "ModelHealth" },
      errors: [401, 403, 404],
    },
  },
  "/v1/keys": {
    post: {
      operationId: "createKey",
      tag: "API Keys",
      summary: "Create an API key (admin); the secret is in `key`, shown only here",
      body: "KeyCreateRequest",
      okStatus: 201,
      ok: { description: "The new key, with its secret.", json: "ApiKey" },
      errors: [400, 401, 403],
    },
    get: { operationId: "listKeys", tag: "API Keys", summary: "List API keys (admin); prefixes only", ok: { description: "Every key.", json: "ApiKeyList" }, errors: [401, 403] },
  },
  "/v1/keys/{key_id}": {
    get: { operationId: "getKey", tag: "API Keys", summary: "Retrieve an API key (admin)", params: ["KeyId"], ok: { description: "The key.", json: "ApiKey" }, errors: [401, 403, 404] },
    patch: {
      operationId: "updateKey",
      tag: "API Keys",
      summary: "Change an API key's settings (admin)",
      params: ["KeyId"],
      body: "KeyUpdateRequest",
      ok: { description: "The key as updated.", json: "ApiKey" },
      errors: [400, 401, 403, 404],
    },
    delete: { operationId: "revokeKey", tag: "API Keys", summary: "Revoke an API key (admin); cannot be undone", params: ["KeyId"], ok: { description: "The revoked key.", json: "ApiKey" }, errors: [401, 403, 404] },
  },
  "/v1/accounts": {
    post: { operationId: "createAccount", tag: "Accounts", summary: "Create an account (admin), optionally with a first deposit", body: "AccountCreateRequest", okStatus: 201, ok: { description: "The account.", json: "Account" }, errors: [400, 401, 403] },
    get: { operationId: "listAccounts", tag: "Accounts", summary: "List accounts with their balances (admin)", ok: { description: "Every account.", json: "AccountList" }, errors: [401, 403] },
  },
  "/v1/accounts/{account_id}": {
    get: { operationId: "getAccount", tag: "Accounts", summary: "Retrieve an account (admin)", params: ["AccountId"], ok: { description: "The account.", json: "Account" }, errors: [401, 403, 404] },
    patch: { operationId: "updateAccount", tag: "Accounts", summary: "Change an account (admin); status deactivated refuses its keys with 403", params: ["AccountId"], body: "AccountUpdateRequest", ok: { description: "The account as updated.", json: "Account" }, errors: [400, 401, 403, 404] },
    delete: { operationId: "deactivateAccount", tag: "Accounts", summary: "Deactivate an account (admin); its transactions stay", params: ["AccountId"], ok: { description: "The deactivated account.", json: "Account" }, errors: [401, 403, 404] },
  },
  "/v1/accounts/{account_id}/credits": {
    post: {
      operationId: "addCredits",
      tag: "Accounts",
      summary: "Deposit or adjust credits (admin)",
      description: "A positive `amount_usd` is a deposit, a negative one an adjustment; it may not take away what requests in flight hold.",
      params: ["AccountId"],
      body: "CreditRequest",
      okStatus: 201,
      ok: { description: "The transaction and the account after it.", json: "CreditTransactionResult" },
      errors: [400, 401, 403, 404],
    },
  },
  "/v1/credits": {
    get: {
      operationId: "getCredits",
      tag: "Credits",
      summary: "The caller's account balance, what requests in flight hold, and what is available",
      description: "Any key of the account may read it; an admin key may pass `?account_id=`.",
      ok: { description: "The balance.", json: "CreditBalance" },
      errors: [401, 403, 404],
    },
  },
  "/v1/credits/transactions": {
    get: {
      operationId: "listCreditTransactions",
      tag: "Credits",
      summary: "Deposits, adjustments and deductions of the caller's account, newest first",
      description: "Query: `limit` (1–500, default 50), `starting_after` (a transaction id from the previous page), `group=hour` (deductions summed per UTC hour), `account_id` (admin only).",
      ok: { description: "A page of transactions.", json: "CreditTransactionList" },
      errors: [400, 401, 403, 404],
    },
  },
  "/v1/plugins": {
    get: {
      operationId: "listPlugins",
      tag: "Plugins",
      summary: "Loaded plugins with their state and last error (admin)",
      description: "Every plugin file under the plugins folder (processors/, tools/, firewalls/). Files are re-imported when they change; a file that fails keeps its previous version serving and shows `state: failed` with the error.",
      ok: { description: "The plugins.", json: "PluginList" },
      errors: [401, 403],
    },
  },
  "/v1/vector_databases": {
    get: { operationId: "listVectorDatabases", tag: "Platform tools", summary: "Vector databases with their document and chunk counts (admin)", ok: { description: "The databases.", json: "VectorDatabaseList" }, errors: [401, 403] },
  },
  "/v1/vector_databases/{name}/documents": {
    post: {
      operationId: "addVectorDocuments",
      tag: "Platform tools",
      summary: "Add documents to a vector database: chunked, embedded, stored (admin)",
      params: ["VectorDatabaseName"],
      body: "DocumentsRequest",
      ok: { description: "What was stored.", json: "DocumentsResult" },
      errors: [400, 401, 403, 404, 502],
    },
    delete: { operationId: "removeVectorDocuments", tag: "Platform tools", summary: "Remove documents by id (admin)", params: ["VectorDatabaseName"], body: "DocumentIds", ok: { description: "What was removed.", json: "DocumentsResult" }, errors: [400, 401, 403, 404] },
  },
  "/v1/search/documents": {
    post: { operationId: "addSearchDocuments", tag: "Platform tools", summary: "Add documents to the local search provider's index (admin)", body: "DocumentsRequest", ok: { description: "What was indexed.", json: "DocumentsResult" }, errors: [400, 401, 403] },
    delete: { operationId: "removeSearchDocuments", tag: "Platform tools", summary: "Remove local search documents by id (admin)", body: "DocumentIds", ok: { description: "What was removed.", json: "DocumentsResult" }, errors: [400, 401, 403] },
  },
  "/v1/usage": {
    get: {
      operationId: "getUsage",
      tag: "Usage",
      summary: "Usage and cost from the ledger",
      description:
        "Query: `from`, `to` (unix seconds or ISO dates; from inclusive, to exclusive), `group_by` (key, model or day), `key_id` (admin only), `format` (json or csv). A key sees its own usage; an admin key sees all.",
      ok: { description: "Requests, tokens and cost, grouped and in total.", json: "UsageReport", content: { "text/csv": { schema: { type: "string" } } } },
      errors: [400, 401, 403],
    },
  },
  "/v1/auth/session": {
    post: {
      operationId: "createSession",
      tag: "API Keys",
      summary: "Exchange a key for an HttpOnly session cookie (browsers)",
      description: "Send the key as `Authorization: Bearer` or as `{\"api_key\"}`. The cookie (`sluice_session`, a signed JWT) then authorises requests like the key, until it expires or the key is revoked.",
      body: "SessionRequest",
      optionalBody: true,
      public: true,
      ok: { description: "The session; the cookie is in Set-Cookie.", json: "Session" },
      errors: [400, 401, 403],
    },
  },
  "/healthz": {
    get: { operationId: "getLiveness", tag: "Operations", summary: "Liveness", public: true, ok: { description: "The process is up.", json: "Liveness" } },
  },
  "/readyz": {
    get: {
      operationId: "getReadiness",
      tag: "Operations",
      summary: "Readiness: 503 while no backend is ready",
      public: true,
      ok: { description: "At least one backend is ready (or none is configured).", json: "Readiness" },
      more: { "503": { description: "No backend is ready.", content: jsonContent("Readiness") } },
    },
  },
  "/metrics": {
    get: {
      operationId: "getMetrics",
      tag: "Operations",
      summary: "Prometheus metrics",
      description: "Needs no key unless `server.metrics_auth: true`, which puts it behind the `admin` scope.",
      public: true,
      ok: { description: "Prometheus text exposition format.", content: { "text/plain": { schema: { type: "string" } } } },
    },
  },
  "/openapi.json": {
    get: {
      operationId: "getOpenApiDocument",
      tag: "Operations",
      summary: "This document",
      public: true,
      ok: { description: "OpenAPI 3.1 document.", content: { "application/json": { schema: { type: "object" } } } },
    },
  },
  "/docs": {
    get: {
      operationId: "getDocs",
      tag: "Operations",
      summary: "Swagger UI, served from the binary",
      public: true,
      ok: { description: "HTML page.", content: { "text/html": { schema: { type: "string" } } } },
    },
  },
};

const HEADERS: Record<string, string> = {
  "x-request-id": "The request's id (also in a buffered answer's `id`, chatcmpl-<request id>).",
  "x-sluice-backend": "The backend that served the request.",
  "x-inferada-queued-ms": "Milliseconds the request waited for a free slot.",
};

const DEFAULT_EXAMPLE_MODEL = "qwen35-demo";
const cachedJson = new Map<string, string>();
const cachedDocuments = new Map<string, OpenApiDocument>();

/** The document, built on first use (also for `sluice openapi`); its example bodies name `exampleModel`. */
export function openapiDocument(exampleModel = DEFAULT_EXAMPLE_MODEL): OpenApiDocument {
  let document = cachedDocuments.get(exampleModel);
  if (!document) cachedDocuments.set(exampleModel, (document = buildDocument(exampleModel)));
  return document;
}

/** `exampleModel` names a model the running gateway serves, so Swagger UI's "Try it out" works as sent. */
export function openapiRoutes(exampleModel: () => string | undefined = () => undefined) {
  return new Elysia({ name: "openapi" })
    .get("/openapi.json", () => {
      const model = exampleModel() ?? DEFAULT_EXAMPLE_MODEL;
      let json = cachedJson.get(model);
      if (!json) cachedJson.set(model, (json = JSON.stringify(openapiDocument(model))));
      return new Response(json, { headers: { "content-type": "application/json" } });
    })
    .use(docsRoutes());
}

function buildDocument(exampleModel: string): OpenApiDocument {
  const paths: JsonObject = {};
  for (const [path, methods] of Object.entries({ ...PATHS, ...GENERATION_PATHS, ...DASHBOARD_PATHS })) {
    paths[path] = Object.fromEntries(Object.entries(methods).map(([method, spec]) => [method, operation(spec, exampleModel)]));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "sluice",
      version,
      description: "Self-hosted, OpenAI-compatible LLM gateway. Every response carries `x-request-id`; errors are `{\"error\": {message, type, code, param}}`.",
    },
    servers: [{ url: "/" }],
    security: [{ bearerAuth: [] }],
    tags: [...new Set(Object.values({ ...PATHS, ...GENERATION_PATHS, ...DASHBOARD_PATHS }).flatMap((methods) => Object.values(methods).map((spec) => spec.tag)))].map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries([...components, ...docOnlySchemas, ...generationSchemas, ...dashboardSchemas].map((schema) => [String(schema.$id), toOpenApiSchema(schema)])),
      responses: Object.fromEntries(Object.entries(ERRORS).map(([status, [name, description]]) => [name, errorResponse(Number(status), description)])),
      parameters: {
        ModelId: {
          name: "model_id",
          in: "path",
          required: true,
          description: "A model id as listed by GET /v1/models. Ids may contain `/`, raw or `%2F`-encoded.",
          schema: { type: "string" },
          example: "Qwen/Qwen3-14B",
        },
        KeyId: { name: "key_id", in: "path", required: true, description: "An API key's id (key_…).", schema: { type: "string" } },
        AccountId: { name: "account_id", in: "path", required: true, description: "An account's id (acct_…).", schema: { type: "string" } },
        VectorDatabaseName: { name: "name", in: "path", required: true, description: "A vector database's name from vector_databases in the config.", schema: { type: "string" } },
        ...dashboardParameters,
        ...generationParameters,
      },
      headers: Object.fromEntries(Object.entries(HEADERS).map(([name, description]) => [name, { description, schema: { type: "string" } }])),
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "inf_<40 letters and digits>", description: "A sluice API key (`sluice keys create`)." } },
    },
  };
}

function operation(spec: OperationSpec, exampleModel: string): JsonObject {
  const ok: JsonObject = { description: spec.ok.description, content: { ...(spec.ok.json ? jsonContent(spec.ok.json) : {}), ...spec.ok.content } };
  if (spec.ok.headers) ok.headers = Object.fromEntries(spec.ok.headers.map((name) => [name, ref("headers", name)]));
  const responses: JsonObject = { [String(spec.okStatus ?? 200)]: ok, ...spec.more };
  for (const status of spec.errors ?? []) responses[status] = ref("responses", ERRORS[status][0]);
  responses["500"] = ref("responses", ERRORS[500][0]);

  const op: JsonObject = { operationId: spec.operationId, tags: [spec.tag], summary: spec.summary, responses };
  if (spec.description) op.description = spec.description;
  if (spec.params) op.parameters = spec.params.map((name) => ref("parameters", name));
  if (spec.body) {
    const content = jsonContent(spec.body);
    if (spec.example) (content["application/json"] as JsonObject).example = { ...spec.example, ...(spec.example.model === "$model" ? { model: exampleModel } : {}) };
    op.requestBody = { required: !spec.optionalBody, content };
  }
  if (spec.requestContent) op.requestBody = { required: true, content: spec.requestContent };
  if (spec.public) op.security = [];
  if (spec.optionalKey) op.security = [{}, { bearerAuth: [] }];
  return op;
}

function errorResponse(status: number, description: string): JsonObject {
  const headers: JsonObject = { "x-request-id": ref("headers", "x-request-id") };
  if (status === 429) headers["retry-after"] = { description: "Seconds to wait before retrying.", schema: { type: "integer" } };
  return { description, headers, content: jsonContent("ErrorResponse") };
}

function jsonContent(schema: string): JsonObject {
  return { "application/json": { schema: ref("schemas", schema) } };
}

function ref(kind: string, name: string): JsonObject {
  return { $ref: `#/components/${kind}/${name}` };
}

/** TypeBox spells a string enum as anyOf of consts; OpenAPI tools (and seed 004) expect `enum`. */
function constChoices(value: unknown): string[] | undefined {
  const anyOf = (value as { anyOf?: unknown } | null)?.anyOf;
  if (!Array.isArray(anyOf) || !anyOf.length) return undefined;
  const choices = anyOf.map((option) => (option as { const?: unknown }).const);
  return choices.every((choice) => typeof choice === "string") ? (choices as string[]) : undefined;
}

function withoutAnyOf(schema: Record<string, unknown>): Record<string, unknown> {
  const { anyOf: _anyOf, ...rest } = schema;
  return rest;
}

// A JSON round trip drops TypeBox's symbol keys. `$id` goes too: the component key already names the schema, and
// an `$id` that appears twice (a component inlined elsewhere) makes the document invalid. T.Ref's bare ids become
// component pointers.
function toOpenApiSchema(schema: TSchema): JsonObject {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => {
      if (key === "$id") return undefined;
      const choices = constChoices(value);
      if (choices) return { type: "string", enum: choices, ...withoutAnyOf(value as Record<string, unknown>) };
      if (key === "$ref" && typeof value === "string" && !value.startsWith("#")) return `#/components/schemas/${value}`;
      return value;
    }),
  ) as JsonObject;
}
