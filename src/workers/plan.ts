// What the supervisor needs to know before any worker starts: how many, on which port, and whether it owns the
// limit counters (several workers, limits in memory, the embedded store). Read from the config file without
// discovery or network; a config that does not load gives one worker, which reports every problem and exits.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseConfig } from "../config/load.ts";
import { storageFile } from "../gateway.ts";
import { log } from "../observability/log.ts";

export interface WorkerPlan {
  count: number;
  host: string;
  /** undefined: the config does not load (the worker says why). 0: worker 0 chooses, the others join it. */
  port: number | undefined;
  /** The SQLite file whose accounts and ledger the supervisor's limits read; undefined when the workers decide themselves. */
  sharedLimitsStore: string | undefined;
}

export function planWorkers(configFile: string, dataDir: string, host: string | undefined, port: number | undefined): WorkerPlan {
  let snapshot;
  try {
    snapshot = parseConfig(readFileSync(configFile, "utf8"), configFile);
  } catch {
    return { count: 1, host: host ?? "127.0.0.1", port: undefined, sharedLimitsStore: undefined };
  }
  const setting = snapshot.server.workers;
  const count = setting === "auto" ? availableParallelism() : setting;
  // A Redis limits.url (or any shared one) is exact across workers by itself: no IPC.
  const inMemory = ((snapshot.raw.limits as { url?: string } | undefined)?.url ?? "memory") === "memory";
  const sqlite = !snapshot.storage.url || snapshot.storage.url.startsWith("sqlite:");
  if (count > 1 && inMemory && !sqlite) {
    log.warn(`server.workers ${count} with storage.url on PostgreSQL and limits.url memory: each worker keeps its own rpm/tpm windows, slots and budgets (set limits.url: redis://… for limits exact across workers)`);
  }
  return {
    count,
    host: host ?? snapshot.server.host,
    port: port ?? snapshot.server.port,
    sharedLimitsStore: count > 1 && inMemory && sqlite ? storageFile(snapshot, dataDir) : undefined,
  };
}
