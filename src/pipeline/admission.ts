// Stage: may this request run now? rpm and tpm per key, the key's budget (a worst-case reservation, settled to the
// real cost afterwards, so concurrent requests cannot overspend), then a max_concurrent slot per key and per
// backend, waiting in FIFO order up to the queue timeout. Everything taken is given back exactly once.
import { GatewayError } from "../errors.ts";
import type { Backend } from "../config/resolve.ts";
import type { ApiKey } from "../auth/key-record.ts";
import { RateWindow, rateWindowMs, type RateDecision } from "../limits/rate-window.ts";
import { QueueTimeoutError, SemaphoreRegistry, type FifoSemaphore, type Release } from "../limits/semaphore.ts";
import { BudgetBook, isBudgetDenial, type BudgetDenial, type Reservation } from "../limits/budget.ts";
import { worstCaseCostMicros } from "../billing/cost.ts";
import { isCreditDenial, usd, type CreditBook, type CreditHold } from "../billing/credits.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { Admission, LimitService } from "../limits/limit-service.ts";
import type { SemaphoreStats } from "../limits/semaphore.ts";

export type { Admission, LimitService } from "../limits/limit-service.ts";

/** Accounts' credits and budgets; absent where no store is open (unit tests). */
export interface AccountLimits {
  store: AccountStore;
  credits: CreditBook;
  /** Budgets per account, their spend read from the account's deductions. */
  budgets: BudgetBook;
}

export const DEFAULT_KEY_QUEUE_TIMEOUT_MS = 30_000;

/** The limit service in this process's memory (see limit-service.ts): synchronous unless a request queues. */
export class Limits implements LimitService {
  readonly requests = new RateWindow(rateWindowMs());
  readonly tokens = new RateWindow(rateWindowMs());
  readonly concurrency = new SemaphoreRegistry();
  readonly budgets: BudgetBook;

  /** `spentSince` reads a key's settled spend from the ledger (once per key and budget period). */
  constructor(
    spentSince: (keyId: string, sinceMs: number) => number,
    readonly accounts?: AccountLimits,
  ) {
    this.budgets = new BudgetBook(spentSince);
  }

  admit(request: AdmissionRequest): Admission | Promise<Admission> {
    return admit(this, request);
  }

  async takeBackendSlot(admission: Admission | undefined, key: ApiKey | null, backend: Backend, signal: AbortSignal | undefined): Promise<LocalAdmission> {
    const local = admission instanceof LocalAdmission ? admission : new LocalAdmission(this, key);
    local.holdBackend(await takeBackendSlot(local, backendSemaphore(this, backend), backend, signal));
    return local;
  }

  refuseSpentBudget(key: ApiKey): void {
    refuseSpentLocally(this, key);
  }

  concurrencyStats(): SemaphoreStats[] {
    return this.concurrency.stats();
  }

  close(): void {}
}

export interface AdmissionRequest {
  key: ApiKey | null;
  /** The backend tried first, whose max_concurrent slot to take (a balancer's retries take their own in dispatch). */
  backend: Backend | undefined;
  /** Backends a balancer or `auto` may try: the budget reserves the dearest one's worst case. */
  candidates?: readonly Backend[];
  /** Already spent on this request's side calls (judge, classifier): reserved too, as the settlement includes it. */
  spentMicros?: number;
  /** Upper bound of the prompt's tokens (for tpm and the budget reservation). */
  promptTokensBound: number;
  maxTokens: number | undefined;
  /** Choices asked for (`n`): each may take maxTokens, so the reservations count them all. */
  choices?: number;
  /** A stream may use a GPU-priced backend for its max_stream_ms, not only until its headers (timeout_ms). */
  stream?: boolean;
  /**
   * Model calls the request may make (a platform tool loop's rounds, tools.max_rounds): an account's credits
   * reserve each one's worst case, so a loop's later rounds are paid from its own reservation.
   */
  modelCalls?: number;
  signal: AbortSignal | undefined;
}

export class LocalAdmission implements Admission {
  queuedMs = 0;
  /** x-ratelimit-* headers for the response as name, value, name, value…, when the key has rate limits. */
  headers: string[] | undefined;
  private releases: Release[] = [];
  /** The max_concurrent slot of the backend being tried: given back early when a balancer moves to another one. */
  private backendSlot: Release | undefined;
  private reservation: Reservation | undefined;
  private accountReservation: Reservation | undefined;
  private credits: CreditHold | undefined;
  private tokensTaken = 0;
  private done = false;

  constructor(
    private readonly limits: Limits,
    private readonly key: ApiKey | null,
  ) {}

