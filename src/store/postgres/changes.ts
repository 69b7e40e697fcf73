// How a key or account change made on one gateway reaches the others within a second: the writer bumps
// store_epoch and sends a NOTIFY in the same transaction (delivered on commit); every gateway LISTENs and drops
// its caches when one arrives, and again whenever the listening connection comes back (a notification sent
// while it was away is lost). A poll of the epoch every half second is the safety net for anything else.
import type { PgClient } from "./client.ts";
import type { SQL } from "bun";
import { log } from "../../observability/log.ts";
import { describe } from "./client.ts";

export const CHANGES_CHANNEL = "sluice_store_changes";
const POLL_MS = 500;
const LISTEN_RETRY_MS = 5_000;

/** What a store calls around its own key or account writes. */
export interface ChangeAnnouncer {
  /** In the writing transaction: the counter and the notification commit (or roll back) with the change. */
  announce(tx: Pick<SQL, "unsafe">): Promise<number>;
  /** After the commit (the writer has dropped its own caches): its own notification and epoch need no second drop. */
  committed(epoch: number): void;
}

export class ChangeWatcher implements ChangeAnnouncer {
  /** Names this gateway's notifications, so it can tell them from other gateways'. */
  private readonly origin = crypto.randomUUID();
  private epoch: number | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private listenTimer: ReturnType<typeof setTimeout> | undefined;
  private subscription: { unlisten(): Promise<void> } | undefined;
  private polling = false;
  private stopped = false;

  /** `onChange` drops the caches; `onTick` runs on every poll that reached the server (balance refreshes). */
  constructor(
    private readonly client: PgClient,
    private readonly onChange: (why: string) => void,
    private readonly onTick: () => Promise<void> = async () => {},
  ) {}

  async announce(tx: Pick<SQL, "unsafe">): Promise<number> {
    const { epoch } = (await this.client.one<{ epoch: number }>("UPDATE store_epoch SET epoch = epoch + 1 RETURNING epoch", [], tx))!;
    await this.client.rows("SELECT pg_notify($1, $2)", [CHANGES_CHANNEL, this.origin], tx);
    return epoch;
  }

  committed(epoch: number): void {
    // Only when no other gateway's change came in between (then the poll must still see a difference).
    if (this.epoch !== undefined && epoch === this.epoch + 1) this.epoch = epoch;
  }

  async start(): Promise<void> {
    this.epoch = (await this.client.one<{ epoch: number }>("SELECT epoch FROM store_epoch"))?.epoch;
    await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.listenTimer);
    await this.subscription?.unlisten().catch(() => {});
  }

  private async listen(): Promise<void> {
    let first = true;
    try {
      this.subscription = await this.client.sql.listen(
        CHANGES_CHANNEL,
        (origin) => {
          if (origin !== this.origin) this.onChange("notification");
        },
        () => {
          // Runs on the first LISTEN and after every reconnect of the listening connection.
          if (!first) this.onChange("reconnected");
          first = false;
        },
      );
    } catch (error) {
      if (this.stopped) return;
      log.warn(`storage: LISTEN ${CHANGES_CHANNEL} failed (${describe(error)}); polling the change counter, retrying in ${LISTEN_RETRY_MS / 1000} s`);
      this.listenTimer = setTimeout(() => void this.listen(), LISTEN_RETRY_MS);
      this.listenTimer.unref();
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const epoch = (await this.client.one<{ epoch: number }>("SELECT epoch FROM store_epoch"))?.epoch;
      if (epoch !== this.epoch) {
        this.epoch = epoch;
        this.onChange("epoch");
      }
      await this.onTick();
    } catch {
      // PostgreSQL away: the caches stay as they are (requests keep being served from them); PgClient logs it.
    } finally {
      this.polling = false;
    }
  }
}
