// Accounts and credits through the real gateway process (seed 003): deposits and deductions that match the
// ledger, 402 when the balance is spent, no negative balance under 50 concurrent requests from several keys,
// 403 for revoked keys and deactivated accounts, the open model list, seed 003's key body and base URL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "C".repeat(20) + "adminadminadminadmin";
const BASE_PATH = "/api/v1/inference";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;

const backends = [
  { name: "echo", extra: "pricing: {input_per_mtok: 1000000, output_per_mtok: 1000000}" }, // $1 per token: credits run out fast
  { name: "Qwen/Qwen3-14B", model: "echo" },
  { name: "fail-500", extra: "pricing: {input_per_mtok: 1000000, output_per_mtok: 1000000}" },
];

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(configFor(upstream.url, backends, `  base_path: ${BASE_PATH}`).replace("  mode: none", "  mode: keys"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

async function api(method: string, path: string, key: string | undefined, body?: unknown): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function created<T>(response: Response): Promise<T> {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status: 201 });
  return JSON.parse(text) as T;
}

interface Account {
  id: string;
  balance_usd: number;
  reserved_usd: number;
  available_usd: number;
  status: string;
}

const newAccount = async (body: Record<string, unknown>) => created<Account>(await api("POST", "/v1/accounts", ADMIN, body));
const newKey = async (body: Record<string, unknown>) => created<{ id: string; key: string; routing: unknown; model_pool: unknown; optimize_mode: unknown }>(await api("POST", "/v1/keys", ADMIN, body));

function chat(key: string, model = "echo", maxTokens = 4) {
  return api("POST", "/v1/chat/completions", key, { model, max_tokens: maxTokens, messages: [{ role: "user", content: "spend" }] });
}

function ledgerCosts(keyIds: string[]): Map<string, number> {
  const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
  const rows = db.query(`SELECT request_id, cost_micros FROM ledger WHERE key_id IN (${keyIds.map(() => "?").join(",")})`).all(...keyIds) as { request_id: string; cost_micros: number }[];
  db.close();
  return new Map(rows.map((row) => [row.request_id, row.cost_micros]));
}

async function transactions(accountId: string, query = "") {
  const response = await api("GET", `/v1/credits/transactions?account_id=${accountId}&limit=500${query}`, ADMIN);
  expect(response.status).toBe(200);
  return (await response.json()) as { data: { id: string; kind: string; amount_usd: number; request_id: string | null; note: string | null; requests?: number }[]; has_more: boolean; next_cursor?: string };
}

describe("accounts API", () => {
  test("create, read, list, update and deactivate; bad input is a 400, unknown ids a 404", async () => {
    const account = await newAccount({ name: "team-a", initial_credits_usd: 12.5, budget_usd_monthly: 100 });
    expect(account).toMatchObject({ object: "account", name: "team-a", status: "active", balance_usd: 12.5, reserved_usd: 0, available_usd: 12.5, budget_usd_monthly: 100 });
    expect(account.id).toMatch(/^acct_/);
    expect(((await (await api("GET", "/v1/accounts", ADMIN)).json()) as { data: { id: string }[] }).data.map((a) => a.id)).toContain(account.id);
    const patched = (await (await api("PATCH", `/v1/accounts/${account.id}`, ADMIN, { name: "team-a2", allowed_models: ["echo"] })).json()) as Account & { name: string };
    expect(patched).toMatchObject({ name: "team-a2", balance_usd: 12.5 });
    const deleted = (await (await api("DELETE", `/v1/accounts/${account.id}`, ADMIN)).json()) as Account & { deleted: boolean };
    expect(deleted).toMatchObject({ status: "deactivated", deleted: true });
    expect((await api("GET", "/v1/accounts/acct_nope", ADMIN)).status).toBe(404);
    expect((await api("POST", "/v1/accounts", ADMIN, { name: "" })).status).toBe(400);
    expect((await api("POST", "/v1/accounts", ADMIN, { name: "x", colour: "red" })).status).toBe(400);
    expect((await api("POST", `/v1/accounts/${account.id}/credits`, ADMIN, { amount_usd: 0 })).status).toBe(400);
    expect((await api("POST", `/v1/accounts/${account.id}/credits`, ADMIN, { amount_usd: -100 })).status).toBe(400); // below zero
    expect((await api("POST", "/v1/accounts", undefined, { name: "anon" })).status).toBe(401);
    const plain = await newKey({ name: "not-admin" });
    expect((await api("GET", "/v1/accounts", plain.key)).status).toBe(403);
  });

  test("deposits and adjustments are transactions with the balance after them", async () => {
    const account = await newAccount({ name: "ledgered" });
    const deposit = (await created<{ kind: string; amount_usd: number; balance_usd: number; note: string; account: Account }>(await api("POST", `/v1/accounts/${account.id}/credits`, ADMIN, { amount_usd: 10, note: "invoice 17" })));
    expect(deposit).toMatchObject({ kind: "deposit", amount_usd: 10, balance_usd: 10, note: "invoice 17" });
    const adjustment = await created<{ kind: string; balance_usd: number }>(await api("POST", `/v1/accounts/${account.id}/credits`, ADMIN, { amount_usd: -2.5, note: "refund reversal" }));
    expect(adjustment).toMatchObject({ kind: "adjustment", balance_usd: 7.5 });
    const list = await transactions(account.id);
    expect(list.data.map((t) => [t.kind, t.amount_usd])).toEqual([["adjustment", -2.5], ["deposit", 10]]);
  });
});

