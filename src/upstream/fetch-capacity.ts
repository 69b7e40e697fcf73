// Bun's fetch lets only 256 requests per process be in flight unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when the
// process starts; the rest wait silently inside the runtime, invisible to max_concurrent, the queue metrics and
// queued_ms. The variable is read once, at start-up (setting it later has no effect), so `sluice serve` runs as a
// supervisor whose workers (server.workers of them, src/workers/supervisor.ts) are this same command started
// again with it set, and the only concurrency limits left are the ones the operator configures.

/** The most Bun accepts. */
export const FETCH_CAPACITY = 65_535;

/** The operator's own setting is kept; otherwise the most Bun accepts. */
export function fetchCapacityEnv(): { BUN_CONFIG_MAX_HTTP_REQUESTS: string } {
  return { BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS || String(FETCH_CAPACITY) };
}

/** The operator set the variable and asked for one process: it serves in this one, with no supervisor. */
export function servesInPlace(workers: number): boolean {
  return Boolean(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) && workers === 1;
}

/** This same command line: a compiled binary is its own entry point; from source, the entry script comes first. */
export function selfCommand(): string[] {
  const compiled = (process.argv[1] ?? "").includes("$bunfs");
  return [process.execPath, ...(compiled ? [] : [process.argv[1]!]), ...process.argv.slice(2)];
}
