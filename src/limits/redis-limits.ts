// The limit service in Redis (`limits.url: redis://…`): rpm/tpm windows, budgets, credit holds and max_concurrent
// slots shared exactly by every gateway on the same Redis. Each request costs one script call before it runs (ADMIT:
// everything it needs, all or nothing) and one after (FINISH: tpm correction, settle, release); see redis-scripts.ts.
//
// What it holds carries a lease this gateway renews for all its requests at once (one timer, one call), so the
// slots of a gateway that dies come back within limits.lease_ms and its reservations count as spent.
// Budgets' settled spend is loaded from the store once per key and period (the first gateway's figure wins) and
// kept by the scripts from then on. Credits: the balance is the store's; holds live in Redis until the deduction
// is in the store (CreditBook.whenFlushed), so no gateway ever counts a charge as neither held nor deducted.
//
// storage.ledger_via: stream: a request's ledger row goes into a Redis stream in its FINISH call, so the row and
// the settle are one atomic step in Redis (drained into PostgreSQL by store/postgres/ledger-stream.ts). A row that
// cannot take that way (admitted locally, the call failed, the stream full) goes to the store's batched ledger.
//
// When Redis does not answer (per-call timeout, heartbeat), each limit kind does what limits.on_failure says:
// rates fall back to this gateway's own windows (local) or are not checked (open), max_concurrent uses this
// gateway's own semaphores, budgets and credits refuse with 503 (closed) or use this gateway's own books (local).
import { GatewayError } from "../errors.ts";
import type { ApiKey } from "../auth/key-record.ts";
import { randomBase62 } from "../auth/key-record.ts";
import type { Backend } from "../config/resolve.ts";
import { maskUrl } from "../config/mask-url.ts";
import { log } from "../observability/log.ts";
import type { Admission, LedgerHandoff, LimitService } from "./limit-service.ts";
import type { LedgerRow } from "../store/ledger.ts";
import type { Ledger } from "../store/store.ts";
import type { SemaphoreStats } from "./semaphore.ts";
import { utcDayBounds, utcMonthBounds, type PeriodBounds } from "./utc-periods.ts";
import { RedisConnection, RedisUnavailable } from "./redis-connection.ts";
import { ADMIT, FIELD_SEPARATOR as SEP, FINISH, RENEW } from "./redis-scripts.ts";
import { SlotQueues, type Attempt } from "./slot-queues.ts";
import { CallBatcher } from "./call-batcher.ts";
import {
  accountReservationMicros, admit, backendSlotsBusy, budgetExceeded, DEFAULT_KEY_QUEUE_TIMEOUT_MS, insufficientCredits, keySlotsBusy,
  LocalAdmission, overRpm, overTpm, pushRateHeaders, REQUEST_HEADERS, reservationMicros, TOKEN_HEADERS, toMicros, tpmCost,
  type AccountLimits, type AdmissionRequest, type Limits,
} from "../pipeline/admission.ts";

export interface FailurePolicy {
  rate: "open" | "local";
  concurrency: "local";
  budget: "closed" | "local";
}

export interface RedisLimitsSettings {
  url: string;
  /** Longest any Redis call may take before it counts as failed (and Redis as down). */
  timeoutMs: number;
  heartbeatMs: number;
  leaseMs: number;
  /** Queued requests try again this often when no release message arrives. */
  pollMs: number;
  /** Every Redis key's prefix, with a {hash tag}. */
  prefix: string;
  /** Rate window length (60 s; shorter only for tests: SLUICE_RATE_WINDOW_MS). */
  windowMs: number;
  onFailure: FailurePolicy;
  /** storage.ledger_via: stream. `batched`: the store's ledger, for rows the stream does not take. */
  ledgerStream?: { batched: Ledger; maxRows: number };
}

/** Settled spend since a period's start, from the store: a key's ledger, an account's deductions. */
export interface SpendLoaders {
  keySpent(keyId: string, sinceMs: number): number;
  accountSpent(accountId: string, sinceMs: number): number;
}

const BUCKETS = 60;
const MAX_RELOADS = 3;
/** Failed finish calls kept for when Redis answers again; beyond it, leases settle them (as spent). */
const MAX_PENDING = 100_000;
const FINISH_DELAY_MS = 1;

