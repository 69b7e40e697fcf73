// server.workers: 2 — two real worker processes on one port under the supervisor. Requests reach both; a killed
// worker is replaced while the port keeps answering; limits stay exact across the two (the supervisor owns the
// counters); /metrics is one exposition of both; SIGTERM lets an open stream finish, and the supervisor exits 0.
// The engine is in this test process, so it can count the requests in flight at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Server, Subprocess } from "bun";
import { createKey, eventually } from "../support/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ADMIN = `inf_${"W".repeat(40)}`;

/** An engine that answers after `delay_ms` (JSON) or streams `chunks` words 50 ms apart, counting what is in flight. */
function startEngine() {
  const state = { inFlight: 0, maxInFlight: 0, chats: 0 };
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/health") return Response.json({ status: "ok" });
      if (path === "/v1/models") return Response.json({ object: "list", data: [{ id: "m", object: "model" }] });
      const body = (await req.json()) as { stream?: boolean; messages: { content: string }[] };
      state.chats++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      if (body.stream) {
        const words = Number(body.messages[0]?.content ?? "10");
        const encoder = new TextEncoder();
        const stream = new ReadableStream({
          async start(controller) {
            for (let i = 0; i < words; i++) {
              controller.enqueue(encoder.encode(`data: ${JSON.stringify({ id: "s", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] })}\n\n`));
              await Bun.sleep(50);
            }
            controller.enqueue(encoder.encode(`data: ${JSON.stringify({ id: "s", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`));
            state.inFlight--;
            controller.close();
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }
      await Bun.sleep(100);
      state.inFlight--;
      return Response.json({ id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, state, reset: () => Object.assign(state, { inFlight: 0, maxInFlight: 0, chats: 0 }), stop: () => server.stop(true) };
}

interface Sluice {
  url: string;
  dir: string;
  child: Subprocess;
  logs(): string;
}

/** The supervisor as a real process (`sluice serve`), once both workers said they are serving. */
async function startSluice(engineUrl: string): Promise<Sluice> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-workers-"));
  const config = join(dir, "sluice.yaml");
  writeFileSync(config, `server: {host: 127.0.0.1, port: 0, workers: 2}\nauth: {mode: keys}\nbackends:\n  - {name: m, url: ${engineUrl}/v1}\n`);
  const child = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), "serve", "--config", config, "--port", "0", "--data-dir", join(dir, "data")], {
    cwd: dir,
    env: { ...process.env, SLUICE_ADMIN_KEY: ADMIN },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  for (const stream of [child.stdout, child.stderr]) void (async () => {
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) output += new TextDecoder().decode(chunk);
  })();
  const port = await eventually(() => output.match(/2 workers serving on port (\d+)/)?.[1] ?? (child.exitCode !== null ? "exited" : undefined), 20_000);
  if (port === "exited") throw new Error(`sluice did not start:\n${output}`);
  return { url: `http://127.0.0.1:${port}`, dir, child, logs: () => output };
}

/** One chat request on a connection of its own (so the kernel may hand it to either worker). */
function chat(url: string, key: string, extra: Record<string, unknown> = {}) {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "10" }], ...extra }),
  });
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { headers: { connection: "close" } })).text();
}

/** pid by worker index, and requests answered, from sluice_worker_requests_total. */
function workers(text: string): Map<string, { pid: string; requests: number }> {
  const out = new Map<string, { pid: string; requests: number }>();
  for (const match of text.matchAll(/^sluice_worker_requests_total\{worker="(\d+)",pid="(\d+)"\} (\d+)$/gm)) out.set(match[1]!, { pid: match[2]!, requests: Number(match[3]) });
  return out;
}

function sum(text: string, name: string, filter = ""): number {
  let total = 0;
  for (const line of text.split("\n")) if (line.startsWith(`${name}{`) && line.includes(filter)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  return total;
}

/** Which of `pids` holds the gateway's end of the TCP connection from `clientPort` (read from /proc). */
function connectionOwner(serverPort: number, clientPort: number, pids: number[]): number | undefined {
  const hex = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const line = readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .map((row) => row.trim().split(/\s+/))
    .find((fields) => fields[1]?.endsWith(hex(serverPort)) && fields[2]?.endsWith(hex(clientPort)));
  if (!line) return undefined;
  const socket = `socket:[${line[9]}]`;
  return pids.find((pid) => readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === socket;
    } catch {
      return false;
    }
  }));
}

/** createKey needs only the URL. */
const asGateway = (s: Sluice) => ({ url: s.url }) as Parameters<typeof createKey>[0];

const engine = startEngine();
let sluice: Sluice;

beforeAll(async () => {
  sluice = await startSluice(engine.url);
}, 30_000);
afterAll(async () => {
  if (sluice && sluice.child.exitCode === null) {
    sluice.child.kill("SIGKILL");
    await sluice.child.exited;
  }
  engine.stop();
});

