/**
 * Latency of one classifier call per text, after a warm-up (the JIT, lazy model loads): the steady state.
 * Every text is timed ROUNDS times; "one pass" is the first round's distribution (what a request meets on
 * this machine, with the other tenants' noise), "best of" each text's fastest round (the classifier's own
 * cost: a shared two-core VM adds 2× at p99 on some passes and not on others).
 */
const ROUNDS = 5;

export function latency(texts: readonly string[], classify: (text: string) => unknown): string {
  for (const text of texts.slice(0, 300)) classify(text);
  const first: number[] = [];
  const best = new Array<number>(texts.length).fill(Infinity);
  for (let round = 0; round < ROUNDS; round++) {
    texts.forEach((text, i) => {
      const started = Bun.nanoseconds();
      classify(text);
      const micros = (Bun.nanoseconds() - started) / 1000;
      if (round === 0) first.push(micros);
      best[i] = Math.min(best[i]!, micros);
    });
  }
  return `one pass p50 ${quantiles(first)}; best of ${ROUNDS} p50 ${quantiles(best)}`;
}

function quantiles(times: number[]): string {
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!.toFixed(0);
  return `${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`;
}
