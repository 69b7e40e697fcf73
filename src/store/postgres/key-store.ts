// API keys in PostgreSQL. Lookups by secret are cached like the SQLite store's; a miss queries the database
// (a promise: the one place the request path may wait on it, bounded by REQUEST_PATH_TIMEOUT_MS). The caches are
// dropped whenever any gateway changes a key or an account (changes.ts), so a revoke is refused everywhere
// within a second. While the database is away, cached keys keep working and unknown ones get a 503.
import { timingSafeEqual } from "node:crypto";
import { GatewayError } from "../../errors.ts";
import { DEFAULT_SETTINGS, hashSecret, newKeyId, newSecret, secretPrefix, type ApiKey, type KeySettings } from "../../auth/key-record.ts";
import { KEY_COLUMNS, keyFromRow, keyToRow, MAX_CACHED, type KeyRow } from "../../auth/key-store.ts";
import type { KeyDirectory } from "../store.ts";
import { REQUEST_PATH_TIMEOUT_MS, withDeadline, type PgClient } from "./client.ts";
import type { ChangeAnnouncer } from "./changes.ts";

export class PgKeyStore implements KeyDirectory {
  private readonly byHash = new Map<string, ApiKey | null>();
  private readonly bySecret = new Map<string, ApiKey>();
  private readonly loading = new Map<string, Promise<ApiKey | null>>();
  /** Bumped by every clear, so a lookup that started before it does not cache what it read. */
  private generation = 0;

  constructor(
    private readonly client: PgClient,
    private readonly changes: ChangeAnnouncer,
  ) {}

  clearCache(): void {
    this.generation++;
    this.byHash.clear();
    this.bySecret.clear();
    this.loading.clear();
  }

  async create(settings: Partial<KeySettings> & { name: string }, secret = newSecret()): Promise<{ key: ApiKey; secret: string }> {
    const key: ApiKey = { ...DEFAULT_SETTINGS, ...settings, id: newKeyId(), prefix: secretPrefix(secret), created_at: Math.floor(Date.now() / 1000), revoked_at: null };
    const row = keyToRow(key, hashSecret(secret));
    const epoch = await this.client.transaction(async (tx) => {
      await this.client.rows(`INSERT INTO api_keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`, KEY_COLUMNS.map((c) => bindable(row[c])), tx);
      return this.changes.announce(tx);
    });
    this.changes.committed(epoch);
    this.clearCache();
    return { key, secret };
  }

  findBySecret(secret: string): ApiKey | undefined | Promise<ApiKey | undefined> {
    const known = this.bySecret.get(secret);
    if (known) return known;
    const hash = hashSecret(secret);
    const cached = this.byHash.get(hash);
    if (cached !== undefined) return this.remember(secret, cached);
    const generation = this.generation;
    let loading = this.loading.get(hash);
    if (!loading) {
      const started = this.load(hash);
      // Forgotten once settled, whichever way: a lookup refused while the database was away (which settles at
      // once, before the map holds it) must not stay in the map and refuse the key after the database is back.
      const forget = () => void (this.loading.get(hash) === started && this.loading.delete(hash));
      started.then(forget, forget);
      this.loading.set(hash, (loading = started));
    }
    return loading.then((key) => (generation === this.generation ? this.remember(secret, key) : (key ?? undefined)));
  }

  async get(id: string): Promise<ApiKey | undefined> {
    const row = await this.client.one<KeyRow>("SELECT * FROM api_keys WHERE id = $1", [id]);
    return row ? keyFromRow(row) : undefined;
  }

  async list(): Promise<ApiKey[]> {
    return (await this.client.rows<KeyRow>("SELECT * FROM api_keys ORDER BY created_at, id")).map(keyFromRow);
  }

  async update(id: string, patch: Partial<KeySettings>): Promise<ApiKey | undefined> {
    const current = await this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    const columns = Object.keys(patch).filter((c) => (KEY_COLUMNS as readonly string[]).includes(c));
    const row = keyToRow(next, "");
    const epoch = await this.client.transaction(async (tx) => {
      if (columns.length) await this.client.rows(`UPDATE api_keys SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(", ")} WHERE id = $1`, [id, ...columns.map((c) => bindable(row[c]))], tx);
      return this.changes.announce(tx);
    });
    this.changes.committed(epoch);
    this.clearCache();
    return next;
  }

  async revoke(id: string): Promise<ApiKey | undefined> {
    const epoch = await this.client.transaction(async (tx) => {
      await this.client.rows("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [Math.floor(Date.now() / 1000), id], tx);
      return this.changes.announce(tx);
    });
    this.changes.committed(epoch);
    this.clearCache();
    return this.get(id);
  }

  /** Gateways starting together may all try to create it: the one that loses the race reads the winner's. */
  async ensure(secret: string, settings: Partial<KeySettings> & { name: string }): Promise<ApiKey> {
    const found = await this.findBySecret(secret);
    if (found) return found;
    try {
      return (await this.create(settings, secret)).key;
    } catch (error) {
      if (String((error as { errno?: unknown }).errno) !== "23505") throw error; // unique_violation on the hash
      this.clearCache();
      const winner = await this.findBySecret(secret);
      if (!winner) throw error;
      return winner;
    }
  }

  private async load(hash: string): Promise<ApiKey | null> {
    const generation = this.generation;
    let row: KeyRow | undefined;
    try {
      // Known down (refused, or silent past the deadline): answer at once rather than make every new key wait 2 s.
      if (!this.client.up) throw new Error("no answer from PostgreSQL lately");
      row = await withDeadline(this.client.one<KeyRow>("SELECT * FROM api_keys WHERE hash = $1", [hash]), REQUEST_PATH_TIMEOUT_MS, "key lookup");
    } catch (error) {
      if (/no answer from PostgreSQL within/.test(String(error))) this.client.timedOut("key lookup");
      if (error instanceof GatewayError || /no answer from PostgreSQL/.test(String(error))) {
        throw new GatewayError("store_unavailable", "the key store (PostgreSQL) is unreachable and this key is not cached on this gateway; retry shortly");
      }
      throw error;
    }
    // Compare in constant time even though the lookup is by hash: the secret never meets a plain ===.
    const key = row && timingSafeEqual(Buffer.from(row.hash, "hex"), Buffer.from(hash, "hex")) ? keyFromRow(row) : null;
    if (generation === this.generation) {
      if (this.byHash.size >= MAX_CACHED) this.byHash.clear();
      this.byHash.set(hash, key);
    }
    return key;
  }

  private remember(secret: string, key: ApiKey | null): ApiKey | undefined {
    if (!key) return undefined;
    if (this.bySecret.size >= MAX_CACHED) this.bySecret.clear();
    this.bySecret.set(secret, key);
    return key;
  }
}

/** SQLite takes booleans as 0/1; PostgreSQL's INTEGER columns want the number. */
export function bindable(value: unknown): unknown {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}