describe("server.workers: 2", () => {
  test("both workers serve, and /metrics totals are the requests made, each counted once", async () => {
    const before = sum(await metrics(sluice.url), "sluice_requests_total", 'route="chat"');
    const statuses = await Promise.all(Array.from({ length: 40 }, () => chat(sluice.url, ADMIN).then((r) => r.status)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const text = await metrics(sluice.url);
    const byWorker = workers(text);
    expect([...byWorker.keys()].sort()).toEqual(["0", "1"]);
    expect(new Set([...byWorker.values()].map((w) => w.pid)).size).toBe(2);
    // Connections are spread by the kernel: each worker answered some of the 40.
    for (const worker of byWorker.values()) expect(worker.requests).toBeGreaterThan(0);
    expect(sum(text, "sluice_requests_total", 'route="chat"') - before).toBe(40);
    expect(text).toMatch(/^sluice_workers 2$/m);
    // One family header each, whichever worker answered the scrape.
    expect(text.match(/^# TYPE sluice_requests_total counter$/gm)?.length).toBe(1);
  }, 30_000);

  test("rpm is exact across both workers: exactly N of many succeed", async () => {
    const { key } = await createKey(asGateway(sluice), ADMIN, { name: "rpm", rpm: 7 });
    const statuses = await Promise.all(Array.from({ length: 30 }, () => chat(sluice.url, key).then((r) => r.status)));
    expect(statuses.filter((status) => status === 200).length).toBe(7);
    expect(statuses.filter((status) => status === 429).length).toBe(23);
  }, 30_000);

  test("max_concurrent is never exceeded at the engine across both workers", async () => {
    const { key } = await createKey(asGateway(sluice), ADMIN, { name: "conc", max_concurrent: 2 });
    engine.reset();
    const before = workers(await metrics(sluice.url));
    const statuses = await Promise.all(Array.from({ length: 16 }, () => chat(sluice.url, key).then((r) => r.status)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(engine.state.chats).toBe(16);
    expect(engine.state.maxInFlight).toBe(2);
    const after = workers(await metrics(sluice.url));
    // The 16 queued requests were spread over both workers, so the limit held across processes.
    for (const [index, worker] of after) expect(worker.requests).toBeGreaterThan(before.get(index)?.requests ?? 0);
  }, 30_000);

  test("a killed worker is started again and the port keeps answering", async () => {
    const before = workers(await metrics(sluice.url));
    const victim = Number(before.get("1")!.pid);
    process.kill(victim, "SIGKILL");
    await eventually(() => (sluice.logs().includes(`worker 1 (pid ${victim}) exited (SIGKILL)`) ? true : undefined));
    // Until the new one is up, the survivor takes every connection.
    for (let i = 0; i < 5; i++) expect((await chat(sluice.url, ADMIN)).status).toBe(200);
    const replaced = await eventually(async () => {
      const now = workers(await metrics(sluice.url));
      const pid = now.get("1")?.pid;
      return pid && Number(pid) !== victim ? now : undefined;
    }, 15_000);
    expect(replaced.get("0")!.pid).toBe(before.get("0")!.pid);
    expect(await metrics(sluice.url)).toMatch(/^sluice_worker_restarts_total 1$/m);
    for (let i = 0; i < 5; i++) expect((await chat(sluice.url, ADMIN)).status).toBe(200);
  }, 30_000);

  test("the slots of a worker killed mid-stream are given back by the supervisor", async () => {
    const { key } = await createKey(asGateway(sluice), ADMIN, { name: "one", max_concurrent: 1, queue_timeout_ms: 2_000 });
    const port = Number(new URL(sluice.url).port);
    const body = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "400" }] });
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString()));
    await new Promise<void>((done) => socket.once("connect", () => done()));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await eventually(() => (received.includes("w1 ") ? true : undefined));
    // The key's one slot is held by this stream: another request queues, then is refused.
    expect((await chat(sluice.url, key)).status).toBe(429);
    const pids = [...workers(await metrics(sluice.url)).values()].map((w) => Number(w.pid));
    const owner = connectionOwner(port, socket.localPort!, pids);
    expect(owner).toBeDefined();
    process.kill(owner!, "SIGKILL");
    await eventually(() => (sluice.logs().includes(`(pid ${owner}) exited (SIGKILL)`) ? true : undefined));
    socket.destroy();
    expect((await chat(sluice.url, key)).status).toBe(200);
    // Both workers again before the next test.
    await eventually(async () => {
      const now = [...workers(await metrics(sluice.url)).values()].map((w) => Number(w.pid));
      return now.length === 2 && !now.includes(owner!) ? true : undefined;
    }, 15_000);
  }, 30_000);

  test("a config edit reaches every worker (each watches the file)", async () => {
    writeFileSync(join(sluice.dir, "sluice.yaml"), `server: {host: 127.0.0.1, port: 0, workers: 2}\nauth: {mode: keys}\nbackends:\n  - {name: m, url: ${engine.url}/v1}\n  - {name: m2, url: ${engine.url}/v1}\n`);
    await eventually(async () => ((await chat(sluice.url, ADMIN, { model: "m2" })).status === 200 ? true : undefined), 10_000);
    // Both workers have it: every one of many fresh connections is answered.
    await eventually(async () => {
      const statuses = await Promise.all(Array.from({ length: 20 }, () => chat(sluice.url, ADMIN, { model: "m2" }).then((r) => r.status)));
      return statuses.every((status) => status === 200) ? true : undefined;
    }, 10_000);
    const served = workers(await metrics(sluice.url));
    expect(sum(await metrics(sluice.url), "sluice_requests_total", 'model="m2"')).toBeGreaterThanOrEqual(21);
    expect(served.size).toBe(2);
  }, 30_000);

  test("SIGTERM: an open stream finishes, the ledger is flushed, the supervisor exits 0", async () => {
    const response = await chat(sluice.url, ADMIN, { stream: true, messages: [{ role: "user", content: "30" }] });
    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id");
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("data:");
    sluice.child.kill("SIGTERM");
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain("w29 ");
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(await sluice.child.exited).toBe(0);
    expect(sluice.logs()).toContain("SIGTERM: stopping 2 workers");
    // The stream's ledger row was written before its worker exited.
    const db = new Database(join(sluice.dir, "data", "sluice.db"), { readonly: true });
    const row = db.query("SELECT status FROM ledger WHERE request_id = ?").get(requestId) as { status: number } | null;
    db.close();
    expect(row?.status).toBe(200);
  }, 40_000);
});
