// The embedded store (the default): one SQLite file, synchronous, read and written by this process and the CLI.
// Another process's writes (`sluice keys revoke`) reach the caches through SQLite's data_version.
import { openDatabase } from "./database.ts";
import { KeyStore } from "../auth/key-store.ts";
import { AccountStore } from "./accounts.ts";
import { LedgerWriter } from "./ledger.ts";
import { responseStore } from "./responses.ts";
import { queryUsage, spentMicrosSince } from "./usage.ts";
import { overview } from "../api/dashboard-overview.ts";
import { dashboardUsage } from "../api/dashboard-usage.ts";
import { listRequests, requestDetail } from "../api/dashboard-requests.ts";
import { keysWithUse } from "../api/dashboard-keys.ts";
import type { Store, StoreReads } from "./store.ts";

export interface StoreOptions {
  /** storage.retention_days, read at each flush (it follows reloads). */
  retentionDays: () => number | undefined;
}

export function openSqliteStore(file: string, options: StoreOptions): Store {
  const db = openDatabase(file);
  const ledger = new LedgerWriter(db, { retentionDays: options.retentionDays });
  const responses = responseStore(db);
  // The dashboard reads roll-ups too, so its reads write the sums first; /v1/usage reads raw rows only.
  const flushed = (withRollups: boolean) => (ledger.flush(withRollups), db);
  const reads: StoreReads = {
    usage: (query) => queryUsage(flushed(false), query),
    overview: (window, keyId, nowMs) => overview(flushed(true), window, keyId, nowMs),
    dashboardUsage: (query) => dashboardUsage(flushed(true), query),
    requests: (filters) => listRequests(flushed(true), filters),
    requestDetail: (requestId, atMs, keyId) => requestDetail(flushed(true), requestId, atMs, keyId),
    keysWithUse: (keys, nowMs) => keysWithUse(flushed(true), keys, nowMs),
  };
  return {
    kind: "sqlite",
    keys: new KeyStore(db),
    accounts: new AccountStore(db),
    ledger,
    responses: {
      save: (id, keyId, stored, retentionDays) => responses.save(id, keyId, stored, retentionDays),
      get: (id, keyId, retentionDays) => responses.get(id, keyId, retentionDays),
      delete: (id, keyId) => responses.delete(id, keyId),
    },
    reads,
    sqlite: db,
    spentMicrosSince: (keyId, sinceMs) => spentMicrosSince(flushed(false), keyId, sinceMs), // queued rows count too
    ready: Promise.resolve(),
    metrics: () => [],
    close() {
      ledger.close();
      db.close();
    },
  };
}
