// The dashboard's HTTP side against a real gateway process and the scripted engine: the page and its assets, the
// session probe, CSRF on cookie-borne writes, roll-ups that agree with the raw ledger, the request log's cursor
// and filters, secrets masked in the config, a non-admin's narrowed view, and a clear 4xx for every bad parameter.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "E".repeat(20) + "dashboardapiadmin000";
const BACKEND_SECRET = "sk-upstream-secret-0123456789";
const HEADER_SECRET = "hdr-secret-9876543210";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let adminCookie = "";

async function call(method: string, path: string, options: { key?: string; cookie?: string; origin?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin) headers.origin = options.origin;
  const response = await fetch(`${gateway.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> & { data: Record<string, unknown>[] } };
}

async function chat(key: string, model: string, content = "hello dashboard"): Promise<number> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content }] }),
  });
  await response.text();
  return response.status;
}

async function sessionCookie(key: string): Promise<string> {
  const response = await fetch(`${gateway.url}/v1/auth/session`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return response.headers.get("set-cookie")!.split(";")[0]!;
}

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const yaml = configFor(upstream.url, [
    { name: "echo", extra: `pricing: {input_per_mtok: 3, output_per_mtok: 6}\napi_key: ${BACKEND_SECRET}\nheaders: {x-tenant-token: ${HEADER_SECRET}}` },
    { name: "fail-500" },
  ]).replace("  mode: none", "  mode: keys");
  gateway = await spawnGateway(`${yaml}storage: {retention_days: 30}\n`, { env: { SLUICE_ADMIN_KEY: ADMIN } });
  adminCookie = await sessionCookie(ADMIN);
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

describe("page and assets", () => {
  test("GET /ui is the page, its script and stylesheet come from this origin with a strict CSP", async () => {
    const page = await call("GET", "/ui");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const assets = [...page.text.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(2);
    for (const path of assets) {
      const asset = await fetch(`${gateway.url}${path}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("cache-control")).toContain("immutable");
      expect((await asset.text()).length).toBeGreaterThan(1000);
    }
    expect(page.text).not.toContain("http://");
    expect(page.text).not.toContain("https://");
  });

  test("an unknown asset or an old tag is a 404", async () => {
    expect((await call("GET", "/ui/assets/oldtag/app.js")).status).toBe(404);
    const page = await call("GET", "/ui");
    const tag = /\/ui\/assets\/([^/]+)\//.exec(page.text)![1];
    const missing = await call("GET", `/ui/assets/${tag}/nope.js`);
    expect(missing.status).toBe(404);
    expect((missing.json.error as { message: string }).message).toContain("GET /ui");
  });
});

