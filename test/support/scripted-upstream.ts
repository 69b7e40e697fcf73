/**
 * scripted-upstream — a fake inference engine for sluice's integration tests.
 *
 * It plays an OpenAI-compatible server (vLLM / llama.cpp style), including its
 * failures, and runs as a real process:
 *
 *   bun test/support/scripted-upstream.ts [--port N]     (default 0 = any free port)
 *
 * The first stdout line is exactly `listening <port>`. SIGTERM / SIGINT stop it.
 * Tests normally use `spawnScriptedUpstream()` exported below.
 *
 * Behaviour of POST /v1/chat/completions by request `model`:
 *   (any other id, e.g. "echo", "Qwen/Qwen3-14B")
 *                 answers "echo: " + text of the last user message. Buffered JSON or
 *                 SSE (role chunk, one chunk per word, finish chunk, usage chunk only
 *                 if stream_options.include_usage, [DONE]). `n` > 1 gives n choices.
 *   fail-500      500 {"error":{"message":"engine exploded","type":"server_error"}}
 *   fail-503      503 "engine overloaded"
 *   fail-429      429 + Retry-After: 7, "too many requests in engine queue"
 *   fail-400      400 vLLM-style BadRequestError about max_tokens
 *   stall         never answers; the client disconnecting is recorded in /__aborts
 *   slow          buffered: echo after 1500 ms; streaming: one word every 100 ms, up
 *                 to 200 words, then finish + usage + [DONE]. Disconnects recorded.
 *   cut-stream    streaming: role chunk + 3 word chunks, then the connection is reset
 *                 (no finish chunk, no [DONE]). Buffered: like echo.
 *   bad-sse       streaming: role chunk, a `data:` line of broken JSON, one word chunk,
 *                 [DONE]. Buffered: 200 `not json at all` as application/json.
 *   tool-call     a get_weather({"city":"Paris"}) tool call, buffered or streamed
 *                 in OpenAI's delta format, finish_reason "tool_calls".
 *   no-usage      like echo, but never sends usage (even if include_usage is asked).
 *   tool-user     plays a model that uses tools, directed by its first user message:
 *                 "call: search({"query":"x"}); browser({"url":"..."})" → those tool calls (in parallel,
 *                 buffered or as streamed tool_call deltas); once tool messages follow, the final answer
 *                 "final: " + each tool message's content (first 120 chars, joined with " | "); with
 *                 "loop: true" in the message it calls the tools again every round.
 *   leaky         answers LEAKY_ANSWER (a fake secret and an email the prompt never had), buffered
 *                 or streamed one word per chunk, so the secret arrives in pieces.
 *   judge-safe, judge-unsafe, judge-json, judge-garbage
 *                 a safety judge's answer (buffered): "safe"; "unsafe\nS9"; the JSON form
 *                 {"verdict":"unsafe","category":"S14"}; and prose that is no verdict at all.
 *
 * Other routes:
 *   POST /v1/completions         "echo: <prompt>" per prompt (+ " [suffix: <suffix>]"), `echo` prefixes the prompt,
 *                                `logprobs` gives -0.5 per word; SSE one chunk per word, usage chunk only with
 *                                include_usage (scripted-more-apis.ts has these and the next five)
 *   POST /v1/rerank, /v1/score   relevance = share of a document's words that are in the query
 *   POST /v1/audio/transcriptions  multipart file + model → {"text": "heard <bytes> bytes of <name>", usage}
 *   POST /tokenize, /detokenize  vLLM's: word-hash token ids (+ template tokens for messages) and back
 *   GET  /health                 200 {"status":"ok"} (status settable via /__control)
 *   GET  /v1/models              the model ids above (+ /__control additions/hides)
 *   GET  /openapi.json           the POST routes above, as vLLM / SGLang (FastAPI) publish theirs; POST /__openapi
 *                                {paths} changes the list (null: 404); GET /__uploads says how each transcription
 *                                upload arrived (bytes, chunks, chunked, complete) — scripted-more-apis.ts
 *   POST /v1/embeddings          8 deterministic float32 values per input; supports
 *                                encoding_format "base64" (except model float-only, which
 *                                always answers floats); the fail-* models fail.
 *   anything else                404 OpenAI-shaped error
 *
 * Observability / control (for tests):
 *   GET  /__requests   every POST to /v1/*: [{path, headers, body}] in arrival order
 *   GET  /__aborts     client disconnects from stall/slow: [{model, at_ms, completed_chunks}]
 *                      at_ms = Date.now() when detected; completed_chunks = SSE events
 *                      already enqueued for that response (0 for buffered ones).
 *   POST /__control    {health?, models?, hide_models?, fail_status?, fail_count?, first_byte_delay_ms?,
 *                      empty_stream?, queue_depth?}: fail_status makes every chat/embeddings POST
 *                      (or the next fail_count) fail with that status; first_byte_delay_ms delays a
 *                      buffered answer, or a stream's first event (headers go out at once);
 *                      empty_stream answers streams with headers and no event at all;
 *                      queue_depth is served as vllm:num_requests_waiting on GET /metrics.
 *   POST /__reset      clears recordings, aborts, control state and the id counter
 *
 * Client-disconnect detection (verified on Bun 1.4.5, see scripted-upstream.test.ts):
 * `req.signal`'s "abort" event fires for pending (stall / slow buffered) requests and
 * for streaming responses, whether the client is a fetch() that aborts, a reader that
 * cancels the body, or a raw socket that ends/destroys/resets. For streams the
 * ReadableStream's `cancel()` fires too (right after the signal). Both are wired up,
 * plus a failed enqueue and a `signal.aborted` check on every tick as fallbacks; an
 * abort is recorded once per request, by whichever fires first. Pending handlers
 * resolve (with a 499 nobody reads) on abort so Bun can release the request.
 */

