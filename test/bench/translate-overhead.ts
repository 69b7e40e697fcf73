// What translation costs: `bun test/bench/translate-overhead.ts [json|stream]` drives chat, Responses and
// Messages in this process (64 requests at a time, a patched `fetch` playing the engine, as in-process.ts does)
// and prints µs of CPU per request for each, the mean of the best half of the rounds. The difference to chat is
// the translation: the body in, the answer or every stream event out.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { handleChat } from "../../src/pipeline/chat.ts";
import { createResponse } from "../../src/api/responses.ts";
import { createMessage } from "../../src/api/messages.ts";
import { installFakeEngine } from "./fake-engine.ts";

const stream = (process.argv[2] ?? "json") === "stream";
const CONCURRENCY = 64;
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const REQUESTS_PER_ROUND = Number(process.env.REQUESTS ?? 10_000);

const gateway = new Gateway(parseConfig("auth:\n  mode: none\nbackends:\n  - name: m\n    url: http://127.0.0.1:9/v1\n", "bench.yaml"), { dataDir: mkdtempSync(join(tmpdir(), "sluice-translate-")) });

installFakeEngine({ stream, model: "m" });

const bodies = {
  chat: { path: "/v1/chat/completions", body: JSON.stringify({ model: "m", stream, messages: [{ role: "user", content: "Say hello" }], max_tokens: 64 }), handle: handleChat },
  // store: false, so the comparison is the translation alone (a stored response adds one SQLite insert)
  responses: { path: "/v1/responses", body: JSON.stringify({ model: "m", stream, input: "Say hello", max_output_tokens: 64, store: false }), handle: createResponse },
  messages: { path: "/v1/messages", body: JSON.stringify({ model: "m", stream, messages: [{ role: "user", content: "Say hello" }], max_tokens: 64 }), handle: createMessage },
};

async function measure(name: keyof typeof bodies): Promise<number> {
  const { path, body, handle } = bodies[name];
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
  const one = async () => {
    const response = await handle(new Request(`http://sluice${path}`, { method: "POST", body, headers }), gateway, () => undefined);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${name}: HTTP ${response.status}: ${text}`);
  };
  const round = async (requests: number) => {
    const started = performance.now();
    for (let sent = 0; sent < requests; sent += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one));
    return ((performance.now() - started) * 1000) / requests;
  };
  for (let i = 0; i < 2; i++) await round(REQUESTS_PER_ROUND / 2);
  const rounds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(REQUESTS_PER_ROUND));
  rounds.sort((x, y) => x - y);
  const best = rounds.slice(0, Math.ceil(ROUNDS / 2));
  return best.reduce((sum, value) => sum + value, 0) / best.length;
}

const results: Record<string, number> = {};
for (const name of ["chat", "responses", "messages"] as const) results[name] = await measure(name);
for (const [name, us] of Object.entries(results)) console.log(`${stream ? "stream" : "json"} ${name}: ${us.toFixed(1)} µs per request${name === "chat" ? "" : ` (+${(us - results.chat!).toFixed(1)} over chat)`}`);
process.exit(0);
