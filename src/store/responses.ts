// Stored Responses (`store: true`, the Responses API's default): the response object a client can GET again, and
// the chat messages of the whole conversation up to and including it, so `previous_response_id` continues it
// without the client resending anything. Rows belong to the key that created them; another key sees a 404.
// Kept for storage.responses_retention_days (default 30), pruned on write.
import type { Database, Statement } from "bun:sqlite";

export const RESPONSES_TABLE = `
CREATE TABLE IF NOT EXISTS stored_responses (
  id          TEXT PRIMARY KEY,              -- resp_<request id>
  key_id      TEXT NOT NULL,                 -- '' when auth.mode is none
  created_at  INTEGER NOT NULL,              -- unix milliseconds
  response    TEXT NOT NULL,                 -- the response object as JSON
  messages    TEXT NOT NULL                  -- JSON chat messages: the conversation including this answer
);
CREATE INDEX IF NOT EXISTS stored_responses_time ON stored_responses (created_at);
`;

export interface StoredResponse {
  response: Record<string, unknown>;
  messages: Record<string, unknown>[];
}

const DAY_MS = 86_400_000;
const DEFAULT_RETENTION_DAYS = 30;

export class ResponseStore {
  private readonly insert: Statement;
  private readonly select: Statement;
  private readonly remove: Statement;
  private readonly prune: Statement;

  constructor(db: Database) {
    this.insert = db.query("INSERT OR REPLACE INTO stored_responses (id, key_id, created_at, response, messages) VALUES (?, ?, ?, ?, ?)");
    this.select = db.query("SELECT response, messages FROM stored_responses WHERE id = ? AND key_id = ? AND created_at >= ?");
    this.remove = db.query("DELETE FROM stored_responses WHERE id = ? AND key_id = ?");
    this.prune = db.query("DELETE FROM stored_responses WHERE created_at < ?");
  }

  save(id: string, keyId: string | null, stored: StoredResponse, retentionDays = DEFAULT_RETENTION_DAYS, nowMs = Date.now()): void {
    this.prune.run(nowMs - retentionDays * DAY_MS);
    this.insert.run(id, keyId ?? "", nowMs, JSON.stringify(stored.response), JSON.stringify(stored.messages));
  }

  get(id: string, keyId: string | null, retentionDays = DEFAULT_RETENTION_DAYS, nowMs = Date.now()): StoredResponse | undefined {
    const row = this.select.get(id, keyId ?? "", nowMs - retentionDays * DAY_MS) as { response: string; messages: string } | null;
    return row ? { response: JSON.parse(row.response), messages: JSON.parse(row.messages) } : undefined;
  }

  delete(id: string, keyId: string | null): boolean {
    return this.remove.run(id, keyId ?? "").changes > 0;
  }
}

/** One store per database connection (the gateway keeps one connection for its lifetime). */
const stores = new WeakMap<Database, ResponseStore>();
export function responseStore(db: Database): ResponseStore {
  let store = stores.get(db);
  if (!store) stores.set(db, (store = new ResponseStore(db)));
  return store;
}
