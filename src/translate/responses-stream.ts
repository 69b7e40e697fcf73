// A chat completion stream → the Responses API's streaming events: response.created / in_progress, then per
// output item output_item.added → (content_part.added, output_text.delta … / function_call_arguments.delta …)
// → *.done → output_item.done, and response.completed (or .incomplete) with the whole response and usage.
// A stream the chat pipeline ends with an error event becomes `error` + response.failed.
import type { ChatEvent } from "./chat-bridge.ts";
import type { ResponsesRequest } from "./schemas.ts";
import { functionCallItem, messageItem, outputText, pickExtensions, reasoningItem, responseObject, type AnswerParts, type OutputItem } from "./responses-answer.ts";

export interface NamedEvent {
  event: string;
  data: Record<string, unknown>;
}

interface OpenItem {
  item: OutputItem;
  index: number;
  kind: "reasoning" | "text" | "call";
  text: string;
}

type Delta = { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };

export async function* responsesStream(events: AsyncIterable<ChatEvent>, id: string, body: ResponsesRequest, onEnd: (response: Record<string, unknown>, parts: AnswerParts) => void): AsyncGenerator<NamedEvent> {
  let sequence = 0;
  const createdAtS = Math.floor(Date.now() / 1000);
  const out = (type: string, fields: Record<string, unknown>): NamedEvent => ({ event: type, data: { type, sequence_number: sequence++, ...fields } });
  const parts: AnswerParts = { text: "", reasoning: "", toolCalls: [], finishReason: null, usage: undefined, extensions: {} };
  const output: OutputItem[] = [];
  let reasoning: OpenItem | undefined;
  let text: OpenItem | undefined;
  const calls = new Map<number, OpenItem>();

  const skeleton = responseObject(id, body, createdAtS, "in_progress", []);
  yield out("response.created", { response: skeleton });
  yield out("response.in_progress", { response: skeleton });

  function* open(kind: OpenItem["kind"], item: OutputItem): Generator<NamedEvent, OpenItem> {
    const opened: OpenItem = { item, index: output.length, kind, text: "" };
    output.push(item);
    yield out("response.output_item.added", { output_index: opened.index, item });
    if (kind === "text") yield out("response.content_part.added", { item_id: item.id, output_index: opened.index, content_index: 0, part: outputText("") });
    return opened;
  }
  function* close(opened: OpenItem): Generator<NamedEvent> {
    const at = { item_id: opened.item.id, output_index: opened.index };
    if (opened.kind === "text") {
      yield out("response.output_text.done", { ...at, content_index: 0, text: opened.text, logprobs: [] });
      yield out("response.content_part.done", { ...at, content_index: 0, part: outputText(opened.text) });
      Object.assign(opened.item, { status: "completed", content: [outputText(opened.text)] });
    } else if (opened.kind === "reasoning") {
      yield out("response.reasoning_text.done", { ...at, content_index: 0, text: opened.text });
      opened.item.content = [{ type: "reasoning_text", text: opened.text }];
    } else {
      yield out("response.function_call_arguments.done", { ...at, name: opened.item.name, arguments: opened.text });
      Object.assign(opened.item, { status: "completed", arguments: opened.text });
    }
    yield out("response.output_item.done", { output_index: opened.index, item: opened.item });
  }

  for await (const event of events) {
    if (event.error) {
      const error = event.error as { message?: string; code?: string };
      yield out("error", { code: error.code ?? "stream_interrupted", message: error.message ?? "the stream broke off", param: null });
      const failed = responseObject(id, body, createdAtS, "failed", output, parts);
      failed.error = { code: error.code ?? "server_error", message: error.message ?? "the stream broke off" };
      yield out("response.failed", { response: failed });
      return;
    }
    if (event.object === "routing") continue; // auto's routing event: the routing block rides on the final response
    Object.assign(parts.extensions, pickExtensions(event));
    if (event.usage) {
      const usage = event.usage as { prompt_tokens?: number; completion_tokens?: number };
      parts.usage = { prompt: usage.prompt_tokens ?? 0, completion: usage.completion_tokens ?? 0 };
    }
    const choice = (event.choices as { delta?: Delta; finish_reason?: string | null }[] | undefined)?.[0];
    if (!choice) continue;
    const delta = choice.delta ?? {};
    const thought = delta.reasoning_content ?? delta.reasoning;
    if (thought) {
      if (!reasoning) reasoning = yield* open("reasoning", reasoningItem(id, ""));
      reasoning.text += thought;
      parts.reasoning += thought;
      yield out("response.reasoning_text.delta", { item_id: reasoning.item.id, output_index: reasoning.index, content_index: 0, delta: thought });
    }
    if (delta.content) {
      if (!text) text = yield* open("text", messageItem(id, "", "in_progress"));
      text.text += delta.content;
      parts.text += delta.content;
      yield out("response.output_text.delta", { item_id: text.item.id, output_index: text.index, content_index: 0, delta: delta.content, logprobs: [] });
    }
    for (const call of delta.tool_calls ?? []) {
      const index = call.index ?? 0;
      let opened = calls.get(index);
      if (!opened) {
        const fields = { id: call.id ?? `call_${index}`, name: call.function?.name ?? "", arguments: "" };
        parts.toolCalls[index] = fields;
        opened = yield* open("call", functionCallItem(id, index, fields, "in_progress"));
        calls.set(index, opened);
      }
      const piece = call.function?.arguments;
      if (piece) {
        opened.text += piece;
        parts.toolCalls[index]!.arguments += piece;
        yield out("response.function_call_arguments.delta", { item_id: opened.item.id, output_index: opened.index, delta: piece });
      }
    }
    if (choice.finish_reason) parts.finishReason = choice.finish_reason;
  }
  for (const opened of [reasoning, text, ...calls.values()].filter((o): o is OpenItem => o !== undefined).sort((a, b) => a.index - b.index)) yield* close(opened);
  if (output.length === 0) {
    // an empty answer is still one (empty) message, as buffered responses have
    const empty = yield* open("text", messageItem(id, "", "in_progress"));
    yield* close(empty);
  }
  parts.toolCalls = parts.toolCalls.filter(Boolean);
  const response = responseObject(id, body, createdAtS, "completed", output, parts);
  onEnd(response, parts);
  yield out(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response });
}
