// A chat completion stream → Anthropic's streaming events: message_start, ping, then per content block
// content_block_start → content_block_delta (text_delta, thinking_delta, input_json_delta) → content_block_stop,
// then message_delta (stop_reason, usage) and message_stop. One block is open at a time, as Anthropic streams.
// Fed one chat event at a time by chat-bridge.ts's translatedStream.
import type { ChatEvent, StreamTranslator } from "./chat-bridge.ts";
import type { MessagesRequest } from "./schemas.ts";
import { matchedStop, stopReason } from "./messages-answer.ts";

type Delta = { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };
type Block = { kind: "text" | "thinking" | "tool"; index: number; toolIndex?: number };

export class MessagesStreamTranslator implements StreamTranslator {
  private open: Block | undefined;
  private blocks = 0;
  private finishReason: string | null = null;
  private engineStop: unknown;
  private usage = { input_tokens: 0, output_tokens: 0 };
  private out = "";
  private failed = false;

  constructor(
    private readonly id: string,
    private readonly body: MessagesRequest,
  ) {}

  start(): string {
    const message = { id: `msg_${this.id}`, type: "message", role: "assistant", model: this.body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } };
    this.emit("message_start", { message });
    this.emit("ping", {});
    return this.flush();
  }

  push(event: ChatEvent): string {
    if (this.failed) return "";
    if (event.error) {
      this.failed = true;
      this.emit("error", { error: { type: "api_error", message: (event.error as { message?: string }).message ?? "the stream broke off" } });
      return this.flush();
    }
    if (event.usage) {
      const usage = event.usage as { prompt_tokens?: number; completion_tokens?: number };
      this.usage = { input_tokens: usage.prompt_tokens ?? 0, output_tokens: usage.completion_tokens ?? 0 };
    }
    const choice = (event.choices as { delta?: Delta; finish_reason?: string | null; stop_reason?: unknown }[] | undefined)?.[0];
    if (!choice) return "";
    const delta = choice.delta ?? {};
    const thought = delta.reasoning_content ?? delta.reasoning;
    if (thought) this.delta("thinking", { type: "thinking", thinking: "", signature: "" }, { type: "thinking_delta", thinking: thought });
    if (delta.content) this.delta("text", { type: "text", text: "" }, { type: "text_delta", text: delta.content });
    for (const call of delta.tool_calls ?? []) {
      const toolIndex = call.index ?? 0;
      if (this.open?.kind !== "tool" || this.open.toolIndex !== toolIndex) this.startBlock("tool", { type: "tool_use", id: call.id ?? `toolu_${toolIndex}`, name: call.function?.name ?? "", input: {} }, toolIndex);
      if (call.function?.arguments) this.emit("content_block_delta", { index: this.open!.index, delta: { type: "input_json_delta", partial_json: call.function.arguments } });
    }
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.engineStop = choice.stop_reason;
    }
    return this.flush();
  }

  end(): string {
    if (this.failed) return "";
    const last = this.open ?? this.startBlock("text", { type: "text", text: "" }); // an empty answer is one empty text block
    this.emit("content_block_stop", { index: last.index });
    const stopSequence = this.finishReason === "stop" ? matchedStop(this.body, this.engineStop) : null;
    this.emit("message_delta", { delta: { stop_reason: stopReason(this.finishReason, stopSequence), stop_sequence: stopSequence }, usage: this.usage });
    this.emit("message_stop", {});
    return this.flush();
  }

  private delta(kind: "text" | "thinking", block: Record<string, unknown>, delta: Record<string, unknown>): void {
    if (this.open?.kind !== kind) this.startBlock(kind, block);
    this.emit("content_block_delta", { index: this.open!.index, delta });
  }

  private startBlock(kind: Block["kind"], contentBlock: Record<string, unknown>, toolIndex?: number): Block {
    if (this.open) this.emit("content_block_stop", { index: this.open.index });
    const block: Block = { kind, index: this.blocks++, toolIndex };
    this.open = block;
    this.emit("content_block_start", { index: block.index, content_block: contentBlock });
    return block;
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    this.out += `event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`;
  }

  private flush(): string {
    const text = this.out;
    this.out = "";
    return text;
  }
}
