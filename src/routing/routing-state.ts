// Routing's live state, owned by the gateway and kept across config reloads: per-backend stats (load, latency,
// circuit breaker), retry budgets, and each balancer's round-robin turn.
import { BackendStats } from "./backend-stats.ts";
import { RetryBudgets } from "./retry-budget.ts";

export class RoutingState {
  readonly stats = new BackendStats();
  readonly budgets = new RetryBudgets();
  private readonly turns = new Map<string, number>();

  nextTurn(name: string): number {
    const turn = this.turns.get(name) ?? 0;
    this.turns.set(name, turn + 1);
    return turn;
  }
}
