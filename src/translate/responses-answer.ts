// Chat completion → Responses API response object. Shared by buffered answers and the end of a stream
// (response.completed carries the whole response), and by the store (the answer as chat messages).
import type { ResponsesRequest } from "./schemas.ts";
import type { ChatMessage } from "./responses-request.ts";

export type OutputItem = Record<string, unknown> & { type: string; id: string };

/** The sluice extensions a chat answer carries that the response carries too. */
const EXTENSIONS = ["timings", "routing", "inferada", "tool_runs", "firewall"] as const;

export interface AnswerParts {
  text: string;
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
  usage: { prompt: number; completion: number } | undefined;
  extensions: Record<string, unknown>;
}

export function partsOfCompletion(completion: Record<string, unknown>): AnswerParts {
  const choice = ((completion.choices as unknown[])?.[0] ?? {}) as { message?: Record<string, unknown>; finish_reason?: string | null };
  const message = choice.message ?? {};
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as { id?: string; function?: { name?: string; arguments?: string } }[]) : [];
  const usage = completion.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined;
  return {
    text: typeof message.content === "string" ? message.content : "",
    reasoning: typeof message.reasoning_content === "string" ? message.reasoning_content : typeof message.reasoning === "string" ? message.reasoning : "",
    toolCalls: calls.map((call, i) => ({ id: call.id ?? `call_${i}`, name: call.function?.name ?? "", arguments: call.function?.arguments ?? "" })),
    finishReason: choice.finish_reason ?? null,
    usage: usage ? { prompt: usage.prompt_tokens ?? 0, completion: usage.completion_tokens ?? 0 } : undefined,
    extensions: pickExtensions(completion),
  };
}

export function pickExtensions(value: Record<string, unknown>): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of EXTENSIONS) if (value[field] !== undefined) picked[field] = value[field];
  return picked;
}

export function reasoningItem(id: string, text: string): OutputItem {
  return { type: "reasoning", id: `rs_${id}`, summary: [], content: [{ type: "reasoning_text", text }] };
}
export function messageItem(id: string, text: string, status = "completed"): OutputItem {
  return { type: "message", id: `msg_${id}`, status, role: "assistant", content: status === "completed" ? [outputText(text)] : [] };
}
export function outputText(text: string) {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}
export function functionCallItem(id: string, index: number, call: { id: string; name: string; arguments: string }, status = "completed"): OutputItem {
  return { type: "function_call", id: `fc_${id}_${index}`, call_id: call.id, name: call.name, arguments: call.arguments, status };
}

export function outputItems(id: string, parts: AnswerParts): OutputItem[] {
  const items: OutputItem[] = [];
  if (parts.reasoning) items.push(reasoningItem(id, parts.reasoning));
  if (parts.text || parts.toolCalls.length === 0) items.push(messageItem(id, parts.text));
  parts.toolCalls.forEach((call, i) => items.push(functionCallItem(id, i, call)));
  return items;
}

/** The response object; `id` is the gateway's request id (the response's own id is `resp_<id>`). */
export function responseObject(id: string, body: ResponsesRequest, createdAtS: number, status: string, output: OutputItem[], parts?: AnswerParts): Record<string, unknown> {
  const incomplete = parts?.finishReason === "length";
  const finalStatus = status === "completed" && incomplete ? "incomplete" : status;
  const usage = parts?.usage;
  return {
    id: `resp_${id}`,
    object: "response",
    created_at: createdAtS,
    status: finalStatus,
    error: null,
    incomplete_details: finalStatus === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: body.model,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: body.reasoning ?? null,
    store: body.store ?? true,
    temperature: body.temperature ?? null,
    text: body.text ?? { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? null,
    truncation: "disabled",
    usage: usage
      ? { input_tokens: usage.prompt, input_tokens_details: { cached_tokens: 0 }, output_tokens: usage.completion, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: usage.prompt + usage.completion }
      : null,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
    ...parts?.extensions,
  };
}

/** The answer as the chat message a continued conversation replays. */
export function assistantMessage(parts: AnswerParts): ChatMessage {
  const message: ChatMessage = { role: "assistant", content: parts.text || null };
  if (parts.toolCalls.length) message.tool_calls = parts.toolCalls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
  return message;
}