  /** Gives everything back: the real token count corrects tpm, the real cost settles the budgets and credits. Takes no ledger row (false). */
  finish(totalTokens: number | undefined, costMicros: number, requestId: string | null = null): false {
    if (this.done) return false;
    this.done = true;
    for (const release of this.releases) release();
    this.releaseBackend();
    this.reservation?.settle(costMicros);
    if (this.credits) {
      this.accountReservation?.settle(costMicros);
      this.credits.settle(costMicros, { requestId, keyId: this.key?.id ?? null });
    }
    if (this.key?.tpm && totalTokens !== undefined) this.limits.tokens.adjust(this.key.id, totalTokens - this.tokensTaken, Date.now());
    return false;
  }

  /** @internal steps of admit() */
  hold(release: Release): void {
    this.releases.push(release);
  }
  holdBackend(release: Release): void {
    this.releaseBackend();
    this.backendSlot = release;
  }
  releaseBackend(): void {
    this.backendSlot?.();
    this.backendSlot = undefined;
  }
  reserve(reservation: Reservation): void {
    this.reservation = reservation;
  }
  reserveForAccount(reservation: Reservation | undefined, credits: CreditHold): void {
    this.accountReservation = reservation;
    this.credits = credits;
  }
  tookTokens(count: number): void {
    this.tokensTaken = count;
  }
}

/** Nothing to limit (no key limits, no backend max_concurrent): no admission object, no promise. */
export function needsAdmission(key: ApiKey | null, backend: Backend | undefined): boolean {
  return backend?.maxConcurrent !== undefined || (key !== null && (key.account_id != null || key.rpm !== null || key.tpm !== null || key.max_concurrent !== null || key.budget_usd_daily !== null || key.budget_usd_monthly !== null));
}

/**
 * Synchronous unless a max_concurrent slot is taken and the request has to queue for it. `rates: false` skips
 * rpm/tpm (a shared limit service that is down, with `on_failure.rate: open`).
 */
export function admit(limits: Limits, request: AdmissionRequest, rates = true): LocalAdmission | Promise<LocalAdmission> {
  const { key, backend } = request;
  const admission = new LocalAdmission(limits, key);
  try {
    if (key && rates) checkRates(limits, key, request, admission);
    if (key && (key.budget_usd_daily !== null || key.budget_usd_monthly !== null)) reserveBudget(limits, key, request, admission);
    if (key?.account_id && limits.accounts) reserveCredits(limits.accounts, key, key.account_id, request, admission);
    const keySlots = key?.max_concurrent ? limits.concurrency.get(`key:${key.id}`, key.max_concurrent) : undefined;
    const backendSlots = backend?.maxConcurrent ? backendSemaphore(limits, backend) : undefined;
    const keySlot = keySlots?.tryAcquire();
    if (keySlot) admission.hold(keySlot);
    const backendSlot = keySlots && !keySlot ? undefined : backendSlots?.tryAcquire();
    if (backendSlot) admission.holdBackend(backendSlot);
    if ((keySlots && !keySlot) || (backendSlots && !backendSlot)) return queueForSlots(admission, request, keySlot ? undefined : keySlots, backendSlot ? undefined : backendSlots);
    return admission;
  } catch (error) {
    admission.finish(0, 0); // refused: the tokens it took go back to the tpm window
    throw error;
  }
}

/** The slow path: wait in FIFO order for the key's slot, then the backend's; the wait is reported as queued_ms. */
async function queueForSlots(admission: LocalAdmission, request: AdmissionRequest, keySlots: FifoSemaphore | undefined, backendSlots: FifoSemaphore | undefined): Promise<LocalAdmission> {
  const { key, backend } = request;
  try {
    if (keySlots && key) admission.hold(await queue(admission, keySlots.acquire(key.queue_timeout_ms ?? DEFAULT_KEY_QUEUE_TIMEOUT_MS, request.signal), keySlotsBusy(key), "queue_timeout_ms"));
    if (backendSlots && backend) admission.holdBackend(await takeBackendSlot(admission, backendSlots, backend, request.signal));
    return admission;
  } catch (error) {
    admission.finish(0, 0); // refused: the tokens it took go back to the tpm window
    throw error;
  }
}

export function backendSemaphore(limits: Limits, backend: Backend): FifoSemaphore {
  return limits.concurrency.get(`backend:${backend.id}`, backend.maxConcurrent!);
}

/** A backend's slot, now or after a FIFO wait up to its queue_timeout_ms (429 after that). */
export async function takeBackendSlot(admission: LocalAdmission, slots: FifoSemaphore, backend: Backend, signal: AbortSignal | undefined): Promise<Release> {
  return slots.tryAcquire() ?? (await queue(admission, slots.acquire(backend.queueTimeoutMs, signal), backendSlotsBusy(backend), "backends[].queue_timeout_ms"));
}

