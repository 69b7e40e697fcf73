// An OpenAI-shaped engine for the limit and ledger tests with several gateways: a chat completion waits the
// `wait:<ms>` its last message names, answers 3 completion tokens, and counts what it served and held at once.
import type { Server } from "bun";

export interface CountingEngine {
  server: Server<undefined>;
  port: number;
  served: { count: number; inFlight: number; peak: number };
  stop(): void;
}

export function startCountingEngine(): CountingEngine {
  const served = { count: 0, inFlight: 0, peak: 0 };
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path.endsWith("/models")) return Response.json({ object: "list", data: [{ id: "engine", object: "model" }] });
      if (!path.endsWith("/chat/completions")) return new Response("ok");
      const body = (await req.json()) as { messages: { content: string }[] };
      const wait = Number(/wait:(\d+)/.exec(body.messages.at(-1)!.content)?.[1] ?? 0);
      served.inFlight++;
      served.peak = Math.max(served.peak, served.inFlight);
      try {
        await Bun.sleep(wait);
      } finally {
        served.inFlight--;
      }
      served.count++;
      return Response.json({
        id: "c1", object: "chat.completion", created: 1, model: "engine",
        choices: [{ index: 0, message: { role: "assistant", content: "one two three" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
      });
    },
  });
  return { server, port: server.port!, served, stop: () => void server.stop(true) };
}