describe("session and CSRF", () => {
  test("the session probe answers 200 signed_in false without credentials, and names the key with them", async () => {
    const anonymous = await call("GET", "/v1/dashboard/session");
    expect(anonymous.status).toBe(200);
    expect(anonymous.json.signed_in).toBe(false);
    const signedIn = await call("GET", "/v1/dashboard/session", { cookie: adminCookie });
    expect(signedIn.json).toMatchObject({ signed_in: true, admin: true, name: "admin (SLUICE_ADMIN_KEY)" });
  });

  test("a write with the session cookie must come from the same origin; a bearer key needs no Origin", async () => {
    const body = { name: "csrf-check" };
    expect((await call("POST", "/v1/keys", { cookie: adminCookie, origin: "https://evil.example", body })).status).toBe(403);
    expect((await call("POST", "/v1/keys", { cookie: adminCookie, body })).status).toBe(403);
    const refused = await call("DELETE", "/v1/dashboard/session", { cookie: adminCookie, origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    expect((refused.json.error as { message: string }).message).toContain("cross-origin");
    expect((await call("POST", "/v1/keys", { cookie: adminCookie, origin: gateway.url, body })).status).toBe(201);
    expect((await call("POST", "/v1/keys", { key: ADMIN, body })).status).toBe(201);
    // Reads need no Origin.
    expect((await call("GET", "/v1/keys", { cookie: adminCookie })).status).toBe(200);
  });

  test("sign-out clears the cookie", async () => {
    const out = await call("DELETE", "/v1/dashboard/session", { cookie: await sessionCookie(ADMIN), origin: gateway.url });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
  });
});

describe("data", () => {
  let user: { id: string; key: string };

  beforeAll(async () => {
    const created = await call("POST", "/v1/keys", { key: ADMIN, body: { name: "dash-user", scopes: ["chat"] } });
    user = created.json as unknown as { id: string; key: string };
    for (let i = 0; i < 5; i++) expect(await chat(user.key, "echo", `question ${i}`)).toBe(200);
    expect(await chat(user.key, "fail-500")).toBe(502);
    expect(await chat(ADMIN, "echo")).toBe(200);
  });

  test("the daily roll-up agrees with the raw ledger (GET /v1/usage) for every model", async () => {
    const fromLedger = await call("GET", "/v1/usage?group_by=model", { key: ADMIN });
    const fromRollup = await call("GET", "/v1/dashboard/usage?group_by=model", { key: ADMIN });
    expect(fromRollup.status).toBe(200);
    const byModel = (report: typeof fromLedger) => Object.fromEntries(report.json.data.map((row) => [row.model as string, row]));
    expect(byModel(fromRollup)).toEqual(byModel(fromLedger));
    expect(fromRollup.json.total).toEqual(fromLedger.json.total);
    expect((fromRollup.json.total as { cost_usd: number }).cost_usd).toBeGreaterThan(0);
  });

  test("the overview counts the same requests in the raw hour and the hourly roll-up, with errors by kind", async () => {
    const hour = await call("GET", "/v1/dashboard/overview?window=hour", { key: ADMIN });
    const day = await call("GET", "/v1/dashboard/overview?window=day", { key: ADMIN });
    const month = await call("GET", "/v1/dashboard/overview?window=month", { key: ADMIN });
    for (const overview of [hour, day, month]) {
      expect(overview.status).toBe(200);
      const totals = overview.json.totals as { requests: number; errors: number };
      expect(totals.requests).toBe(7);
      expect(totals.errors).toBe(1);
      expect((overview.json.errors_by_code as { code: string; requests: number }[])[0]!.requests).toBe(1);
      expect((overview.json.latency_ms as { total: { p50: number | null } }).total.p50).not.toBeNull();
    }
    expect(hour.json.step_ms).toBe(60_000);
    expect((hour.json.spend_today_usd as number) > 0).toBe(true);
  });

  test("the request log pages newest first through every row with a cursor, and filters", async () => {
    const seen: string[] = [];
    let before: string | null = null;
    let previous = Infinity;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call("GET", `/v1/dashboard/requests?limit=2${before ? `&before=${before}` : ""}`, { key: ADMIN });
      expect(page.status).toBe(200);
      for (const row of page.json.data) {
        expect(row.started_at as number).toBeLessThanOrEqual(previous);
        previous = row.started_at as number;
        seen.push(row.request_id as string);
      }
      before = page.json.next_before as string | null;
    } while (before);
    expect(seen.length).toBe(7);
    expect(new Set(seen).size).toBe(7);

    const errors = await call("GET", "/v1/dashboard/requests?status=error", { key: ADMIN });
    expect(errors.json.data.map((r) => r.status)).toEqual([502]);
    const mine = await call("GET", `/v1/dashboard/requests?key_id=${user.id}&model=echo`, { key: ADMIN });
    expect(mine.json.data.length).toBe(5);
    const future = await call("GET", `/v1/dashboard/requests?from=${Date.now() + 60_000}`, { key: ADMIN });
    expect(future.json.data).toEqual([]);
  });

  test("one request's detail, found by id and time; an unknown id is a 404", async () => {
    const [row] = (await call("GET", `/v1/dashboard/requests?key_id=${user.id}&limit=1&status=ok`, { key: ADMIN })).json.data;
    const detail = await call("GET", `/v1/dashboard/requests/${row!.request_id}?at=${row!.started_at}`, { key: ADMIN });
    expect(detail.status).toBe(200);
    expect(detail.json).toMatchObject({ object: "dashboard.request", request_id: row!.request_id, key_id: user.id, backend: "echo" });
    const timings = detail.json.timings as Record<string, number | null>;
    expect(timings.total_ms).toBeGreaterThan(0);
    expect(timings.gateway_ms).toBeGreaterThanOrEqual(0);
    const noHint = await call("GET", `/v1/dashboard/requests/${row!.request_id}`, { key: ADMIN });
    expect(noHint.json.request_id).toBe(row!.request_id);
    expect((await call("GET", "/v1/dashboard/requests/not-a-request", { key: ADMIN })).status).toBe(404);
  });

  test("a non-admin key sees only its own rows; admin pages and other keys' rows are refused", async () => {
    const cookie = await sessionCookie(user.key);
    const requests = await call("GET", "/v1/dashboard/requests", { cookie });
    expect(requests.json.data.length).toBe(6);
    expect(requests.json.data.every((r) => r.key_id === user.id)).toBe(true);
    const overview = await call("GET", "/v1/dashboard/overview", { cookie });
    expect((overview.json.totals as { requests: number }).requests).toBe(6);
    const usage = await call("GET", "/v1/dashboard/usage?group_by=key", { cookie });
    expect(usage.json.data.map((r) => r.key_id)).toEqual([user.id]);
    const keys = await call("GET", "/v1/dashboard/keys", { cookie });
    expect(keys.json.data.map((k) => k.id)).toEqual([user.id]);
    expect((keys.json.data[0]!.use as { spend_today_usd: number }).spend_today_usd).toBeGreaterThan(0);
    expect(keys.json.data[0]!.key).toBeUndefined();
    const adminRow = (await call("GET", "/v1/dashboard/requests?limit=1", { key: ADMIN })).json.data.find((r) => r.key_id !== user.id);
    if (adminRow) expect((await call("GET", `/v1/dashboard/requests/${adminRow.request_id}`, { cookie })).status).toBe(404);
    for (const path of ["/v1/dashboard/backends", "/v1/dashboard/config", `/v1/dashboard/requests?key_id=other`, `/v1/dashboard/usage?key_id=other`]) {
      expect((await call("GET", path, { cookie })).status).toBe(403);
    }
    expect((await call("GET", "/v1/dashboard/overview")).status).toBe(401);
  });

  test("backends show health, breaker and routing use; the config masks secrets", async () => {
    const backends = await call("GET", "/v1/dashboard/backends", { key: ADMIN });
    const echo = backends.json.data.find((b) => b.name === "echo")!;
    expect(echo).toMatchObject({ health: "ready", breaker: "closed", in_flight: 0 });
    expect(echo.ttft_ewma_ms).not.toBeNull();
    const config = await call("GET", "/v1/dashboard/config", { key: ADMIN });
    expect(config.status).toBe(200);
    expect(config.text).not.toContain(BACKEND_SECRET);
    expect(config.text).not.toContain(HEADER_SECRET);
    const backend = (config.json.config as { backends: { name: string; api_key: string; headers: Record<string, string> }[] }).backends.find((b) => b.name === "echo")!;
    expect(backend.api_key).toBe("••••••");
    expect(backend.headers["x-tenant-token"]).toBe("••••••");
    expect((config.json.config as { storage: { retention_days: number } }).storage.retention_days).toBe(30);
  });

  test("CSV export of the roll-up", async () => {
    const csv = await call("GET", "/v1/dashboard/usage?group_by=day&format=csv", { key: ADMIN });
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = csv.text.trim().split("\r\n");
    expect(lines[0]).toBe("day,requests,prompt_tokens,completion_tokens,cost_usd");
    expect(lines[lines.length - 1]).toStartWith(new Date().toISOString().slice(0, 10));
  });

  test("bad parameters are a 400 that names the parameter", async () => {
    const cases: [string, string][] = [
      ["/v1/dashboard/overview?window=week", "window"],
      ["/v1/dashboard/usage?group_by=backend", "group_by"],
      ["/v1/dashboard/usage?from=yesterday", "from"],
      ["/v1/dashboard/usage?from=2026-02-01&to=2026-01-01", "from"],
      ["/v1/dashboard/usage?format=xml", "format"],
      ["/v1/dashboard/requests?limit=0", "limit"],
      ["/v1/dashboard/requests?limit=5000", "limit"],
      ["/v1/dashboard/requests?status=bad", "status"],
      ["/v1/dashboard/requests?before=abc", "before"],
      ["/v1/dashboard/requests?from=noon", "from"],
      ["/v1/dashboard/requests/x?at=soon", "at"],
    ];
    for (const [path, param] of cases) {
      const response = await call("GET", path, { key: ADMIN });
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
      expect((response.json.error as { param: string }).param).toBe(param);
    }
  });
});

test("the dashboard endpoints are in the OpenAPI document", async () => {
  const doc = (await call("GET", "/openapi.json")).json as unknown as { paths: Record<string, unknown> };
  for (const path of ["/ui", "/v1/dashboard/session", "/v1/dashboard/overview", "/v1/dashboard/usage", "/v1/dashboard/requests", "/v1/dashboard/requests/{request_id}", "/v1/dashboard/keys", "/v1/dashboard/backends", "/v1/dashboard/config"]) {
    expect(doc.paths[path]).toBeDefined();
  }
});

test("the compiled binary, alone in an empty folder, serves the same dashboard bundle", async () => {
  const root = resolve(import.meta.dir, "../..");
  const out = mkdtempSync(join(tmpdir(), "sluice-dashboard-bin-"));
  try {
    const build = Bun.spawnSync([process.execPath, "build", "--compile", "src/cli.ts", "src/detectors/spellcheck-worker.ts", "--outfile", join(out, "sluice")], { cwd: root, stderr: "pipe" });
    expect(build.exitCode).toBe(0);
    const binary = await spawnGateway(configFor(upstream.url, [{ name: "echo" }]), { command: [join(out, "sluice")] });
    try {
      const page = await (await fetch(`${binary.url}/ui`)).text();
      const fromSource = (await call("GET", "/ui")).text;
      // Same content, same tag: the macro ran at build time and embedded the bundle that the source serves.
      expect(page).toBe(fromSource);
      for (const [, path] of page.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)) {
        const asset = await fetch(`${binary.url}${path}`);
        expect(asset.status).toBe(200);
        expect(await asset.text()).toBe(await (await fetch(`${gateway.url}${path}`)).text());
      }
    } finally {
      await binary.stop();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
