// Stage 1: read the body within server.max_body_bytes (also for chunked uploads, counted while reading), parse
// the JSON and validate it against the schema the OpenAPI document publishes.
import { GatewayError } from "../errors.ts";

export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const text = declared !== null ? await req.text() : await readChunked(req, maxBytes);
  if (text.length === 0) throw new GatewayError("invalid_json", "request body is empty: send a JSON object");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GatewayError("invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function expectObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new GatewayError("invalid_request", "request body must be a JSON object");
  return value as Record<string, unknown>;
}

async function readChunked(req: Request, maxBytes: number): Promise<string> {
  if (!req.body) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const part of req.body as unknown as AsyncIterable<Uint8Array>) {
    size += part.byteLength;
    if (size > maxBytes) throw tooLarge(maxBytes);
    parts.push(part);
  }
  return Buffer.concat(parts).toString("utf8");
}

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError("body_too_large", `request body is larger than ${maxBytes} bytes (server.max_body_bytes)`);
}
