// Stage 1: read the body within server.max_body_bytes and server.body_timeout_ms (also for chunked and
// compressed uploads: the limit counts the decoded bytes as they arrive), parse the JSON, bound its nesting, and
// validate it against the schema the OpenAPI document publishes. A client that trickles its body, or leaves
// while sending it, is cut off here: the connection is not held waiting for bytes that never come.
import { GatewayError } from "../errors.ts";
import { clientClosed } from "../upstream/client.ts";

/** Deeper JSON than any API body needs; deeper would overflow the stack of whatever walks it (validation, stringify). */
const MAX_DEPTH = 64;
/** What `content-encoding` names, as DecompressionStream calls it. */
const DECODERS: Record<string, ConstructorParameters<typeof DecompressionStream>[0]> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate", br: "brotli" as never };

/** server.body_timeout_ms's default, for callers without a snapshot at hand. */
const BODY_TIMEOUT_MS = 60_000;

/** Set by the server: lifts a request's idle timeout once its body is in (a model may then work for minutes). */
let liftIdleTimeout: ((req: Request) => void) | undefined;

export function liftIdleTimeoutWith(lift: (req: Request) => void): void {
  liftIdleTimeout = lift;
}

/**
 * For a body that streams on to the engine (audio uploads): Bun's idle timeout does not restart on body bytes
 * (measured on 1.4.5), so it would cut a long upload midway; such a reader bounds its own stalls instead.
 */
export function liftIdleTimeoutOf(req: Request): void {
  liftIdleTimeout?.(req);
}

export async function readJsonBody(req: Request, maxBytes: number, timeoutMs = BODY_TIMEOUT_MS): Promise<unknown> {
  const text = await withinDeadline(readText(req, maxBytes), timeoutMs, req);
  liftIdleTimeout?.(req);
  if (text.length === 0) throw new GatewayError("invalid_json", "request body is empty: send a JSON object");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GatewayError("invalid_json", `request body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  if (parsed !== null && typeof parsed === "object") requireShallow(parsed);
  return parsed;
}

export function expectObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new GatewayError("invalid_request", "request body must be a JSON object");
  return value as Record<string, unknown>;
}

async function readText(req: Request, maxBytes: number): Promise<string> {
  const encoding = req.headers.get("content-encoding")?.trim().toLowerCase();
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (encoding && encoding !== "identity") return readDecoded(req, encoding, maxBytes);
  try {
    return declared !== null ? await req.text() : await readStream(req.body, maxBytes);
  } catch (error) {
    throw readFailure(req, error);
  }
}

async function readDecoded(req: Request, encoding: string, maxBytes: number): Promise<string> {
  const format = DECODERS[encoding];
  if (!format) {
    throw new GatewayError("invalid_request", `content-encoding '${encoding.slice(0, 40)}' is not supported: send gzip, deflate, br or an uncompressed body`, { status: 415 });
  }
  if (!req.body) return "";
  try {
    return await readStream(req.body.pipeThrough(new DecompressionStream(format)), maxBytes);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (req.signal.aborted) throw clientClosed();
    throw new GatewayError("invalid_request", `request body is not valid ${encoding} data (content-encoding)`);
  }
}

async function readStream(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (!body) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of body as unknown as AsyncIterable<Uint8Array>) {
    size += part.byteLength;
    if (size > maxBytes) throw tooLarge(maxBytes);
    parts.push(part);
  }
  return Buffer.concat(parts).toString("utf8");
}

/** The body, or a 408 once the deadline passes (the connection then closes). */
function withinDeadline<T>(reading: Promise<T>, timeoutMs: number, req: Request): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      req.body?.cancel().catch(() => {});
      // A client that left mid-upload is noticed here, at the latest (its body never ends).
      if (req.signal.aborted) return reject(clientClosed());
      reject(new GatewayError("invalid_request", `the request body did not arrive within ${timeoutMs} ms (server.body_timeout_ms)`, { status: 408, headers: { connection: "close" } }));
    }, timeoutMs);
  });
  return Promise.race([reading, late]).finally(() => clearTimeout(timer));
}

function readFailure(req: Request, error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (req.signal.aborted) return clientClosed();
  return new GatewayError("invalid_request", `the request body could not be read: ${(error as Error).message.slice(0, 200)}`);
}

/** 400 for JSON nested deeper than MAX_DEPTH; walks containers only, without recursion. */
function requireShallow(root: object): void {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) throw new GatewayError("invalid_request", `request body is nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === "object") stack.push([item, depth + 1]);
    } else {
      for (const key in node as Record<string, unknown>) {
        const value = (node as Record<string, unknown>)[key];
        if (value !== null && typeof value === "object") stack.push([value, depth + 1]);
      }
    }
  }
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError("body_too_large", `request body is larger than ${maxBytes} bytes (server.max_body_bytes)`);
}
