// The engine the in-process benches talk to: `fetch` patched to answer at once, a fixed chat completion or a
// 12-event stream (role, eight words, finish, usage, [DONE]) one event per chunk, or in one piece (`oneChunk`, as
// the HTTP bench's fake upstream sends it). No network: what is measured is the gateway's own work.
export function installFakeEngine(options: { stream: boolean; oneChunk?: boolean; model?: string }): void {
  const model = options.model ?? "gpt-4o-mini";
  const answer = JSON.stringify({
    id: "chatcmpl-engine",
    object: "chat.completion",
    created: 1,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: "Hello there, how can I help?" }, finish_reason: "stop" }],
    usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
  });
  const encoder = new TextEncoder();
  const event = (fields: Record<string, unknown>) => encoder.encode(`data: ${JSON.stringify({ id: "chatcmpl-engine", object: "chat.completion.chunk", created: 1, model, ...fields })}\n\n`);
  const words = ["Hello", " there", ",", " how", " can", " I", " help", "?"];
  const events = [
    event({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }),
    ...words.map((word) => event({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })),
    event({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }),
    event({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 8, total_tokens: 17 } }),
    encoder.encode("data: [DONE]\n\n"),
  ];
  globalThis.fetch = (async () => {
    if (!options.stream) return new Response(answer, { headers: { "content-type": "application/json" } });
    if (options.oneChunk) return new Response(Buffer.concat(events), { headers: { "content-type": "text/event-stream" } });
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (next < events.length) controller.enqueue(events[next++]!);
        else controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }) as unknown as typeof fetch;
}