interface BudgetScope {
  redisKey: string;
  limitMicros: number;
  period: "daily" | "monthly";
  endMs: number;
  startMs: number;
  amountMicros: number;
  owner: string;
  /** Whose settled spend the store holds: a key's ledger ('k') or an account's deductions ('a'). */
  spender: "k" | "a";
  spenderId: string;
}

interface SlotNeed {
  redisKey: string;
  max: number;
  timeoutMs: number;
  /** Whose slots: the backend's, or else the key's (what a queue timeout's message names). */
  backend: Backend | undefined;
  key: ApiKey | null;
}

/** Everything one admit call asks for, computed once per request. */
interface Plan {
  request: AdmissionRequest;
  key: ApiKey | null;
  rpm: number;
  tpm: number;
  tpmTokens: number;
  budgets: BudgetScope[];
  credit: { redisKey: string; accountId: string; amountMicros: number } | undefined;
  slots: SlotNeed[];
}

export class RedisLimits implements LimitService {
  readonly connection: RedisConnection;
  private readonly background: RedisConnection;
  private readonly queues: SlotQueues<Admission>;
  /** Requests of this gateway holding something in Redis: their leases are renewed together. */
  private readonly leased = new Set<string>();
  /** Budget keys this process has loaded into Redis (or found there). */
  private readonly loaded = new Set<string>();
  /** Budget keys and accounts last seen with nothing left, until when: refuseSpentBudget's synchronous answer. */
  private readonly spent = new Map<string, number>();
  private pending: { args: string[]; done: string[] }[] = [];
  private replayTimer: ReturnType<typeof setTimeout> | undefined;
  /** Slots this gateway's requests hold, per slot's Redis key (for /metrics, which names them without the prefix). */
  private readonly held = new Map<string, number>();
  private readonly fallbacks = { rate: 0, concurrency: 0, budget: 0 };
  private readonly instance = randomBase62(8);
  private sequence = 0;
  private readonly bucketMs: number;
  private readonly renewer: ReturnType<typeof setInterval>;
  private readonly prefix: string;
  private readonly periods = new CurrentPeriods();
  /** ADMIT's fields after the request id that are the same for every request: lease ms, bucket ms, buckets. */
  private readonly admitConstants: string;

  constructor(
    readonly settings: RedisLimitsSettings,
    /** This gateway's own limits: the fallback while Redis is down. */
    readonly local: Limits,
    private readonly loaders: SpendLoaders,
  ) {
    this.prefix = settings.prefix;
    this.bucketMs = settings.windowMs / BUCKETS;
    this.admitConstants = `${SEP}${settings.leaseMs}${SEP}${this.bucketMs}${SEP}${BUCKETS}${SEP}`;
    this.connection = new RedisConnection(settings.url, { timeoutMs: settings.timeoutMs, heartbeatMs: settings.heartbeatMs, onHealth: (healthy) => healthy && this.recovered() });
    // Finishes, renewals and markers on a connection of their own: Bun's client answers one command after another
    // on a connection, and an admit (on the request's path) must not wait behind them.
    this.background = new RedisConnection(settings.url, { timeoutMs: settings.timeoutMs, heartbeatMs: settings.heartbeatMs });
    this.queues = new SlotQueues<Admission>(settings.pollMs, (slots) => this.markWaiting(slots), (admission) => admission.finish(0, 0));
    this.renewer = setInterval(() => this.renew(), Math.max(50, Math.floor(settings.leaseMs / 3)));
    this.renewer.unref?.();
    void this.connection.subscribe(`${this.prefix}released`, (slot) => this.queues.wake(slot)).catch(() => {});
    // Requests arriving before the first connection has answered wait for it (at most timeout_ms), not fall back.
    this.starting = this.connection.first.then(() => (this.starting = undefined));
  }

  private starting: Promise<unknown> | undefined;

  get accounts(): AccountLimits | undefined {
    return this.local.accounts;
  }

