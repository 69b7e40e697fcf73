// The translated and passed-through APIs in the OpenAPI document: entries like openapi.ts's PATHS, kept beside
// the translation so a new API is documented where it is written.
import { Type as T, type TSchema } from "@sinclair/typebox";
import type { JsonObject, OperationSpec } from "../api/openapi.ts";
import { translateSchemas } from "./schemas.ts";

const open = { additionalProperties: true } as const;
const ERRORS = [400, 401, 403, 404, 413, 429, 502, 503, 504] as const;
const TRACE = ["x-request-id", "x-sluice-backend"];
const sse = (description: string): JsonObject => ({ "text/event-stream": { schema: { type: "string", description } } });

export const generationSchemas: TSchema[] = [
  ...translateSchemas,
  T.Object(
    {
      id: T.String({ description: "resp_<request id>" }),
      object: T.Literal("response"),
      created_at: T.Integer(),
      status: T.Union([T.Literal("completed"), T.Literal("incomplete"), T.Literal("failed"), T.Literal("in_progress")]),
      model: T.String(),
      output: T.Array(T.Object({ type: T.String({ description: "message, function_call or reasoning" }), id: T.String() }, open)),
      usage: T.Union([T.Object({ input_tokens: T.Integer(), output_tokens: T.Integer(), total_tokens: T.Integer() }, open), T.Null()]),
      previous_response_id: T.Union([T.String(), T.Null()]),
    },
    { $id: "ResponseObject", ...open, description: "Plus sluice's timings, routing, inferada and tool_runs when the chat answer had them" },
  ),
  T.Object({ id: T.String(), object: T.Literal("response"), deleted: T.Literal(true) }, { $id: "ResponseDeleted" }),
  T.Object(
    {
      id: T.String({ description: "msg_<request id>" }),
      type: T.Literal("message"),
      role: T.Literal("assistant"),
      model: T.String(),
      content: T.Array(T.Object({ type: T.String({ description: "text, tool_use or thinking" }) }, open)),
      stop_reason: T.Union([T.Literal("end_turn"), T.Literal("max_tokens"), T.Literal("stop_sequence"), T.Literal("tool_use")]),
      stop_sequence: T.Union([T.String(), T.Null()]),
      usage: T.Object({ input_tokens: T.Integer(), output_tokens: T.Integer() }),
    },
    { $id: "MessageObject", ...open },
  ),
  T.Object({ type: T.Literal("error"), error: T.Object({ type: T.String(), message: T.String() }), request_id: T.Optional(T.String()) }, { $id: "AnthropicError" }),
  T.Object({ input_tokens: T.Integer() }, { $id: "CountTokensResponse" }),
  T.Object(
    { id: T.String(), object: T.Literal("text_completion"), created: T.Integer(), model: T.String(), choices: T.Array(T.Object({ index: T.Integer(), text: T.String(), finish_reason: T.Union([T.String(), T.Null()]) }, open)), usage: T.Optional(T.Object({}, open)) },
    { $id: "CompletionResponse", ...open },
  ),
  T.Object({}, { $id: "EngineAnswer", ...open, description: "The engine's own answer, unchanged" }),
  T.Object(
    { model: T.String({ description: "before the file, so the upload streams (routing reads the leading fields)" }), file: T.String({ format: "binary" }) },
    { $id: "TranscriptionForm", ...open, description: "multipart/form-data, best with the model field before the file, at most server.max_upload_bytes (25 MiB); other fields (language, prompt, response_format, …) pass through" },
  ),
];

export const generationParameters: JsonObject = {
  ResponseId: { name: "response_id", in: "path", required: true, description: "A stored response's id (resp_…).", schema: { type: "string" } },
};

const RESPONSES_DESCRIPTION = `The OpenAI Responses API. Translated to a chat completion and run through the same pipeline as /v1/chat/completions (keys, limits, budgets, firewall, processors, platform tools, ledger, timings), or passed through to a backend whose \`endpoints\` list \`responses\`.
Translated: \`instructions\` → system message; input items (messages with roles developer/system/user/assistant, input_text and input_image parts, function_call and function_call_output items) → chat messages; function tools → chat tools, \`web_search\` → the gateway's search tool; \`text.format\` → response_format; \`max_output_tokens\` → max_tokens; \`reasoning.effort\` → reasoning_effort.
\`store\` (default true) keeps the response in the gateway's store for GET and \`previous_response_id\`, scoped to the key, for storage.responses_retention_days.
Streaming sends the Responses event types (response.created, response.output_item.added, response.output_text.delta, response.function_call_arguments.delta, … response.completed with usage).`;

const MESSAGES_DESCRIPTION = `The Anthropic Messages API. The key is \`x-api-key\` or \`Authorization: Bearer\`; \`anthropic-version\` is accepted. Translated to a chat completion through the same pipeline as /v1/chat/completions, or passed through to a backend whose \`endpoints\` list \`messages\`.
system, text and image blocks, tools / tool_use / tool_result, stop_sequences, tool_choice (auto, any, tool, none). Streams send message_start, content_block_start/delta/stop, message_delta (stop_reason, usage) and message_stop. Errors are Anthropic-shaped: \`{"type": "error", "error": {"type", "message"}}\`.`;

