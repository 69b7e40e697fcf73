// The PostgreSQL key store's lookups against a client that is down, then back: no database needed, so the order
// of events is exact (the integration tests meet it only when the timing is unlucky).
import { describe, expect, test } from "bun:test";
import { PgKeyStore } from "../../src/store/postgres/key-store.ts";
import type { PgClient } from "../../src/store/postgres/client.ts";
import type { ChangeAnnouncer } from "../../src/store/postgres/changes.ts";
import { DEFAULT_SETTINGS, hashSecret, type ApiKey } from "../../src/auth/key-record.ts";
import { keyToRow } from "../../src/auth/key-store.ts";

const SECRET = "inf_" + "k".repeat(40);
const KEY: ApiKey = { ...DEFAULT_SETTINGS, name: "back", id: "key_back", prefix: SECRET.slice(0, 12), created_at: 1, revoked_at: null };

/** A client that answers the key lookup from one row, or is known to be down. */
function fakeClient() {
  const client = { up: false, lookups: 0, one: async () => (client.lookups++, keyToRow(KEY, hashSecret(SECRET))), timedOut() {} };
  return client;
}
const noChanges: ChangeAnnouncer = { announce: async () => 0, committed() {} };

describe("PgKeyStore", () => {
  test("a key refused while the database was known down is found once it is back", async () => {
    const client = fakeClient();
    const keys = new PgKeyStore(client as unknown as PgClient, noChanges);
    for (let i = 0; i < 2; i++) {
      const refused = await Promise.resolve(keys.findBySecret(SECRET)).then(() => "found", (error: { code?: string }) => error.code);
      expect(refused).toBe("store_unavailable");
    }
    expect(client.lookups).toBe(0); // known down: refused at once, not after the 2 s deadline
    client.up = true;
    expect((await keys.findBySecret(SECRET))?.id).toBe("key_back");
    expect(client.lookups).toBe(1);
    expect((await keys.findBySecret(SECRET))?.id).toBe("key_back"); // cached now
    expect(client.lookups).toBe(1);
  });

  test("concurrent lookups of one key share one query", async () => {
    const client = fakeClient();
    client.up = true;
    const keys = new PgKeyStore(client as unknown as PgClient, noChanges);
    const found = await Promise.all([keys.findBySecret(SECRET), keys.findBySecret(SECRET), keys.findBySecret(SECRET)]);
    expect(found.map((key) => key?.id)).toEqual(["key_back", "key_back", "key_back"]);
    expect(client.lookups).toBe(1);
  });
});
