// The running gateway's shared state: the current config snapshot (swapped atomically on reload), metrics and
// backend health. Request handlers read `gateway.snapshot` once and keep that snapshot to the end.
import type { Snapshot } from "./config/resolve.ts";
import { Metrics } from "./observability/metrics.ts";
import { HealthMonitor } from "./upstream/health.ts";

export class Gateway {
  readonly metrics = new Metrics();
  readonly health: HealthMonitor;
  private current: Snapshot;

  constructor(snapshot: Snapshot) {
    this.current = snapshot;
    this.health = new HealthMonitor(() => this.current, this.metrics);
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  /** Swaps in a new snapshot; requests already running finish on the one they started with. */
  replaceSnapshot(next: Snapshot): void {
    const intervalChanged = next.health.interval_ms !== this.current.health.interval_ms;
    this.current = next;
    if (intervalChanged) this.health.start();
    else void this.health.checkAll();
  }
}
