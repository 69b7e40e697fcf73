// Stage: send the request upstream. A direct backend gets one attempt. A balancer or `auto` plan gets retries
// before the first byte reaches the client — on connect errors, timeouts, 5xx and 429 — each on another available
// backend where there is one, with jittered exponential backoff and within the retry budget. Every attempt is
// counted in the backend's live stats, which feed the circuit breaker and the least_busy / least_latency choices.
import { GatewayError, asGatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import type { RequestContext } from "./context.ts";
import type { RoutePlan } from "../routing/plan.ts";
import { UpstreamCall } from "../upstream/call.ts";

/** One try on one backend: resolves with what the caller needs, or throws a GatewayError. */
export type Attempt<T> = (backend: Backend, call: UpstreamCall) => Promise<T>;

const MAX_BACKOFF_MS = 2_000;

/**
 * Starts an attempt on `backend`: counted in its live stats, with a fresh upstream call. The first attempt's
 * max_concurrent slot was taken at admission; a balancer's retries take theirs in retryPlanned.
 */
export function beginAttempt(ctx: RequestContext, gateway: Gateway, backend: Backend): UpstreamCall {
  ctx.backend = backend;
  if (ctx.plan) ctx.plan.attempts++;
  const stat = (ctx.stat = gateway.routing.stats.get(backend.id));
  ctx.probe = stat.begin(Date.now());
  const call = (ctx.call = new UpstreamCall(ctx.clientSignal));
  ctx.upstreamStartedAt = performance.now();
  return call;
}

/** Reports how the request went on its backend to the live stats; finish.ts calls it once per request. */
export function endAttempt(ctx: RequestContext, gateway: Gateway, status: number, errorCode: string | null): void {
  const stat = ctx.stat;
  if (!stat) return;
  ctx.stat = undefined;
  if (status < 400) {
    const startedAt = ctx.upstreamStartedAt;
    const firstByteAt = ctx.firstTokenAt ?? ctx.upstreamEndedAt;
    const ttftMs = firstByteAt !== undefined && startedAt !== undefined ? firstByteAt - startedAt : undefined;
    stat.succeeded(ttftMs, ctx.probe, startedAt === undefined ? undefined : (ctx.upstreamEndedAt ?? performance.now()) - startedAt);
  } else if (isBackendFailure(status, errorCode)) {
    stat.failed(Date.now(), breakerSettings(ctx), ctx.probe);
  } else {
    stat.released(ctx.probe);
  }
}

/** All of a planned request's attempts: the first on the plan's best candidate, then retryPlanned. */
export async function dispatchPlanned<T>(ctx: RequestContext, gateway: Gateway, plan: RoutePlan, attempt: Attempt<T>): Promise<T> {
  const first = plan.candidates[0]!; // checked when the plan was made
  try {
    return await attempt(first, beginAttempt(ctx, gateway, first));
  } catch (thrown) {
    return retryPlanned(ctx, gateway, thrown, attempt);
  }
}

/**
 * After an attempt failed: a direct request's error stands; a balancer's or `auto`'s request is retried while the
 * error is retryable, the plan allows more attempts and the retry budget has some left.
 */
export async function retryPlanned<T>(ctx: RequestContext, gateway: Gateway, thrown: unknown, attempt: Attempt<T>): Promise<T> {
  const plan = ctx.plan;
  if (!plan) throw thrown;
  const tried: Backend[] = [ctx.backend!];
  let lastError = failed(ctx, gateway, thrown);
  while (plan.attempts <= plan.policy.retries) {
    if (!isRetryable(lastError) || ctx.clientSignal?.aborted) break;
    if (!plan.budget.withdraw(Date.now())) break;
    await Bun.sleep(backoffMs(plan.policy.retryBackoffMs, plan.attempts, Math.random));
    const backend = nextBackend(plan, tried, gateway, Date.now());
    if (!backend) break;
    tried.push(backend);
    ctx.admission?.releaseBackend();
    // The backend's max_concurrent slot, waiting in its FIFO queue if need be (an admission is made when the request had none).
    if (backend.maxConcurrent !== undefined) ctx.admission = await gateway.limits.takeBackendSlot(ctx.admission, ctx.principal?.key ?? null, backend, ctx.clientSignal);
    try {
      return await attempt(backend, beginAttempt(ctx, gateway, backend));
    } catch (retryThrown) {
      lastError = failed(ctx, gateway, retryThrown);
    }
  }
  throw lastError;
}

/** Ends a failed attempt in the backend's stats; the error to report if nothing else works. */
function failed(ctx: RequestContext, gateway: Gateway, thrown: unknown): GatewayError {
  const error = asGatewayError(thrown);
  endAttempt(ctx, gateway, error.status, error.code);
  ctx.firstTokenAt = undefined;
  return error;
}

/** The next untried candidate the breaker still allows; when all were tried, the first one allowed again. */
function nextBackend(plan: RoutePlan, tried: Backend[], gateway: Gateway, now: number): Backend | undefined {
  let fallback: Backend | undefined;
  for (const backend of plan.candidates) {
    if (!gateway.routing.stats.get(backend.id).available(now)) continue;
    if (!tried.includes(backend)) return backend;
    fallback ??= backend;
  }
  return fallback;
}

/** Engine trouble worth another try elsewhere: unreachable, 5xx, timeout, 429. Not a client's own mistake. */
export function isRetryable(error: GatewayError): boolean {
  if (error.code === "upstream_error") return error.status === 502;
  return error.code === "upstream_timeout" || error.code === "upstream_rate_limited";
}

/** Counts against the backend's circuit breaker: the engine failed, not the client or a limit. */
function isBackendFailure(status: number, errorCode: string | null): boolean {
  if (errorCode === "upstream_error") return status === 502;
  return errorCode === "upstream_timeout" || errorCode === "stream_interrupted" || errorCode === "bad_upstream_sse";
}

/** Full jitter: a random wait up to base × 2^(n-1), capped. */
export function backoffMs(baseMs: number, attempt: number, random: () => number): number {
  return Math.round(random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (attempt - 1)));
}

function breakerSettings(ctx: RequestContext) {
  const health = ctx.snapshot.health;
  return { failureThreshold: health.failure_threshold, ejectionMs: health.ejection_ms, maxEjectionMs: health.max_ejection_ms };
}
