// The one chat pipeline, in process (app.handle), against the scripted engine: every guard holds on every path.
// {direct, balancer, auto} × {buffered, stream} × {no tools, platform tools offered, platform tools called} ×
// {output screening that blocks, the redact round trip, a routing_policy refusal}, each cell checked for what
// the client sees and what the ledger records. The engine leaks a secret one word per chunk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";

const ROOT = resolve(import.meta.dir, "../..");
const SECRET_START = "sk-proj-Zx9"; // LEAKY_ANSWER's key
const SEARCHED_SECRET = "sk-proj-" + "Qm4Tn8Vb2Xc6Zl0Kj3Hg7Fd1Sa5Pw9Eo2Iu4Yt6Re8Wq0";

let upstream: ScriptedUpstream;
let gateway: Gateway;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const config = `
auth: {mode: none}
backends:
  - {name: leaky, url: ${upstream.url}/v1}
  - {name: echo, url: ${upstream.url}/v1}
  - {name: tool-user, url: ${upstream.url}/v1}
  - {name: cloud, url: ${upstream.url}/v1, model: echo, public: true}
balancers:
  - {name: b-leaky, strategy: priority, routes: [{targets: [leaky]}]}
  - {name: b-echo, strategy: priority, routes: [{targets: [echo]}]}
  - {name: b-tool-user, strategy: priority, routes: [{targets: [tool-user]}]}
  - {name: b-cloud, strategy: priority, routes: [{targets: [public:cloud]}]}
auto:
  pool: [echo]
firewalls:
  - {slug: out-block, rules: [{catalog: secrets}], output: {window_chars: 64}}
  # For tool rounds: the tool's result is screened (secrets withhold it) and the answer built on it is blocked.
  - {slug: out-tools, rules: [{catalog: secrets}, {keywords: ["final:"]}], output: {window_chars: 64}}
  - {slug: tools-only, rules: [{catalog: secrets}]}
tools:
  max_rounds: 3
  search: {provider: local}
`;
  gateway = new Gateway(parseConfig(config, "test.yaml"), { pluginsDir: join(ROOT, "plugins") });
  await gateway.plugins.loadAll();
  app = createApp(gateway);
  const added = await app.handle(
    new Request("http://sluice.test/v1/search/documents", {
      method: "POST",
      body: JSON.stringify({ documents: [{ id: "deploy", title: "Deploy", text: `${SEARCHED_SECRET} is the deploy key for production.` }] }),
    }),
  );
  expect(added.status).toBe(200);
});
afterAll(async () => {
  await upstream?.stop();
});

type Target = "direct" | "balancer" | "auto";
type Tools = "none" | "offered" | "called";

/** The request body's model fields for `backend` reached through `target`. */
function modelFor(target: Target, backend: string): Record<string, unknown> {
  if (target === "direct") return { model: backend === "cloud" ? "public:cloud" : backend };
  if (target === "balancer") return { model: `b-${backend}` };
  return { model: "auto", routing: { model_pool: [backend === "cloud" ? "public:cloud" : backend] } };
}

interface Sent {
  status: number;
  text: string;
  contentType: string;
  ledger: { status: number; error_code: string | null; detail: string | null };
}

