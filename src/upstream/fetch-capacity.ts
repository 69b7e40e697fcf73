// Bun's fetch lets only 256 requests per process be in flight unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when the
// process starts; the rest wait silently inside the runtime, invisible to max_concurrent, the queue metrics and
// queued_ms. The variable is read once, at start-up (setting it later has no effect), so `sluice serve` starts
// itself again with it set, and the only concurrency limits left are the ones the operator configures.

/** The most Bun accepts. */
export const FETCH_CAPACITY = 65_535;
const PARENT_CHECK_MS = 1_000;

/**
 * In a process without the setting: runs this same command in a child that has it, forwarding signals, and
 * resolves to the child's exit code. In the child (or when the operator set the variable): resolves to undefined,
 * and the caller goes on in this process.
 */
export async function relaunchWithFetchCapacity(): Promise<number | undefined> {
  if (process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
    if (process.env.SLUICE_PARENT_PID) exitWithParent(Number(process.env.SLUICE_PARENT_PID));
    return undefined;
  }
  // A compiled binary is its own entry point; from source, the entry script comes first.
  const compiled = (process.argv[1] ?? "").includes("$bunfs");
  const command = [process.execPath, ...(compiled ? [] : [process.argv[1]!]), ...process.argv.slice(2)];
  const child = Bun.spawn(command, {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(FETCH_CAPACITY), SLUICE_PARENT_PID: String(process.pid) },
    stdio: ["inherit", "inherit", "inherit"],
  });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
  return await child.exited;
}

/** A parent killed outright (SIGKILL) cannot forward anything: the child notices it is gone and stops too. */
function exitWithParent(parentPid: number): void {
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      process.kill(process.pid, "SIGTERM"); // the usual drain
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}
