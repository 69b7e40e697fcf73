// Anthropic Messages request → chat completions request. `system` becomes the system message; text and image
// blocks content parts; an assistant's tool_use blocks its tool_calls; a user's tool_result blocks tool messages
// (placed first, right after the assistant turn that called them); stop_sequences `stop`; tool_choice any →
// required. Anthropic's web_search server tool becomes the gateway's own search tool.
import { GatewayError } from "../errors.ts";
import type { MessagesRequest } from "./schemas.ts";
import type { ChatMessage } from "./responses-request.ts";

type Block = Record<string, unknown> & { type: string };

const PASSED_THROUGH = ["temperature", "top_p", "top_k", "firewall", "inferada", "routing"] as const;

export function messagesToChat(body: MessagesRequest): Record<string, unknown> {
  const chat: Record<string, unknown> = { model: body.model, messages: chatMessages(body), max_tokens: body.max_tokens };
  for (const field of PASSED_THROUGH) if (body[field] !== undefined) chat[field] = body[field];
  if (body.stop_sequences?.length) chat.stop = body.stop_sequences;
  const user = (body.metadata as { user_id?: unknown } | undefined)?.user_id;
  if (typeof user === "string") chat.user = user;
  if (body.tools?.length) chat.tools = body.tools.map(chatTool);
  if (body.tool_choice) {
    const choice = body.tool_choice;
    chat.tool_choice = choice.type === "any" ? "required" : choice.type === "tool" && choice.name ? { type: "function", function: { name: choice.name } } : choice.type === "none" ? "none" : "auto";
    if ((choice as { disable_parallel_tool_use?: unknown }).disable_parallel_tool_use === true) chat.parallel_tool_calls = false;
  }
  chat.stream = body.stream === true;
  if (body.stream) chat.stream_options = { include_usage: true }; // message_delta carries the final usage
  return chat;
}

export function chatMessages(body: Pick<MessagesRequest, "system" | "messages">): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const system = typeof body.system === "string" ? body.system : body.system?.map((block, i) => textOfBlock(block as Block, `system[${i}]`)).join("\n");
  if (system) messages.push({ role: "system", content: system });
  body.messages.forEach((message, i) => {
    if (typeof message.content === "string") return void messages.push({ role: message.role, content: message.content });
    const blocks = message.content as Block[];
    if (message.role === "assistant") return void messages.push(assistantTurn(blocks, i));
    const parts: Record<string, unknown>[] = [];
    blocks.forEach((block, j) => {
      const path = `messages[${i}].content[${j}]`;
      if (block.type === "tool_result") messages.push({ role: "tool", tool_call_id: requireString(block.tool_use_id, `${path}.tool_use_id`), content: toolResultText(block, path) });
      else if (block.type === "text") parts.push({ type: "text", text: textOfBlock(block, path) });
      else if (block.type === "image") parts.push(imagePart(block, path));
      else throw unsupported(block.type, path);
    });
    if (parts.length) messages.push({ role: "user", content: parts.every((p) => p.type === "text") ? parts.map((p) => p.text).join("\n") : parts });
  });
  return messages;
}

function assistantTurn(blocks: Block[], i: number): ChatMessage {
  const text: string[] = [];
  const calls: unknown[] = [];
  blocks.forEach((block, j) => {
    const path = `messages[${i}].content[${j}]`;
    if (block.type === "text") text.push(textOfBlock(block, path));
    else if (block.type === "tool_use") calls.push({ id: requireString(block.id, `${path}.id`), type: "function", function: { name: requireString(block.name, `${path}.name`), arguments: JSON.stringify(block.input ?? {}) } });
    else if (block.type === "thinking" || block.type === "redacted_thinking") return; // chat templates drop earlier turns' reasoning
    else throw unsupported(block.type, path);
  });
  const message: ChatMessage = { role: "assistant", content: text.length ? text.join("") : null };
  if (calls.length) message.tool_calls = calls;
  return message;
}

function toolResultText(block: Block, path: string): string {
  const text = typeof block.content === "string" ? block.content : Array.isArray(block.content) ? (block.content as Block[]).map((part, k) => (part.type === "text" ? textOfBlock(part, `${path}.content[${k}]`) : "")).join("\n") : "";
  return block.is_error === true ? `Error: ${text}` : text;
}

function imagePart(block: Block, path: string): Record<string, unknown> {
  const source = (block.source ?? {}) as { type?: string; media_type?: string; data?: string; url?: string };
  if (source.type === "base64" && source.data) return { type: "image_url", image_url: { url: `data:${source.media_type ?? "image/png"};base64,${source.data}` } };
  if (source.type === "url" && source.url) return { type: "image_url", image_url: { url: source.url } };
  throw new GatewayError("invalid_request", `${path}.source: expected {type: base64, media_type, data} or {type: url, url}`, { param: `${path}.source` });
}

function textOfBlock(block: Block, path: string): string {
  if (block.type === "text" && typeof block.text === "string") return block.text;
  throw new GatewayError("invalid_request", `${path}: expected a text block {type: "text", text}`, { param: path });
}

function requireString(value: unknown, path: string): string {
  if (typeof value === "string" && value) return value;
  throw new GatewayError("invalid_request", `${path}: expected a non-empty string`, { param: path });
}

function unsupported(type: string, path: string): GatewayError {
  return new GatewayError("invalid_request", `${path}.type: '${type}' blocks are not supported here; send text, image, tool_use or tool_result blocks`, { param: `${path}.type` });
}

function chatTool(tool: Record<string, unknown>, i: number): Record<string, unknown> {
  const type = tool.type;
  if (typeof type === "string" && type.startsWith("web_search")) return { type: "search" };
  if (type !== undefined && type !== "custom") throw new GatewayError("invalid_request", `tools[${i}].type: '${String(type)}' is not served here; use custom tools (name, input_schema) or web_search`, { param: `tools[${i}].type` });
  const fn: Record<string, unknown> = { name: tool.name, parameters: tool.input_schema ?? { type: "object", properties: {} } };
  if (tool.description !== undefined) fn.description = tool.description;
  return { type: "function", function: fn };
}
