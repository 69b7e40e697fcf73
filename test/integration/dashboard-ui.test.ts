// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real gateway process and
// the scripted engine: sign-in, a key's life from creation to revocation, its traffic on Requests and Usage, a
// non-admin's narrowed view, keyboard navigation, and no console errors on any page. Screenshots are kept under
// test/artifacts/dashboard/ (ignored by git) for a person to look at.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dir, "../artifacts/dashboard");
const ADMIN = "inf_" + "D".repeat(20) + "dashboardadminkey000";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let browser: Browser;
let admin: { context: BrowserContext; page: Page };
const consoleErrors: string[] = [];

async function adminApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function chat(secret: string, text: string): Promise<string> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: text }] }),
  });
  expect(response.status).toBe(200);
  await response.text();
  return response.headers.get("x-request-id")!;
}

async function openPage(label: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${label}: ${message.text()}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`${label}: ${error.message}`));
  return { context, page };
}

async function signIn(page: Page, secret: string): Promise<void> {
  await page.goto(`${gateway.url}/ui`);
  await page.fill("#api_key", secret);
  await page.click("button[type=submit]");
  await page.waitForSelector("h1:has-text('Overview')");
}

async function goTo(page: Page, name: string, heading = name): Promise<void> {
  await page.click(`nav a:has-text("${name}")`);
  await page.waitForSelector(`h1:has-text("${heading}")`);
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)("dashboard in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    upstream = await spawnScriptedUpstream();
    const yaml = configFor(upstream.url, [{ name: "echo", extra: "pricing: {input_per_mtok: 2, output_per_mtok: 4}" }, { name: "fail-500" }]).replace("  mode: none", "  mode: keys");
    gateway = await spawnGateway(`${yaml}balancers:\n  - name: router-prod\n    strategy: round_robin\n    routes:\n      - targets: [echo]\n`, { env: { SLUICE_ADMIN_KEY: ADMIN } });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    admin = await openPage("admin");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await upstream?.stop();
  });

  let created = { id: "", secret: "" };

  test("an admin signs in, creates a key and sees its secret once", async () => {
    const { page } = admin;
    await signIn(page, ADMIN);
    await goTo(page, "Keys");
    await page.click("button:has-text('New key')");
    await page.fill("form.key-form input[name=name]", "ui-created");
    await page.fill("form.key-form input[name=rpm]", "600");
    await page.fill("form.key-form input[name=budget_usd_daily]", "5");
    await page.click("form.key-form button:has-text('Create key')");
    const secret = (await page.textContent("[data-testid=new-secret]", { timeout: 10_000 }))!.trim();
    expect(secret).toMatch(/^inf_[0-9A-Za-z]{32,}$/);
    const row = page.locator("tr[data-key]", { hasText: "ui-created" });
    await row.waitFor();
    created = { id: (await row.getAttribute("data-key"))!, secret };
    expect(await row.textContent()).toContain("600 rpm");
    await shot(page, "keys-secret-once");

    await page.click("button:has-text('I have saved it')");
    await page.reload();
    await page.waitForSelector("h1:has-text('Keys')");
    await page.locator("tr[data-key]", { hasText: "ui-created" }).waitFor();
    expect(await page.content()).not.toContain(secret);
  }, 60_000);

  test("an admin edits a key's limits", async () => {
    const { page } = admin;
    const row = page.locator(`tr[data-key="${created.id}"]`);
    await row.locator("button:has-text('Edit')").click();
    await page.fill("form.key-form input[name=tpm]", "90000");
    await page.selectOption("form.key-form select[name=optimize]", "cost");
    await page.click("form.key-form button:has-text('Save')");
    await page.waitForSelector("form.key-form", { state: "detached" });
    await page.locator(`tr[data-key="${created.id}"]`, { hasText: "90000 tpm" }).waitFor(); // the list reloads after the save
    await row.locator("button:has-text('Burn-down')").click();
    await page.waitForSelector("figure.chart figcaption:has-text('ui-created: spend this month')");
    await page.locator("figure.chart canvas").first().waitFor();
    const key = await adminApi<{ tpm: number; routing: { optimize: string } }>("GET", `/v1/keys/${created.id}`);
    expect(key.tpm).toBe(90000);
    expect(key.routing.optimize).toBe("cost");
  }, 30_000);

  test("requests sent with the key through the openai SDK appear on Requests and Usage", async () => {
    const client = new OpenAI({ apiKey: created.secret, baseURL: `${gateway.url}/v1` });
    const ids: string[] = [];
    for (const text of ["first dashboard question", "second dashboard question"]) {
      const { response } = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: text }] }).withResponse();
      ids.push(response.headers.get("x-request-id")!);
    }
    const stream = await client.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "a streamed one" }] });
    for await (const _ of stream) void _;

    const { page } = admin;
    await goTo(page, "Requests");
    const rows = page.locator("table.requests tbody tr", { hasText: created.id });
    await rows.nth(2).waitFor({ timeout: 10_000 });
    expect(await rows.count()).toBe(3);
    expect(await rows.first().textContent()).toContain("stream");
    await shot(page, "requests");

    // Filter by the key, then open one request's detail.
    await page.fill("form.filters input[name=key_id]", created.id);
    await page.click("form.filters button:has-text('Filter')");
    await page.locator("table.requests tbody tr").nth(2).waitFor();
    expect(await page.locator("table.requests tbody tr").count()).toBe(3);
    await page.click(`table.requests a[href*="${ids[0]}"]`);
    await page.waitForSelector("table.timings");
    const detail = (await page.textContent("main"))!;
    expect(detail).toContain(ids[0]!);
    expect(detail).toContain("Timings");
    expect(detail).toContain("upstream");
    await shot(page, "request-detail");

    await goTo(page, "Usage");
    const byKey = page.locator("table.usage", { hasText: created.id });
    await byKey.waitFor({ timeout: 10_000 });
    expect(await byKey.locator("tr", { hasText: created.id }).textContent()).toContain("3");
    await page.locator("table.usage tr", { hasText: "echo" }).first().waitFor();
    const csvHref = (await page.getAttribute("a:has-text('CSV by key')", "href"))!;
    const csv = await page.evaluate(async (href) => (await fetch(href)).text(), csvHref);
    expect(csv.split("\r\n")[0]).toBe("key_id,requests,prompt_tokens,completion_tokens,cost_usd");
    expect(csv).toContain(`${created.id},3,`);
    await shot(page, "usage");
  }, 60_000);

  test("revoking the key in the dashboard refuses its next request", async () => {
    const { page } = admin;
    await goTo(page, "Keys");
    const row = page.locator(`tr[data-key="${created.id}"]`);
    await row.locator("button:has-text('Revoke')").click();
    await row.locator("button:has-text('Yes, revoke')").click();
    await row.locator(".pill:has-text('revoked')").waitFor();
    const client = new OpenAI({ apiKey: created.secret, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const refusal = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "still there?" }] }).then(
      () => undefined,
      (error: unknown) => error as { status?: number; message: string },
    );
    expect(refusal?.status).toBeOneOf([401, 403]);
    expect(refusal?.message).toContain("revoked");
  }, 30_000);

  test("a non-admin key sees only its own rows and no admin pages", async () => {
    const own = await adminApi<{ id: string; key: string }>("POST", "/v1/keys", { name: "team-a", scopes: ["chat", "usage"] });
    const other = await adminApi<{ id: string; key: string }>("POST", "/v1/keys", { name: "team-b", scopes: ["chat"] });
    const ownIds = [await chat(own.key, "team a asks"), await chat(own.key, "team a asks again")];
    const otherIds = [await chat(other.key, "team b asks")];

    const viewer = await openPage("team-a");
    try {
      const { page } = viewer;
      await signIn(page, own.key);
      const nav = (await page.textContent("nav"))!;
      expect(nav).not.toContain("Backends");
      expect(nav).not.toContain("Plugins");
      await goTo(page, "Requests");
      await page.locator("table.requests tbody tr").nth(1).waitFor();
      const text = (await page.textContent("table.requests"))!;
      for (const id of ownIds) expect(text).toContain(id.slice(0, 12));
      for (const id of otherIds) expect(text).not.toContain(id.slice(0, 12));
      expect(await page.locator("table.requests tbody tr").count()).toBe(2);

      await goTo(page, "Keys");
      await page.locator("tr[data-key]").first().waitFor();
      expect(await page.locator("tr[data-key]").count()).toBe(1);
      expect(await page.getAttribute("tr[data-key]", "data-key")).toBe(own.id);
      expect(await page.locator("button:has-text('New key')").count()).toBe(0);

      // The API behind the pages refuses what the pages hide (asked from here: refusals in the page would log errors).
      const cookie = (await viewer.context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      const status = async (path: string) => (await fetch(`${gateway.url}${path}`, { headers: { cookie } })).status;
      expect([await status(`/v1/dashboard/requests?key_id=${other.id}`), await status("/v1/dashboard/backends"), await status("/v1/dashboard/config"), await status("/v1/keys")]).toEqual([403, 403, 403, 403]);
      expect(await status("/v1/dashboard/requests")).toBe(200);
      await shot(page, "non-admin-requests");
    } finally {
      await viewer.context.close();
    }
  }, 60_000);

  test("keyboard: Shift+Tab reaches the navigation, Enter opens a page and focuses its heading; the skip link works", async () => {
    const { page } = admin;
    await page.goto(`${gateway.url}/ui#/overview`);
    // Opening a page puts the focus on its heading, so keyboard users start at the content.
    await page.locator("h1:focus", { hasText: "Overview" }).waitFor();
    let reached = "";
    for (let i = 0; i < 12 && reached !== "Keys"; i++) {
      await page.keyboard.press("Shift+Tab");
      reached = ((await page.locator(":focus").textContent()) ?? "").trim();
    }
    expect(reached).toBe("Keys");
    await page.keyboard.press("Enter");
    await page.locator("h1:focus", { hasText: "Keys" }).waitFor();
    expect(new URL(page.url()).hash).toBe("#/keys");

    await page.focus("a.skip");
    await page.keyboard.press("Enter");
    await page.locator("h1:focus", { hasText: "Keys" }).waitFor();

    // The window buttons on Overview work from the keyboard too.
    await page.goto(`${gateway.url}/ui#/overview`);
    await page.waitForSelector("h1:has-text('Overview')");
    await page.focus("button:has-text('Last day')");
    await page.keyboard.press("Enter");
    await page.waitForSelector("button[aria-pressed=true]:has-text('Last day')");
  }, 30_000);

  test("a request's detail shows the routing decision, processors and tool runs its row recorded", async () => {
    // The row is written straight into the gateway's store file, as the pipeline would record a routed request.
    const store = new Database(join(gateway.dir, "data", "sluice.db"));
    const startedAt = Date.now();
    const detail = { routing: { task: "code_generation", complexity: 0.4, model: "echo", scores: [{ model: "echo", score: 0.81 }, { model: "llama-8b", score: 0.62 }] }, inferada: { processors: [{ name: "redact", ms: 0.3 }] }, tool_runs: [{ type: "search", name: "search", ms: 12, error: null }] };
    store.query(`INSERT INTO ledger (request_id, key_id, model, backend, endpoint, status, prompt_tokens, completion_tokens, tokens_estimated, cost_micros, billing_basis, stream, started_at, total_ms, upstream_ms, detail)
      VALUES ('routed-request-1', NULL, 'auto', 'echo', 'chat', 200, 10, 5, 0, 3, 'tokens', 0, ?, 42, 30, ?)`).run(startedAt, JSON.stringify(detail));
    store.close();
    const { page } = admin;
    await page.goto(`${gateway.url}/ui#/requests/routed-request-1@${startedAt}`);
    await page.waitForSelector("h2:has-text('Routing decision')");
    const text = (await page.textContent("main"))!;
    for (const expected of ["code_generation", "llama-8b", "0.62", "Processors", "redact", "Tool runs", "search"]) expect(text).toContain(expected);
    await shot(page, "request-detail-routed");
  }, 30_000);

  test("every page renders without console errors", async () => {
    const { page } = admin;
    await chat(ADMIN, "admin traffic for the charts");
    await page.goto(`${gateway.url}/ui#/overview`);
    await page.waitForSelector(".stats");
    await page.waitForSelector(".chart canvas");
    await shot(page, "overview-hour");
    for (const window of ["Last day", "Last 30 days"]) {
      await page.click(`button:has-text("${window}")`);
      await page.waitForSelector(`button[aria-pressed=true]:has-text("${window}")`);
      await page.waitForSelector(".stats");
    }
    await shot(page, "overview-30d");
    await goTo(page, "Backends");
    await page.locator("table tbody tr", { hasText: "echo" }).waitFor();
    expect(await page.textContent("main")).toContain("router-prod");
    await shot(page, "backends");
    await goTo(page, "Plugins and config");
    await page.waitForSelector("pre.config");
    const config = (await page.textContent("pre.config"))!;
    expect(config).toContain('"backends"');
    await shot(page, "plugins-config");
    await goTo(page, "Usage");
    await page.waitForSelector(".chart canvas");
    await goTo(page, "Requests");
    await page.waitForSelector("table.requests");
    expect(consoleErrors).toEqual([]);
  }, 60_000);
});
