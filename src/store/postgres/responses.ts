// Stored Responses in PostgreSQL: the same rows as the SQLite store (store/responses.ts), so a conversation
// started on one gateway continues on any other with previous_response_id.
import type { StoredResponse } from "../responses.ts";
import type { ResponseDirectory } from "../store.ts";
import type { PgClient } from "./client.ts";

const DAY_MS = 86_400_000;
const DEFAULT_RETENTION_DAYS = 30;
/** Expired rows are deleted at most this often (a delete per save would cost every Responses request). */
const PRUNE_INTERVAL_MS = 60_000;

export class PgResponseStore implements ResponseDirectory {
  private prunedAt = 0;

  constructor(private readonly client: PgClient) {}

  async save(id: string, keyId: string | null, stored: StoredResponse, retentionDays = DEFAULT_RETENTION_DAYS, nowMs = Date.now()): Promise<void> {
    if (nowMs - this.prunedAt >= PRUNE_INTERVAL_MS) {
      this.prunedAt = nowMs;
      await this.client.rows("DELETE FROM stored_responses WHERE created_at < $1", [nowMs - retentionDays * DAY_MS]);
    }
    await this.client.rows(
      `INSERT INTO stored_responses (id, key_id, created_at, response, messages) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, created_at = excluded.created_at, response = excluded.response, messages = excluded.messages`,
      [id, keyId ?? "", nowMs, JSON.stringify(stored.response), JSON.stringify(stored.messages)],
    );
  }

  async get(id: string, keyId: string | null, retentionDays = DEFAULT_RETENTION_DAYS, nowMs = Date.now()): Promise<StoredResponse | undefined> {
    const row = await this.client.one<{ response: string; messages: string }>(
      "SELECT response, messages FROM stored_responses WHERE id = $1 AND key_id = $2 AND created_at >= $3",
      [id, keyId ?? "", nowMs - retentionDays * DAY_MS],
    );
    return row ? { response: JSON.parse(row.response), messages: JSON.parse(row.messages) } : undefined;
  }

  async delete(id: string, keyId: string | null): Promise<boolean> {
    return (await this.client.rows("DELETE FROM stored_responses WHERE id = $1 AND key_id = $2 RETURNING 1", [id, keyId ?? ""])).length > 0;
  }
}