  admit(request: AdmissionRequest): Admission | Promise<Admission> {
    if (!this.connection.healthy) return this.starting ? this.starting.then(() => this.admit(request)) : this.admitLocally(request);
    const plan = this.plan(request);
    const id = this.nextId();
    // FIFO in this gateway: a request whose slot already has waiters here queues behind them.
    for (const slot of plan.slots) if (this.queues.waiting(slot.redisKey) > 0) return this.queue(slot, plan, id, undefined);
    return this.attempt(plan, id, undefined).then((result) => ("admitted" in result ? result.admitted : this.queue(plan.slots.find((slot) => slot.redisKey === result.slot)!, plan, id, undefined)));
  }

  async takeBackendSlot(admission: Admission | undefined, key: ApiKey | null, backend: Backend, signal: AbortSignal | undefined): Promise<Admission> {
    if (admission instanceof LocalAdmission || (admission === undefined && !this.connection.healthy)) return this.local.takeBackendSlot(admission, key, backend, signal);
    const target = admission instanceof RedisAdmission ? admission : new RedisAdmission(this, this.nextId(), undefined, "");
    if (!this.connection.healthy) {
      this.fallbacks.concurrency++;
      target.localPart = await this.local.takeBackendSlot(target.localPart, key, backend, signal);
      return target;
    }
    const plan: Plan = { request: { key, backend, promptTokensBound: 0, maxTokens: 0, signal }, key, rpm: 0, tpm: 0, tpmTokens: 0, budgets: [], credit: undefined, slots: [this.backendSlot(backend)] };
    const result = await this.attempt(plan, target.id, target);
    return "admitted" in result ? result.admitted : this.queue(plan.slots[0]!, plan, target.id, target);
  }

  refuseSpentBudget(key: ApiKey): void {
    if (!this.connection.healthy) {
      if (this.settings.onFailure.budget === "local") this.local.refuseSpentBudget(key);
      return;
    }
    const now = Date.now();
    const spentUntil = (name: string) => (this.spent.get(name) ?? 0) > now;
    if (key.account_id && spentUntil(`account:${key.account_id}`)) throw new GatewayError("insufficient_credits", `account ${key.account_id} (key ${key.prefix}…) has no credit left that requests in flight do not hold: top up with POST /v1/accounts/${key.account_id}/credits`);
    for (const period of ["daily", "monthly"] as const) {
      const scope = this.keyBudgetKey(key.id, period, now);
      const until = this.spent.get(scope) ?? 0;
      if (until > now) {
        throw new GatewayError("budget_exceeded", `API key ${key.prefix}… has nothing left of its ${period} budget; wait for the next period`, { headers: { "retry-after": String(Math.max(1, Math.ceil((until - now) / 1000))) } });
      }
    }
  }

  concurrencyStats(): SemaphoreStats[] {
    const stats = this.local.concurrencyStats();
    const named = this.prefix.length + "slot:".length;
    for (const [redisKey, inUse] of this.held) stats.push({ name: redisKey.slice(named), max: 0, inUse, waiting: this.queues.waiting(redisKey) });
    return stats;
  }

  metricLines(): string[] {
    return [
      "# HELP sluice_limits_redis_up 1 while the Redis limit service answers (limits.url), 0 while limits follow limits.on_failure.",
      "# TYPE sluice_limits_redis_up gauge",
      `sluice_limits_redis_up ${this.connection.healthy ? 1 : 0}`,
      "# HELP sluice_limits_fallbacks_total Requests whose limits were decided without Redis, by limit kind (limits.on_failure).",
      "# TYPE sluice_limits_fallbacks_total counter",
      ...Object.entries(this.fallbacks).map(([kind, count]) => `sluice_limits_fallbacks_total{kind="${kind}"} ${count}`),
    ];
  }

  /** Sends the ends of requests still gathering (up to timeout_ms), then disconnects. */
  async close(): Promise<void> {
    clearInterval(this.renewer);
    clearTimeout(this.replayTimer);
    this.queues.close();
    await Promise.race([this.finishes.drain(), Bun.sleep(this.settings.timeoutMs)]);
    this.connection.close();
    this.background.close();
  }

  /** A ledger row with nothing to settle (refused before admission): into the stream, as a FINISH entry of its own. */
  appendLedgerRow(row: LedgerRow): LedgerHandoff {
    if (!this.settings.ledgerStream || !this.connection.healthy) return false;
    return this.sendFinish(["", "", "0", "0", "0", "", "0"].join(SEP), row, []);
  }