import { handleCompletions, handleDetokenize, handleRerank, handleScore, handleTokenize, handleTranscription, resetMoreApis, routeMoreApis } from "./scripted-more-apis.ts";

// ---------------------------------------------------------------------------
// Exported types

export interface RecordedRequest {
  path: string;
  /** lower-case header names */
  headers: Record<string, string>;
  /** parsed JSON body, or the raw text if it was not JSON */
  body: unknown;
}

export interface AbortRecord {
  model: string;
  at_ms: number;
  completed_chunks: number;
}

export interface ControlUpdate {
  /** status code for GET /health */
  health?: number;
  /** extra model ids listed by /v1/models */
  models?: string[];
  /** model ids omitted from /v1/models */
  hide_models?: string[];
  /** every chat/embeddings POST fails with this status (null: stop failing) */
  fail_status?: number | null;
  /** only the next N POSTs fail */
  fail_count?: number | null;
  /** delay of a buffered answer or a stream's first event */
  first_byte_delay_ms?: number;
  /** streams: headers, then the body ends with no event */
  empty_stream?: boolean;
  /** GET /metrics reports this as vllm:num_requests_waiting */
  queue_depth?: number;
}

export interface ScriptedUpstream {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  stop(): Promise<void>;
  /** GET /__requests */
  requests(): Promise<RecordedRequest[]>;
  /** GET /__aborts */
  aborts(): Promise<AbortRecord[]>;
  /** POST /__control */
  control(update: ControlUpdate): Promise<void>;
  /** POST /__reset */
  reset(): Promise<void>;
}

/** The model ids with scripted behaviour (all listed by /v1/models by default). */
export const SCRIPTED_MODELS: readonly string[] = [
  "echo",
  "fail-500",
  "fail-503",
  "fail-429",
  "fail-400",
  "stall",
  "slow",
  "cut-stream",
  "bad-sse",
  "tool-call",
  "no-usage",
  "leaky",
  "tool-user",
  "judge-safe",
  "judge-unsafe",
  "judge-json",
  "judge-garbage",
];

// ---------------------------------------------------------------------------
// Constants

const SLOW_BUFFERED_DELAY_MS = 1500;
const SLOW_STREAM_INTERVAL_MS = 100;
const SLOW_STREAM_MAX_WORDS = 200;
/** Gap between SSE events of ordinary streams, so each event is its own write. */
const EVENT_GAP_MS = 2;
const CUT_STREAM_WORDS = 3;
const EMBEDDING_DIMENSIONS = 8;
const TOOL_CALL_COMPLETION_TOKENS = 9;
const MODELS_CREATED = 1700000000;

interface FailureScript {
  status: number;
  headers?: Record<string, string>;
  error: Record<string, string | number>;
}

const FAILURES: Record<string, FailureScript> = {
  "fail-500": { status: 500, error: { message: "engine exploded", type: "server_error" } },
  "fail-503": { status: 503, error: { message: "engine overloaded", type: "server_error" } },
  "fail-429": {
    status: 429,
    headers: { "retry-after": "7" },
    error: { message: "too many requests in engine queue", type: "rate_limit" },
  },
  "fail-400": {
    status: 400,
    error: {
      message: "max_tokens is too large for this model",
      type: "BadRequestError",
      param: "max_tokens",
      code: 400,
    },
  },
};