export const keySlotsBusy = (key: ApiKey) => `API key ${key.prefix}… has max_concurrent ${key.max_concurrent} requests in flight`;
export const backendSlotsBusy = (backend: Backend) => `backend '${backend.id}' has max_concurrent ${backend.maxConcurrent} requests in flight`;

function checkRates(limits: Limits, key: ApiKey, request: AdmissionRequest, admission: LocalAdmission): void {
  if (!key.rpm && !key.tpm) return;
  const now = Date.now();
  const headers: string[] = [];
  if (key.rpm) {
    const decision = limits.requests.take(key.id, key.rpm, 1, now);
    pushRateHeaders(headers, REQUEST_HEADERS, decision);
    if (!decision.allowed) throw overRpm(key, decision.retryAfterMs, headers);
  }
  if (key.tpm) {
    const tokens = tpmCost(key.tpm, request);
    const decision = limits.tokens.take(key.id, key.tpm, tokens, now);
    pushRateHeaders(headers, TOKEN_HEADERS, decision);
    if (!decision.allowed) throw overTpm(key, tokens, decision.retryAfterMs, headers);
    admission.tookTokens(tokens);
  }
  admission.headers = headers;
}

/**
 * Before calls that cost money ahead of admission (the firewall's judge, auto's classifier model): a key whose
 * budget has nothing left is refused at once rather than spending more on a request admission will refuse.
 */
export function refuseSpentBudget(limits: LimitService, key: ApiKey): void {
  limits.refuseSpentBudget(key);
}

export function refuseSpentLocally(limits: Limits, key: ApiKey): void {
  if (key.account_id && limits.accounts) refuseSpentAccount(limits.accounts, key, key.account_id);
  if (key.budget_usd_daily === null && key.budget_usd_monthly === null) return;
  const result = limits.budgets.reserve(key.id, budgetLimits(key), 1, Date.now());
  if (!isBudgetDenial(result)) return result.release();
  throw new GatewayError("budget_exceeded", `API key ${key.prefix}… has nothing left of its ${result.period} budget of $${result.limitMicros / 1e6}; wait for the next period`, {
    headers: { "retry-after": String(Math.max(1, Math.ceil(result.retryAfterMs / 1000))) },
  });
}

/**
 * What a request counts against tpm now: the prompt's bound and the completion tokens it may take, so parallel
 * requests cannot all pass a window that only their prompts fit; the real usage corrects it afterwards. A
 * completion bound the client did not set is capped at what the window allows, so a lone request is never refused.
 */
export function tpmCost(tpm: number, request: AdmissionRequest): number {
  return request.promptTokensBound + Math.min(completionBound(request), Math.max(0, tpm - request.promptTokensBound));
}

export function overRpm(key: ApiKey, retryAfterMs: number, headers: string[]): GatewayError {
  return tooMany(`API key ${key.prefix}… is over its rpm limit of ${key.rpm} requests per minute`, retryAfterMs, headers);
}

export function overTpm(key: ApiKey, tokens: number, retryAfterMs: number, headers: string[]): GatewayError {
  return tooMany(`API key ${key.prefix}… is over its tpm limit of ${key.tpm} tokens per minute (this request counts up to ${tokens}: its prompt and max_tokens)`, retryAfterMs, headers);
}

function budgetLimits(key: ApiKey) {
  return { dailyMicros: toMicros(key.budget_usd_daily), monthlyMicros: toMicros(key.budget_usd_monthly) };
}

/** The most this request may cost: the dearest candidate's worst case plus what its side calls already spent. */
export function reservationMicros(request: AdmissionRequest): number {
  const backends = request.candidates ?? (request.backend ? [request.backend] : []);
  const choices = request.choices ?? 1;
  const worstCase = Math.max(0, ...backends.map((backend) => worstCaseCostMicros(backend.pricing, request.promptTokensBound, (request.maxTokens ?? backend.defaultMaxTokens) * choices, gpuMsBound(backend, request.stream))));
  // A bound past 2^53 micro-dollars (max_tokens near 2^53) is no amount any budget holds: capped, it is refused.
  return Math.min(Number.MAX_SAFE_INTEGER, worstCase + (request.spentMicros ?? 0));
}

/** The most GPU time a request may bill: a buffered answer ends by timeout_ms, a stream by max_stream_ms. */
function gpuMsBound(backend: Backend, stream: boolean | undefined): number {
  return stream ? Math.max(backend.timeoutMs, backend.maxStreamMs) : backend.timeoutMs;
}

/** Completion tokens the request may take over all its choices (the backend's default when max_tokens is unset). */
function completionBound(request: AdmissionRequest): number {
  return (request.maxTokens ?? request.backend?.defaultMaxTokens ?? 0) * (request.choices ?? 1);
}

