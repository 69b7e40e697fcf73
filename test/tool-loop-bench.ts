// `bun test/tool-loop-bench.ts`: what the tool loop itself costs per round. The gateway and the scripted engine run
// as real processes; each request asks for one local search (two model calls), and the gateway's own time
// (timings.gateway_ms: total minus upstream and queue, which here includes the tool run) is compared with plain
// one-round requests: the extra round costs one more engine call, the tool run, and the loop's own work.
import { join, resolve } from "node:path";
import { spawnScriptedUpstream } from "./support/scripted-upstream.ts";
import { spawnGateway } from "./support/gateway.ts";

const ROOT = resolve(import.meta.dir, "..");
const N = 300;
const upstream = await spawnScriptedUpstream();
const gateway = await spawnGateway(
  `server: {host: 127.0.0.1, port: 0}\nauth: {mode: none}\nbackends:\n  - {name: tool-user, url: ${upstream.url}/v1}\ntools:\n  search: {provider: local}\n`,
  { args: ["--plugins", join(ROOT, "plugins")] },
);
await fetch(`${gateway.url}/v1/search/documents`, { method: "POST", body: JSON.stringify({ documents: [{ title: "Refunds", text: "Refunds are paid within 14 days." }] }) });

async function measure(content: string, tools: unknown[] | undefined): Promise<{ gateway: number; tools: number; total: number }> {
  const samples: { gateway: number; tools: number; total: number }[] = [];
  for (let i = 0; i < N; i++) {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "tool-user", messages: [{ role: "user", content }], tools }) });
    const body = (await response.json()) as { timings: { gateway_ms?: number; tools_ms?: number; total_ms: number } };
    if (i >= 50) samples.push({ gateway: body.timings.gateway_ms ?? 0, tools: body.timings.tools_ms ?? 0, total: body.timings.total_ms });
  }
  const mean = (pick: (s: (typeof samples)[number]) => number) => samples.reduce((sum, s) => sum + pick(s), 0) / samples.length;
  return { gateway: mean((s) => s.gateway), tools: mean((s) => s.tools), total: mean((s) => s.total) };
}

const plain = await measure("hello", undefined);
const looped = await measure('call: search({"query":"refund"})', [{ type: "search" }]);
console.log(`one round, no tools:        gateway ${plain.gateway.toFixed(3)} ms, total ${plain.total.toFixed(3)} ms`);
console.log(`two rounds, one local search: gateway ${looped.gateway.toFixed(3)} ms (tool ${looped.tools.toFixed(3)} ms), total ${looped.total.toFixed(3)} ms`);
// An extra round is one more model call (about a plain request's total here) plus the tool: the rest is the loop.
console.log(`loop overhead per extra round (total less two plain requests and the tool run): ${(looped.total - looped.tools - 2 * plain.total).toFixed(3)} ms`);
await gateway.stop();
await upstream.stop();
