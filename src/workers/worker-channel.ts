// A worker's end of the IPC channel to its supervisor: requests with an id and one answer each (limits, the
// merged /metrics), and the supervisor's own requests to this worker (render this worker's metrics).
// Messages sent in one turn of the event loop go out as one array (outbox.ts): under load each IPC write is a
// syscall and a wake-up on the other side, and batching them is what keeps a request's limits cheap.
import { GatewayError } from "../errors.ts";
import type { SupervisorMessage, WorkerMessage } from "./protocol.ts";
import { Outbox } from "./outbox.ts";

type Answer = Extract<SupervisorMessage, { t: "admitted" | "refused" | "metrics-result" }>;

export class WorkerChannel {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: Answer | undefined) => void>();
  private render: () => string = () => "";
  private closed = false;
  private readonly outbox = new Outbox<WorkerMessage>((batch) => {
    if (this.closed) return;
    try {
      process.send!(batch);
    } catch {
      this.closed = true; // the channel closed under us; "disconnect" follows
    }
  });

  constructor() {
    process.on("exit", () => this.outbox.flush()); // best effort: finishes of the last requests (a drain)
    process.on("message", (message: SupervisorMessage | SupervisorMessage[]) => {
      if (Array.isArray(message)) for (const one of message) this.receive(one);
      else this.receive(message);
    });
    // The supervisor is gone (killed outright): nothing will answer; waiting requests fail, this worker drains.
    process.on("disconnect", () => {
      this.closed = true;
      for (const settle of this.pending.values()) settle(undefined);
      this.pending.clear();
      process.kill(process.pid, "SIGTERM");
    });
  }

  newId(): number {
    return this.nextId++;
  }

  send(message: WorkerMessage): void {
    if (!this.closed) this.outbox.push(message);
  }

  /** Sends `message` (whose id came from newId) and resolves with its answer, or undefined when the supervisor is gone. */
  ask(message: WorkerMessage & { id: number }): Promise<Answer | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((settle) => {
      this.pending.set(message.id, settle);
      this.send(message);
    });
  }

  /** What this worker answers when the supervisor gathers /metrics. */
  onRender(render: () => string): void {
    this.render = render;
  }

  private receive(message: SupervisorMessage): void {
    if (message.t === "render") return this.send({ t: "rendered", id: message.id, text: this.render() });
    const settle = this.pending.get(message.id);
    if (!settle) return;
    this.pending.delete(message.id);
    settle(message);
  }
}

/** A request cannot be decided because the supervisor that owns the counters is gone (this worker is stopping). */
export function supervisorGone(): GatewayError {
  return new GatewayError("internal", "the limit service is unavailable: this worker's supervisor has stopped", { status: 503, headers: { "retry-after": "1" } });
}