  /** @internal RedisAdmission.finish: one FINISH call; credit holds stay until the deduction is in the store. */
  finished(admission: RedisAdmission, totalTokens: number | undefined, costMicros: number, requestId: string | null, row: LedgerRow | undefined): LedgerHandoff {
    const plan = admission.plan;
    const credits = plan?.credit && this.accounts?.credits;
    if (credits && costMicros > 0) credits.charge(plan!.credit!.accountId, costMicros, { requestId, keyId: plan!.key?.id ?? null });
    this.dropHeld(admission.slots);
    const keepCredits = credits !== undefined && costMicros > 0;
    const tpmDelta = plan && plan.tpm && totalTokens !== undefined ? totalTokens - plan.tpmTokens : 0;
    const tpmKey = tpmDelta ? this.rateKey(plan!.key!.id) : "";
    const budgets = plan?.budgets ?? [];
    let entry = `${admission.id}${SEP}${tpmKey}${SEP}${tpmDelta}${SEP}${Math.max(0, Math.ceil(costMicros))}${SEP}${keepCredits ? "1" : "0"}${SEP}${admission.epoch}${SEP}${budgets.length}`;
    for (const budget of budgets) entry += SEP + budget.redisKey;
    const done = keepCredits ? [] : [admission.id];
    // while Redis is known to be down the row goes to the store's ledger at once: the response need not wait
    // for a call that is bound to time out
    const streamed = row !== undefined && this.settings.ledgerStream !== undefined && this.connection.healthy;
    const handoff = this.sendFinish(entry, streamed ? row : undefined, done, admission.slots);
    if (keepCredits) credits!.whenFlushed(() => this.call(["credits", admission.id], [admission.id]));
    return streamed && handoff;
  }

  /**
   * One request's end into the next FINISH call, with its ledger row when it has one. The row goes to the batched
   * ledger when the stream was full, and when the call failed (it may still have run, if Redis was only slow: the
   * store writes a row once). A failed call is sent again later without its row.
   */
  private sendFinish(entry: string, row: LedgerRow | undefined, done: string[], slots: readonly string[] = []): Promise<void> {
    const batched = this.settings.ledgerStream?.batched;
    return this.finishes.call(row ? entry + SEP + JSON.stringify(row) : entry).then(
      (rowNotAdded) => {
        if (rowNotAdded && row) batched!.append(row);
        this.forget(done);
        for (const slot of slots) this.queues.wake(slot); // released in Redis now: this gateway's waiters try at once
      },
      () => {
        if (row) batched!.append(row);
        this.later(this.finishArgs(entry), done);
      },
    );
  }

  /** FINISH's arguments after the prefix for these requests' entries. */
  private finishArgs(...entries: string[]): string[] {
    return ["finish", String(this.bucketMs), String(BUCKETS), String(this.settings.ledgerStream?.maxRows ?? 0), ...entries];
  }

  /** Admits and finishes while one is under way go together in one script call (call-batcher.ts). */
  private readonly admits = new CallBatcher<string, unknown[]>((items) => this.connection.evalScript(ADMIT, [], [this.prefix, ...items]) as Promise<unknown[][]>);

  /**
   * Finishes gather for FINISH_DELAY_MS: slots and settlements reach Redis that much later, off the request path.
   * Each answers whether its ledger row was left out (the stream was full). (With storage.ledger_via: stream an
   * answer's end waits for its finish; sending those at once instead measured no lower latency and more CPU.)
   */
  private readonly finishes = new CallBatcher<string, boolean>(async (items) => {
    const notAdded = (await this.background.evalScript(FINISH, [], [this.prefix, ...this.finishArgs(...items)])) as number[];
    const answers = items.map(() => false);
    for (const at of notAdded) answers[at - 1] = true;
    return answers;
  }, FINISH_DELAY_MS);

  private lastScriptError = 0;

  private logScriptError(error: unknown): void {
    if (Date.now() - this.lastScriptError < 10_000) return;
    this.lastScriptError = Date.now();
    log.error(`limits: Redis (${maskUrl(this.settings.url)}) answered with an error; limits follow limits.on_failure for such requests: ${error instanceof Error ? error.message : String(error)}`);
  }

