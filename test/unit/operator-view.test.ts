// Issue 15 items 17-18: what the operator's endpoints show (key objects, /metrics labels).
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { listKeys, getKey } from "../../src/api/keys.ts";

const CONFIG = `
auth: { mode: none }
backends:
  - { name: echo, url: "http://127.0.0.1:9/v1" }
`;

describe("GET /v1/keys", () => {
  test("firewall_required is a boolean, as the schema and POST say (SQLite stores 0/1)", () => {
    const gateway = new Gateway(parseConfig(CONFIG, "test.yaml"));
    try {
      const { key } = gateway.keys.create({ name: "app" });
      const { key: strict } = gateway.keys.create({ name: "strict", firewall_required: true });
      const listed = listKeys(gateway).data;
      expect(listed.find((k) => k.id === key.id)!.firewall_required).toBe(false);
      expect(listed.find((k) => k.id === strict.id)!.firewall_required).toBe(true);
      expect(getKey(gateway, strict.id).firewall_required).toBe(true);
    } finally {
      gateway.close();
    }
  });
});
