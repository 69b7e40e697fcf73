// API keys in the store: created with a random secret that is returned once and kept only as a SHA-256 hash.
// Lookups by hash are cached in memory; the cache is dropped when another process (`sluice keys revoke`)
// writes to the database file, which SQLite's data_version reveals cheaply.
import type { Database } from "bun:sqlite";
import type { KeyDirectory } from "../store/store.ts";
import { timingSafeEqual } from "node:crypto";
import { dataVersion } from "../store/database.ts";
import { DEFAULT_SETTINGS, hashSecret, newKeyId, newSecret, secretPrefix, type ApiKey, type KeySettings } from "./key-record.ts";

export const KEY_JSON_COLUMNS = ["scopes", "allowed_models", "allowed_ips", "routing", "processors", "tools"] as const;
const VERSION_CHECK_MS = 250;
export const MAX_CACHED = 10_000;

export interface KeyRow extends Record<string, unknown> {
  hash: string;
}

/** What the authenticator uses: either store's keys (store.ts). */
export type KeyStore = KeyDirectory;

export class SqliteKeyStore implements KeyDirectory {
  private readonly byHash = new Map<string, ApiKey | null>();
  /** Known secrets skip the SHA-256 on every request; bounded so unknown secrets cannot grow it. */
  private readonly bySecret = new Map<string, ApiKey>();
  private version: number;
  private versionCheckedAt = 0;

  constructor(private readonly db: Database) {
    this.version = dataVersion(db);
  }

  create(settings: Partial<KeySettings> & { name: string }, secret = newSecret()): { key: ApiKey; secret: string } {
    const key: ApiKey = { ...DEFAULT_SETTINGS, ...settings, id: newKeyId(), prefix: secretPrefix(secret), created_at: Math.floor(Date.now() / 1000), revoked_at: null };
    this.db.query(`INSERT INTO api_keys (${KEY_COLUMNS.join(", ")}) VALUES (${KEY_COLUMNS.map((c) => `$${c}`).join(", ")})`).run(keyToRow(key, hashSecret(secret)));
    this.clearCache();
    return { key, secret };
  }

  /** The key for a presented secret, or undefined. Revoked and expired keys are returned: the caller says why it refuses. */
  findBySecret(secret: string, now = Date.now()): ApiKey | undefined {
    this.dropCacheIfChanged(now);
    const known = this.bySecret.get(secret);
    if (known) return known;
    const hash = hashSecret(secret);
    let key = this.byHash.get(hash);
    if (key === undefined) {
      const row = this.db.query("SELECT * FROM api_keys WHERE hash = ?").get(hash) as KeyRow | null;
      // Compare in constant time even though the lookup is by hash: the secret never meets a plain ===.
      key = row && timingSafeEqual(Buffer.from(row.hash, "hex"), Buffer.from(hash, "hex")) ? keyFromRow(row) : null;
      if (this.byHash.size >= MAX_CACHED) this.byHash.clear();
      this.byHash.set(hash, key);
    }
    if (key) {
      if (this.bySecret.size >= MAX_CACHED) this.bySecret.clear();
      this.bySecret.set(secret, key);
    }
    return key ?? undefined;
  }

  get(id: string): ApiKey | undefined {
    const row = this.db.query("SELECT * FROM api_keys WHERE id = ?").get(id) as KeyRow | null;
    return row ? keyFromRow(row) : undefined;
  }

  list(): ApiKey[] {
    return (this.db.query("SELECT * FROM api_keys ORDER BY created_at, id").all() as KeyRow[]).map(keyFromRow);
  }

  update(id: string, patch: Partial<KeySettings>): ApiKey | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    const columns = Object.keys(patch).filter((c) => (KEY_COLUMNS as readonly string[]).includes(c));
    if (columns.length) {
      const row = keyToRow(next, "");
      this.db.query(`UPDATE api_keys SET ${columns.map((c) => `${c} = $${c}`).join(", ")} WHERE id = $id`).run({ id, ...Object.fromEntries(columns.map((c) => [c, row[c]])) });
    }
    this.clearCache();
    return next;
  }

  revoke(id: string): ApiKey | undefined {
    this.db.query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(Math.floor(Date.now() / 1000), id);
    this.clearCache();
    return this.get(id);
  }

  /** Creates the key for a given secret unless it exists (SLUICE_ADMIN_KEY at start-up). */
  ensure(secret: string, settings: Partial<KeySettings> & { name: string }): ApiKey {
    return this.findBySecret(secret) ?? this.create(settings, secret).key;
  }

  private clearCache(): void {
    this.byHash.clear();
    this.bySecret.clear();
  }

  private dropCacheIfChanged(now: number): void {
    if (now - this.versionCheckedAt < VERSION_CHECK_MS) return;
    this.versionCheckedAt = now;
    const version = dataVersion(this.db);
    if (version !== this.version) {
      this.version = version;
      this.clearCache();
    }
  }
}

/** api_keys columns, the same in SQLite and PostgreSQL. */
export const KEY_COLUMNS = [
  "id", "name", "hash", "prefix", "scopes", "allowed_models", "allowed_ips", "rpm", "tpm", "max_concurrent", "queue_timeout_ms",
  "budget_usd_daily", "budget_usd_monthly", "routing", "firewall", "firewall_required", "processors", "tools", "expires_at", "created_at", "revoked_at", "account_id",
] as const;

export function keyToRow(key: ApiKey, hash: string): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = { hash };
  for (const column of KEY_COLUMNS) {
    if (column === "hash") continue;
    const value = key[column as keyof ApiKey];
    row[column] = (KEY_JSON_COLUMNS as readonly string[]).includes(column) ? (value === null ? null : JSON.stringify(value)) : (value as string | number | null);
  }
  return row;
}

export function keyFromRow(row: KeyRow): ApiKey {
  const key = { ...row } as Record<string, unknown>;
  delete key.hash;
  for (const column of KEY_JSON_COLUMNS) key[column] = row[column] === null ? null : JSON.parse(row[column] as string);
  return key as unknown as ApiKey;
}

/** The SQLite class under the name it has always been constructed by (`new KeyStore(db)`). */
export const KeyStore = SqliteKeyStore;
