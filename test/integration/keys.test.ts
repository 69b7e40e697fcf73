// API keys, sessions, scopes, model and IP allow-lists, through the real gateway with auth.mode: keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "A".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;

const keysConfig = (url: string) =>
  configFor(url, [{ name: "echo" }, { name: "deepseek-eu", model: "echo", public: true }, { name: "Qwen/Qwen3-14B" }]).replace("  mode: none", "  mode: keys");

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(keysConfig(upstream.url), { env: { SLUICE_ADMIN_KEY: ADMIN } });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

interface KeyObject {
  id: string;
  key?: string;
  prefix: string;
  scopes: string[];
  revoked_at: number | null;
}

async function api(method: string, path: string, key: string | undefined, body?: unknown) {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

async function createKey(settings: Record<string, unknown>): Promise<KeyObject & { key: string }> {
  const { status, json } = await api("POST", "/v1/keys", ADMIN, settings);
  expect(status).toBe(201);
  return json;
}

const client = (key: string) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key, maxRetries: 0 });

describe("keys", () => {
  test("a new key is inf_ + base62, shown once, stored only as a hash", async () => {
    const created = await createKey({ name: "app" });
    expect(created.key).toMatch(/^inf_[0-9A-Za-z]{32,}$/);
    expect(created.prefix).toBe(created.key.slice(0, 12));
    expect(created.scopes).toEqual(["chat", "embeddings", "models"]);
    const listed = await api("GET", "/v1/keys", ADMIN);
    const mine = listed.json.data.find((k: KeyObject) => k.id === created.id);
    expect(mine).toBeDefined();
    expect(mine.key).toBeUndefined();
    expect((await api("GET", `/v1/keys/${created.id}`, ADMIN)).json.key).toBeUndefined();
    // The database file never holds the secret.
    const dbFile = readFileSync(join(gateway.dir, "data", "sluice.db")).toString("latin1") + readFileSync(join(gateway.dir, "data", "sluice.db-wal")).toString("latin1");
    expect(dbFile.includes(created.key)).toBe(false);
    expect(dbFile.includes(created.prefix)).toBe(true);
    // And it works.
    const answer = await client(created.key).chat.completions.create({ model: "echo", messages: [{ role: "user", content: "hi" }] });
    expect(answer.choices[0]!.message.content).toBe("echo: hi");
  });

  test("401 for missing, unknown and expired keys, 403 key_revoked for revoked ones (seed 003), never echoing the key", async () => {
    expect((await api("GET", "/v1/keys", undefined)).status).toBe(401); // the model list itself is open (seed 003)
    const unknown = "inf_" + "Z".repeat(40);
    const refused = await api("GET", "/v1/models", unknown);
    expect(refused.status).toBe(401);
    expect(JSON.stringify(refused.json)).not.toContain(unknown);
    expect(refused.json.error.type).toBe("authentication_error");

    const doomed = await createKey({ name: "doomed" });
    expect((await api("GET", "/v1/models", doomed.key)).status).toBe(200);
    const revoked = await api("DELETE", `/v1/keys/${doomed.id}`, ADMIN);
    expect(revoked.json.revoked_at).toBeGreaterThan(0);
    const after = await api("GET", "/v1/models", doomed.key);
    expect(after.status).toBe(403);
    expect(after.json.error.code).toBe("key_revoked");
    expect(after.json.error.message).toContain("revoked");
    expect(JSON.stringify(after.json)).not.toContain(doomed.key);

    const soon = await createKey({ name: "short-lived", expires_at: Math.floor(Date.now() / 1000) + 1 });
    expect((await api("GET", "/v1/models", soon.key)).status).toBe(200);
    const expired = await eventually(async () => {
      const r = await api("GET", "/v1/models", soon.key);
      return r.status === 401 ? r : undefined;
    }, 4000);
    expect(expired.json.error.message).toContain("expired");
  });

  test("403 for a missing scope; admin routes need admin", async () => {
    const chatOnly = await createKey({ name: "chat-only", scopes: ["chat"] });
    expect((await api("GET", "/v1/models", chatOnly.key)).status).toBe(403);
    expect((await api("POST", "/v1/embeddings", chatOnly.key, { model: "echo", input: "x" })).status).toBe(403);
    const forbidden = await api("GET", "/v1/keys", chatOnly.key);
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.error.message).toContain("'admin' scope");
    expect((await api("POST", "/v1/chat/completions", chatOnly.key, { model: "echo", messages: [{ role: "user", content: "x" }] })).status).toBe(200);
  });

  test("allowed_models filters /v1/models and refuses other models with 403", async () => {
    const publicOnly = await createKey({ name: "public-only", allowed_models: ["public:*", "Qwen/*"] });
    const models = await client(publicOnly.key).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["public:deepseek-eu", "Qwen/Qwen3-14B"]);
    const refused = await api("POST", "/v1/chat/completions", publicOnly.key, { model: "echo", messages: [{ role: "user", content: "x" }] });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toContain("'echo'");
    expect((await api("GET", "/v1/models/echo", publicOnly.key)).status).toBe(403);
    const allowed = await client(publicOnly.key).chat.completions.create({ model: "public:deepseek-eu", messages: [{ role: "user", content: "x" }] });
    expect(allowed.choices[0]!.message.content).toBe("echo: x");
  });

  test("allowed_ips: a client outside the list gets 403, inside it passes", async () => {
    const elsewhere = await createKey({ name: "office", allowed_ips: ["10.0.0.0/8", "2001:db8::/32"] });
    const refused = await api("GET", "/v1/models", elsewhere.key);
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toContain("allowed_ips");
    const local = await createKey({ name: "local", allowed_ips: ["127.0.0.0/8", "::1"] });
    expect((await api("GET", "/v1/models", local.key)).status).toBe(200);
    expect((await api("POST", "/v1/keys", ADMIN, { name: "bad", allowed_ips: ["not-an-ip"] })).status).toBe(400);
  });

  test("PATCH changes a key; bad fields are 400s naming the field; unknown ids 404", async () => {
    const key = await createKey({ name: "patchable" });
    const patched = await api("PATCH", `/v1/keys/${key.id}`, ADMIN, { name: "renamed", rpm: 100, routing: { optimize: "cost" } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: "renamed", rpm: 100, routing: { optimize: "cost" } });
    const bad = await api("PATCH", `/v1/keys/${key.id}`, ADMIN, { scopes: ["root"] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toStartWith("scopes[0]");
    expect((await api("PATCH", `/v1/keys/${key.id}`, ADMIN, { colour: "blue" })).status).toBe(400);
    expect((await api("GET", "/v1/keys/key_nope", ADMIN)).status).toBe(404);
    expect((await api("POST", "/v1/keys", ADMIN, {})).status).toBe(400);
  });

  test("browser sessions: a key becomes an HttpOnly cookie that authorises like the key", async () => {
    const key = await createKey({ name: "browser", allowed_models: ["echo"] });
    const session = await fetch(`${gateway.url}/v1/auth/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: key.key }) });
    expect(session.status).toBe(200);
    const cookie = session.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    const token = cookie.split(";")[0]!;
    expect(token.split(".")).toHaveLength(3); // a JWT
    const models = await fetch(`${gateway.url}/v1/models`, { headers: { cookie: token } });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(["echo"]);
    const tampered = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { cookie: tampered } })).status).toBe(401);
    // Revoking the key ends its sessions (403 key_revoked, as for the key itself).
    await api("DELETE", `/v1/keys/${key.id}`, ADMIN);
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { cookie: token } })).status).toBe(403);
    // Bearer header works too; a bad key gets no cookie.
    const viaHeader = await fetch(`${gateway.url}/v1/auth/session`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(viaHeader.status).toBe(200);
    const refused = await fetch(`${gateway.url}/v1/auth/session`, { method: "POST", headers: { authorization: "Bearer inf_nope" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("set-cookie")).toBeNull();
  });

  test("public routes need no key", async () => {
    for (const path of ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"]) expect((await fetch(`${gateway.url}${path}`)).status).toBe(200);
  });
});

describe("sluice keys (CLI) on the running gateway's store", () => {
  const cli = (...args: string[]) => {
    const result = Bun.spawnSync([process.execPath, resolve(import.meta.dir, "../../src/cli.ts"), "keys", ...args, "--config", gateway.configPath, "--data-dir", join(gateway.dir, "data")]);
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };

  test("create, list and revoke take effect in the running gateway", async () => {
    const created = cli("create", "--name", "from-cli", "--scopes", "chat,models", "--rpm", "50");
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as KeyObject & { key: string; rpm: number };
    expect(key.rpm).toBe(50);
    expect((await api("GET", "/v1/models", key.key)).status).toBe(200);
    expect(cli("list").stdout).toContain(key.id);
    expect(cli("revoke", key.id).code).toBe(0);
    await eventually(async () => ((await api("GET", "/v1/models", key.key)).status === 403 ? true : undefined));
    expect(cli("list").stdout).toMatch(new RegExp(`${key.id}.*revoked`));
    expect(cli("create").code).not.toBe(0);
    expect(cli("create", "--name", "x", "--scopes", "root").stderr).toContain("unknown scope");
  });
});

describe("server.metrics_auth", () => {
  test("puts /metrics behind the admin scope", async () => {
    const guarded = await spawnGateway(keysConfig(upstream.url).replace("  port: 0", "  port: 0\n  metrics_auth: true"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("sluice_requests_total");
    } finally {
      await guarded.stop();
    }
  });
});

describe("auth.mode none", () => {
  test("is refused on a non-loopback address with a message saying why", async () => {
    const config = configFor(upstream.url, [{ name: "echo" }]).replace("host: 127.0.0.1", "host: 0.0.0.0");
    await expect(spawnGateway(config)).rejects.toThrow(/auth.mode is none/);
  });
});
