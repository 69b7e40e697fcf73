// Batches calls to Redis the way Nagle batches packets: the first call of an idle batcher goes out at once (no
// added latency), and calls made while one is under way wait and go out together when it answers, as one script
// call. Under load that turns 64 round trips (and 64 wake-ups of this process) into a few, for the same latency.
// Calls off the request path (finishes) may wait `delayMs` first, so they gather more and do not reach Redis just
// when the next request's admit does.

export class CallBatcher<Item, Reply> {
  // The items and their callers in parallel arrays: the items go to `send` as they are (no copy per call).
  private items: Item[] = [];
  private callers: { resolve: (reply: Reply) => void; reject: (error: unknown) => void }[] = [];
  private busy = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly sendNext = () => {
    this.timer = undefined;
    this.next();
  };

  /** `send` makes one call for the items and answers one reply per item, in order. */
  constructor(
    private readonly send: (items: Item[]) => Promise<Reply[]>,
    private readonly delayMs = 0,
  ) {}

  call(item: Item): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.items.push(item);
      this.callers.push({ resolve, reject });
      if (this.busy) return;
      if (this.delayMs > 0) {
        this.busy = true;
        this.timer = setTimeout(this.sendNext, this.delayMs);
      } else this.next();
    });
  }

  /** Sends what waits now and resolves once every call has been answered (shutdown). */
  drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.sendNext();
    }
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const items = this.items;
    const callers = this.callers;
    if (!items.length) {
      this.busy = false;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    this.busy = true;
    this.items = [];
    this.callers = [];
    this.send(items).then(
      (replies) => {
        for (let at = 0; at < callers.length; at++) callers[at]!.resolve(replies[at]!);
        this.next();
      },
      (error: unknown) => {
        for (const caller of callers) caller.reject(error);
        this.next();
      },
    );
  }
}
