// A chat completion stream → Anthropic's streaming events: message_start, ping, then per content block
// content_block_start → content_block_delta (text_delta, thinking_delta, input_json_delta) → content_block_stop,
// then message_delta (stop_reason, usage) and message_stop. One block is open at a time, as Anthropic streams.
import type { ChatEvent } from "./chat-bridge.ts";
import type { MessagesRequest } from "./schemas.ts";
import { matchedStop, stopReason } from "./messages-answer.ts";
import type { NamedEvent } from "./responses-stream.ts";

type Delta = { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };
type Block = { kind: "text" | "thinking" | "tool"; index: number; toolIndex?: number };

export async function* messagesStream(events: AsyncIterable<ChatEvent>, id: string, body: MessagesRequest): AsyncGenerator<NamedEvent> {
  const out = (type: string, fields: Record<string, unknown> = {}): NamedEvent => ({ event: type, data: { type, ...fields } });
  yield out("message_start", {
    message: { id: `msg_${id}`, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
  });
  yield out("ping");
  let open: Block | undefined;
  let blocks = 0;
  let finishReason: string | null = null;
  let engineStop: unknown;
  let usage = { input_tokens: 0, output_tokens: 0 };

  function* start(kind: Block["kind"], contentBlock: Record<string, unknown>, toolIndex?: number): Generator<NamedEvent> {
    if (open) yield out("content_block_stop", { index: open.index });
    open = { kind, index: blocks++, toolIndex };
    yield out("content_block_start", { index: open.index, content_block: contentBlock });
  }

  for await (const event of events) {
    if (event.error) {
      const error = event.error as { message?: string };
      yield out("error", { error: { type: "api_error", message: error.message ?? "the stream broke off" } });
      return;
    }
    if (event.usage) {
      const u = event.usage as { prompt_tokens?: number; completion_tokens?: number };
      usage = { input_tokens: u.prompt_tokens ?? 0, output_tokens: u.completion_tokens ?? 0 };
    }
    const choice = (event.choices as { delta?: Delta; finish_reason?: string | null; stop_reason?: unknown }[] | undefined)?.[0];
    if (!choice) continue;
    const delta = choice.delta ?? {};
    const thought = delta.reasoning_content ?? delta.reasoning;
    if (thought) {
      if (open?.kind !== "thinking") yield* start("thinking", { type: "thinking", thinking: "", signature: "" });
      yield out("content_block_delta", { index: open!.index, delta: { type: "thinking_delta", thinking: thought } });
    }
    if (delta.content) {
      if (open?.kind !== "text") yield* start("text", { type: "text", text: "" });
      yield out("content_block_delta", { index: open!.index, delta: { type: "text_delta", text: delta.content } });
    }
    for (const call of delta.tool_calls ?? []) {
      const toolIndex = call.index ?? 0;
      if (open?.kind !== "tool" || open.toolIndex !== toolIndex) yield* start("tool", { type: "tool_use", id: call.id ?? `toolu_${toolIndex}`, name: call.function?.name ?? "", input: {} }, toolIndex);
      if (call.function?.arguments) yield out("content_block_delta", { index: open!.index, delta: { type: "input_json_delta", partial_json: call.function.arguments } });
    }
    if (choice.finish_reason) {
      finishReason = choice.finish_reason;
      engineStop = choice.stop_reason;
    }
  }
  if (!open) yield* start("text", { type: "text", text: "" }); // an empty answer is one empty text block
  yield out("content_block_stop", { index: open!.index });
  const stopSequence = finishReason === "stop" ? matchedStop(body, engineStop) : null;
  yield out("message_delta", { delta: { stop_reason: stopReason(finishReason, stopSequence), stop_sequence: stopSequence }, usage });
  yield out("message_stop");
}
