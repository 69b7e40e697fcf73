// A retry budget (as in Finagle and gRPC): every request deposits `ratio` of a retry, every retry withdraws one, and
// a small floor refills with time so a quiet gateway can still retry. When backends fail together, retries stay a
// fraction of the traffic instead of multiplying it (a retry storm).

const MIN_RETRIES_PER_SECOND = 2;
const CAPACITY = 20;

export class RetryBudget {
  private balance = CAPACITY / 2;
  private refilledAt = 0;

  constructor(readonly ratio: number) {}

  deposit(): void {
    this.balance = Math.min(CAPACITY, this.balance + this.ratio);
  }

  /** Takes one retry if the budget allows it. */
  withdraw(now: number): boolean {
    if (this.refilledAt) this.balance = Math.min(CAPACITY, this.balance + ((now - this.refilledAt) / 1000) * MIN_RETRIES_PER_SECOND);
    this.refilledAt = now;
    if (this.balance < 1) return false;
    this.balance -= 1;
    return true;
  }
}

/** One budget per balancer (and one for `auto`), kept across reloads that do not change its ratio. */
export class RetryBudgets {
  private readonly byName = new Map<string, RetryBudget>();

  get(name: string, ratio: number): RetryBudget {
    let budget = this.byName.get(name);
    if (!budget || budget.ratio !== ratio) this.byName.set(name, (budget = new RetryBudget(ratio)));
    return budget;
  }
}
