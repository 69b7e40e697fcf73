// The Redis limit service's waiters for max_concurrent slots: one FIFO queue per slot in each gateway (queues are
// not shared: a gateway's waiters are served in their order, gateways race fairly for the freed slot). The head of
// a queue tries again when a slot is released (pub/sub from any gateway, or this gateway's own finish at once) and
// on a polling tick, so a lost pub/sub message only delays it by the poll interval.
import { GatewayError } from "../errors.ts";

/** What one more try gives: admitted, still no slot (on this or another slot), or a refusal that ends the wait. */
export type Attempt<T> = { admitted: T } | { slot: string };

interface Waiter<T> {
  attempt: () => Promise<Attempt<T>>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  done: boolean;
  timer: ReturnType<typeof setTimeout>;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class SlotQueues<T> {
  private readonly queues = new Map<string, Waiter<T>[]>();
  private readonly pumping = new Set<string>();
  private poller: ReturnType<typeof setInterval> | undefined;

  /**
   * `onWaiting` is told each poll tick which slots have waiters here (to keep their markers alive in Redis);
   * `discard` gives back an admission that came in after its waiter had already timed out or left.
   */
  constructor(
    private readonly pollMs: number,
    private readonly onWaiting: (slots: string[]) => void,
    private readonly discard: (admitted: T) => void,
  ) {}

  /** Waiters queued here for `slot` (FIFO: a new request queues behind them rather than overtaking). */
  waiting(slot: string): number {
    return this.queues.get(slot)?.length ?? 0;
  }

  get total(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.length;
    return count;
  }

  /** Queues for `slot` until an attempt admits it, refuses it, the timeout passes (429) or the client leaves. */
  wait(slot: string, attempt: () => Promise<Attempt<T>>, timeoutMs: number, what: string, setting: string, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(new GatewayError("client_closed", "client closed the request while it was queued"));
    const started = performance.now();
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { attempt, resolve, reject, done: false, signal, onAbort: undefined, timer: undefined as never };
      const leave = (error: GatewayError) => {
        if (waiter.done) return;
        this.settle(waiter);
        reject(error);
      };
      waiter.timer = setTimeout(() => leave(new GatewayError("concurrency_limited", `${what}; waited ${Math.round(performance.now() - started)} ms in the queue (${setting})`, { headers: { "retry-after": "1" } })), Math.max(0, timeoutMs));
      if (signal) {
        waiter.onAbort = () => leave(new GatewayError("client_closed", "client closed the request while it was queued"));
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.enqueue(slot, waiter);
    });
  }

  /** A slot was given back somewhere: the head of its queue tries again. */
  wake(slot: string): void {
    if (this.queues.has(slot)) void this.pump(slot);
  }

  close(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private enqueue(slot: string, waiter: Waiter<T>): void {
    const queue = this.queues.get(slot);
    if (queue) queue.push(waiter);
    else {
      this.queues.set(slot, [waiter]);
      this.onWaiting([slot]);
    }
    this.poller ??= setInterval(() => this.tick(), this.pollMs);
    void this.pump(slot);
  }

  private tick(): void {
    this.onWaiting([...this.queues.keys()]);
    for (const slot of this.queues.keys()) void this.pump(slot);
  }

  /** Tries the head of the queue until one fails for want of this slot; one pump per slot at a time. */
  private async pump(slot: string): Promise<void> {
    if (this.pumping.has(slot)) return;
    this.pumping.add(slot);
    try {
      for (let queue = this.queues.get(slot); queue?.length; queue = this.queues.get(slot)) {
        const head = queue[0]!;
        if (head.done) {
          queue.shift();
          continue;
        }
        let result: Attempt<T>;
        try {
          result = await head.attempt();
        } catch (error) {
          this.remove(slot, head);
          if (!head.done) (this.settle(head), head.reject(error));
          continue;
        }
        if ("admitted" in result) {
          this.remove(slot, head);
          if (head.done) {
            this.discard(result.admitted); // timed out or left while this try was under way
            continue;
          }
          this.settle(head);
          head.resolve(result.admitted);
          continue;
        }
        if (result.slot === slot || head.done) break;
        this.remove(slot, head); // now waiting for the request's other slot
        this.enqueue(result.slot, head);
      }
    } finally {
      this.pumping.delete(slot);
      this.dropEmpty(slot);
    }
  }

  private remove(slot: string, waiter: Waiter<T>): void {
    const queue = this.queues.get(slot);
    const at = queue?.indexOf(waiter) ?? -1;
    if (at >= 0) queue!.splice(at, 1);
  }

  private settle(waiter: Waiter<T>): void {
    waiter.done = true;
    clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
  }

  private dropEmpty(slot: string): void {
    const queue = this.queues.get(slot);
    if (queue && queue.every((waiter) => waiter.done)) this.queues.delete(slot);
    if (this.queues.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }
}
