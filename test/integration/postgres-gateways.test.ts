// Two gateway processes on one PostgreSQL (a server of the test's own, so it can be stopped and started again),
// the scripted engine behind both: a key revoked on one is refused on the other within a second, usage totals
// are the requests made on both (a SIGTERM loses none), and a PostgreSQL outage neither stops requests nor loses
// their rows.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startPostgres, postgresAvailable, type PostgresInstance } from "../support/postgres.ts";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey, eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "P".repeat(20) + "adminadminadminadmin";
let pg: PostgresInstance;
let upstream: ScriptedUpstream;
let a: RunningGateway;
let b: RunningGateway;

function chat(gateway: RunningGateway, key: string, model = "echo") {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

async function usage(gateway: RunningGateway, keyId: string): Promise<{ requests: number } | undefined> {
  const response = await fetch(`${gateway.url}/v1/usage?key_id=${keyId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (response.status !== 200) return undefined;
  return ((await response.json()) as { total: { requests: number } }).total;
}

describe.skipIf(!postgresAvailable)("two gateways on one PostgreSQL", () => {
  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase("gateways");
    upstream = await spawnScriptedUpstream();
    const yaml = configFor(upstream.url, [{ name: "echo", extra: "pricing: {input_per_mtok: 1, output_per_mtok: 1}" }, { name: "slow" }])
      .replace("  mode: none", `  mode: keys\n  session_secret: "${"s".repeat(40)}"`)
      .concat(`storage: {url: "${url}"}\n`);
    [a, b] = await Promise.all([spawnGateway(yaml, { env: { SLUICE_ADMIN_KEY: ADMIN } }), spawnGateway(yaml, { env: { SLUICE_ADMIN_KEY: ADMIN } })]);
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await upstream?.stop();
    await pg?.destroy();
  });

  test("a key created on A works on B; revoked on A, B refuses it within a second", async () => {
    const { id, key } = await createKey(a, ADMIN, { name: "shared" });
    expect((await chat(b, key)).status).toBe(200); // B has it cached now
    const revoked = await fetch(`${a.url}/v1/keys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(revoked.status).toBe(200);
    const status = await eventually(async () => {
      const s = (await chat(b, key)).status;
      return s === 403 ? s : undefined;
    }, 1_000);
    expect(status).toBe(403);
  });

  test("usage totals are the requests made on both, a SIGTERM of one included", async () => {
    const { id, key } = await createKey(a, ADMIN, { name: "counted" });
    const onA = Array.from({ length: 60 }, () => chat(a, key).then((r) => r.status));
    // B's requests are still at the engine (1.5 s each) when it gets SIGTERM: it finishes them, then writes
    // their rows on the way out.
    const atEngine = async () => (await upstream.requests()).filter((r) => (r.body as { model?: string }).model === "slow").length;
    const onB = Array.from({ length: 60 }, () => chat(b, key, "slow").then((r) => r.status));
    await eventually(async () => ((await atEngine()) >= 60 ? true : undefined), 10_000);
    const stopped = b.stop();
    const statuses = await Promise.all([...onA, ...onB]);
    await stopped;
    expect(statuses.filter((s) => s === 200)).toHaveLength(120);
    expect(b.logs()).toContain("SIGTERM");
    expect(await usage(a, id)).toMatchObject({ requests: 120 });
  }, 30_000);

  test("PostgreSQL stopped: requests with a cached key are served; their rows are written when it is back", async () => {
    const { id, key } = await createKey(a, ADMIN, { name: "outage" });
    expect((await chat(a, key)).status).toBe(200);
    await pg.stop();
    let served: number[];
    try {
      served = [];
      for (let i = 0; i < 20; i++) served.push((await chat(a, key)).status);
      const metrics = await (await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      expect(metrics).toContain("sluice_store_up 0");
      // What needs the database says so: a 503 naming the store, never a 500.
      const list = await fetch(`${a.url}/v1/keys`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(list.status).toBe(503);
      expect(((await list.json()) as { error: { code: string } }).error.code).toBe("store_unavailable");
      expect((await chat(a, "inf_" + "U".repeat(40))).status).toBe(503); // a key no cache holds
    } finally {
      await pg.start();
    }
    expect(served.every((s) => s === 200)).toBe(true);
    const total = await eventually(async () => {
      const u = await usage(a, id);
      return u?.requests === 21 ? u : undefined;
    }, 15_000);
    expect(total.requests).toBe(21);
    expect(a.logs()).toContain("ledger: writing to PostgreSQL again");
  }, 30_000);
});
