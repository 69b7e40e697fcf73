// Issue 15 items 17-18: what the operator's endpoints show (key objects, /metrics labels).
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { listKeys, getKey } from "../../src/api/keys.ts";
import { createApp } from "../../src/app.ts";
import type { Limits } from "../../src/pipeline/admission.ts";

const CONFIG = `
auth: { mode: none }
backends:
  - { name: echo, url: "http://127.0.0.1:9/v1" }
`;

describe("GET /v1/keys", () => {
  test("firewall_required is a boolean, as the schema and POST say (SQLite stores 0/1)", async () => {
    const gateway = new Gateway(parseConfig(CONFIG, "test.yaml"));
    try {
      const { key } = await gateway.keys.create({ name: "app" });
      const { key: strict } = await gateway.keys.create({ name: "strict", firewall_required: true });
      const listed = (await listKeys(gateway)).data;
      expect(listed.find((k) => k.id === key.id)!.firewall_required).toBe(false);
      expect(listed.find((k) => k.id === strict.id)!.firewall_required).toBe(true);
      expect((await getKey(gateway, strict.id)).firewall_required).toBe(true);
    } finally {
      gateway.close();
    }
  });
});

describe("/metrics", () => {
  async function scrape(metricsAuth: boolean): Promise<{ text: string; keyId: string; status: number; admin: string }> {
    const gateway = new Gateway(parseConfig(`${CONFIG}server: { metrics_auth: ${metricsAuth} }\n`, "test.yaml"));
    try {
      const { key } = await gateway.keys.create({ name: "limited", max_concurrent: 2 });
      const { secret: admin } = await gateway.keys.create({ name: "ops", scopes: ["admin"] });
      const release = await (gateway.limits as Limits).concurrency.get(`key:${key.id}`, 2).acquire(1_000);
      const app = createApp(gateway);
      const response = await app.handle(new Request("http://sluice/metrics", { headers: metricsAuth ? { authorization: `Bearer ${admin}` } : {} }));
      release();
      return { text: await response.text(), keyId: key.id, status: response.status, admin };
    } finally {
      gateway.close();
    }
  }

  test("no key ids in labels while /metrics answers without a key: keys' slots are summed", async () => {
    const { text, keyId, status } = await scrape(false);
    expect(status).toBe(200);
    expect(text).not.toContain(keyId);
    expect(text).toContain('sluice_concurrency_in_use{name="keys"} 1');
  });

  test("per-key series once server.metrics_auth puts /metrics behind the admin scope", async () => {
    const { text, keyId, status } = await scrape(true);
    expect(status).toBe(200);
    expect(text).toContain(`sluice_concurrency_in_use{name="key:${keyId}"} 1`);
  });
});
