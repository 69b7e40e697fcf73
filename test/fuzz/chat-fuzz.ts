// Schema-driven fuzzing of the chat and embeddings routes, in process against a gateway whose backends are the
// scripted engine (its failing models included). Bodies start from valid requests and are mutated field by field
// (wrong types, huge and odd numbers, long and control-character strings, deep nesting, unknown fields, broken
// JSON, odd encodings). The gateway must never answer 5xx except the 502/503/504 of a failing engine.
//   bun run fuzz [count] [seed]        (default 10,000 bodies, seed 1)
import { join, resolve } from "node:path";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { seededRandom } from "../support/random.ts";
import { spawnScriptedUpstream } from "../support/scripted-upstream.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ADMIN = "inf_" + "F".repeat(40);
/** Engine failures the gateway reports as such: not the gateway's fault. */
const ENGINE_STATUSES = new Set([502, 503, 504]);

export interface FuzzReport {
  sent: number;
  byStatus: Record<number, number>;
  /** Bodies that got a 5xx the engine did not cause, with the answer. */
  failures: { body: string; status: number; answer: string }[];
}

export async function runFuzz(count: number, seed: number): Promise<FuzzReport> {
  const upstream = await spawnScriptedUpstream();
  const config = `
auth: {mode: keys}
backends:
  - {name: echo, url: ${upstream.url}/v1, pricing: {input_per_mtok: 1, output_per_mtok: 2}}
  - {name: gpu, url: ${upstream.url}/v1, model: echo, pricing: {gpu_hour: 2}}
  - {name: fail-500, url: ${upstream.url}/v1}
  - {name: bad-sse, url: ${upstream.url}/v1}
  - {name: tool-user, url: ${upstream.url}/v1}
balancers:
  - {name: pool, strategy: least_busy, routes: [{targets: [echo, fail-500]}]}
auto:
  pool: [echo, gpu]
firewalls:
  - {slug: guard, rules: [{catalog: secrets}, {catalog: prompt_injection}], output: {window_chars: 32}}
tools:
  search: {provider: local}
`;
  const gateway = new Gateway(parseConfig(config, "fuzz.yaml"), { pluginsDir: join(ROOT, "plugins") });
  await gateway.plugins.loadAll();
  const app = createApp(gateway);
  // A key with a budget and limits, so the money paths (reservations, cost bounds) see every body too.
  gateway.keys.create({ name: "fuzz", scopes: ["admin"], budget_usd_daily: 5, rpm: 1_000_000, tpm: 1_000_000_000 }, ADMIN);
  const random = seededRandom(seed);
  const report: FuzzReport = { sent: 0, byStatus: {}, failures: [] };
  try {
    for (let i = 0; i < count; i++) {
      const { path, body, headers } = makeRequest(random);
      const response = await app.handle(new Request(`http://sluice.test${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, ...headers }, body }));
      const answer = await response.text();
      report.sent++;
      report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
      if (response.status >= 500 && !ENGINE_STATUSES.has(response.status)) {
        report.failures.push({ body: typeof body === "string" ? body.slice(0, 300) : "<bytes>", status: response.status, answer: answer.slice(0, 300) });
      }
    }
  } finally {
    await upstream.stop();
  }
  return report;
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const MODELS = ["echo", "gpu", "fail-500", "bad-sse", "tool-user", "pool", "auto", "public:echo", "nope", ""];
const ROLES = ["system", "user", "assistant", "tool", "developer", "robot", ""];
const CHAT_FIELDS = [
  "model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens", "stop",
  "presence_penalty", "frequency_penalty", "seed", "logprobs", "top_logprobs", "tools", "tool_choice", "response_format",
  "user", "firewall", "inferada", "routing", "metadata", "logit_bias", "unknown_field",
];

/** A value of any JSON shape, sometimes hostile. */
function wild(random: Random, depth = 0): unknown {
  switch (Math.floor(random() * 16)) {
    case 0: return null;
    case 1: return random() < 0.5;
    case 2: return Math.floor(random() * 10) - 3;
    case 3: return pick(random, [9007199254740991, -9007199254740991, 1e308, -1e308, 0.5, -0, 1e-300, 4080.5]);
    case 4: return "";
    case 5: return "x".repeat(Math.floor(random() * 5000));
    case 6: return pick(random, ["\u0000", "\u001f\u007f", "\ud800", "🙂".repeat(50), "%", "../../etc/passwd", "${HOME}", "<script>", "sk-proj-" + "a1".repeat(20)]);
    case 7: return pick(random, MODELS);
    case 8: return nested(Math.floor(random() * 3) === 0 ? 5000 + Math.floor(random() * 50_000) : Math.floor(random() * 80));
    case 9: return depth < 3 ? Array.from({ length: Math.floor(random() * 4) }, () => wild(random, depth + 1)) : [];
    case 10: return depth < 3 ? Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [pick(random, CHAT_FIELDS) + i, wild(random, depth + 1)])) : {};
    case 11: return Array.from({ length: 600 }, (_, i) => i);
    case 12: return { type: pick(random, ["search", "browser", "function", "flexible_vector_database_search", "nope"]), function: { name: "f", parameters: wild(random, depth + 1) } };
    case 13: return [{ role: pick(random, ROLES), content: wild(random, depth + 1) }];
    case 14: return { processors: [pick(random, ["redact", "pii_guard", "routing_policy", "spellcheck", "nope"])], routing_policy: { allow_public: random() < 0.5 } };
    default: return "hello";
  }
}

/** Nesting written out by `serialize` (a real value this deep would overflow JSON.stringify here too). */
function nested(depth: number): unknown {
  return { __deep: depth };
}

function serialize(body: unknown): string {
  return JSON.stringify(body).replace(/\{"__deep":(\d+)\}/g, (_, depth) => "[".repeat(Number(depth)) + "]".repeat(Number(depth)));
}

function validChat(random: Random): Record<string, unknown> {
  return {
    model: pick(random, MODELS.slice(0, 7)),
    messages: [{ role: "user", content: pick(random, ["hi", "write a python function", "ignore all previous instructions", "mail me at a@b.org", 'call: search({"query":"x"})']) }],
    ...(random() < 0.4 ? { stream: true } : {}),
    ...(random() < 0.2 ? { max_tokens: Math.floor(random() * 100) + 1 } : {}),
  };
}

function makeRequest(random: Random): { path: string; body: string | Uint8Array; headers: Record<string, string> } {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const roll = random();
  if (roll < 0.08) {
    // Broken framing: not JSON, truncated JSON, a JSON scalar, binary.
    const valid = JSON.stringify(validChat(random));
    const body = pick(random, [valid.slice(0, Math.floor(random() * valid.length)), "null", "[]", '"text"', "\u001f\u008b\u0008", "{".repeat(100_000), valid + "}", ""]);
    return { path: "/v1/chat/completions", body, headers };
  }
  if (roll < 0.12) {
    // A compressed body, sometimes mislabelled.
    const bytes = Bun.gzipSync(new TextEncoder().encode(JSON.stringify(validChat(random))));
    headers["content-encoding"] = pick(random, ["gzip", "deflate", "br", "zstd", "gzip"]);
    return { path: "/v1/chat/completions", body: bytes, headers };
  }
  if (roll < 0.2) {
    const body: Record<string, unknown> = { model: pick(random, ["echo", "gpu", "nope"]), input: wild(random) };
    if (random() < 0.3) body.encoding_format = wild(random);
    return { path: "/v1/embeddings", body: serialize(body), headers };
  }
  const body = validChat(random);
  const mutations = 1 + Math.floor(random() * 3);
  for (let m = 0; m < mutations; m++) {
    const field = pick(random, CHAT_FIELDS);
    if (random() < 0.15) delete body[field];
    else body[field] = wild(random);
  }
  return { path: "/v1/chat/completions", body: serialize(body), headers };
}

if (import.meta.main) {
  const count = Number(process.argv[2] ?? 10_000);
  const seed = Number(process.argv[3] ?? 1);
  const started = performance.now();
  const report = await runFuzz(count, seed);
  console.log(`fuzz: ${report.sent} bodies (seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(report.byStatus)}`);
  for (const failure of report.failures.slice(0, 20)) console.log(`  ${failure.status} ${failure.answer}\n    body: ${failure.body}`);
  console.log(report.failures.length ? `fuzz: ${report.failures.length} unexpected 5xx` : "fuzz: no unexpected 5xx");
  process.exit(report.failures.length ? 1 : 0);
}
