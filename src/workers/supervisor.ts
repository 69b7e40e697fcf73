// `sluice serve`'s parent process: starts server.workers workers (this same command, with Bun's fetch cap lifted:
// upstream/fetch-capacity.ts) that all listen on one port (SO_REUSEPORT, the kernel spreads connections), keeps
// them running, and stops them. It serves no request itself. With several workers and limits in memory it owns
// the limit counters (limits-owner.ts) and gathers /metrics from every worker.
//   - A worker that dies is started again after a backoff (0.2 s doubling to 30 s; reset once one stays up 10 s).
//   - A worker that fails before any worker was ever ready (bad config, port in use) ends the supervisor with its
//     exit code: a start-up error is reported once, not retried forever.
//   - SIGTERM / SIGINT / SIGHUP go to every worker; each stops accepting, finishes its requests and streams and
//     flushes its ledger; the supervisor exits when all have exited (0 when each did).
import type { Subprocess } from "bun";
import { fetchCapacityEnv, selfCommand } from "../upstream/fetch-capacity.ts";
import { log } from "../observability/log.ts";
import { mergeExpositions } from "../observability/merge-expositions.ts";
import { LimitsOwner } from "./limits-owner.ts";
import { WORKER_ENV, type SupervisorMessage, type WorkerMessage } from "./protocol.ts";
import { Outbox } from "./outbox.ts";
import type { WorkerPlan } from "./plan.ts";

const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30_000;
/** A worker up this long has recovered: the next failure starts the backoff again from the first step. */
const STABLE_MS = 10_000;
/** Workers force their open connections closed after 30 s (cli.ts); past this they are killed. */
const DRAIN_LIMIT_MS = 35_000;
const GATHER_TIMEOUT_MS = 2_000;

interface Slot {
  index: number;
  process: Subprocess | undefined;
  /** Answers to the current process, sent once per turn of the event loop. */
  outbox: Outbox<SupervisorMessage> | undefined;
  ready: boolean;
  startedAt: number;
  failures: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
}

interface Gathering {
  texts: (string | undefined)[];
  waiting: number;
  done: () => void;
}

export class Supervisor {
  private readonly slots: Slot[];
  private readonly owner: LimitsOwner | undefined;
  private port: number | undefined;
  private everReady = false;
  private allReadyLogged = false;
  private stopping = false;
  private exitCode = 0;
  private restarts = 0;
  private nextGatherId = 1;
  private readonly gatherings = new Map<number, Gathering>();
  private finished!: (code: number) => void;

  constructor(private readonly plan: WorkerPlan) {
    this.slots = Array.from({ length: plan.count }, (_, index) => ({ index, process: undefined, outbox: undefined, ready: false, startedAt: 0, failures: 0, restartTimer: undefined }));
    this.port = plan.port === 0 ? undefined : plan.port;
    this.owner = plan.sharedLimitsStore ? new LimitsOwner(plan.sharedLimitsStore) : undefined;
  }

