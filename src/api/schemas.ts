// The OpenAI-compatible API's schemas (seed 004's components plus sluice's extensions). Request validation and
// the OpenAPI document both come from these objects. Components carry a `$id` and refer to each other with
// `T.Ref(id)`; openapi.ts rewrites those refs to `#/components/schemas/<id>`.
import { FormatRegistry, Type as T, type Static, type TSchema } from "@sinclair/typebox";

// `format: uri` on image URLs (seed 004); TypeBox refuses formats it does not know, so it is registered here.
if (!FormatRegistry.Has("uri")) FormatRegistry.Set("uri", (value) => URL.canParse(value));

export const ContentPart = T.Object(
  {
    type: T.Union([T.Literal("text"), T.Literal("image_url")], { description: "text, or image_url for vision models" }),
    text: T.Optional(T.String({ description: "the text, when type is text" })),
    image_url: T.Optional(
      T.Object({ url: T.String({ format: "uri", description: "an http(s) or data: URL" }), detail: T.Optional(T.String()) }, { additionalProperties: true }),
    ),
  },
  { $id: "ContentPart", additionalProperties: true, description: "One part of a multimodal message" },
);

export const ChatMessage = T.Object(
  {
    role: T.Union([T.Literal("system"), T.Literal("user"), T.Literal("assistant"), T.Literal("tool"), T.Literal("developer")], {
      description: "system, user, assistant or tool (developer is accepted as OpenAI's newer name for system)",
    }),
    content: T.Optional(
      T.Union([T.String(), T.Array(T.Ref("ContentPart")), T.Null()], { description: "text, or content parts; null for an assistant turn with tool_calls" }),
    ),
    name: T.Optional(T.String()),
    tool_calls: T.Optional(T.Array(T.Object({}, { additionalProperties: true }))),
    tool_call_id: T.Optional(T.String()),
  },
  { $id: "ChatMessage", additionalProperties: true },
);

const Tool = T.Object(
  { type: T.String({ description: "function (passed to the model) or a platform tool: search, browser, flexible_vector_database_search" }) },
  { additionalProperties: true },
);

export const Inferada = T.Object(
  {
    processors: T.Optional(T.Array(T.String())),
    language: T.Optional(T.String()),
  },
  { additionalProperties: true, description: "Processor extension (seed 002): processors to run and their config" },
);

export const RoutingRequest = T.Object(
  {
    model_pool: T.Optional(T.Array(T.String())),
    optimize: T.Optional(T.Union([T.Literal("balanced"), T.Literal("quality"), T.Literal("cost"), T.Literal("latency")])),
    task: T.Optional(T.String()),
  },
  { additionalProperties: false, description: "Smart-routing overrides, used with model: auto" },
);

export const ChatCompletionRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: 256, description: "a backend's serving name, public:<name>, a balancer name, or auto", examples: ["qwen35-demo"] }),
    messages: T.Array(T.Ref("ChatMessage"), { minItems: 1 }),
    stream: T.Optional(T.Boolean({ default: false, description: "stream as server-sent events (default false, see server.stream_default)" })),
    stream_options: T.Optional(T.Object({ include_usage: T.Optional(T.Boolean()) }, { additionalProperties: true })),
    temperature: T.Optional(T.Number({ minimum: 0, maximum: 2, default: 1 })),
    top_p: T.Optional(T.Number({ minimum: 0, maximum: 1, default: 1 })),
    n: T.Optional(T.Integer({ minimum: 1, default: 1 })),
    max_tokens: T.Optional(T.Integer({ minimum: 1 })),
    max_completion_tokens: T.Optional(T.Integer({ minimum: 1 })),
    stop: T.Optional(T.Union([T.String(), T.Array(T.String(), { maxItems: 4 }), T.Null()])),
    presence_penalty: T.Optional(T.Number({ minimum: -2, maximum: 2, default: 0 })),
    frequency_penalty: T.Optional(T.Number({ minimum: -2, maximum: 2, default: 0 })),
    seed: T.Optional(T.Integer()),
    logprobs: T.Optional(T.Boolean()),
    top_logprobs: T.Optional(T.Integer({ minimum: 0, maximum: 20 })),
    tools: T.Optional(T.Array(Tool)),
    tool_choice: T.Optional(T.Union([T.String(), T.Object({}, { additionalProperties: true })])),
    response_format: T.Optional(T.Object({ type: T.String() }, { additionalProperties: true })),
    user: T.Optional(T.String()),
    firewall: T.Optional(T.String({ minLength: 1, maxLength: 128, description: "slug of a firewall declared in the config (sluice extension)" })),
    inferada: T.Optional(Inferada),
    routing: T.Optional(RoutingRequest),
  },
  { $id: "ChatCompletionRequest", additionalProperties: true, description: "Unknown fields pass through to the engine unchanged" },
);

