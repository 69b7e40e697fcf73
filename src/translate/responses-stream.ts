// A chat completion stream → the Responses API's streaming events: response.created / in_progress, then per
// output item output_item.added → (content_part.added, output_text.delta … / function_call_arguments.delta …)
// → *.done → output_item.done, and response.completed (or .incomplete) with the whole response and usage.
// A stream the chat pipeline ends with an error event becomes `error` + response.failed.
// A plain class fed one chat event at a time (see chat-bridge.ts's translatedStream): per-event generators and
// promises cost more than the translation itself.
import type { ChatEvent, StreamTranslator } from "./chat-bridge.ts";
import type { ResponsesRequest } from "./schemas.ts";
import { functionCallItem, messageItem, outputText, pickExtensions, reasoningItem, responseObject, type AnswerParts, type OutputItem } from "./responses-answer.ts";

interface OpenItem {
  item: OutputItem;
  index: number;
  kind: "reasoning" | "text" | "call";
  text: string;
}

type Delta = { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };

export class ResponsesStreamTranslator implements StreamTranslator {
  private sequence = 0;
  private readonly createdAtS = Math.floor(Date.now() / 1000);
  private readonly parts: AnswerParts = { text: "", reasoning: "", toolCalls: [], finishReason: null, usage: undefined, extensions: {} };
  private readonly output: OutputItem[] = [];
  private reasoning: OpenItem | undefined;
  private text: OpenItem | undefined;
  private readonly calls = new Map<number, OpenItem>();
  private out = "";
  private failed = false;

  constructor(
    private readonly id: string,
    private readonly body: ResponsesRequest,
    private readonly onEnd: (response: Record<string, unknown>, parts: AnswerParts) => void,
  ) {}

  start(): string {
    const skeleton = responseObject(this.id, this.body, this.createdAtS, "in_progress", []);
    this.emit("response.created", { response: skeleton });
    this.emit("response.in_progress", { response: skeleton });
    return this.flush();
  }

  push(event: ChatEvent): string {
    if (this.failed) return "";
    if (event.error) return this.fail(event.error as { message?: string; code?: string });
    if (event.object === "routing") return ""; // auto's routing event: the routing block rides on the final response
    Object.assign(this.parts.extensions, pickExtensions(event));
    if (event.usage) {
      const usage = event.usage as { prompt_tokens?: number; completion_tokens?: number };
      this.parts.usage = { prompt: usage.prompt_tokens ?? 0, completion: usage.completion_tokens ?? 0 };
    }
    const choice = (event.choices as { delta?: Delta; finish_reason?: string | null }[] | undefined)?.[0];
    if (!choice) return "";
    const delta = choice.delta ?? {};
    const thought = delta.reasoning_content ?? delta.reasoning;
    if (thought) {
      const open = (this.reasoning ??= this.open("reasoning", reasoningItem(this.id, "")));
      open.text += thought;
      this.parts.reasoning += thought;
      this.emit("response.reasoning_text.delta", { item_id: open.item.id, output_index: open.index, content_index: 0, delta: thought });
    }
    if (delta.content) {
      const open = (this.text ??= this.open("text", messageItem(this.id, "", "in_progress")));
      open.text += delta.content;
      this.parts.text += delta.content;
      this.emit("response.output_text.delta", { item_id: open.item.id, output_index: open.index, content_index: 0, delta: delta.content, logprobs: [] });
    }
    for (const call of delta.tool_calls ?? []) this.toolCallDelta(call);
    if (choice.finish_reason) this.parts.finishReason = choice.finish_reason;
    return this.flush();
  }

  end(): string {
    if (this.failed) return "";
    const open = [this.reasoning, this.text, ...this.calls.values()].filter((o): o is OpenItem => o !== undefined).sort((a, b) => a.index - b.index);
    for (const item of open) this.close(item);
    if (this.output.length === 0) this.close(this.open("text", messageItem(this.id, "", "in_progress"))); // an empty answer is one empty message
    this.parts.toolCalls = this.parts.toolCalls.filter(Boolean);
    const response = responseObject(this.id, this.body, this.createdAtS, "completed", this.output, this.parts);
    this.onEnd(response, this.parts);
    this.emit(response.status === "incomplete" ? "response.incomplete" : "response.completed", { response });
    return this.flush();
  }

  private toolCallDelta(call: NonNullable<Delta["tool_calls"]>[number]): void {
    const index = call.index ?? 0;
    let open = this.calls.get(index);
    if (!open) {
      const fields = { id: call.id ?? `call_${index}`, name: call.function?.name ?? "", arguments: "" };
      this.parts.toolCalls[index] = fields;
      open = this.open("call", functionCallItem(this.id, index, fields, "in_progress"));
      this.calls.set(index, open);
    }
    const piece = call.function?.arguments;
    if (!piece) return;
    open.text += piece;
    this.parts.toolCalls[index]!.arguments += piece;
    this.emit("response.function_call_arguments.delta", { item_id: open.item.id, output_index: open.index, delta: piece });
  }

  private fail(error: { message?: string; code?: string }): string {
    this.failed = true;
    const message = error.message ?? "the stream broke off";
    this.emit("error", { code: error.code ?? "stream_interrupted", message, param: null });
    const failed = responseObject(this.id, this.body, this.createdAtS, "failed", this.output, this.parts);
    failed.error = { code: error.code ?? "server_error", message };
    this.emit("response.failed", { response: failed });
    return this.flush();
  }

  private open(kind: OpenItem["kind"], item: OutputItem): OpenItem {
    const opened: OpenItem = { item, index: this.output.length, kind, text: "" };
    this.output.push(item);
    this.emit("response.output_item.added", { output_index: opened.index, item });
    if (kind === "text") this.emit("response.content_part.added", { item_id: item.id, output_index: opened.index, content_index: 0, part: outputText("") });
    return opened;
  }

  private close(opened: OpenItem): void {
    const at = { item_id: opened.item.id, output_index: opened.index };
    if (opened.kind === "text") {
      this.emit("response.output_text.done", { ...at, content_index: 0, text: opened.text, logprobs: [] });
      this.emit("response.content_part.done", { ...at, content_index: 0, part: outputText(opened.text) });
      Object.assign(opened.item, { status: "completed", content: [outputText(opened.text)] });
    } else if (opened.kind === "reasoning") {
      this.emit("response.reasoning_text.done", { ...at, content_index: 0, text: opened.text });
      opened.item.content = [{ type: "reasoning_text", text: opened.text }];
    } else {
      this.emit("response.function_call_arguments.done", { ...at, name: opened.item.name, arguments: opened.text });
      Object.assign(opened.item, { status: "completed", arguments: opened.text });
    }
    this.emit("response.output_item.done", { output_index: opened.index, item: opened.item });
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    this.out += `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...fields })}\n\n`;
  }

  private flush(): string {
    const text = this.out;
    this.out = "";
    return text;
  }
}
