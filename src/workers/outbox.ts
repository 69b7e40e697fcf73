// Messages queued during one turn of the event loop and sent together (setImmediate runs after the turn's I/O):
// one IPC write for all the requests a turn admitted or finished, instead of one each.
export class Outbox<T> {
  private queued: T[] = [];
  private scheduled = false;

  constructor(private readonly write: (batch: T | T[]) => void) {}

  push(message: T): void {
    this.queued.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.queued;
    if (!batch.length) return;
    this.queued = [];
    this.write(batch.length === 1 ? batch[0]! : batch);
  }
}