export const Usage = T.Object(
  {
    prompt_tokens: T.Integer(),
    completion_tokens: T.Integer(),
    total_tokens: T.Integer(),
  },
  { $id: "Usage", additionalProperties: true },
);

export const Timings = T.Object(
  {
    total_ms: T.Number({ description: "end to end, including queue wait and processing" }),
    upstream_ms: T.Number({ description: "time the engine spent on the request" }),
    tokens_per_second: T.Optional(T.Number({ description: "completion tokens / upstream time; only when tokens > 0" })),
    processors_ms: T.Optional(T.Number()),
    queued_ms: T.Optional(T.Number()),
    gateway_ms: T.Optional(T.Number({ description: "time spent in the gateway itself" })),
  },
  { $id: "Timings", additionalProperties: true },
);

export const RoutingDecision = T.Object(
  {
    model: T.String({ description: "the backend that served" }),
    attempts: T.Integer({ description: "backends tried (retries and failover before the first byte)" }),
    balancer: T.Optional(T.String()),
    route: T.Optional(T.String({ description: "the balancer's matched route" })),
    strategy: T.Optional(T.String()),
    task: T.Optional(T.String({ description: "detected (or requested) task type" })),
    complexity: T.Optional(T.Union([T.Literal("simple"), T.Literal("medium"), T.Literal("complex")])),
    confidence: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    classifier: T.Optional(T.String({ description: "builtin, model:<backend>, or request" })),
    optimize: T.Optional(T.String()),
    candidates: T.Optional(
      T.Array(T.Object({ model: T.String(), score: T.Number(), quality: T.Number(), cost: T.Number({ description: "expected USD" }), latency_ms: T.Number() })),
    ),
    routing_time_ms: T.Optional(T.Number()),
  },
  { $id: "RoutingDecision", additionalProperties: true, description: "Why a balancer or auto chose the backend; streams send it first as {object: routing, ...}" },
);

const FirewallRuleHit = T.Object({
  rule: T.String(),
  action: T.Union([T.Literal("block"), T.Literal("redact"), T.Literal("flag")]),
  signals: T.Optional(T.Array(T.String(), { description: "what matched, by name (rule ids, PII kinds, topics); never the text" })),
});

export const FirewallVerdict = T.Object(
  {
    slug: T.String(),
    verdict: T.Union([T.Literal("allowed"), T.Literal("flagged"), T.Literal("redacted"), T.Literal("blocked")]),
    rules: T.Array(FirewallRuleHit),
    judge: T.Optional(
      T.Object({
        verdict: T.Union([T.Literal("safe"), T.Literal("unsafe"), T.Literal("error")]),
        categories: T.Optional(T.Array(T.String())),
        error: T.Optional(T.String()),
        cached: T.Boolean(),
        ms: T.Number(),
      }),
    ),
    output: T.Optional(T.Object({ verdict: T.String(), rules: T.Array(FirewallRuleHit) }, { description: "the answer's screening, when the firewall screens output" })),
    ms: T.Number(),
  },
  { $id: "FirewallVerdict", additionalProperties: true, description: "What the request's firewall decided; in streams it is on the final usage chunk" },
);

export const InferadaReport = T.Object(
  {
    processors: T.Array(
      T.Object({
        name: T.String(),
        pre_ms: T.Number(),
        post_ms: T.Number(),
        metadata: T.Optional(T.Record(T.String(), T.Unknown())),
        error: T.Optional(T.String({ description: "a fail-open processor's error" })),
      }),
    ),
    streaming: T.Optional(T.Object({ disabled: T.Boolean(), by: T.String(), reason: T.String() })),
  },
  { $id: "InferadaReport", additionalProperties: true, description: "What each processor did (seed 002); in streams it is on the final usage chunk" },
);

