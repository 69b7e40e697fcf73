// One pool of PostgreSQL connections (Bun.sql, no driver package) with the few things the stores need on top:
// int8 columns as numbers, `$name` parameters, a deadline per query, and whether the server answered lately.
import { SQL } from "bun";
import { log } from "../../observability/log.ts";
import { GatewayError } from "../../errors.ts";
import { maskUrl } from "../../config/mask-url.ts";

export type Params = Record<string, unknown>;
type Transaction = Pick<SQL, "unsafe">;

/** A query on the request path (a key not yet cached) waits at most this; then the request gets a 503. */
export const REQUEST_PATH_TIMEOUT_MS = 2_000;

export class PgClient {
  readonly sql: SQL;
  private down = false;
  private closing = false;
  /** Set once the store is ready: from then on an outage is logged (and served through). */
  serving = false;

  constructor(readonly url: string, options: { max?: number } = {}) {
    // int8 as BigInt (never a lossy number, never a string), turned into numbers by `rows`: sums and unix ms fit.
    this.sql = new SQL(url, {
      bigint: true,
      max: options.max ?? 4,
      connectionTimeout: 2,
      // A server going away closes every pooled connection: that is one "unreachable" line, not one per connection.
      onclose: (error) => {
        if (error && !this.closing && !/CONNECTION_CLOSED/.test(String((error as Error & { code?: string }).code))) this.markDown(error);
      },
    });
  }

  /** False after a query failed to reach the server, until one succeeds. */
  get up(): boolean {
    return !this.down;
  }

  async rows<T>(text: string, values: unknown[] = [], on: Transaction = this.sql): Promise<T[]> {
    try {
      const result = (await on.unsafe(text, values)) as Record<string, unknown>[];
      this.markUp();
      return result.map(numbers) as T[];
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** A statement's count of rows it affected (inserted, updated, deleted). */
  async affected(text: string, values: unknown[] = [], on: Transaction = this.sql): Promise<number> {
    try {
      const result = (await on.unsafe(text, values)) as unknown as { count: number };
      this.markUp();
      return result.count;
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** `$name` placeholders (the SQLite stores' spelling) bound in order. */
  named<T>(text: string, params: Params, on?: Transaction): Promise<T[]> {
    const values: unknown[] = [];
    const index = new Map<string, number>();
    const positional = text.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
      if (!(name in params)) throw new Error(`no value for $${name}`);
      let n = index.get(name);
      if (n === undefined) index.set(name, (n = values.push(params[name])));
      return `$${n}`;
    });
    return this.rows<T>(positional, values, on);
  }

  async one<T>(text: string, values: unknown[] = [], on?: Transaction): Promise<T | undefined> {
    return (await this.rows<T>(text, values, on))[0];
  }

  /** A transaction: commits when `body` resolves, rolls back when it throws. */
  async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      const result = await this.sql.begin((tx) => body(tx));
      this.markUp();
      return result as T;
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** A server out of reach becomes a 503 for whoever asked (an admin call, a key lookup); other errors stay. */
  private failure(error: unknown): unknown {
    if (error instanceof GatewayError) return error;
    // Class 22, data exception: a value PostgreSQL cannot hold (a NUL in a name SQLite would have taken): the caller's input.
    if (/^22/.test(String((error as { errno?: unknown }).errno ?? ""))) {
      return Object.assign(new GatewayError("invalid_request", `the store (PostgreSQL) refused a value: ${(error as Error).message}`), { errno: (error as { errno?: unknown }).errno });
    }
    if (!isConnectionError(error)) return error;
    this.markDown(error);
    return new GatewayError("store_unavailable", `the store (PostgreSQL) is unreachable (${describe(error)}); retry shortly`);
  }

  close(): Promise<void> {
    this.closing = true;
    return this.sql.close({ timeout: 5 });
  }

  /** A request-path query got no answer in time: a hung server counts as down until a query succeeds again. */
  timedOut(what: string): void {
    this.markDown(new Error(`${what}: no answer within ${REQUEST_PATH_TIMEOUT_MS} ms`));
  }

  private markDown(error: unknown): void {
    if (this.down) return;
    this.down = true;
    if (!this.serving) return; // before start-up completes, the caller reports it (and sluice does not start)
    log.warn(`storage: PostgreSQL at ${maskUrl(this.url)} is unreachable (${describe(error)}); serving from caches and buffering writes`);
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    log.info(`storage: PostgreSQL at ${maskUrl(this.url)} answers again`);
  }
}

/** Rejects after `ms` (the query itself may still finish later; its result is then ignored). */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from PostgreSQL within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function numbers(row: Record<string, unknown>): Record<string, unknown> {
  for (const key in row) if (typeof row[key] === "bigint") row[key] = Number(row[key]);
  return row;
}

/** A failure to reach the server, as opposed to an error in the statement (which would fail again on a retry). */
export function isConnectionError(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? "");
  if (/CONNECTION|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|TLS|SOCKET|TIMEOUT|CLOSED/i.test(code)) return true;
  // Server-side: admin shutdown, crash shutdown, cannot connect now (57P01..57P03), connection exceptions (08xxx).
  const state = String((error as { errno?: unknown; sqlState?: unknown }).sqlState ?? (error as { errno?: unknown }).errno ?? "");
  return /^(57P0[123]|08)/.test(state) || /Connection closed|connection refused|terminating connection/i.test(String((error as Error)?.message));
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
