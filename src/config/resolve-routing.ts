// Resolve step for routing: balancers and `auto` refer to backends by name; here those names become Backend objects
// (checked once, so a typo is a config error with its YAML path, not a request-time surprise).
import type { AutoConfig, BalancerConfig, BalancerStrategy, OptimizeMode } from "./schema.ts";
import type { Backend } from "./resolve.ts";

export interface RouteMatch {
  tasks?: readonly string[];
  promptTokens?: { min?: number; max?: number };
  maxTokens?: { min?: number; max?: number };
  /** Lower-cased header name → value. */
  headers?: readonly (readonly [string, string])[];
  metadata?: readonly (readonly [string, string])[];
  keyNames?: readonly string[];
}

export interface WeightedTarget {
  readonly backend: Backend;
  readonly weight: number;
}

export interface Route {
  /** `route-1`, … when the config names none. */
  readonly name: string;
  /** `<balancer>/<route>`: the `x-sluice-route` header and the ledger's route column. */
  readonly label: string;
  readonly match: RouteMatch | undefined;
  readonly targets: readonly WeightedTarget[];
  /** Serialized stream routing events by outcome (task, backend, attempts): few, and the same for many requests. */
  readonly routingEvents: Map<string, string>;
}

/** What the dispatcher needs from a balancer or from `auto`. */
export interface RetryPolicy {
  readonly retries: number;
  readonly retryBackoffMs: number;
  /** Retries per request allowed on average (the retry budget's deposit). */
  readonly retryBudget: number;
  readonly ttftTimeoutMs: number | undefined;
}

export interface Balancer extends RetryPolicy {
  readonly name: string;
  readonly strategy: BalancerStrategy;
  readonly routes: readonly Route[];
  readonly description: string;
  /** Some route matches on the task, so the prompt must be classified. */
  readonly needsTask: boolean;
}

export interface Profile {
  readonly quality: number | Readonly<Record<string, number>>;
  readonly latencyMs: number | undefined;
}

export interface AutoRouting extends RetryPolicy {
  readonly pool: readonly string[];
  readonly optimize: OptimizeMode;
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly classifier: { readonly backend: Backend; readonly timeoutMs: number } | undefined;
}

export function resolveBalancers(configs: BalancerConfig[], backends: ReadonlyMap<string, Backend>, problems: string[]): Map<string, Balancer> {
  const balancers = new Map<string, Balancer>();
  configs.forEach((config, i) => {
    const path = `balancers[${i}]`;
    if (config.name === "auto") problems.push(`${path}.name: 'auto' is reserved for smart routing`);
    if (backends.has(config.name)) problems.push(`${path}.name: '${config.name}' is already a backend's name`);
    if (balancers.has(config.name)) problems.push(`${path}.name: '${config.name}' is already used by another balancer`);
    const routes = config.routes.map((route, r): Route => {
      const targets = route.targets.flatMap((target, t): WeightedTarget[] => {
        const name = typeof target === "string" ? target : target.backend;
        const backend = lookup(backends, name, `${path}.routes[${r}].targets[${t}]`, problems);
        return backend ? [{ backend, weight: typeof target === "string" ? 1 : target.weight }] : [];
      });
      if (config.strategy === "weighted" && targets.length && targets.every((target) => target.weight === 0)) {
        problems.push(`${path}.routes[${r}].targets: every weight is 0, so nothing can be chosen`);
      }
      const name = route.name ?? `route-${r + 1}`;
      return { name, label: `${config.name}/${name}`, match: resolveMatch(route.match), targets, routingEvents: new Map() };
    });
    balancers.set(config.name, {
      name: config.name,
      strategy: config.strategy,
      routes,
      description: config.description ?? `balancer (${config.strategy}) over ${new Set(routes.flatMap((route) => route.targets.map((t) => t.backend.id))).size} backends`,
      needsTask: routes.some((route) => route.match?.tasks !== undefined),
      retries: config.retries,
      retryBackoffMs: config.retry_backoff_ms,
      retryBudget: config.retry_budget,
      ttftTimeoutMs: config.ttft_timeout_ms,
    });
  });
  return balancers;
}

export function resolveAuto(config: AutoConfig | undefined, backends: ReadonlyMap<string, Backend>, problems: string[]): AutoRouting | undefined {
  if (!config) return undefined;
  config.pool.forEach((name, i) => lookup(backends, name, `auto.pool[${i}]`, problems));
  for (const name of Object.keys(config.profiles)) lookup(backends, name, `auto.profiles.${name}`, problems);
  const classifier = config.classifier && lookup(backends, config.classifier.backend, "auto.classifier.backend", problems);
  return {
    pool: config.pool,
    optimize: config.optimize,
    profiles: new Map(Object.entries(config.profiles).map(([name, profile]) => [name, { quality: profile.quality, latencyMs: profile.latency_ms }])),
    classifier: classifier && config.classifier ? { backend: classifier, timeoutMs: config.classifier.timeout_ms } : undefined,
    retries: config.retries,
    retryBackoffMs: config.retry_backoff_ms,
    retryBudget: config.retry_budget,
    ttftTimeoutMs: config.ttft_timeout_ms,
  };
}

function lookup(backends: ReadonlyMap<string, Backend>, name: string, path: string, problems: string[]): Backend | undefined {
  const backend = backends.get(name);
  if (!backend) problems.push(`${path}: no backend named '${name}' (public models are written 'public:<name>')`);
  return backend;
}

function resolveMatch(match: BalancerConfig["routes"][number]["match"]): RouteMatch | undefined {
  if (!match) return undefined;
  const list = (value: string | string[] | undefined) => (value === undefined ? undefined : typeof value === "string" ? [value] : value);
  return {
    tasks: list(match.task),
    promptTokens: match.prompt_tokens,
    maxTokens: match.max_tokens,
    headers: match.header && Object.entries(match.header).map(([name, value]) => [name.toLowerCase(), value] as const),
    metadata: match.metadata && Object.entries(match.metadata),
    keyNames: list(match.key),
  };
}