  /** @internal RedisAdmission.releaseBackend. */
  releasedSlot(admission: RedisAdmission, slot: string): void {
    this.dropHeld([slot]);
    this.call(["slot", admission.id, slot], [], () => this.queues.wake(slot));
  }

  /** One admit try: admitted, or the slot it waits for; refusals throw, Redis trouble falls back to local limits. */
  private async attempt(plan: Plan, id: string, into: RedisAdmission | undefined, queued = false): Promise<Attempt<Admission>> {
    for (let round = 0; ; round++) {
      let reply: unknown[];
      try {
        reply = await this.admits.call(this.admitArgument(plan, id, queued));
      } catch (error) {
        // An error reply (Redis out of memory, a read-only replica, a script bug) is Redis unusable for this
        // request just as a timeout is: decided by on_failure, and said in the log.
        if (!(error instanceof RedisUnavailable)) this.logScriptError(error);
        this.cancelLater(id);
        if (into) {
          this.fallbacks.concurrency++;
          into.localPart = await this.local.takeBackendSlot(into.localPart, plan.key, plan.request.backend!, plan.request.signal);
          return { admitted: into };
        }
        return { admitted: await this.admitLocally(plan.request) };
      }
      const status = reply[0] as string;
      if (status === "reload") {
        // The budget is missing in Redis (restarted, flushed): load it from the store and try again.
        if (round < MAX_RELOADS) {
          this.loaded.delete(plan.budgets[(reply[10] as number) - 1]!.redisKey);
          continue;
        }
        this.logScriptError(new Error("a budget could not be loaded into Redis after 3 tries"));
        return into ? { admitted: into } : { admitted: await this.admitLocally(plan.request) };
      }
      for (const budget of plan.budgets) this.loaded.add(budget.redisKey);
      if (status === "ok") return { admitted: this.admitted(plan, id, reply, into) };
      if (status === "slot") return { slot: plan.slots[(reply[10] as number) - 1]!.redisKey };
      throw this.refusal(plan, status, reply);
    }
  }

  private admitted(plan: Plan, id: string, reply: unknown[], into: RedisAdmission | undefined): RedisAdmission {
    const admission = into ?? new RedisAdmission(this, id, plan, this.epoch);
    if (!into && plan.key && (plan.rpm || plan.tpm)) admission.headers = rateHeaders(plan, reply);
    for (const slot of plan.slots) {
      admission.slots.push(slot.redisKey);
      if (slot.backend) admission.backendSlot = slot.redisKey;
      this.held.set(slot.redisKey, (this.held.get(slot.redisKey) ?? 0) + 1);
    }
    if (plan.budgets.length || plan.credit || plan.slots.length) this.leased.add(id);
    return admission;
  }

  private queue(slot: SlotNeed, plan: Plan, id: string, into: RedisAdmission | undefined): Promise<Admission> {
    const started = performance.now();
    const what = slot.backend ? backendSlotsBusy(slot.backend) : keySlotsBusy(slot.key!);
    const setting = slot.backend ? "backends[].queue_timeout_ms" : "queue_timeout_ms";
    return this.queues
      .wait(slot.redisKey, () => this.attempt(plan, id, into, true), slot.timeoutMs, what, setting, plan.request.signal)
      .then((admission) => {
        admission.queuedMs += Math.round((performance.now() - started) * 100) / 100;
        return admission;
      });
  }

  /** Redis is down: each limit kind as limits.on_failure says. */
  private admitLocally(request: AdmissionRequest): Admission | Promise<Admission> {
    const { key, backend } = request;
    const policy = this.settings.onFailure;
    const money = key !== null && (key.budget_usd_daily !== null || key.budget_usd_monthly !== null || (key.account_id != null && this.accounts !== undefined));
    if (money) {
      this.fallbacks.budget++;
      if (policy.budget === "closed") {
        throw new GatewayError("limits_unavailable", `the shared limits store (${maskUrl(this.settings.url)}) is not answering and API key ${key.prefix}… has a budget or credits, which are not spent unchecked (limits.on_failure.budget: closed); try again in a few seconds`, { headers: { "retry-after": "1" } });
      }
    }
    if (key && (key.rpm || key.tpm)) this.fallbacks.rate++;
    if (key?.max_concurrent || backend?.maxConcurrent) this.fallbacks.concurrency++;
    return admit(this.local, request, policy.rate === "local");
  }

