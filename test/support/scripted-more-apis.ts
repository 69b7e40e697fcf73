// The scripted engine's non-chat APIs (see scripted-upstream.ts's header): legacy completions (buffered and SSE,
// prompt string or array, suffix, echo, logprobs), rerank, score, audio transcriptions (multipart), tokenize and
// detokenize, played deterministically so tests can assert exact answers.

const words = (text: string) => text.split(/\s+/).filter(Boolean);

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
function fail(status: number, message: string): Response {
  return json({ error: { message, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code: null } }, status);
}
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A failing model name (fail-500, fail-400, …) fails every API the same way. */
function scriptedFailure(model: unknown): Response | undefined {
  if (model === "fail-500") return fail(500, "engine exploded");
  if (model === "fail-400") return fail(400, "This model's maximum context length is 4096 tokens");
  if (model === "fail-429") return new Response(JSON.stringify({ error: { message: "too many requests in engine queue" } }), { status: 429, headers: { "content-type": "application/json", "retry-after": "7" } });
  return undefined;
}

let counter = 0;

/**
 * POST /v1/completions: each prompt's answer is "echo: <prompt>" (plus " [suffix: <suffix>]" when a FIM suffix is
 * given); `echo: true` prefixes the prompt; `logprobs: N` gives one -0.5 logprob per word.
 */
export function handleCompletions(body: unknown): Response {
  if (!isRecord(body)) return fail(400, "request body must be a JSON object");
  const failure = scriptedFailure(body.model);
  if (failure) return failure;
  const prompts = typeof body.prompt === "string" ? [body.prompt] : Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === "string") ? (body.prompt as string[]) : undefined;
  if (!prompts) return fail(400, "prompt must be a string or an array of strings");
  const suffix = typeof body.suffix === "string" ? ` [suffix: ${body.suffix}]` : "";
  const answers = prompts.map((prompt) => `${body.echo === true ? prompt : ""}echo: ${prompt}${suffix}`);
  const promptTokens = prompts.reduce((sum, p) => sum + words(p).length, 0);
  const completionTokens = answers.reduce((sum, a) => sum + words(a).length, 0);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const id = `cmpl-upstream-${++counter}`;
  const created = Math.floor(Date.now() / 1000);
  const logprobsOf = (text: string) =>
    typeof body.logprobs === "number" ? { tokens: words(text), token_logprobs: words(text).map(() => -0.5), top_logprobs: null, text_offset: words(text).map((_, i) => i) } : null;
  if (body.stream !== true) {
    return json({ id, object: "text_completion", created, model: body.model, choices: answers.map((text, index) => ({ index, text, logprobs: logprobsOf(text), finish_reason: "stop" })), usage });
  }
  const event = (fields: Record<string, unknown>) => `data: ${JSON.stringify({ id, object: "text_completion", created, model: body.model, ...fields })}\n\n`;
  const events: string[] = [];
  answers.forEach((text, index) => {
    for (const piece of text.match(/\s*\S+/g) ?? []) events.push(event({ choices: [{ index, text: piece, logprobs: null, finish_reason: null }] }));
    events.push(event({ choices: [{ index, text: "", logprobs: null, finish_reason: "stop" }] }));
  });
  if ((body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true) events.push(event({ choices: [], usage }));
  events.push("data: [DONE]\n\n");
  return new Response(events.join(""), { headers: { "content-type": "text/event-stream" } });
}

/** How much of the query's words a document shares: the scripted relevance. */
function overlap(query: string, text: string): number {
  const asked = new Set(words(query.toLowerCase()));
  const have = words(text.toLowerCase());
  if (have.length === 0) return 0;
  return Math.round((have.filter((w) => asked.has(w)).length / have.length) * 1000) / 1000;
}

