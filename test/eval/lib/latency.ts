/** Latency of one classifier call per text, after a warm-up (the JIT, lazy model loads): the steady state. */
export function latency(texts: readonly string[], classify: (text: string) => unknown): string {
  for (const text of texts.slice(0, 300)) classify(text);
  const times: number[] = [];
  for (const text of texts) {
    const started = Bun.nanoseconds();
    classify(text);
    times.push((Bun.nanoseconds() - started) / 1000);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!.toFixed(0);
  return `p50 ${at(0.5)} µs, p99 ${at(0.99)} µs, max ${at(1)} µs`;
}