describe("credits", () => {
  test("each request's deduction equals its ledger cost; GET /v1/credits is the key's account", async () => {
    const account = await newAccount({ name: "metered", initial_credits_usd: 1000 });
    const key = await newKey({ name: "metered-key", account_id: account.id });
    const client = new OpenAI({ apiKey: key.key, baseURL: `${gateway.url}/v1` });
    const buffered = await client.chat.completions.create({ model: "echo", max_tokens: 4, messages: [{ role: "user", content: "one two three" }] });
    expect(buffered.choices[0]!.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({ model: "echo", max_tokens: 4, stream: true, messages: [{ role: "user", content: "four five" }] });
    for await (const _ of stream) void _;
    await chat(key.key, "fail-500"); // billed as the ledger bills it (the prompt reached the engine)

    const costs = await eventually(() => {
      const map = ledgerCosts([key.id]);
      return map.size === 3 ? map : undefined;
    });
    const spentMicros = [...costs.values()].reduce((a, b) => a + b, 0);
    expect(spentMicros).toBeGreaterThan(0);
    const list = await transactions(account.id);
    const deductions = list.data.filter((t) => t.kind === "deduction");
    expect(deductions.length).toBe([...costs.values()].filter((micros) => micros > 0).length);
    for (const deduction of deductions) expect(Math.round(-deduction.amount_usd * 1e6)).toBe(costs.get(deduction.request_id!)!);

    const balance = (await (await api("GET", "/v1/credits", key.key)).json()) as { object: string; account_id: string; balance_usd: number; reserved_usd: number; available_usd: number };
    expect(balance).toMatchObject({ object: "credit_balance", account_id: account.id, reserved_usd: 0 });
    expect(Math.round(balance.balance_usd * 1e6)).toBe(1000 * 1e6 - spentMicros);
    expect(balance.available_usd).toBe(balance.balance_usd);

    // The key's own transactions, paged one at a time, and rolled up per hour.
    const first = (await (await api("GET", "/v1/credits/transactions?limit=1", key.key)).json()) as { data: { id: string }[]; has_more: boolean; next_cursor: string };
    expect(first.data.length).toBe(1);
    expect(first.has_more).toBe(true);
    const second = (await (await api("GET", `/v1/credits/transactions?limit=1&starting_after=${first.next_cursor}`, key.key)).json()) as { data: { id: string }[] };
    expect(second.data[0]!.id).not.toBe(first.data[0]!.id);
    const hourly = await transactions(account.id, "&group=hour");
    const rolled = hourly.data.filter((t) => t.kind === "deduction");
    expect(rolled.reduce((sum, t) => sum + (t.requests ?? 0), 0)).toBe(deductions.length);
    expect(Math.round(-rolled.reduce((sum, t) => sum + t.amount_usd, 0) * 1e6)).toBe(spentMicros);

    // Only an admin reads another account; a key without an account has no credits.
    const other = await newAccount({ name: "other" });
    expect((await api("GET", `/v1/credits?account_id=${other.id}`, key.key)).status).toBe(403);
    expect((await api("GET", `/v1/credits?account_id=${other.id}`, ADMIN)).status).toBe(200);
    expect((await api("GET", "/v1/credits", (await newKey({ name: "no-account" })).key)).status).toBe(404);
    expect((await api("GET", "/v1/credits/transactions?limit=0", key.key)).status).toBe(400);
  });

  test("embeddings reserve and deduct the same way", async () => {
    const account = await newAccount({ name: "embedder", initial_credits_usd: 1000 });
    const key = await newKey({ name: "embed-key", account_id: account.id });
    const client = new OpenAI({ apiKey: key.key, baseURL: `${gateway.url}/v1` });
    const result = await client.embeddings.create({ model: "echo", input: ["one two", "three"] });
    expect(result.data.length).toBe(2);
    const costs = await eventually(() => {
      const map = ledgerCosts([key.id]);
      return map.size === 1 ? map : undefined;
    });
    const [requestId, micros] = [...costs.entries()][0]!;
    expect(micros).toBeGreaterThan(0);
    const deduction = (await transactions(account.id)).data.find((t) => t.kind === "deduction")!;
    expect(deduction.request_id).toBe(requestId);
    expect(Math.round(-deduction.amount_usd * 1e6)).toBe(micros);
  });

  test("402 insufficient_credits when the balance cannot cover the worst case, saying the balance and the reservation", async () => {
    const account = await newAccount({ name: "poor", initial_credits_usd: 5 });
    const key = await newKey({ name: "poor-key", account_id: account.id });
    const client = new OpenAI({ apiKey: key.key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const refusal = await client.chat.completions.create({ model: "echo", max_tokens: 4, messages: [{ role: "user", content: "spend" }] }).catch((error: unknown) => error as { status: number; code: string; message: string });
    expect(refusal).toMatchObject({ status: 402, code: "insufficient_credits" });
    expect((refusal as { message: string }).message).toContain("$5.000000 of credit");
    expect((refusal as { message: string }).message).toContain("may cost up to $");
    // A top-up lets it through.
    await created(await api("POST", `/v1/accounts/${account.id}/credits`, ADMIN, { amount_usd: 100 }));
    expect((await chat(key.key)).status).toBe(200);
  });

  test("50 concurrent requests on one account across three keys never take the balance below zero", async () => {
    const account = await newAccount({ name: "crowd", initial_credits_usd: 150 });
    const keys = await Promise.all([1, 2, 3].map((i) => newKey({ name: `crowd-${i}`, account_id: account.id })));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(keys[i % 3]!.key)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 402).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 402)).toBe(true);
    await Promise.all(results.map((r) => r.text()));

    const ok = statuses.filter((s) => s === 200).length;
    const costs = await eventually(() => {
      const map = ledgerCosts(keys.map((k) => k.id));
      return map.size === 50 ? map : undefined;
    });
    const spentMicros = [...costs.values()].reduce((a, b) => a + b, 0);
    const after = (await (await api("GET", `/v1/accounts/${account.id}`, ADMIN)).json()) as Account;
    expect(after.balance_usd).toBeGreaterThanOrEqual(0);
    expect(after.reserved_usd).toBe(0);
    expect(Math.round(after.balance_usd * 1e6)).toBe(150 * 1e6 - spentMicros);
    const deductions = (await transactions(account.id)).data.filter((t) => t.kind === "deduction");
    expect(deductions.length).toBe(ok);
    expect(deductions.every((t) => t.note === null)).toBe(true); // every cost was covered in full
  });
});