function reserveBudget(limits: Limits, key: ApiKey, request: AdmissionRequest, admission: LocalAdmission): void {
  const amount = reservationMicros(request);
  const result = limits.budgets.reserve(key.id, budgetLimits(key), amount, Date.now());
  if (isBudgetDenial(result)) throw budgetExceeded(`API key ${key.prefix}…`, result, amount);
  admission.reserve(result);
}

/** 429 budget_exceeded: how much is left of which budget, and when it resets. */
export function budgetExceeded(owner: string, denial: BudgetDenial, amountMicros: number): GatewayError {
  const left = Math.max(0, denial.limitMicros - denial.spentMicros - denial.reservedMicros);
  return new GatewayError("budget_exceeded", `${owner} would pass its ${denial.period} budget of $${denial.limitMicros / 1e6}: $${usd(left)} left, this request may cost up to $${usd(amountMicros)} (lower max_tokens or wait)`, {
    headers: { "retry-after": String(Math.max(1, Math.ceil(denial.retryAfterMs / 1000))) },
  });
}

/** What an account's budgets and credits hold: each model call a tool loop may make at its worst case. */
export function accountReservationMicros(request: AdmissionRequest): number {
  const calls = request.modelCalls ?? 1;
  return calls > 1 ? (reservationMicros(request) - (request.spentMicros ?? 0)) * calls + (request.spentMicros ?? 0) : reservationMicros(request);
}

/** The account's budgets (429, as a key's) and then its credits (402), both holding the same worst case. */
function reserveCredits(accounts: AccountLimits, key: ApiKey, accountId: string, request: AdmissionRequest, admission: LocalAdmission): void {
  const amount = accountReservationMicros(request);
  const account = accounts.store.get(accountId);
  let budget: Reservation | undefined;
  if (account && (account.budget_usd_daily !== null || account.budget_usd_monthly !== null)) {
    const result = accounts.budgets.reserve(accountId, { dailyMicros: toMicros(account.budget_usd_daily), monthlyMicros: toMicros(account.budget_usd_monthly) }, amount, Date.now());
    if (isBudgetDenial(result)) throw budgetExceeded(`account ${accountId}`, result, amount);
    budget = result;
  }
  const held = accounts.credits.reserve(accountId, amount);
  if (isCreditDenial(held)) {
    budget?.release();
    throw insufficientCredits(accountId, held.balanceMicros, held.reservedMicros, amount, key);
  }
  admission.reserveForAccount(budget, held);
}

/** Before paid side calls: an account with no credit left (or a spent budget) is refused before paying for them. */
function refuseSpentAccount(accounts: AccountLimits, key: ApiKey, accountId: string): void {
  const held = accounts.credits.reserve(accountId, 1);
  if (isCreditDenial(held)) throw insufficientCredits(accountId, held.balanceMicros, held.reservedMicros, 1, key);
  held.release();
}

export function insufficientCredits(accountId: string, balanceMicros: number, reservedMicros: number, amountMicros: number, key: ApiKey): GatewayError {
  return new GatewayError(
    "insufficient_credits",
    `account ${accountId} (key ${key.prefix}…) has $${usd(balanceMicros)} of credit, $${usd(reservedMicros)} held by requests in flight, and this request may cost up to $${usd(amountMicros)}: top up with POST /v1/accounts/${accountId}/credits or lower max_tokens`,
  );
}

/** Waits in the FIFO queue for a slot; the wait is reported as queued_ms. */
async function queue(admission: LocalAdmission, slot: Promise<Release>, what: string, setting: string): Promise<Release> {
  const started = performance.now();
  try {
    return await slot;
  } catch (error) {
    if (error instanceof QueueTimeoutError) throw new GatewayError("concurrency_limited", `${what}; waited ${Math.round(error.waitedMs)} ms in the queue (${setting})`, { headers: { "retry-after": "1" } });
    throw new GatewayError("client_closed", "client closed the request while it was queued");
  } finally {
    admission.queuedMs += Math.round((performance.now() - started) * 100) / 100;
  }
}

export function tooMany(message: string, retryAfterMs: number, headers: string[]): GatewayError {
  const record: Record<string, string> = { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  for (let i = 0; i < headers.length; i += 2) record[headers[i]!] = headers[i + 1]!;
  return new GatewayError("rate_limited", message, { headers: record });
}

export const REQUEST_HEADERS = ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"] as const;
export const TOKEN_HEADERS = ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"] as const;

export function pushRateHeaders(headers: string[], names: readonly [string, string, string], decision: RateDecision): void {
  headers.push(names[0], String(decision.limit), names[1], String(Math.max(0, Math.floor(decision.remaining))), names[2], `${Math.ceil(decision.resetMs / 1000)}s`);
}

export function toMicros(usd: number | null): number | undefined {
  return usd === null ? undefined : Math.floor(usd * 1e6);
}