  /** Resolves with the exit code once every worker has exited after a stop (or a start-up failure). */
  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.finished = resolve));
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => this.stop(signal));
    // Port 0: the first worker chooses one, the others join it once it is known.
    if (this.port === undefined && this.plan.port === 0) this.start(this.slots[0]!);
    else for (const slot of this.slots) this.start(slot);
    return done;
  }

  private start(slot: Slot): void {
    slot.restartTimer = undefined;
    slot.ready = false;
    slot.startedAt = Date.now();
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...fetchCapacityEnv(),
      [WORKER_ENV.parentPid]: String(process.pid),
      [WORKER_ENV.index]: String(slot.index),
      [WORKER_ENV.count]: String(this.plan.count),
      [WORKER_ENV.limits]: this.owner ? "ipc" : "",
      ...(this.port !== undefined ? { [WORKER_ENV.port]: String(this.port) } : {}),
    };
    const child = Bun.spawn(selfCommand(), {
      env,
      stdio: ["inherit", "inherit", "inherit"],
      serialization: "json",
      ipc: (message: WorkerMessage | WorkerMessage[], from) => {
        if (Array.isArray(message)) for (const one of message) this.receive(slot, from, one);
        else this.receive(slot, from, message);
      },
    });
    slot.process = child;
    slot.outbox = new Outbox<SupervisorMessage>((batch) => {
      try {
        child.send(batch);
      } catch {
        // the worker is gone; its exit releases what it held
      }
    });
    void child.exited.then(() => this.exited(slot, child));
  }

  private receive(slot: Slot, from: Subprocess, message: WorkerMessage): void {
    const outbox = slot.outbox!;
    const reply = (answer: SupervisorMessage) => {
      if (slot.process === from) outbox.push(answer);
    };
    switch (message.t) {
      case "ready":
        return this.ready(slot, message.port);
      case "admit":
        if (this.owner) void this.owner.admit(from, message, reply);
        return;
      case "backend-slot":
        if (this.owner) void this.owner.takeBackendSlot(from, message, reply);
        return;
      case "abort":
        return this.owner?.abort(from, message.id);
      case "finish":
        return this.owner?.finish(from, message.id, message.totalTokens, message.costMicros, message.requestId);
      case "release-backend":
        return this.owner?.releaseBackend(from, message.id);
      case "metrics":
        void this.gather(message.perKey).then((text) => reply({ t: "metrics-result", id: message.id, text }));
        return;
      case "rendered": {
        const gathering = this.gatherings.get(message.id);
        if (!gathering || gathering.texts[slot.index] !== undefined) return;
        gathering.texts[slot.index] = message.text;
        if (--gathering.waiting === 0) gathering.done();
        return;
      }
    }
  }

  private ready(slot: Slot, port: number): void {
    slot.ready = true;
    this.everReady = true;
    const first = this.port === undefined;
    this.port ??= port;
    if (first && !this.stopping) for (const other of this.slots) if (!other.process && !other.restartTimer) this.start(other);
    if (!this.allReadyLogged && this.plan.count > 1 && this.slots.every((s) => s.ready)) {
      this.allReadyLogged = true;
      log.info(`${this.plan.count} workers serving on port ${this.port} (pids ${this.slots.map((s) => s.process?.pid).join(", ")})`);
    }
  }

  private exited(slot: Slot, child: Subprocess): void {
    if (slot.process !== child) return;
    slot.process = undefined;
    const wasReady = slot.ready;
    slot.ready = false;
    this.owner?.releaseWorker(child);
    const code = child.exitCode ?? 128 + (child.signalCode ? signalNumber(String(child.signalCode)) : 0);
    if (this.stopping) {
      if (code !== 0 && this.exitCode === 0) this.exitCode = code;
      return this.finishIfAllExited();
    }
    if (!this.everReady && !wasReady) {
      // A start-up failure (the worker said why): stop the others and end with its code.
      this.stop("start-up failure", code);
      return this.finishIfAllExited();
    }
    if (Date.now() - slot.startedAt > STABLE_MS) slot.failures = 0;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** slot.failures);
    slot.failures++;
    this.restarts++;
    log.warn(`worker ${slot.index} (pid ${child.pid}) exited (${child.signalCode ?? `code ${child.exitCode}`}); starting a new one in ${delay} ms`);
    slot.restartTimer = setTimeout(() => this.start(slot), delay);
  }

  private stop(reason: string, code?: number): void {
    if (this.stopping) return;
    this.stopping = true;
    if (code !== undefined) this.exitCode = code;
    const running = this.slots.filter((slot) => slot.process);
    if (running.length && code === undefined) log.info(`${reason}: stopping ${running.length} worker${running.length > 1 ? "s" : ""} (each finishes its in-flight requests)`);
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      slot.process?.kill("SIGTERM"); // the workers' drain, whatever stopped the supervisor
    }
    setTimeout(() => {
      for (const slot of this.slots) slot.process?.kill("SIGKILL");
    }, DRAIN_LIMIT_MS).unref();
    this.finishIfAllExited();
  }

  private finishIfAllExited(): void {
    if (this.slots.some((slot) => slot.process)) return;
    this.owner?.close();
    this.finished(this.exitCode);
  }

  /** Every ready worker's render(), merged, with the owner's slots and the supervisor's own lines. */
  private async gather(perKey: boolean): Promise<string> {
    const live = this.slots.filter((slot) => slot.ready && slot.process);
    const id = this.nextGatherId++;
    const texts: (string | undefined)[] = new Array(this.slots.length).fill(undefined);
    await new Promise<void>((done) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS); // a worker that does not answer is left out
      this.gatherings.set(id, { texts, waiting: live.length, done: () => (clearTimeout(timer), done()) });
      if (live.length === 0) done();
      for (const slot of live) slot.outbox!.push({ t: "render", id });
    });
    this.gatherings.delete(id);
    const shared = [
      "# HELP sluice_workers Worker processes serving now (server.workers).",
      "# TYPE sluice_workers gauge",
      `sluice_workers ${live.length}`,
      "# HELP sluice_worker_restarts_total Workers started again after one exited.",
      "# TYPE sluice_worker_restarts_total counter",
      `sluice_worker_restarts_total ${this.restarts}`,
      ...(this.owner?.metricLines(perKey) ?? []),
    ].join("\n");
    return mergeExpositions(texts, shared);
  }
}

function signalNumber(signal: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 } as Record<string, number>)[signal] ?? 0;
}