export const ChatCompletionChoice = T.Object(
  {
    index: T.Integer(),
    message: T.Ref("ChatMessage"),
    finish_reason: T.Union([T.Union(["stop", "length", "content_filter", "tool_calls"].map((reason) => T.Literal(reason))), T.Null()], { description: "stop, length, tool_calls or content_filter" }),
  },
  { $id: "ChatCompletionChoice", additionalProperties: true },
);

export const ChatCompletionResponse = T.Object(
  {
    id: T.String({ description: "chatcmpl-<request id>" }),
    object: T.Literal("chat.completion"),
    created: T.Integer(),
    model: T.String(),
    choices: T.Array(T.Ref("ChatCompletionChoice")),
    usage: T.Optional(T.Ref("Usage")),
    timings: T.Optional(T.Ref("Timings")),
    routing: T.Optional(T.Ref("RoutingDecision")),
    firewall: T.Optional(T.Ref("FirewallVerdict")),
    inferada: T.Optional(T.Ref("InferadaReport")),
  },
  { $id: "ChatCompletionResponse", additionalProperties: true },
);

export const Model = T.Object(
  {
    id: T.String(),
    object: T.Literal("model"),
    created: T.Integer(),
    owned_by: T.String(),
    display_name: T.Optional(T.String()),
    description: T.Optional(T.String()),
    endpoints: T.Optional(T.Array(T.String(), { description: "the APIs this model serves: chat, completions, embeddings, responses, messages, rerank, score, audio_transcriptions, tokenize, detokenize (backends[].endpoints)" })),
  },
  { $id: "Model", additionalProperties: true },
);

export const ModelList = T.Object({ object: T.Literal("list"), data: T.Array(T.Ref("Model")) }, { $id: "ModelList" });

export const ModelHealth = T.Object(
  { model: T.String(), status: T.Union([T.Literal("ready"), T.Literal("loading"), T.Literal("unavailable")]) },
  { $id: "ModelHealth" },
);

export const EmbeddingRequest = T.Object(
  {
    model: T.String({ minLength: 1, maxLength: 256 }),
    input: T.Union([T.String(), T.Array(T.String(), { minItems: 1 }), T.Array(T.Integer()), T.Array(T.Array(T.Integer()))], {
      description: "a string, an array of strings, or token arrays",
    }),
    encoding_format: T.Optional(T.Union([T.Literal("float"), T.Literal("base64")], { default: "float" })),
    dimensions: T.Optional(T.Integer({ minimum: 1 })),
    user: T.Optional(T.String()),
  },
  { $id: "EmbeddingRequest", additionalProperties: true },
);

export const EmbeddingObject = T.Object(
  {
    object: T.Literal("embedding"),
    embedding: T.Union([T.Array(T.Number()), T.String({ description: "base64 of little-endian float32s" })]),
    index: T.Integer(),
  },
  { $id: "EmbeddingObject" },
);

export const EmbeddingResponse = T.Object(
  {
    object: T.Literal("list"),
    data: T.Array(T.Ref("EmbeddingObject")),
    model: T.String(),
    usage: T.Object({ prompt_tokens: T.Integer(), total_tokens: T.Integer() }, { additionalProperties: true }),
  },
  { $id: "EmbeddingResponse", additionalProperties: true },
);

export const ErrorResponse = T.Object(
  {
    error: T.Object({
      message: T.String({ description: "what went wrong and what to change" }),
      type: T.String(),
      code: T.Union([T.String(), T.Null()]),
      param: T.Union([T.String(), T.Null()]),
    }),
  },
  { $id: "ErrorResponse" },
);

/** Every component, by `$id`: the references the validators and the OpenAPI document resolve against. */
export const components: TSchema[] = [
  ContentPart,
  ChatMessage,
  ChatCompletionRequest,
  Usage,
  Timings,
  RoutingDecision,
  FirewallVerdict,
  InferadaReport,
  ChatCompletionChoice,
  ChatCompletionResponse,
  Model,
  ModelList,
  ModelHealth,
  EmbeddingRequest,
  EmbeddingObject,
  EmbeddingResponse,
  ErrorResponse,
];

export type ChatMessage = Static<typeof ChatMessage>;
export type ContentPart = Static<typeof ContentPart>;