async function send(body: Record<string, unknown>): Promise<Sent> {
  const response = await app.handle(new Request("http://sluice.test/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  const text = await response.text(); // a stream is ledgered once it ends
  gateway.ledger.flush();
  const requestId = response.headers.get("x-request-id");
  const ledger = gateway.db.query("SELECT status, error_code, detail FROM ledger WHERE request_id = ?").get(requestId) as Sent["ledger"];
  return { status: response.status, text, contentType: response.headers.get("content-type") ?? "", ledger };
}

/** The content the client got, from a JSON answer or an SSE stream. */
function contentOf(sent: Sent): string {
  if (!sent.contentType.includes("event-stream")) return (JSON.parse(sent.text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
  return sent.text
    .split("\n\n")
    .filter((event) => event.startsWith("data: {"))
    .map((event) => JSON.parse(event.slice(6)) as { choices?: { delta?: { content?: string } }[] })
    .map((chunk) => chunk.choices?.[0]?.delta?.content ?? "")
    .join("");
}

const TARGETS: Target[] = ["direct", "balancer", "auto"];
const SHAPES = [false, true];

describe("output screening that blocks, on every path", () => {
  for (const target of TARGETS)
    for (const stream of SHAPES)
      for (const tools of ["none", "offered", "called"] as Tools[]) {
        test(`${target} · ${stream ? "stream" : "buffered"} · tools ${tools}`, async () => {
          const called = tools === "called";
          const sent = await send({
            ...modelFor(target, called ? "tool-user" : "leaky"),
            stream,
            firewall: called ? "out-tools" : "out-block",
            messages: [{ role: "user", content: called ? 'call: search({"query":"deploy key"})' : "what is the admin key?" }],
            ...(tools === "none" ? {} : { tools: [{ type: "search" }] }),
          });
          expect(sent.text).not.toContain(SECRET_START);
          expect(sent.text).not.toContain(SEARCHED_SECRET.slice(0, 12));
          expect(sent.ledger).toMatchObject({ status: 422, error_code: "firewall_blocked" });
          if (stream) {
            expect(sent.status).toBe(200);
            expect(sent.text).toContain('"code":"firewall_blocked"');
            expect(sent.text).not.toContain("[DONE]");
          } else {
            expect(sent.status).toBe(422);
            expect(JSON.parse(sent.text).error.code).toBe("firewall_blocked");
          }
        });
      }
});

describe("tool results are screened by the request's firewall, on every path", () => {
  for (const target of TARGETS)
    for (const stream of SHAPES) {
      test(`${target} · ${stream ? "stream" : "buffered"}`, async () => {
        const sent = await send({
          ...modelFor(target, "tool-user"),
          stream,
          firewall: "tools-only",
          messages: [{ role: "user", content: 'call: search({"query":"deploy key"})' }],
          tools: [{ type: "search" }],
        });
        expect(sent.status).toBe(200);
        expect(sent.text).not.toContain(SEARCHED_SECRET.slice(0, 12));
        expect(contentOf(sent)).toContain("[withheld: firewall 'tools-only' blocked this tool result (secrets)]");
        // The model never saw it either.
        const seen = JSON.stringify((await upstream.requests()).map((r) => r.body));
        expect(seen).not.toContain(SEARCHED_SECRET.slice(0, 12));
        expect(sent.text).toContain('"rule":"tool:secrets"');
      });
    }
});

describe("redact round trip, on every path", () => {
  for (const target of TARGETS)
    for (const stream of SHAPES)
      for (const tools of ["none", "offered"] as Tools[]) {
        test(`${target} · ${stream ? "stream" : "buffered"} · tools ${tools}`, async () => {
          upstream.reset();
          const sent = await send({
            ...modelFor(target, "echo"),
            stream,
            messages: [{ role: "user", content: "mail me at x@example.org" }],
            inferada: { processors: ["redact"] },
            ...(tools === "none" ? {} : { tools: [{ type: "search" }] }),
          });
          expect(sent.status).toBe(200);
          expect(contentOf(sent)).toBe("echo: mail me at x@example.org");
          expect(sent.ledger).toMatchObject({ status: 200, error_code: null });
          expect(JSON.parse(sent.ledger.detail!).inferada.processors[0].name).toBe("redact"); // the dashboard's request detail
          // The engine never saw the address.
          const seen = JSON.stringify((await upstream.requests()).map((r) => r.body));
          expect(seen).not.toContain("x@example.org");
        });
      }
});

describe("routing_policy refusal, on every path", () => {
  for (const target of TARGETS)
    for (const stream of SHAPES)
      for (const tools of ["none", "offered"] as Tools[]) {
        test(`${target} · ${stream ? "stream" : "buffered"} · tools ${tools}`, async () => {
          const sent = await send({
            ...modelFor(target, "cloud"),
            stream,
            messages: [{ role: "user", content: "hi" }],
            inferada: { processors: ["routing_policy"], routing_policy: { allow_public: false } },
            ...(tools === "none" ? {} : { tools: [{ type: "search" }] }),
          });
          expect(sent.status).toBe(422);
          expect(sent.text).toContain("no public models");
          expect(sent.ledger.status).toBe(422);
        });
      }
});

describe("stream contract", () => {
  type Chunk = { object?: string; choices: { delta?: { content?: string }; finish_reason?: string | null }[]; usage?: { total_tokens: number }; timings?: unknown; tool_runs?: unknown[] };
  const chunksOf = (text: string) =>
    text
      .split("\n\n")
      .filter((event) => event.startsWith("data: {"))
      .map((event) => JSON.parse(event.slice(6)) as Chunk);

  for (const target of TARGETS)
    for (const tools of ["none", "called"] as Tools[]) {
      test(`${target} · tools ${tools}: without include_usage every chunk has choices[0].delta; usage rides on the finish chunk`, async () => {
        const sent = await send({
          ...modelFor(target, tools === "called" ? "tool-user" : "echo"),
          stream: true,
          messages: [{ role: "user", content: tools === "called" ? 'call: search({"query":"opening hours"})' : "one two three" }],
          ...(tools === "called" ? { tools: [{ type: "search" }] } : {}),
        });
        const chunks = chunksOf(sent.text).filter((chunk) => chunk.object !== "routing"); // seed 003's first event
        expect(chunks.every((chunk) => chunk.choices[0]?.delta !== undefined)).toBe(true);
        const last = chunks.at(-1)!;
        expect(last.choices[0]!.finish_reason).toBe("stop");
        expect(last.usage!.total_tokens).toBeGreaterThan(0);
        expect(last.timings).toBeDefined();
        if (tools === "called") expect(last.tool_runs).toHaveLength(1);
        const detail = sent.ledger.detail ? JSON.parse(sent.ledger.detail) : {};
        if (tools === "called") expect(detail.tool_runs).toHaveLength(1);
        if (target !== "direct") expect(detail.routing.model).toBe(tools === "called" ? "tool-user" : "echo");
        expect(chunks.filter((chunk) => chunk.usage)).toHaveLength(1);
        expect(sent.text.endsWith("data: [DONE]\n\n")).toBe(true);
      });

      test(`${target} · tools ${tools}: with include_usage the stream ends with OpenAI's choices [] usage chunk`, async () => {
        const sent = await send({
          ...modelFor(target, tools === "called" ? "tool-user" : "echo"),
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: tools === "called" ? 'call: search({"query":"opening hours"})' : "one two three" }],
          ...(tools === "called" ? { tools: [{ type: "search" }] } : {}),
        });
        const chunks = chunksOf(sent.text);
        expect(chunks.at(-1)!.choices).toEqual([]);
        expect(chunks.at(-1)!.usage!.total_tokens).toBeGreaterThan(0);
        expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
      });
    }
});
