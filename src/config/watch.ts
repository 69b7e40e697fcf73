// Hot reload: watch the config file's folder (editors save by renaming a new file into place) and swap in a new
// snapshot when the file changes. An in-place save (`>`: truncate, then write) shows an empty or partial file for a
// moment, so a reload waits until two reads agree and never applies an empty file. An invalid edit is logged and
// the running config keeps serving.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { ConfigError } from "./load.ts";
import type { Snapshot } from "./resolve.ts";
import { log } from "../observability/log.ts";
import { noteReload } from "../api/dashboard-config.ts";

const DEBOUNCE_MS = 100;
/** Between the two reads that must agree before a changed file is loaded. */
const SETTLE_MS = 50;
/** A file still changing after this long is loaded as it then is (or refused when it does not parse). */
const MAX_SETTLE_MS = 2_000;

export function watchConfig(file: string, load: () => Promise<Snapshot>, current: () => Snapshot, apply: (next: Snapshot) => void): FSWatcher {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastText: string | undefined;
  const reload = async () => {
    const text = await settledText(file);
    if (text === undefined || text === lastText) return;
    lastText = text;
    try {
      if (!text.trim()) throw new ConfigError(file, ["the file is empty (an empty file is not a config)"]);
      const next = await load();
      const before = current();
      if (next.server.host !== before.server.host || next.server.port !== before.server.port) {
        log.warn(`config ${file}: server.host/server.port changed; restart sluice to listen on ${next.server.host}:${next.server.port}`);
      }
      if (next.server.workers !== before.server.workers) log.warn(`config ${file}: server.workers changed; restart sluice to run ${next.server.workers} workers`);
      // The store and the session signer are opened once, at start-up.
      if (next.storage.url !== before.storage.url) log.warn(`config ${file}: storage.url changed; it takes effect after a restart`);
      if (next.storage.ledger_via !== before.storage.ledger_via) log.warn(`config ${file}: storage.ledger_via changed; it takes effect after a restart`);
      if (next.auth.session_secret !== before.auth.session_secret) log.warn(`config ${file}: auth.session_secret changed; it takes effect after a restart`);
      apply(next);
      log.info(`config ${file} reloaded (${next.backends.size} backends)`);
      noteReload({ at_ms: Date.now(), ok: true, error: null }); // shown on the dashboard's config page
    } catch (error) {
      log.error(error instanceof ConfigError ? `${error.message}\n  (the previous config keeps serving)` : `config reload failed: ${error}`);
      noteReload({ at_ms: Date.now(), ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  };
  void Bun.file(file).text().then((text) => (lastText = text), () => undefined);
  return watch(dirname(file), (_event, name) => {
    if (name !== basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, DEBOUNCE_MS);
  });
}

/** The file's text once two reads SETTLE_MS apart agree (a writer in the middle of a save has finished). */
async function settledText(file: string): Promise<string | undefined> {
  const read = () => Bun.file(file).text().catch(() => undefined);
  const deadline = Date.now() + MAX_SETTLE_MS;
  let text = await read();
  for (;;) {
    await Bun.sleep(SETTLE_MS);
    const again = await read();
    if (again === text || Date.now() > deadline) return again;
    text = again;
  }
}
