// The request path's own CPU cost, without the network: `bun test/bench/in-process.ts <config.yaml> [json|stream]`
// drives the chat handler in this process with 64 requests at a time while a patched `fetch` plays the engine
// (a fixed answer, or a 12-event stream). It prints µs per request: the mean of the best half of 15 rounds.
// The HTTP bench (`bun run bench`) swings by several µs per request between runs on this machine; this one by
// about half a µs, which is what A/B comparisons of small changes need (run each side a few times, alternating).
// Pin it to one core (`taskset -c 0`) like the bench's servers. With a config whose auth.mode is keys, requests
// carry a key with rpm and tpm limits, as the bench's sluice-keys target does. ONE_CHUNK=1 sends the stream in
// one piece, as the bench's fake upstream does (a real engine sends a chunk per token or so).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFile } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { handleChat } from "../../src/pipeline/chat.ts";
import { installFakeEngine } from "./fake-engine.ts";

const [configFile, mode = "json"] = process.argv.slice(2);
if (!configFile) throw new Error("usage: bun test/bench/in-process.ts <config.yaml> [json|stream]");
const stream = mode === "stream";
const oneChunk = process.env.ONE_CHUNK === "1";
const CONCURRENCY = 64;
const ROUNDS = 15;
const REQUESTS_PER_ROUND = 40_000;

const snapshot = await loadConfigFile(configFile, { ...process.env, UPSTREAM_BASE: "http://127.0.0.1:9/v1" }, []);
const gateway = new Gateway(snapshot, { dataDir: mkdtempSync(join(tmpdir(), "sluice-in-process-")) });

installFakeEngine({ stream, oneChunk });

const requestBody = JSON.stringify({ model: "gpt-4o-mini", stream, messages: [{ role: "user", content: "Say hello" }], max_tokens: 64 });
// With content-length, as the bench's load generator sends it (without, the body is read as a chunked upload).
const requestHeaders: Record<string, string> = { "content-type": "application/json", "content-length": String(Buffer.byteLength(requestBody)) };
if (snapshot.auth.mode !== "none") {
  requestHeaders.authorization = `Bearer ${(await gateway.keys.create({ name: "in-process", rpm: 100_000_000, tpm: 1_000_000_000 })).secret}`;
}

async function one(): Promise<void> {
  const response = await handleChat(new Request("http://sluice/v1/chat/completions", { method: "POST", body: requestBody, headers: requestHeaders }), gateway);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
}

async function round(requests: number): Promise<number> {
  const started = performance.now();
  for (let sent = 0; sent < requests; sent += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one));
  return ((performance.now() - started) * 1000) / requests;
}

for (let i = 0; i < 3; i++) await round(REQUESTS_PER_ROUND / 2); // warm-up: JIT tiers, caches
const rounds: number[] = [];
for (let i = 0; i < ROUNDS; i++) rounds.push(await round(REQUESTS_PER_ROUND));
rounds.sort((x, y) => x - y);
const bestHalf = rounds.slice(0, Math.ceil(ROUNDS / 2));
const mean = bestHalf.reduce((sum, value) => sum + value, 0) / bestHalf.length;
console.log(`${configFile} ${mode}: ${mean.toFixed(2)} µs per request (best half of ${ROUNDS} rounds; median ${rounds[ROUNDS >> 1]!.toFixed(2)})`);
process.exit(0);
