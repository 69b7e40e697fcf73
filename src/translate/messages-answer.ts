// Chat completion → Anthropic Messages answer, and errors in Anthropic's shape.
import type { MessagesRequest } from "./schemas.ts";
import { partsOfCompletion, type AnswerParts } from "./responses-answer.ts";

/** finish_reason → stop_reason; `stop` is end_turn unless the engine says which stop sequence ended it. */
export function stopReason(finishReason: string | null, stopSequence: string | null): string {
  if (finishReason === "length") return "max_tokens";
  if (finishReason === "tool_calls") return "tool_use";
  return stopSequence !== null ? "stop_sequence" : "end_turn";
}

/** vLLM reports the matched stop string as the choice's `stop_reason`; other engines say nothing. */
export function matchedStop(body: MessagesRequest, engineStopReason: unknown): string | null {
  return typeof engineStopReason === "string" && body.stop_sequences?.includes(engineStopReason) ? engineStopReason : null;
}

export function parseToolInput(text: string): unknown {
  try {
    const value = JSON.parse(text || "{}") as unknown;
    return value && typeof value === "object" && !Array.isArray(value) ? value : { value };
  } catch {
    return {}; // a model's broken JSON: Anthropic clients expect an object
  }
}

export function messageOfCompletion(id: string, body: MessagesRequest, completion: Record<string, unknown>): Record<string, unknown> {
  const parts: AnswerParts = partsOfCompletion(completion);
  const choice = ((completion.choices as unknown[])?.[0] ?? {}) as { stop_reason?: unknown };
  const content: Record<string, unknown>[] = [];
  if (parts.reasoning) content.push({ type: "thinking", thinking: parts.reasoning, signature: "" });
  if (parts.text || parts.toolCalls.length === 0) content.push({ type: "text", text: parts.text });
  for (const call of parts.toolCalls) content.push({ type: "tool_use", id: call.id, name: call.name, input: parseToolInput(call.arguments) });
  const stopSequence = parts.finishReason === "stop" ? matchedStop(body, choice.stop_reason) : null;
  return {
    id: `msg_${id}`,
    type: "message",
    role: "assistant",
    model: body.model,
    content,
    stop_reason: stopReason(parts.finishReason, stopSequence),
    stop_sequence: stopSequence,
    usage: { input_tokens: parts.usage?.prompt ?? 0, output_tokens: parts.usage?.completion ?? 0 },
    ...parts.extensions,
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  413: "request_too_large",
  422: "invalid_request_error",
  429: "rate_limit_error",
  503: "overloaded_error",
  504: "timeout_error",
};

export function anthropicErrorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

/** An OpenAI-shaped error response (the chat pipeline's) in Anthropic's shape, status and headers kept. */
export async function toAnthropicError(response: Response): Promise<Response> {
  const parsed = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  const headers = new Headers(response.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  const requestId = response.headers.get("x-request-id");
  const body = { type: "error", error: { type: anthropicErrorType(response.status), message: parsed.error?.message ?? `HTTP ${response.status}` }, ...(requestId ? { request_id: requestId } : {}) };
  return new Response(JSON.stringify(body), { status: response.status, headers });
}