// ---------------------------------------------------------------------------
// Mutable state (one upstream process per test file)

interface ControlState {
  health: number;
  models: string[];
  hideModels: string[];
  failStatus: number | null;
  failCount: number | null;
  firstByteDelayMs: number;
  emptyStream: boolean;
  queueDepth: number;
}

const state = {
  requests: [] as RecordedRequest[],
  aborts: [] as AbortRecord[],
  control: defaultControl(),
  counter: 0,
};

function defaultControl(): ControlState {
  return { health: 200, models: [], hideModels: [], failStatus: null, failCount: null, firstByteDelayMs: 0, emptyStream: false, queueDepth: 0 };
}

function resetState(): void {
  state.requests = [];
  state.aborts = [];
  state.control = defaultControl();
  state.counter = 0;
  resetMoreApis();
}

// ---------------------------------------------------------------------------
// Small helpers

const encoder = new TextEncoder();

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function openaiError(status: number, message: string, type = "invalid_request_error", code: string | null = null): Response {
  return json({ error: { message, type, param: null, code } }, status);
}

function failureResponse(failure: FailureScript): Response {
  return json({ error: failure.error }, failure.status, failure.headers);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Splits text into word pieces that keep their leading whitespace; joined they give `text` back. */
function wordPieces(text: string): string[] {
  const pieces: string[] = text.match(/\s*\S+/g) ?? [];
  const rest = text.slice(pieces.join("").length);
  if (rest.length > 0) {
    if (pieces.length > 0) pieces[pieces.length - 1] += rest;
    else pieces.push(rest);
  }
  return pieces;
}

function nextCompletionId(): string {
  state.counter += 1;
  return `chatcmpl-upstream-${state.counter}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

// ---------------------------------------------------------------------------
// Chat request parsing

interface ChatMessage {
  role: string;
  content: unknown;
}

interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  n: number;
}

function parseChatRequest(body: unknown): ChatRequest | string {
  if (!isRecord(body)) return "request body must be a JSON object";
  if (typeof body.model !== "string") return "you must provide a model parameter";
  if (!Array.isArray(body.messages)) return "messages must be an array";
  const messages: ChatMessage[] = body.messages.map((m: unknown) =>
    isRecord(m) ? { role: String(m.role ?? ""), content: m.content } : { role: "", content: null },
  );
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
  const n = typeof body.n === "number" && Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
  return {
    model: body.model,
    messages,
    stream: body.stream === true,
    includeUsage: streamOptions.include_usage === true,
    n,
  };
}

/** Text of a message: a string, or the text parts of a content-part array joined by " ". */
function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is { type: string; text: string } => isRecord(part) && part.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join(" ");
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message && message.role === "user") return messageText(message.content);
  }
  return "";
}

// ---------------------------------------------------------------------------
// Chat response building

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

interface CompletionContext {
  id: string;
  model: string;
  created: number;
}

function newContext(model: string): CompletionContext {
  return { id: nextCompletionId(), model, created: Math.floor(Date.now() / 1000) };
}

function promptTokens(messages: ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + countWords(messageText(m.content)) + 3, 0);
}

function usageFor(request: ChatRequest, completionTokens: number): Usage {
  const prompt = promptTokens(request.messages);
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
}

function echoContent(request: ChatRequest): string {
  if (request.model === "leaky") return LEAKY_ANSWER;
  if (request.model === "tool-user") return toolUserAnswer(request);
  return "echo: " + lastUserText(request.messages);
}

/** What the `leaky` model says: a fake OpenAI key and an email address, for output screening. */
export const LEAKY_ANSWER = "Sure! The admin key is sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm12 and you can write to root@example.com for more.";

/** Usage of an echo answer: completion tokens are counted over all `n` choices. */
function echoUsage(request: ChatRequest, content: string): Usage {
  return usageFor(request, countWords(content) * request.n);
}

function completionBody(ctx: CompletionContext, choices: unknown[], usage: Usage | null): Record<string, unknown> {
  const body: Record<string, unknown> = {
    id: ctx.id,
    object: "chat.completion",
    created: ctx.created,
    model: ctx.model,
    choices,
  };
  if (usage) body.usage = usage;
  return body;
}

const JUDGE_ANSWERS: Record<string, string> = {
  "judge-safe": "safe",
  "judge-unsafe": "unsafe\nS9",
  "judge-json": '{"verdict": "unsafe", "category": "S14"}',
  "judge-garbage": "Looks fine to me, nothing to worry about!",
};

function bufferedAnswer(request: ChatRequest, content: string): Response {
  const ctx = newContext(request.model);
  const choices = [{ index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: "stop" }];
  return json(completionBody(ctx, choices, echoUsage(request, content)));
}

interface DirectedCall {
  id: string;
  name: string;
  arguments: string;
}

/** The tool calls the first user message asks for, unless tool results already came back (and it does not loop). */
function toolUserCalls(request: ChatRequest): DirectedCall[] {
  const first = messageText(request.messages.find((m) => m.role === "user")?.content ?? "");
  const loops = first.includes("loop: true");
  if (!loops && request.messages.at(-1)?.role === "tool") return [];
  const directive = first.match(/call: ([^\n]*)/)?.[1] ?? "";
  const round = request.messages.filter((m) => m.role === "tool").length;
  return [...directive.matchAll(/(\w+)\((\{.*?\})\)/g)].map((m, i) => ({ id: `call_${round}_${i}`, name: m[1]!, arguments: m[2]! }));
}

function toolUserAnswer(request: ChatRequest): string {
  const results = request.messages.filter((m) => m.role === "tool").map((m) => messageText(m.content).slice(0, 120));
  return `final: ${results.join(" | ")}`;
}

function toolUser(request: ChatRequest): Response {
  const calls = toolUserCalls(request);
  if (!calls.length) return request.stream ? sseResponse({ events: echoStreamEvents(request), gapMs: EVENT_GAP_MS, ending: "close" }) : bufferedEcho(request);
  const ctx = newContext(request.model);
  const toolCalls = calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
  if (!request.stream) {
    const choice = { index: 0, message: { role: "assistant", content: null, tool_calls: toolCalls }, logprobs: null, finish_reason: "tool_calls" };
    return json(completionBody(ctx, [choice], usageFor(request, TOOL_CALL_COMPLETION_TOKENS)));
  }
  const events = [roleEvent(ctx)];
  calls.forEach((call, index) => {
    events.push(chunkEvent(ctx, { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] }));
    const half = Math.ceil(call.arguments.length / 2);
    for (const fragment of [call.arguments.slice(0, half), call.arguments.slice(half)]) events.push(chunkEvent(ctx, { tool_calls: [{ index, function: { arguments: fragment } }] }));
  });
  events.push(chunkEvent(ctx, {}, "tool_calls"));
  if (request.includeUsage) events.push(usageEvent(ctx, usageFor(request, TOOL_CALL_COMPLETION_TOKENS)));
  events.push(SSE_DONE);
  return sseResponse({ events, gapMs: EVENT_GAP_MS, ending: "close" });
}

function bufferedEcho(request: ChatRequest, withUsage = true): Response {
  const ctx = newContext(request.model);
  const content = echoContent(request);
  const choices = Array.from({ length: request.n }, (_, index) => ({
    index,
    message: { role: "assistant", content },
    logprobs: null,
    finish_reason: "stop",
  }));
  return json(completionBody(ctx, choices, withUsage ? echoUsage(request, content) : null));
}

const WEATHER_CALL = {
  id: "call_1",
  type: "function",
  function: { name: "get_weather", arguments: '{"city":"Paris"}' },
};
const WEATHER_ARGUMENT_FRAGMENTS = ['{"city"', ':"Paris"}'];

function bufferedToolCall(request: ChatRequest): Response {
  const ctx = newContext(request.model);
  const choice = {
    index: 0,
    message: { role: "assistant", content: null, tool_calls: [WEATHER_CALL] },
    logprobs: null,
    finish_reason: "tool_calls",
  };
  return json(completionBody(ctx, [choice], usageFor(request, TOOL_CALL_COMPLETION_TOKENS)));
}

// ---------------------------------------------------------------------------
// SSE event rendering

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

const SSE_DONE = "data: [DONE]\n\n";

function chunkEvent(ctx: CompletionContext, delta: Record<string, unknown>, finishReason: string | null = null, index = 0): string {
  return sse({
    id: ctx.id,
    object: "chat.completion.chunk",
    created: ctx.created,
    model: ctx.model,
    choices: [{ index, delta, logprobs: null, finish_reason: finishReason }],
  });
}

function usageEvent(ctx: CompletionContext, usage: Usage): string {
  return sse({ id: ctx.id, object: "chat.completion.chunk", created: ctx.created, model: ctx.model, choices: [], usage });
}

function roleEvent(ctx: CompletionContext, index = 0): string {
  return chunkEvent(ctx, { role: "assistant", content: "" }, null, index);
}

/** role chunk, one chunk per word piece, finish chunk — for each of the n choices. */
function answerEvents(ctx: CompletionContext, pieces: string[], n: number): string[] {
  const events: string[] = [];
  for (let index = 0; index < n; index++) {
    events.push(roleEvent(ctx, index));
    for (const piece of pieces) events.push(chunkEvent(ctx, { content: piece }, null, index));
    events.push(chunkEvent(ctx, {}, "stop", index));
  }
  return events;
}

function echoStreamEvents(request: ChatRequest, allowUsage = true): string[] {
  const ctx = newContext(request.model);
  const content = echoContent(request);
  const events = answerEvents(ctx, wordPieces(content), request.n);
  if (allowUsage && request.includeUsage) events.push(usageEvent(ctx, echoUsage(request, content)));
  events.push(SSE_DONE);
  return events;
}

function toolCallStreamEvents(request: ChatRequest): string[] {
  const ctx = newContext(request.model);
  const events = [
    roleEvent(ctx),
    chunkEvent(ctx, {
      tool_calls: [{ index: 0, id: WEATHER_CALL.id, type: "function", function: { name: WEATHER_CALL.function.name, arguments: "" } }],
    }),
    ...WEATHER_ARGUMENT_FRAGMENTS.map((fragment) => chunkEvent(ctx, { tool_calls: [{ index: 0, function: { arguments: fragment } }] })),
    chunkEvent(ctx, {}, "tool_calls"),
  ];
  if (request.includeUsage) events.push(usageEvent(ctx, usageFor(request, TOOL_CALL_COMPLETION_TOKENS)));
  events.push(SSE_DONE);
  return events;
}

function cutStreamEvents(request: ChatRequest): string[] {
  const ctx = newContext(request.model);
  const pieces = wordPieces(echoContent(request)).slice(0, CUT_STREAM_WORDS);
  while (pieces.length < CUT_STREAM_WORDS) pieces.push(" cut");
  return [roleEvent(ctx), ...pieces.map((piece) => chunkEvent(ctx, { content: piece }))];
}

function badSseEvents(request: ChatRequest): string[] {
  const ctx = newContext(request.model);
  const firstPiece = wordPieces(echoContent(request))[0] ?? "echo:";
  return [roleEvent(ctx), 'data: {"id":"x", broken json\n\n', chunkEvent(ctx, { content: firstPiece }), SSE_DONE];
}

function slowWords(): string[] {
  return Array.from({ length: SLOW_STREAM_MAX_WORDS }, (_, i) => (i === 0 ? "tick0" : ` tick${i}`));
}

function slowStreamEvents(request: ChatRequest): string[] {
  const ctx = newContext(request.model);
  const words = slowWords();
  const events = [roleEvent(ctx), ...words.map((word) => chunkEvent(ctx, { content: word })), chunkEvent(ctx, {}, "stop")];
  if (request.includeUsage) events.push(usageEvent(ctx, usageFor(request, words.length)));
  events.push(SSE_DONE);
  return events;
}

// ---------------------------------------------------------------------------
// Client-disconnect detection

/**
 * Records one abort for a request, from whichever signal fires first:
 * req.signal "abort", ReadableStream cancel(), a failed enqueue, or polling
 * `signal.aborted`. Nothing is recorded once the response has completed.
 */
class AbortWatch {
  private recorded = false;
  private completed = false;
  private listeners: Array<() => void> = [];
  progress = 0;

  constructor(
    private readonly model: string,
    private readonly signal: AbortSignal,
  ) {
    if (signal.aborted) queueMicrotask(() => this.fire());
    else signal.addEventListener("abort", () => this.fire(), { once: true });
  }

  get aborted(): boolean {
    return this.recorded || this.signal.aborted;
  }

  onAbort(listener: () => void): void {
    if (this.recorded) listener();
    else this.listeners.push(listener);
  }

  complete(): void {
    this.completed = true;
  }

  fire(): void {
    if (this.recorded || this.completed) return;
    this.recorded = true;
    state.aborts.push({ model: this.model, at_ms: Date.now(), completed_chunks: this.progress });
    for (const listener of this.listeners.splice(0)) listener();
  }
}

// ---------------------------------------------------------------------------
// Streaming responses

interface StreamScript {
  events: string[];
  /** delay before each event after the first */
  gapMs: number;
  /** "close" ends the body normally; "cut" resets the connection after the last event */
  ending: "close" | "cut";
  watch?: AbortWatch;
  /** delay before the first event (headers go out at once) */
  firstDelayMs?: number;
}

function sseResponse(script: StreamScript): Response {
  const { events, gapMs, ending, watch, firstDelayMs } = script;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let sent = 0;

  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
  };
  watch?.onAbort(stop);

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const step = (): void => {
        if (stopped) return;
        if (watch?.aborted) return watch.fire();
        if (sent === events.length) {
          watch?.complete();
          stop();
          if (ending === "cut") controller.error(new Error("scripted-upstream: connection cut on purpose"));
          else controller.close();
          return;
        }
        try {
          controller.enqueue(encoder.encode(events[sent]));
        } catch {
          return watch ? watch.fire() : stop();
        }
        sent += 1;
        if (watch) watch.progress = sent;
        timer = setTimeout(step, gapMs);
      };
      if (firstDelayMs) timer = setTimeout(step, firstDelayMs);
      else step();
    },
    cancel() {
      // Must not throw: a throwing cancel() can take the whole server down (oven-sh/bun#33813).
      stop();
      watch?.fire();
    },
  });

  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

// ---------------------------------------------------------------------------
// Chat behaviours

function stall(watch: AbortWatch): Promise<Response> {
  // Resolve on abort (nobody reads it) so Bun releases the request context.
  return new Promise((resolve) => watch.onAbort(() => resolve(new Response(null, { status: 499 }))));
}

async function slowBuffered(request: ChatRequest, watch: AbortWatch, signal: AbortSignal): Promise<Response> {
  await sleep(SLOW_BUFFERED_DELAY_MS, signal);
  if (watch.aborted) {
    watch.fire();
    return new Response(null, { status: 499 });
  }
  watch.complete();
  return bufferedEcho(request);
}

function handleChat(request: ChatRequest, signal: AbortSignal): Response | Promise<Response> {
  const failure = FAILURES[request.model];
  if (failure) return failureResponse(failure);

  const judgeAnswer = JUDGE_ANSWERS[request.model];
  if (judgeAnswer !== undefined) return bufferedAnswer(request, judgeAnswer);

  switch (request.model) {
    case "tool-user":
      return toolUser(request);
    case "stall":
      return stall(new AbortWatch(request.model, signal));
    case "slow": {
      const watch = new AbortWatch(request.model, signal);
      if (!request.stream) return slowBuffered(request, watch, signal);
      return sseResponse({ events: slowStreamEvents(request), gapMs: SLOW_STREAM_INTERVAL_MS, ending: "close", watch });
    }
    case "cut-stream":
      if (!request.stream) return bufferedEcho(request);
      return sseResponse({ events: cutStreamEvents(request), gapMs: EVENT_GAP_MS, ending: "cut" });
    case "bad-sse":
      if (!request.stream) return new Response("not json at all", { headers: { "content-type": "application/json" } });
      return sseResponse({ events: badSseEvents(request), gapMs: EVENT_GAP_MS, ending: "close" });
    case "tool-call":
      if (!request.stream) return bufferedToolCall(request);
      return sseResponse({ events: toolCallStreamEvents(request), gapMs: EVENT_GAP_MS, ending: "close" });
    case "no-usage":
      if (!request.stream) return bufferedEcho(request, false);
      return sseResponse({ events: echoStreamEvents(request, false), gapMs: EVENT_GAP_MS, ending: "close" });
    default: {
      const { firstByteDelayMs, emptyStream } = state.control;
      if (!request.stream) return firstByteDelayMs ? sleep(firstByteDelayMs, signal).then(() => bufferedEcho(request)) : bufferedEcho(request);
      if (emptyStream) return sseResponse({ events: [], gapMs: 0, ending: "close" });
      return sseResponse({ events: echoStreamEvents(request), gapMs: EVENT_GAP_MS, ending: "close", firstDelayMs: firstByteDelayMs });
    }
  }
}

// ---------------------------------------------------------------------------
// Embeddings

/** murmur3's final avalanche, so similar texts still get unrelated values. */
function mix32(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Deterministic float32 values in [-1, 1) from FNV-1a hashes of the text. */
function embeddingVector(text: string): number[] {
  const vector: number[] = [];
  for (let dim = 0; dim < EMBEDDING_DIMENSIONS; dim++) {
    let hash = 0x811c9dc5 ^ dim;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    vector.push(Math.fround(mix32(hash) / 2 ** 31 - 1));
  }
  return vector;
}

/** Little-endian float32 bytes, base64 — what OpenAI returns for encoding_format "base64". */
function float32Base64(vector: number[]): string {
  const floats = new Float32Array(vector);
  const bytes = new Uint8Array(floats.length * 4);
  const view = new DataView(bytes.buffer);
  floats.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return Buffer.from(bytes).toString("base64");
}

function handleEmbeddings(body: unknown): Response {
  if (!isRecord(body)) return openaiError(400, "request body must be a JSON object");
  if (typeof body.model !== "string") return openaiError(400, "you must provide a model parameter");
  const failure = FAILURES[body.model];
  if (failure) return failureResponse(failure);

  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (!isStringArray(inputs)) return openaiError(400, "input must be a string or an array of strings", "invalid_request_error");
  // `float-only` plays an engine that ignores encoding_format (the gateway must encode base64 itself).
  const base64 = body.encoding_format === "base64" && body.model !== "float-only";
  const data = inputs.map((text, index) => {
    const vector = embeddingVector(text);
    return { object: "embedding", index, embedding: base64 ? float32Base64(vector) : vector };
  });
  const tokens = inputs.reduce((sum, text) => sum + countWords(text), 0);
  return json({ object: "list", data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

// ---------------------------------------------------------------------------
// Models, health, control

function listModels(): Response {
  const { models, hideModels } = state.control;
  const ids = [...new Set([...SCRIPTED_MODELS, ...models])].filter((id) => !hideModels.includes(id));
  return json({
    object: "list",
    data: ids.map((id) => ({ id, object: "model", created: MODELS_CREATED, owned_by: "scripted" })),
  });
}

function health(): Response {
  const status = state.control.health;
  return json({ status: status >= 200 && status < 300 ? "ok" : "unhealthy" }, status);
}

function applyControl(body: unknown): Response {
  if (!isRecord(body)) return openaiError(400, "control body must be a JSON object");
  const { health: healthStatus, models, hide_models: hideModels } = body;
  if (healthStatus !== undefined && (typeof healthStatus !== "number" || healthStatus < 200 || healthStatus > 599)) {
    return openaiError(400, "health must be an HTTP status code");
  }
  if (models !== undefined && !isStringArray(models)) return openaiError(400, "models must be an array of strings");
  if (hideModels !== undefined && !isStringArray(hideModels)) return openaiError(400, "hide_models must be an array of strings");
  const { fail_status: failStatus, fail_count: failCount, first_byte_delay_ms: delay, empty_stream: emptyStream, queue_depth: queueDepth } = body;
  if (failStatus !== undefined) state.control.failStatus = typeof failStatus === "number" ? failStatus : null;
  if (failCount !== undefined) state.control.failCount = typeof failCount === "number" ? failCount : null;
  if (typeof delay === "number") state.control.firstByteDelayMs = delay;
  if (typeof emptyStream === "boolean") state.control.emptyStream = emptyStream;
  if (typeof queueDepth === "number") state.control.queueDepth = queueDepth;
  if (healthStatus !== undefined) state.control.health = healthStatus;
  if (models !== undefined) state.control.models = models;
  if (hideModels !== undefined) state.control.hideModels = hideModels;
  return json({ health: state.control.health, models: state.control.models, hide_models: state.control.hideModels });
}

// ---------------------------------------------------------------------------
// Routing

async function readJsonBody(req: Request): Promise<{ ok: true; value: unknown } | { ok: false; raw: string }> {
  const raw = await req.text();
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, raw };
  }
}

async function handleV1Post(req: Request, path: string): Promise<Response> {
  // Touch req.signal before the first await so its abort tracking starts with the request.
  const signal = req.signal;
  if (path === "/v1/audio/transcriptions") {
    const { response, recorded } = await handleTranscription(req);
    state.requests.push({ path, headers: Object.fromEntries(req.headers), body: recorded });
    return response;
  }
  const body = await readJsonBody(req);
  state.requests.push({ path, headers: Object.fromEntries(req.headers), body: body.ok ? body.value : body.raw });
  if (!body.ok) return openaiError(400, "request body is not valid JSON");

  const scripted = scriptedFailure();
  if (scripted) return scripted;
  if (path === "/v1/chat/completions") {
    const request = parseChatRequest(body.value);
    if (typeof request === "string") return openaiError(400, request);
    return handleChat(request, signal);
  }
  if (path === "/v1/embeddings") return handleEmbeddings(body.value);
  if (path === "/v1/completions") return handleCompletions(body.value);
  if (path === "/v1/rerank") return handleRerank(body.value);
  if (path === "/v1/score") return handleScore(body.value);
  return notFound(req, path);
}

/** The failure /__control asked for, if any (counting down fail_count). */
function scriptedFailure(): Response | undefined {
  const control = state.control;
  if (control.failStatus === null || control.failCount === 0) return undefined;
  if (control.failCount !== null) control.failCount--;
  const status = control.failStatus;
  return json({ error: { message: `scripted failure ${status}`, type: "server_error" } }, status, status === 429 ? { "retry-after": "1" } : {});
}

function engineMetrics(): Response {
  const text = `# HELP vllm:num_requests_waiting Requests waiting.\n# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="echo"} ${state.control.queueDepth}\n`;
  return new Response(text, { headers: { "content-type": "text/plain; version=0.0.4" } });
}

function notFound(req: Request, path: string): Response {
  return openaiError(404, `Unknown request URL: ${req.method} ${path}`, "invalid_request_error", "unknown_url");
}

async function route(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  const key = `${req.method} ${path}`;
  if (req.method === "POST" && path.startsWith("/v1/")) return handleV1Post(req, path);
  const more = await routeMoreApis(req, path); // GET /openapi.json, GET /__uploads, POST /__openapi
  if (more) return more;
  switch (key) {
    case "GET /health":
      return health();
    case "GET /v1/models":
      return listModels();
    case "GET /metrics":
      return engineMetrics();
    case "POST /tokenize":
    case "POST /detokenize": {
      const body = await readJsonBody(req);
      state.requests.push({ path, headers: Object.fromEntries(req.headers), body: body.ok ? body.value : body.raw });
      if (!body.ok) return openaiError(400, "request body is not valid JSON");
      return path === "/tokenize" ? handleTokenize(body.value) : handleDetokenize(body.value);
    }
    case "GET /__requests":
      return json(state.requests);
    case "GET /__aborts":
      return json(state.aborts);
    case "POST /__control": {
      const body = await readJsonBody(req);
      return body.ok ? applyControl(body.value) : openaiError(400, "control body is not valid JSON");
    }
    case "POST /__reset":
      resetState();
      return json({ ok: true });
    default:
      return notFound(req, path);
  }
}

// ---------------------------------------------------------------------------
// Process entry point

function parsePort(argv: string[]): number {
  const index = argv.findIndex((arg) => arg === "--port" || arg.startsWith("--port="));
  if (index === -1) return 0;
  const arg = argv[index] ?? "";
  const value = arg.includes("=") ? arg.slice("--port=".length) : argv[index + 1];
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port value: ${value}`);
  return port;
}

/** Exit when the parent process goes away (e.g. a test runner that crashed before stop()). */
function exitWithParent(shutdown: () => void): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown();
  }, 1000).unref();
}

function main(): void {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: parsePort(process.argv.slice(2)),
    // 0 disables Bun's default 10 s idle timeout, so `stall` really stalls.
    idleTimeout: 0,
    development: false,
    fetch: route,
    error(error) {
      return openaiError(500, `scripted-upstream internal error: ${error.message}`, "server_error");
    },
  });

  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void server.stop(true).finally(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  exitWithParent(shutdown);

  process.stdout.write(`listening ${server.port}\n`);
}

if (import.meta.main) main();

// ---------------------------------------------------------------------------
// Test helper: run the upstream as a child process

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Collects a child's stream in the background (so its pipe never fills up). */
function drain(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): void {
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
    } catch {
      // the child went away; nothing more to read
    }
  })();
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${url} -> ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * Spawns this file as a separate Bun process on a free port and resolves once it
 * printed `listening <port>` (at most 10 s; rejects with the child's stderr otherwise).
 */
export async function spawnScriptedUpstream(options: { port?: number } = {}): Promise<ScriptedUpstream> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--port", String(options.port ?? 0)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });

  let stderr = "";
  drain(proc.stderr, (text) => {
    stderr = (stderr + text).slice(-64_000);
  });

  let stdout = "";
  const listening = new Promise<number>((resolve, reject) => {
    drain(proc.stdout, (text) => {
      stdout += text;
      const match = /^listening (\d+)\n/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void proc.exited.then((code) => reject(new Error(`scripted-upstream exited with code ${code} before listening:\n${stderr}`)));
  });

  let port: number;
  try {
    port = await withTimeout(listening, STARTUP_TIMEOUT_MS, () => new Error(`scripted-upstream did not start within ${STARTUP_TIMEOUT_MS} ms:\n${stderr}`));
  } catch (error) {
    proc.kill("SIGKILL");
    throw error;
  }

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      try {
        await withTimeout(proc.exited, STOP_TIMEOUT_MS, () => new Error("scripted-upstream ignored SIGTERM"));
      } catch {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
    requests: () => getJson<RecordedRequest[]>(`${url}/__requests`),
    aborts: () => getJson<AbortRecord[]>(`${url}/__aborts`),
    async control(update) {
      await getJson<unknown>(`${url}/__control`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(update),
      });
    },
    async reset() {
      await getJson<unknown>(`${url}/__reset`, { method: "POST" });
    },
  };
}