/** POST /v1/rerank (vLLM / Jina / Cohere shape): results sorted by relevance, `top_n` of them. */
export function handleRerank(body: unknown): Response {
  if (!isRecord(body)) return fail(400, "request body must be a JSON object");
  const failure = scriptedFailure(body.model);
  if (failure) return failure;
  if (typeof body.query !== "string" || !Array.isArray(body.documents)) return fail(400, "query (string) and documents (array) are required");
  const texts = body.documents.map((d) => (typeof d === "string" ? d : isRecord(d) && typeof d.text === "string" ? d.text : ""));
  const results = texts.map((text, index) => ({ index, document: { text }, relevance_score: overlap(body.query as string, text) })).sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  const tokens = words(body.query).length + texts.reduce((sum, t) => sum + words(t).length, 0);
  return json({ id: `rerank-upstream-${++counter}`, model: body.model, usage: { total_tokens: tokens }, results: typeof body.top_n === "number" ? results.slice(0, body.top_n) : results });
}

/** POST /v1/score (vLLM): text_1 against each text_2. */
export function handleScore(body: unknown): Response {
  if (!isRecord(body)) return fail(400, "request body must be a JSON object");
  const failure = scriptedFailure(body.model);
  if (failure) return failure;
  const first = body.text_1;
  const seconds = typeof body.text_2 === "string" ? [body.text_2] : Array.isArray(body.text_2) ? (body.text_2 as string[]) : undefined;
  if (typeof first !== "string" || !seconds) return fail(400, "text_1 (string) and text_2 (string or array) are required");
  const tokens = words(first).length * seconds.length + seconds.reduce((sum, t) => sum + words(t).length, 0);
  return json({ id: `score-upstream-${++counter}`, object: "list", model: body.model, data: seconds.map((text, index) => ({ index, object: "score", score: overlap(first, text) })), usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** How one transcription upload arrived, kept live while it arrives (GET /__uploads). */
export interface UploadRecord {
  /** The gateway sent it chunked (no content-length): streamed, not buffered first. */
  chunked: boolean;
  content_length: number | null;
  bytes_received: number;
  chunks: number;
  /** The body ended with its closing boundary. */
  complete: boolean;
  /** The sender cut the upload (its read failed or the body ended early). */
  aborted: boolean;
  /** Whether the upload has ended, either way. */
  finished: boolean;
}

const uploads: UploadRecord[] = [];

/**
 * POST /v1/audio/transcriptions: multipart with `file` and `model`; "heard <bytes> bytes of <file name>". The body
 * is read as a stream and its arrival recorded in GET /__uploads as it goes.
 */
export async function handleTranscription(req: Request): Promise<{ response: Response; recorded: unknown }> {
  const declared = req.headers.get("content-length");
  const upload: UploadRecord = { chunked: declared === null, content_length: declared === null ? null : Number(declared), bytes_received: 0, chunks: 0, complete: false, aborted: false, finished: false };
  uploads.push(upload);
  const parts: Uint8Array[] = [];
  try {
    for await (const chunk of (req.body ?? []) as AsyncIterable<Uint8Array>) {
      parts.push(chunk);
      upload.bytes_received += chunk.byteLength;
      upload.chunks++;
    }
  } catch {
    upload.aborted = true;
  }
  const bytes = Buffer.concat(parts);
  upload.complete = bytes.subarray(-64).toString("latin1").trimEnd().endsWith("--");
  if (!upload.complete) upload.aborted = true;
  upload.finished = true;
  let form: Awaited<ReturnType<Request["formData"]>>;
  try {
    form = await new Response(bytes, { headers: { "content-type": req.headers.get("content-type") ?? "" } }).formData();
  } catch {
    return { response: fail(400, "expected a multipart/form-data body"), recorded: { upload, error: "unparsable multipart body" } };
  }
  const file = form.get("file");
  const model = form.get("model");
  const recorded = { model, file: typeof file === "object" && file ? { name: (file as File).name, size: (file as File).size } : null, response_format: form.get("response_format"), upload };
  const failure = scriptedFailure(model);
  if (failure) return { response: failure, recorded };
  if (!file || typeof file === "string") return { response: fail(400, "file is required"), recorded };
  const text = `heard ${(file as File).size} bytes of ${(file as File).name}`;
  if (form.get("response_format") === "text") return { response: new Response(text, { headers: { "content-type": "text/plain; charset=utf-8" } }), recorded };
  return { response: json({ text, usage: { type: "tokens", input_tokens: 10, output_tokens: words(text).length, total_tokens: 10 + words(text).length } }), recorded };
}

/** Every POST route this engine serves, as a FastAPI engine (vLLM, SGLang) lists them in /openapi.json. */
export const SCRIPTED_POST_ROUTES: readonly string[] = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/rerank", "/v1/score", "/v1/audio/transcriptions", "/tokenize", "/detokenize"];

/** What GET /openapi.json lists: every route, or what POST /__openapi {paths} set (null: no document, 404). */
let advertised: readonly string[] | null = SCRIPTED_POST_ROUTES;

function openApiDocument(): Response {
  if (advertised === null) return fail(404, "Not Found");
  const paths: Record<string, unknown> = { "/health": { get: { summary: "Health" } }, "/v1/models": { get: { summary: "Show Available Models" } } };
  for (const path of advertised) paths[path] = { post: { summary: path } };
  return json({ openapi: "3.1.0", info: { title: "scripted engine", version: "0" }, paths });
}

/**
 * The routes this file adds to the engine: GET /openapi.json, GET /__uploads (UploadRecord[] in arrival order) and
 * POST /__openapi {paths: string[] | null} (which POST routes /openapi.json lists; null answers 404 as an engine
 * without a document). Undefined for any other route.
 */
export async function routeMoreApis(req: Request, path: string): Promise<Response | undefined> {
  const key = `${req.method} ${path}`;
  if (key === "GET /openapi.json") return openApiDocument();
  if (key === "GET /__uploads") return json(uploads);
  if (key === "POST /__openapi") {
    const body = (await req.json().catch(() => undefined)) as { paths?: unknown } | undefined;
    const paths = body?.paths;
    if (paths !== null && !(Array.isArray(paths) && paths.every((p) => typeof p === "string"))) return fail(400, "paths must be an array of strings or null");
    advertised = paths as string[] | null;
    return json({ paths: advertised });
  }
  return undefined;
}

/** Part of POST /__reset. */
export function resetMoreApis(): void {
  uploads.length = 0;
  advertised = SCRIPTED_POST_ROUTES;
}

/** A word's scripted token id. */
function tokenId(word: string): number {
  let hash = 7;
  for (const char of word) hash = (hash * 31 + char.charCodeAt(0)) % 50_000;
  return hash;
}

/** POST /tokenize (vLLM): a prompt's or chat messages' words (messages: 3 template tokens each, plus 1). */
export function handleTokenize(body: unknown): Response {
  if (!isRecord(body)) return fail(400, "request body must be a JSON object");
  const failure = scriptedFailure(body.model);
  if (failure) return failure;
  let tokens: number[];
  if (typeof body.prompt === "string") tokens = words(body.prompt).map(tokenId);
  else if (Array.isArray(body.messages)) {
    tokens = [1];
    for (const message of body.messages as { content?: unknown }[]) {
      const text = typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? "");
      tokens.push(2, 3, ...words(text).map(tokenId), 4);
    }
  } else return fail(400, "prompt or messages is required");
  return json({ count: tokens.length, max_model_len: 4096, tokens });
}

/** POST /detokenize (vLLM): "t<id>" per token. */
export function handleDetokenize(body: unknown): Response {
  if (!isRecord(body) || !Array.isArray(body.tokens)) return fail(400, "tokens (array of integers) is required");
  return json({ prompt: (body.tokens as number[]).map((t) => `t${t}`).join(" ") });
}