  private plan(request: AdmissionRequest): Plan {
    const { key, backend } = request;
    const now = Date.now();
    const plan: Plan = { request, key, rpm: key?.rpm ?? 0, tpm: key?.tpm ?? 0, tpmTokens: 0, budgets: [], credit: undefined, slots: [] };
    if (key?.tpm) plan.tpmTokens = tpmCost(key.tpm, request);
    if (key && (key.budget_usd_daily !== null || key.budget_usd_monthly !== null)) {
      this.addBudgets(plan, "k", key.id, `API key ${key.prefix}…`, toMicros(key.budget_usd_daily), toMicros(key.budget_usd_monthly), reservationMicros(request), now);
    }
    const accounts = this.accounts;
    if (key?.account_id && accounts) {
      const accountId = key.account_id;
      const amount = accountReservationMicros(request);
      const account = accounts.store.get(accountId);
      if (account && (account.budget_usd_daily !== null || account.budget_usd_monthly !== null)) {
        this.addBudgets(plan, "a", accountId, `account ${accountId}`, toMicros(account.budget_usd_daily), toMicros(account.budget_usd_monthly), amount, now);
      }
      plan.credit = { redisKey: `${this.prefix}cred:${accountId}`, accountId, amountMicros: amount };
    }
    if (key?.max_concurrent) {
      plan.slots.push({ redisKey: this.slotRedisKey(`key:${key.id}`), max: key.max_concurrent, timeoutMs: key.queue_timeout_ms ?? DEFAULT_KEY_QUEUE_TIMEOUT_MS, backend: undefined, key });
    }
    if (backend?.maxConcurrent) plan.slots.push(this.backendSlot(backend));
    return plan;
  }

  private addBudgets(plan: Plan, spender: "k" | "a", spenderId: string, owner: string, daily: number | undefined, monthly: number | undefined, amount: number, now: number): void {
    // Monthly first: when both are spent the month resets later, so its retry time is the honest one.
    if (monthly !== undefined) this.addBudget(plan, spender, spenderId, owner, "monthly", monthly, this.periods.month(now), amount);
    if (daily !== undefined) this.addBudget(plan, spender, spenderId, owner, "daily", daily, this.periods.day(now), amount);
  }

  private addBudget(plan: Plan, spender: "k" | "a", spenderId: string, owner: string, period: "daily" | "monthly", limitMicros: number, bounds: PeriodBounds, amountMicros: number): void {
    const redisKey = this.budgetRedisKey(spender, spenderId, period, bounds.startMs);
    plan.budgets.push({ redisKey, limitMicros, period, startMs: bounds.startMs, endMs: bounds.endMs, amountMicros, owner, spender, spenderId });
  }

  /** A budget's settled spend since its period's start, from the store (Redis does not have it yet). */
  private settledSpend(budget: BudgetScope): number {
    return budget.spender === "k" ? this.loaders.keySpent(budget.spenderId, budget.startMs) : this.loaders.accountSpent(budget.spenderId, budget.startMs);
  }

  private backendSlot(backend: Backend): SlotNeed {
    return { redisKey: this.slotRedisKey(`backend:${backend.id}`), max: backend.maxConcurrent!, timeoutMs: backend.queueTimeoutMs, backend, key: null };
  }

  /** ADMIT's argument for one request (fields as redis-scripts.ts lists them), built as one string. */
  private admitArgument(plan: Plan, id: string, sweep: boolean): string {
    const rateKey = plan.rpm || plan.tpm ? this.rateKey(plan.key!.id) : "";
    let arg = `${id}${this.admitConstants}${sweep ? "1" : "0"}${SEP}${rateKey}${SEP}${plan.rpm}${SEP}${plan.tpm}${SEP}${plan.tpmTokens}${SEP}${plan.budgets.length}`;
    for (const budget of plan.budgets) {
      const loaded = this.loaded.has(budget.redisKey) ? -1 : this.settledSpend(budget);
      arg += `${SEP}${budget.redisKey}${SEP}${budget.limitMicros}${SEP}${budget.endMs}${SEP}${loaded}${SEP}${budget.amountMicros}`;
    }
    const credit = plan.credit;
    if (credit) arg += `${SEP}${credit.redisKey}${SEP}${this.accounts!.store.balanceMicros(credit.accountId)}${SEP}${credit.amountMicros}`;
    else arg += `${SEP}${SEP}0${SEP}0`;
    arg += `${SEP}${plan.slots.length}`;
    for (const slot of plan.slots) arg += `${SEP}${slot.redisKey}${SEP}${slot.max}`;
    return arg;
  }