describe("statuses (seed 003)", () => {
  test("401 unknown key, 403 key_revoked, 403 account_inactive until reactivated", async () => {
    expect((await chat("inf_" + "x".repeat(40))).status).toBe(401);
    const account = await newAccount({ name: "switchable", initial_credits_usd: 100 });
    const key = await newKey({ name: "switchable-key", account_id: account.id });
    expect((await chat(key.key)).status).toBe(200);

    await api("PATCH", `/v1/accounts/${account.id}`, ADMIN, { status: "deactivated" });
    const inactive = await chat(key.key);
    expect(inactive.status).toBe(403);
    expect(((await inactive.json()) as { error: { code: string } }).error.code).toBe("account_inactive");
    await api("PATCH", `/v1/accounts/${account.id}`, ADMIN, { status: "active" });
    expect((await chat(key.key)).status).toBe(200);

    await api("DELETE", `/v1/keys/${key.id}`, ADMIN);
    const revoked = await chat(key.key);
    expect(revoked.status).toBe(403);
    const error = ((await revoked.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("key_revoked");
    expect(error.message).not.toContain(key.key);
  });

  test("an account's allowed models and routing defaults apply to its keys", async () => {
    const account = await newAccount({ name: "narrow", initial_credits_usd: 100, allowed_models: ["echo"] });
    const key = await newKey({ name: "narrow-key", account_id: account.id });
    expect((await chat(key.key, "echo")).status).toBe(200);
    expect((await chat(key.key, "Qwen/Qwen3-14B")).status).toBe(403);
    const models = (await (await api("GET", "/v1/models", key.key)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(["echo"]);
  });
});

describe("sluice accounts (CLI on the gateway's store)", () => {
  const cli = (...args: string[]) => {
    const result = Bun.spawnSync([process.execPath, resolve(import.meta.dir, "../../src/cli.ts"), ...args, "--config", gateway.configPath, "--data-dir", join(gateway.dir, "data")]);
    return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  };

  test("create, credit and deactivate take effect in the running gateway", async () => {
    const made = cli("accounts", "create", "--name", "from-cli", "--credits", "2");
    expect(made.code).toBe(0);
    const account = JSON.parse(made.stdout) as Account;
    expect(account.balance_usd).toBe(2);
    const key = JSON.parse(cli("keys", "create", "--name", "cli-account-key", "--account", account.id).stdout) as { key: string; account_id: string };
    expect(key.account_id).toBe(account.id);
    expect((await chat(key.key)).status).toBe(402); // $2 cannot cover the worst case
    expect(cli("accounts", "credit", account.id, "--amount", "100", "--note", "top-up").code).toBe(0);
    expect((await chat(key.key)).status).toBe(200); // the balance is read from the store, so at once
    expect(cli("accounts", "credit", account.id, "--amount=-1000").stderr).toContain("at most");
    expect(cli("accounts", "list").stdout).toContain(account.id);
    expect(cli("accounts", "deactivate", account.id).code).toBe(0);
    await eventually(async () => ((await chat(key.key)).status === 403 ? true : undefined));
    expect(cli("accounts", "show", "acct_nope").code).not.toBe(0);
    expect(cli("keys", "create", "--name", "x", "--account", "acct_nope").stderr).toContain("no account");
  });
});

describe("keys in seed 003's shape", () => {
  test("POST /v1/keys accepts {name, model_pool, optimize_mode}; GET returns both spellings", async () => {
    const key = await newKey({ name: "Production", model_pool: ["Qwen/Qwen3-14B", "echo"], optimize_mode: "balanced" });
    expect(key.routing).toEqual({ model_pool: ["Qwen/Qwen3-14B", "echo"], optimize: "balanced" });
    expect(key).toMatchObject({ model_pool: ["Qwen/Qwen3-14B", "echo"], optimize_mode: "balanced" });
    const patched = (await (await api("PATCH", `/v1/keys/${key.id}`, ADMIN, { optimize_mode: "cheapest" })).json()) as { routing: unknown; optimize_mode: string };
    expect(patched.routing).toEqual({ model_pool: ["Qwen/Qwen3-14B", "echo"], optimize: "cost" });
    expect(patched.optimize_mode).toBe("cost");
    const listed = ((await (await api("GET", "/v1/keys", ADMIN)).json()) as { data: { id: string; model_pool: unknown; routing: unknown }[] }).data.find((k) => k.id === key.id)!;
    expect(listed.model_pool).toEqual(["Qwen/Qwen3-14B", "echo"]);
    expect((await api("POST", "/v1/keys", ADMIN, { name: "bad", optimize_mode: "fastest-ever" })).status).toBe(400);
    expect((await api("POST", "/v1/keys", ADMIN, { name: "bad", account_id: "acct_missing" })).status).toBe(400);
  });
});

describe("open model list and base path", () => {
  test("GET /v1/models, /v1/models/{id} and its health answer without a key; a bad key is still 401", async () => {
    const list = await api("GET", "/v1/models", undefined);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(expect.arrayContaining(["echo", "Qwen/Qwen3-14B"]));
    expect((await api("GET", "/v1/models/Qwen/Qwen3-14B", undefined)).status).toBe(200);
    const health = await api("GET", "/v1/models/Qwen%2FQwen3-14B/health", undefined);
    expect(health.status).toBe(200);
    expect((await health.json()) as unknown).toMatchObject({ model: "Qwen/Qwen3-14B" });
    expect((await api("GET", "/v1/models", "inf_" + "y".repeat(40))).status).toBe(401);
    expect((await api("GET", "/v1/keys", undefined)).status).toBe(401);
  });

  test("server.base_path serves the API under seed 003's base URL, through the openai SDK too", async () => {
    const key = await newKey({ name: "base-path" });
    const client = new OpenAI({ apiKey: key.key, baseURL: `${gateway.url}${BASE_PATH}` });
    const answer = await client.chat.completions.create({ model: "Qwen/Qwen3-14B", messages: [{ role: "user", content: "Hello!" }] });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "Hello there" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toContain("Hello");
    expect((await client.models.list()).data.map((m) => m.id)).toContain("echo");
    expect((await fetch(`${gateway.url}${BASE_PATH}/models/echo/health`)).status).toBe(200);
    expect((await fetch(`${gateway.url}${BASE_PATH}/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    expect((await fetch(`${gateway.url}${BASE_PATH}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/api/v1/inferencex/models`)).status).toBe(404);
  });

  test("auth.public_models: false asks for a key again", async () => {
    const closed = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys\n  public_models: false"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
    try {
      expect((await fetch(`${closed.url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${closed.url}/v1/models/echo/health`)).status).toBe(401);
      expect((await fetch(`${closed.url}/v1/models`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    } finally {
      await closed.stop();
    }
  });
});
