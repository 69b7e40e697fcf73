// One Redis connection for the limit service, over Bun's built-in RedisClient, with the client's measured quirks
// (Bun 1.4.5) handled here and nowhere else:
//   - no per-command timeout: every call races a timer (timeoutMs, 1 s by default) and fails with RedisUnavailable;
//   - the default offline queue stalls calls for ~31 s while disconnected: it is off, so calls fail at once;
//   - auto-pipelining batches poorly with many callers: it is off;
//   - `onclose` stays silent while the client auto-reconnects, and it gives up after maxRetries: a heartbeat PING
//     (every heartbeatMs) decides health, and reconnects the client itself when it is not connected;
//   - pub/sub is not restored after an automatic reconnect: the subscriber connection subscribes again on every
//     connect;
//   - scripts: EVALSHA with the script's SHA-1, loading it again when the server answers NOSCRIPT (a restarted or
//     flushed Redis).
// While unhealthy, calls fail at once (no request waits for a Redis that just failed); the heartbeat brings it back.
import { RedisClient } from "bun";
import { maskUrl } from "../config/mask-url.ts";

export class RedisUnavailable extends Error {
  override readonly name = "RedisUnavailable";
}

export interface RedisConnectionOptions {
  timeoutMs?: number;
  heartbeatMs?: number;
  /** Told on every change of health (true: answering). */
  onHealth?: (healthy: boolean) => void;
}

export interface Script {
  readonly source: string;
  /** SHA-1 of the source, as EVALSHA wants it. */
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: new Bun.CryptoHasher("sha1").update(source).digest("hex") };
}

type Listener = (message: string) => void;

interface InFlight {
  deadline: number;
  reject: (error: unknown) => void;
}

const CLIENT_OPTIONS = { enableOfflineQueue: false, enableAutoPipelining: false, autoReconnect: true } as const;

export class RedisConnection {
  readonly timeoutMs: number;
  private client: RedisClient;
  private subscriber: RedisClient | undefined;
  private readonly listeners = new Map<string, Listener>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private healthyNow = false;
  private pinging = false;
  private connecting: Promise<void> | undefined;
  private subscriberConnecting = false;
  private closed = false;
  private readonly inFlight = new Set<InFlight>();
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly url: string,
    private readonly options: RedisConnectionOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 1_000;
    this.client = this.newClient();
    this.heartbeat = setInterval(() => void this.beat(), options.heartbeatMs ?? 250);
    this.heartbeat.unref?.();
    this.first = this.beat();
  }

  /** Resolves when the first connection attempt has answered or failed (within the timeout). */
  readonly first: Promise<void>;

  get healthy(): boolean {
    return this.healthyNow;
  }


  /** A command, failing with RedisUnavailable when Redis is known down, the connection drops or it takes too long. */
  async send(command: string, args: string[]): Promise<unknown> {
    if (!this.healthyNow) throw new RedisUnavailable(`Redis at ${this.maskedUrl()} is not answering`);
    return this.timed(this.client.send(command, args));
  }

  /** Runs a Lua script by its SHA-1, loading it first when the server does not know it (NOSCRIPT). */
  async evalScript(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const argv = [script.sha, String(keys.length), ...keys, ...args];
    try {
      return await this.send("EVALSHA", argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      await this.send("SCRIPT", ["LOAD", script.source]);
      return this.send("EVALSHA", argv);
    }
  }

  /** Listens on a channel, on a connection of its own, subscribed again after every reconnect. */
  async subscribe(channel: string, listener: Listener): Promise<void> {
    this.listeners.set(channel, listener);
    if (!this.subscriber) {
      const subscriber = (this.subscriber = new RedisClient(this.url, CLIENT_OPTIONS));
      subscriber.onconnect = () => void this.resubscribe(subscriber);
      subscriber.onclose = () => {};
    }
    if (this.subscriber.connected) await this.resubscribe(this.subscriber);
    else this.connectSubscriber();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.watchdog) clearInterval(this.watchdog);
    this.client.close();
    this.subscriber?.close();
  }

  private newClient(): RedisClient {
    const client = new RedisClient(this.url, { ...CLIENT_OPTIONS, connectionTimeout: this.timeoutMs });
    client.onclose = () => this.setHealthy(false);
    return client;
  }

  /** PING within the timeout decides health; a client that gave up reconnecting is connected again here. */
  private async beat(): Promise<void> {
    if (this.pinging || this.closed) return;
    this.pinging = true;
    try {
      if (!this.client.connected) await this.reconnect();
      await this.timed(this.client.send("PING", []));
      this.setHealthy(true);
      this.connectSubscriber();
    } catch {
      this.setHealthy(false);
    } finally {
      this.pinging = false;
    }
  }

  private reconnect(): Promise<void> {
    this.connecting ??= this.timed(this.client.connect()).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** The subscriber connects on its own schedule; onconnect subscribes again (Bun does not restore it). */
  private connectSubscriber(): void {
    const subscriber = this.subscriber;
    if (!subscriber || subscriber.connected || this.subscriberConnecting) return;
    this.subscriberConnecting = true;
    subscriber
      .connect()
      .catch(() => {})
      .finally(() => (this.subscriberConnecting = false));
  }

  private async resubscribe(subscriber: RedisClient): Promise<void> {
    for (const [channel, listener] of this.listeners) await subscriber.subscribe(channel, listener).catch(() => {});
  }

  private setHealthy(healthy: boolean): void {
    if (healthy === this.healthyNow) return;
    this.healthyNow = healthy;
    this.options.onHealth?.(healthy);
  }

  /**
   * The call, or RedisUnavailable once it has taken longer than the timeout. One watchdog timer checks every call
   * in flight (a timer per call would cost more than the call's own work), so a timeout fires within a tenth of
   * the timeout after it passed.
   */
  private timed<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { deadline: performance.now() + this.timeoutMs, reject };
      this.inFlight.add(entry);
      if (!this.watchdog) {
        this.watchdog = setInterval(() => this.expire(), Math.max(5, this.timeoutMs / 10));
        this.watchdog.unref?.();
      }
      call.then(
        (value) => {
          this.inFlight.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.inFlight.delete(entry);
          // A dropped connection marks Redis down until the heartbeat says otherwise; a script's own error
          // (a bug, NOSCRIPT) is the caller's to handle.
          const serverError = (error as { code?: string } | null)?.code === "ERR_REDIS_SERVER_ERROR";
          if (!serverError) this.setHealthy(false);
          reject(serverError || error instanceof RedisUnavailable ? error : new RedisUnavailable(`Redis at ${this.maskedUrl()}: ${(error as Error).message}`));
        },
      );
    });
  }

  private expire(): void {
    const now = performance.now();
    for (const entry of this.inFlight) {
      if (entry.deadline > now) continue;
      this.inFlight.delete(entry);
      this.setHealthy(false);
      entry.reject(new RedisUnavailable(`Redis at ${this.maskedUrl()} did not answer within ${this.timeoutMs} ms`));
    }
  }

  private maskedUrl(): string {
    return maskUrl(this.url);
  }
}
