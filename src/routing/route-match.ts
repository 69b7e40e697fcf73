// A balancer's `routes:`: the first route whose `match:` holds for the request chooses the target set. A route
// without `match:` matches everything (the usual last, default route).
import type { Balancer, Route, RouteMatch } from "../config/resolve-routing.ts";

export interface RequestFacts {
  /** Detected (or overridden) task; only computed when some route matches on it. */
  task: string | undefined;
  promptTokens: number;
  maxTokens: number | undefined;
  headers: Headers;
  metadata: unknown;
  keyName: string | undefined;
}

export function chooseRoute(balancer: Balancer, facts: RequestFacts): Route | undefined {
  return balancer.routes.find((route) => !route.match || matches(route.match, facts));
}

export function matches(match: RouteMatch, facts: RequestFacts): boolean {
  if (match.tasks && (facts.task === undefined || !match.tasks.includes(facts.task))) return false;
  if (match.promptTokens && !inRange(facts.promptTokens, match.promptTokens)) return false;
  if (match.maxTokens && (facts.maxTokens === undefined || !inRange(facts.maxTokens, match.maxTokens))) return false;
  if (match.headers && !match.headers.every(([name, value]) => facts.headers.get(name) === value)) return false;
  if (match.metadata) {
    const metadata = facts.metadata !== null && typeof facts.metadata === "object" ? (facts.metadata as Record<string, unknown>) : {};
    if (!match.metadata.every(([name, value]) => metadata[name] === value)) return false;
  }
  if (match.keyNames && (facts.keyName === undefined || !match.keyNames.includes(facts.keyName))) return false;
  return true;
}

function inRange(value: number, range: { min?: number; max?: number }): boolean {
  return (range.min === undefined || value >= range.min) && (range.max === undefined || value <= range.max);
}