  private refusal(plan: Plan, status: string, reply: unknown[]): GatewayError {
    const key = plan.key!;
    const detail = reply.slice(10) as number[];
    if (status === "rpm") return overRpm(key, reply[4] as number, rateHeaders(plan, reply));
    if (status === "tpm") return overTpm(key, plan.tpmTokens, reply[8] as number, rateHeaders(plan, reply));
    if (status === "budget") {
      const budget = plan.budgets[detail[0]! - 1]!;
      const [limitMicros, spentMicros, reservedMicros, retryAfterMs] = detail.slice(1) as [number, number, number, number];
      if (spentMicros >= limitMicros) this.spent.set(budget.redisKey, budget.endMs);
      return budgetExceeded(budget.owner, { period: budget.period, limitMicros, spentMicros, reservedMicros, retryAfterMs }, budget.amountMicros);
    }
    if (status === "credits") {
      const [balance, reserved] = detail as [number, number];
      if (balance - reserved <= 0) this.spent.set(`account:${key.account_id}`, Date.now() + 1_000);
      return insufficientCredits(key.account_id!, balance, reserved, plan.credit!.amountMicros, key);
    }
    return new GatewayError("internal", `the Redis limit service answered '${String(status)}'`);
  }

  /**
   * A FINISH call; when Redis does not answer it waits (in order) for Redis to come back, the requests' leases
   * renewed meanwhile. `done`: requests that hold nothing more once this call went through.
   */
  private call(args: string[], done: string[], then?: () => void): void {
    const run = this.background.evalScript(FINISH, [], [this.prefix, ...args]);
    run.then(
      () => {
        this.forget(done);
        then?.();
      },
      () => this.later(args, done),
    );
  }

  /**
   * Kept for when Redis answers again; past MAX_PENDING the leases settle them (as spent). A timeout marks the
   * connection down and its recovery replays the calls; an error reply from a Redis that is up (OOM, BUSY,
   * LOADING) marks nothing, so no recovery would come and a released slot would stay taken until its lease ran
   * out: a replay is scheduled instead.
   */
  private later(args: string[], done: string[]): void {
    if (this.pending.length < MAX_PENDING) this.pending.push({ args, done });
    else this.forget(done);
    if (!this.connection.healthy || this.replayTimer) return;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      if (this.connection.healthy) this.replayPending();
    }, this.settings.pollMs);
  }

  private forget(ids: string[]): void {
    for (const id of ids) this.leased.delete(id);
  }

  /** An admit that timed out may still run when a frozen Redis wakes up: whatever it took is given back then. */
  private cancelLater(id: string): void {
    if (this.pending.length < MAX_PENDING) this.pending.push({ args: this.finishArgs([id, "", "0", "0", "0", "", "0"].join(SEP)), done: [] });
  }

  /** Redis answers again: the calls that failed meanwhile go through, in order; the epoch is read again. */
  private recovered(): void {
    this.renew();
    this.replayPending();
  }

  /** The failed calls, in order; those that fail again wait for the next recovery or replay. */
  private replayPending(): void {
    const pending = this.pending;
    this.pending = [];
    void (async () => {
      for (const [at, call] of pending.entries()) {
        try {
          await this.background.evalScript(FINISH, [], [this.prefix, ...call.args]);
          this.forget(call.done);
        } catch {
          this.pending.unshift(...pending.slice(at));
          return;
        }
      }
    })();
  }

  /** Every lease_ms / 3: this gateway's leases renewed, expired ones swept, the data's epoch read. */
  private renew(): void {
    if (!this.connection.healthy) return;
    const ids = [...this.leased];
    for (let at = 0; at === 0 || at < ids.length; at += 2_000) {
      this.background
        .evalScript(RENEW, [], [this.prefix, String(this.settings.leaseMs), this.instance, ...ids.slice(at, at + 2_000)])
        .then((epoch) => (this.epoch = String(epoch)))
        .catch(() => {});
    }
  }

  /** The Redis data's epoch as last read (see redis-scripts.ts): a finish compares it when its record is gone. */
  private epoch = "";

  /** While requests queue here, releases anywhere publish (the marker lapses a few polls after the last one). */
  private markWaiting(slots: string[]): void {
    if (!this.connection.healthy || !slots.length) return;
    this.background.send("SET", [`${this.prefix}waiting`, "1", "PX", String(Math.max(1_000, this.settings.pollMs * 4))]).catch(() => {});
  }

  private dropHeld(slots: readonly string[]): void {
    for (const slot of slots) {
      const count = (this.held.get(slot) ?? 1) - 1;
      if (count > 0) this.held.set(slot, count);
      else this.held.delete(slot);
    }
  }

  private nextId(): string {
    return `${this.instance}.${++this.sequence}`;
  }

  private rateKey(keyId: string): string {
    return `${this.prefix}rate:${keyId}`;
  }

  private slotRedisKey(name: string): string {
    return `${this.prefix}slot:${name}`;
  }

  private keyBudgetKey(keyId: string, period: "daily" | "monthly", now: number): string {
    return this.budgetRedisKey("k", keyId, period, period === "daily" ? this.periods.day(now).startMs : this.periods.month(now).startMs);
  }

  private budgetRedisKey(owner: "k" | "a", id: string, period: "daily" | "monthly", periodStartMs: number): string {
    return `${this.prefix}bud:${owner}:${id}:${period === "daily" ? "d" : "m"}:${periodStartMs}`;
  }
}

