// OpenAI Responses request → chat completions request. Input items become chat messages (function_call items
// become an assistant message's tool_calls, function_call_output items tool messages), `instructions` the system
// message, function tools chat tools, `text.format` the response_format, `max_output_tokens` max_tokens.
// `web_search` tools become the gateway's own search tool; sluice's platform tools and request extensions
// (firewall, inferada, routing) pass through as on chat.
import { GatewayError } from "../errors.ts";
import type { ResponsesRequest } from "./schemas.ts";

export type ChatMessage = Record<string, unknown> & { role: string };

const PASSED_THROUGH = ["temperature", "top_p", "user", "parallel_tool_calls", "seed", "firewall", "inferada", "routing", "top_logprobs"] as const;
const PLATFORM_TOOLS = new Set(["search", "browser", "flexible_vector_database_search"]);

export interface TranslatedResponsesRequest {
  chat: Record<string, unknown>;
  /** The conversation without the system instructions (what a stored response continues from). */
  conversation: ChatMessage[];
}

export function responsesToChat(body: ResponsesRequest, history: ChatMessage[]): TranslatedResponsesRequest {
  const conversation = [...history, ...inputMessages(body.input)];
  const messages: ChatMessage[] = body.instructions ? [{ role: "system", content: body.instructions }, ...conversation] : conversation;
  if (messages.length === 0) throw new GatewayError("invalid_request", "input: send at least one input item (or previous_response_id)", { param: "input" });
  const chat: Record<string, unknown> = { model: body.model, messages };
  for (const field of PASSED_THROUGH) if (body[field] !== undefined) chat[field] = body[field];
  if (body.max_output_tokens !== undefined) chat.max_tokens = body.max_output_tokens;
  if (body.reasoning?.effort) chat.reasoning_effort = body.reasoning.effort;
  if (body.tools?.length) chat.tools = body.tools.map(chatTool);
  if (body.tool_choice !== undefined) chat.tool_choice = toolChoice(body.tool_choice);
  const format = body.text?.format;
  if (format?.type === "json_schema") chat.response_format = { type: "json_schema", json_schema: { name: format.name ?? "response", schema: format.schema, strict: format.strict, description: format.description } };
  else if (format?.type === "json_object") chat.response_format = { type: "json_object" };
  if (body.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true }; // a separate usage chunk at the end: response.completed carries it
  } else chat.stream = false;
  return { chat, conversation };
}

function inputMessages(input: ResponsesRequest["input"]): ChatMessage[] {
  if (input === undefined) return [];
  if (typeof input === "string") return [{ role: "user", content: input }];
  const messages: ChatMessage[] = [];
  (input as Record<string, unknown>[]).forEach((item, i) => {
    const type = item.type ?? "message";
    if (type === "message") messages.push(messageOf(item, i));
    else if (type === "function_call") addToolCall(messages, item, i);
    else if (type === "function_call_output") messages.push({ role: "tool", tool_call_id: requireString(item.call_id, `input[${i}].call_id`), content: textOf(item.output, `input[${i}].output`) });
    else if (type === "reasoning") return; // the engine's own reasoning of an earlier turn: chat templates drop it anyway
    else throw new GatewayError("invalid_request", `input[${i}].type: '${type}' items are not supported here; send message, function_call, function_call_output or reasoning items (or continue with previous_response_id)`, { param: `input[${i}].type` });
  });
  return messages;
}

function messageOf(item: Record<string, unknown>, i: number): ChatMessage {
  const role = item.role === "developer" ? "system" : item.role;
  if (role !== "user" && role !== "assistant" && role !== "system") {
    throw new GatewayError("invalid_request", `input[${i}].role: expected user, assistant, system or developer`, { param: `input[${i}].role` });
  }
  const content = item.content;
  if (typeof content === "string") return { role, content };
  if (!Array.isArray(content)) throw new GatewayError("invalid_request", `input[${i}].content: expected a string or an array of content parts`, { param: `input[${i}].content` });
  if (role !== "user") return { role, content: textOf(content, `input[${i}].content`) };
  return { role, content: content.map((part, j) => userPart(part, `input[${i}].content[${j}]`)) };
}

function userPart(part: unknown, path: string): Record<string, unknown> {
  const p = (part ?? {}) as Record<string, unknown>;
  if (p.type === "input_text" || p.type === "text" || p.type === "output_text") return { type: "text", text: requireString(p.text, `${path}.text`) };
  if (p.type === "input_image") {
    const url = typeof p.image_url === "string" ? p.image_url : undefined;
    if (!url) throw new GatewayError("invalid_request", `${path}.image_url: give the image as a URL or data: URL (file_id needs the Files API, which sluice does not serve)`, { param: `${path}.image_url` });
    return { type: "image_url", image_url: p.detail ? { url, detail: p.detail } : { url } };
  }
  throw new GatewayError("invalid_request", `${path}.type: expected input_text or input_image`, { param: `${path}.type` });
}

/** Consecutive function_call items are one assistant turn with parallel tool calls. */
function addToolCall(messages: ChatMessage[], item: Record<string, unknown>, i: number): void {
  const call = { id: requireString(item.call_id, `input[${i}].call_id`), type: "function", function: { name: requireString(item.name, `input[${i}].name`), arguments: typeof item.arguments === "string" ? item.arguments : "{}" } };
  const last = messages.at(-1);
  if (last?.role === "assistant" && Array.isArray(last.tool_calls)) (last.tool_calls as unknown[]).push(call);
  else messages.push({ role: "assistant", content: null, tool_calls: [call] });
}

function textOf(value: unknown, path: string): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map((part) => (typeof part === "string" ? part : typeof (part as { text?: unknown })?.text === "string" ? (part as { text: string }).text : "")).join("");
  throw new GatewayError("invalid_request", `${path}: expected a string or text parts`, { param: path });
}

function requireString(value: unknown, path: string): string {
  if (typeof value === "string" && value) return value;
  throw new GatewayError("invalid_request", `${path}: expected a non-empty string`, { param: path });
}

function chatTool(tool: Record<string, unknown>, i: number): Record<string, unknown> {
  const type = tool.type;
  if (type === "function") {
    const fn: Record<string, unknown> = { name: requireString(tool.name, `tools[${i}].name`), parameters: tool.parameters ?? { type: "object", properties: {} } };
    if (tool.description !== undefined) fn.description = tool.description;
    if (tool.strict !== undefined && tool.strict !== null) fn.strict = tool.strict;
    return { type: "function", function: fn };
  }
  if (type === "web_search" || type === "web_search_preview") return { type: "search" };
  if (typeof type === "string" && PLATFORM_TOOLS.has(type)) return tool;
  throw new GatewayError("invalid_request", `tools[${i}].type: '${String(type)}' is not served here; use function tools, web_search (run by the gateway's search tool) or sluice's platform tools`, { param: `tools[${i}].type` });
}

function toolChoice(choice: unknown): unknown {
  if (typeof choice === "string") return choice;
  const c = choice as { type?: string; name?: string };
  if (c.type === "function" && c.name) return { type: "function", function: { name: c.name } };
  return "auto";
}
