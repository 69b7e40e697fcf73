// The passed-through stream's end: recorded at the engine's [DONE], which waits for the ledger row.
import { expect, test } from "bun:test";
import { relayPassthrough } from "../../src/translate/passthrough-relay.ts";
import type { Outcome } from "../../src/pipeline/finish.ts";

const EVENT = 'data: {"id":"c1","object":"text_completion","choices":[{"index":0,"text":"hi"}]}';

/** An engine that sends `events` and then keeps the connection open until the test ends. */
function engine(events: string[]): { body: ReadableStream<Uint8Array>; cancelled: Promise<void> } {
  let cancelled!: () => void;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(new TextEncoder().encode(`${event}\n\n`));
    },
    cancel: () => cancelled(),
  });
  return { body, cancelled: new Promise((resolve) => (cancelled = resolve)) };
}

test("[DONE] ends the stream although the engine keeps its connection open, and waits for the row's handoff", async () => {
  const { body, cancelled } = engine([EVENT, "data: [DONE]", "data: after-done"]);
  let outcome: Outcome | undefined;
  let durable!: () => void;
  const stream = relayPassthrough(body, undefined, { mergeUsage: false }, (ended) => {
    outcome = ended;
    return new Promise<void>((resolve) => (durable = resolve));
  });
  const reader = stream.getReader();
  let text = "";
  let closed = false;
  const reading = (async () => {
    for (;;) {
      const part = await reader.read();
      if (part.done) return void (closed = true);
      text += new TextDecoder().decode(part.value);
    }
  })();
  await Bun.sleep(50);
  expect(outcome?.status).toBe(200); // the end is recorded at [DONE]…
  expect(text).toContain(EVENT);
  expect(text).not.toContain("[DONE]"); // …which waits for the row
  durable();
  await reading;
  expect(closed).toBe(true);
  expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  expect(text).not.toContain("after-done");
  await cancelled; // the engine's side is let go
});
