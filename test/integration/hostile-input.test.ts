// Hostile clients and odd input (issue 15): connections held open by trickled bodies, short Host headers, uploads
// cut midway, deep JSON, huge identifiers, compressed bodies, wrong methods, unauthenticated floods, and limits
// that `n` or parallel requests used to get around. Raw sockets and a real gateway where the transport matters,
// the app in process where it does not.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { connect } from "node:net";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";

type Answer = { error: { message: string; code: string }; choices: { message: { content: string } }[] };
const ADMIN = "inf_" + "H".repeat(20) + "hostilehostilehostil";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(
    `server: {host: 127.0.0.1, port: 0, body_timeout_ms: 400}
backends:
  - {name: echo, url: ${upstream.url}/v1}
`,
    { env: { SLUICE_ADMIN_KEY: ADMIN } },
  );
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

/** Writes `head` (and more after `pauseMs` if given) on a raw socket; resolves with what came back once it closes. */
function rawExchange(head: string, options: { closeAfterMs?: number; timeoutMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = "";
    const socket = connect(gateway.port, "127.0.0.1", () => socket.write(head));
    socket.on("data", (chunk) => (text += chunk.toString()));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, options.timeoutMs ?? 5_000);
    if (options.closeAfterMs !== undefined) setTimeout(() => socket.destroy(), options.closeAfterMs);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on("error", () => {});
  });
}

const ledgerRows = async () => {
  await Bun.sleep(1_200); // the ledger writes in batches
  const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
  try {
    return db.query("SELECT model, status, error_code FROM ledger ORDER BY started_at").all() as { model: string; status: number; error_code: string | null }[];
  } finally {
    db.close();
  }
};

describe("transport", () => {
  test("a body that trickles in is cut at server.body_timeout_ms with 408, and the connection closes", async () => {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
    const started = Date.now();
    const { text, closed } = await rawExchange(head);
    expect(text).toStartWith("HTTP/1.1 408");
    expect(text).toContain("server.body_timeout_ms");
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  test("without a key the same connection is refused at once with 401", async () => {
    const head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    const { text } = await rawExchange(head, { timeoutMs: 3_000 });
    expect(text).toStartWith("HTTP/1.1 401");
  });

  test("a short Host header does not change which route serves a path", async () => {
    const ask = (path: string) => rawExchange(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nConnection: close\r\n\r\n`);
    expect((await ask("/v1/keys")).text).toStartWith("HTTP/1.1 200");
    expect((await ask("/v1/v1/keys")).text).toStartWith("HTTP/1.1 404");
  });

  test("a client that leaves mid-upload is ledgered as 499 client_closed, in one log line", async () => {
    const before = gateway.logs().split("\n").length;
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"model":"echo","messages":[`;
    await rawExchange(head, { closeAfterMs: 100 });
    const rows = await ledgerRows();
    expect(rows.at(-1)).toMatchObject({ status: 499, error_code: "client_closed" });
    expect(gateway.logs().split("\n").length - before).toBeLessThanOrEqual(1);
  });

  test("requests without a key are not written to the ledger", async () => {
    const before = (await ledgerRows()).length;
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: "{}" })));
    expect((await ledgerRows()).length).toBe(before);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/status="401"/);
  });
});