const passthrough = (operationId: string, summary: string, description: string): OperationSpec => ({
  operationId,
  tag: "Engine APIs",
  summary,
  description: `${description} Passed through to backends that list it in \`endpoints\` (others answer 400 naming what they serve), with the key's scope, limits and a ledger row of its own.`,
  body: "PassthroughRequest",
  ok: { description: "The engine's answer.", json: "EngineAnswer", headers: TRACE },
  errors: ERRORS,
});

export const GENERATION_PATHS: Record<string, Record<string, OperationSpec>> = {
  "/v1/responses": {
    post: {
      operationId: "createResponse",
      tag: "Responses",
      summary: "Create a model response (OpenAI Responses API)",
      description: RESPONSES_DESCRIPTION,
      body: "ResponsesRequest",
      ok: { description: "The response: JSON, or server-sent Responses events when `stream` is true.", json: "ResponseObject", content: sse("`event: <type>` + `data: <event JSON>` per Responses event"), headers: TRACE },
      errors: [...ERRORS, 422],
    },
  },
  "/v1/responses/{response_id}": {
    get: { operationId: "getResponse", tag: "Responses", summary: "Retrieve a stored response", params: ["ResponseId"], ok: { description: "The stored response.", json: "ResponseObject" }, errors: [401, 403, 404] },
    delete: { operationId: "deleteResponse", tag: "Responses", summary: "Delete a stored response", params: ["ResponseId"], ok: { description: "Deleted.", json: "ResponseDeleted" }, errors: [401, 403, 404] },
  },
  "/v1/messages": {
    post: {
      operationId: "createMessage",
      tag: "Messages",
      summary: "Create a message (Anthropic Messages API)",
      description: MESSAGES_DESCRIPTION,
      body: "MessagesRequest",
      ok: { description: "The message: JSON, or Anthropic's server-sent events when `stream` is true.", json: "MessageObject", content: sse("`event: <type>` + `data: <event JSON>`"), headers: TRACE },
      errors: [...ERRORS, 422],
    },
  },
  "/v1/messages/count_tokens": {
    post: {
      operationId: "countMessageTokens",
      tag: "Messages",
      summary: "Count a Messages request's input tokens",
      description: "With the engine's tokenizer (chat template applied) when the backend lists `tokenize` in `endpoints`; otherwise an estimate (about 4 bytes per token, header `x-sluice-token-count: estimated`).",
      body: "CountTokensRequest",
      ok: { description: "The count.", json: "CountTokensResponse" },
      errors: [400, 401, 403, 404, 502],
    },
  },
  "/v1/completions": {
    post: {
      operationId: "createCompletion",
      tag: "Completions",
      summary: "Create a legacy completion (prompt, suffix / FIM)",
      description: "Passed through to the engine's /v1/completions (default for every backend; `endpoints` can leave it out) with keys, limits, the firewall on the prompt and suffix, and the ledger. Streams follow chat's usage contract: the last chunk with a choice carries `usage` unless `stream_options.include_usage` asks for OpenAI's separate usage chunk.",
      body: "CompletionRequest",
      ok: { description: "The completion: JSON, or SSE `data:` chunks then `data: [DONE]`.", json: "CompletionResponse", content: sse("`data: <text_completion chunk>` events, then `data: [DONE]`"), headers: TRACE },
      errors: [...ERRORS, 422],
    },
  },
  "/v1/rerank": { post: passthrough("createRerank", "Rerank documents against a query", "vLLM / Jina / Cohere rerank (`query`, `documents`, `top_n`); needs the embeddings scope.") },
  "/v1/score": { post: passthrough("createScore", "Score text pairs", "vLLM's score API (`text_1`, `text_2`); needs the embeddings scope.") },
  "/v1/audio/transcriptions": {
    post: {
      operationId: "createTranscription",
      tag: "Engine APIs",
      summary: "Transcribe audio (multipart)",
      description:
        "OpenAI's transcription API as multipart/form-data (`model`, `file`, …), passed through to backends that serve `audio_transcriptions` (their `endpoints`, or discovery). The upload streams to the engine as it arrives when the `model` field comes before the file (the Python and Vercel AI SDKs always send it first, the Node SDK and curl in the order given); a file first is written to a temporary file and sent once it is in. At most server.max_upload_bytes (413, also midway; the engine's request is then aborted); a gap of server.body_timeout_ms without bytes is a 408.",
      requestContent: { "multipart/form-data": { schema: { $ref: "#/components/schemas/TranscriptionForm" }, encoding: { file: { contentType: "audio/*, application/octet-stream" } } } },
      ok: { description: "The engine's transcription (JSON, or text for response_format text/srt/vtt).", json: "EngineAnswer", headers: TRACE },
      errors: [...ERRORS, 408, 415],
    },
  },
  "/tokenize": { post: passthrough("tokenize", "Tokenize a prompt or chat messages", "The engine's /tokenize (vLLM, SGLang, llama.cpp) at its root URL.") },
  "/detokenize": { post: passthrough("detokenize", "Turn token ids back into text", "The engine's /detokenize, for backends that list `tokenize`.") },
};