/** The current UTC day and month, computed again only when one has ended (a Date per request costs ~1 µs). */
class CurrentPeriods {
  private today: PeriodBounds = { startMs: 0, endMs: 0 };
  private thisMonth: PeriodBounds = { startMs: 0, endMs: 0 };

  day(now: number): PeriodBounds {
    if (now >= this.today.endMs || now < this.today.startMs) this.today = utcDayBounds(now);
    return this.today;
  }

  month(now: number): PeriodBounds {
    if (now >= this.thisMonth.endMs || now < this.thisMonth.startMs) this.thisMonth = utcMonthBounds(now);
    return this.thisMonth;
  }
}

/** A request admitted through Redis: its id names what it holds there. */
class RedisAdmission implements Admission {
  queuedMs = 0;
  headers: string[] | undefined;
  /** Slot keys held in Redis. */
  readonly slots: string[] = [];
  backendSlot: string | undefined;
  /** A balancer retry's backend slot taken from this gateway's own semaphores while Redis was down. */
  localPart: LocalAdmission | undefined;
  private done = false;

  constructor(
    private readonly service: RedisLimits,
    readonly id: string,
    readonly plan: Plan | undefined,
    readonly epoch: string,
  ) {}

  finish(totalTokens: number | undefined, costMicros: number, requestId: string | null = null, ledgerRow?: LedgerRow): LedgerHandoff {
    if (this.done) return false;
    this.done = true;
    this.localPart?.finish(0, 0);
    return this.service.finished(this, totalTokens, costMicros, requestId, ledgerRow);
  }

  releaseBackend(): void {
    this.localPart?.releaseBackend();
    const slot = this.backendSlot;
    if (!slot || this.done) return;
    this.backendSlot = undefined;
    this.slots.splice(this.slots.indexOf(slot), 1);
    this.service.releasedSlot(this, slot);
  }
}

function rateHeaders(plan: Plan, reply: unknown[]): string[] {
  const headers: string[] = [];
  if (plan.rpm && reply[2]) pushRateHeaders(headers, REQUEST_HEADERS, rateDecision(reply, 2));
  if (plan.tpm && reply[6]) pushRateHeaders(headers, TOKEN_HEADERS, rateDecision(reply, 6));
  return headers;
}

/** One window's figures in an ADMIT reply, from `at`: limit, remaining, retry ms, reset ms. */
function rateDecision(reply: unknown[], at: number) {
  return { allowed: true, limit: reply[at] as number, remaining: reply[at + 1] as number, retryAfterMs: reply[at + 2] as number, resetMs: reply[at + 3] as number };
}