describe("input", () => {
  let inProcess: Gateway;
  let app: ReturnType<typeof createApp>;
  const KEY = "inf_" + "B".repeat(40);
  beforeAll(() => {
    inProcess = new Gateway(
      parseConfig(
        `server: {max_body_bytes: 2000}
backends:
  - {name: echo, url: ${upstream.url}/v1, pricing: {input_per_mtok: 1, output_per_mtok: 100000}, default_max_tokens: 100}
  # $1 per second of GPU time; a stream may run 500 ms
  - {name: slow, url: ${upstream.url}/v1, pricing: {gpu_hour: 3600}, timeout_ms: 300, max_stream_ms: 500}
firewalls:
  - {slug: plain, rules: [{catalog: secrets}]}
`,
        "t.yaml",
      ),
    );
    inProcess.keys.create({ name: "admin", scopes: ["admin"] }, ADMIN);
    inProcess.keys.create({ name: "limited", scopes: ["chat"], budget_usd_daily: 0.5, tpm: 1_000 }, KEY);
    app = createApp(inProcess);
  });
  const chat = (body: string | Uint8Array, headers: Record<string, string> = {}, key = ADMIN) =>
    app.handle(new Request("http://sluice.test/v1/chat/completions", { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers }, body }));
  const valid = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "echo", messages: [{ role: "user", content: "hi" }], ...extra });

  test("JSON nested 50,000 deep in any field is a 400 naming the limit", async () => {
    for (const field of ["metadata", "logit_bias", "stream_options", "unknown_field"]) {
      const deep = "[".repeat(50_000) + "]".repeat(50_000);
      const response = await chat(`{"model":"echo","messages":[{"role":"user","content":"hi"}],"${field}":${deep}}`, {}, ADMIN);
      expect(response.status === 400 || response.status === 413).toBe(true);
    }
    // under the body limit: the depth check answers
    const response = await chat(`{"model":"echo","messages":[{"role":"user","content":"hi"}],"metadata":${"[".repeat(200)}${"]".repeat(200)}}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as Answer).error.message).toContain("nested deeper than 64");
  });

  test("a huge model or firewall name is a 400 naming the limit; the ledger keeps a short prefix", async () => {
    const big = "m".repeat(1_500);
    const response = await chat(JSON.stringify({ model: big, messages: [{ role: "user", content: "hi" }] }));
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain("256");
    expect(text.length).toBeLessThan(600);
    const firewall = await chat(valid({ firewall: "f".repeat(500) }));
    expect(firewall.status).toBe(400);
    inProcess.ledger.flush();
    const models = inProcess.db.query("SELECT length(model) AS n FROM ledger").all() as { n: number }[];
    expect(Math.max(...models.map((row) => row.n))).toBeLessThanOrEqual(256);
  });

  test("gzip, deflate and br bodies are decoded; the size limit counts decoded bytes; other encodings are 415", async () => {
    const zlib = await import("node:zlib");
    const body = new TextEncoder().encode(valid());
    for (const [encoding, bytes] of [["gzip", Bun.gzipSync(body)], ["deflate", zlib.deflateSync(body)], ["br", zlib.brotliCompressSync(body)]] as const) {
      const response = await chat(new Uint8Array(bytes), { "content-encoding": encoding });
      const answer = (await response.json()) as Answer;
      expect((answer as Partial<Answer>).error?.message).toBeUndefined();
      expect(answer.choices[0]!.message.content).toBe("echo: hi");
    }
    const bomb = Bun.gzipSync(new TextEncoder().encode(valid({ padding: "x".repeat(100_000) })));
    expect(bomb.length).toBeLessThan(2_000);
    expect((await chat(bomb, { "content-encoding": "gzip" })).status).toBe(413);
    expect((await chat(body, { "content-encoding": "zstd" })).status).toBe(415);
    expect((await chat(body, { "content-encoding": "gzip" })).status).toBe(400); // not gzip data at all
  });

  test("a malformed %-escape in a model path is a 400, a wrong method a 405 with Allow", async () => {
    const models = await app.handle(new Request("http://sluice.test/v1/models/%", { headers: { authorization: `Bearer ${ADMIN}` } }));
    expect(models.status).toBe(400);
    const put = await app.handle(new Request("http://sluice.test/v1/keys", { method: "PUT", headers: { authorization: `Bearer ${ADMIN}` } }));
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    const chatGet = await app.handle(new Request("http://sluice.test/v1/chat/completions"));
    expect(chatGet.status).toBe(405);
    expect(chatGet.headers.get("allow")).toBe("POST");
  });

  test("the bearer scheme is case-insensitive", async () => {
    const response = await app.handle(new Request("http://sluice.test/v1/keys", { headers: { authorization: `bearer ${ADMIN}` } }));
    expect(response.status).toBe(200);
  });

  test("a session request with a control character in the key is a plain 401", async () => {
    const response = await app.handle(new Request("http://sluice.test/v1/auth/session", { method: "POST", body: JSON.stringify({ api_key: "inf_\u0001abc" }) }));
    expect(response.status).toBe(401);
  });

  test("max_tokens at 2^53 - 1 on a key with a budget is a clear 429, not a 500", async () => {
    const response = await chat(valid({ max_tokens: 9007199254740991 }), {}, KEY);
    expect(response.status).toBe(429);
    expect(((await response.json()) as Answer).error.message).toContain("lower max_tokens");
  });

  test("budgets reserve for every choice: n: 10 cannot pass a budget one choice fits", async () => {
    // $0.10 per completion token, max_tokens 1: one choice fits the $0.50 budget, ten do not.
    const one = await chat(valid({ max_tokens: 1 }), {}, KEY);
    expect(one.status).toBe(200);
    const ten = await chat(valid({ max_tokens: 1, n: 10 }), {}, KEY);
    expect(ten.status).toBe(429);
    expect(((await ten.json()) as Answer).error.code).toBe("budget_exceeded");
  });

  test("a GPU-priced stream is cut at max_stream_ms, so a budget reserved for it is never overspent", async () => {
    const gpuKey = "inf_" + "G".repeat(40);
    inProcess.keys.create({ name: "gpu", scopes: ["chat"], budget_usd_daily: 1.2 }, gpuKey);
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await chat(JSON.stringify({ model: "slow", stream: true, messages: [{ role: "user", content: "long" }] }), {}, gpuKey);
      texts.push(await response.text());
    }
    expect(texts[0]).toContain('"code":"stream_too_long"');
    expect(texts.some((text) => text.includes("budget_exceeded"))).toBe(true);
    inProcess.ledger.flush();
    const rows = inProcess.db.query("SELECT status, error_code, cost_micros FROM ledger WHERE model = 'slow'").all() as { status: number; error_code: string; cost_micros: number }[];
    expect(rows[0]).toMatchObject({ status: 422, error_code: "stream_too_long" });
    expect(rows.reduce((sum, row) => sum + row.cost_micros, 0)).toBeLessThanOrEqual(1_200_000);
  });

  test("tpm counts the completion tokens a request may take, so parallel requests cannot all pass", async () => {
    const limited = "inf_" + "T".repeat(40);
    inProcess.keys.create({ name: "tpm", scopes: ["chat"], tpm: 1_000 }, limited);
    const answers = await Promise.all(Array.from({ length: 20 }, () => chat(valid({ max_tokens: 200 }), {}, limited)));
    const admitted = answers.filter((response) => response.status === 200).length;
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(5); // 1,000 tokens / (prompt bound + 200) each
    const refused = answers.find((response) => response.status === 429)!;
    expect(((await refused.json()) as Answer).error.message).toContain("tpm limit of 1000");
  });
});
