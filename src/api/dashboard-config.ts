// GET /v1/dashboard/config (admin): the effective config (after ${VAR} expansion and defaults) with every secret
// masked, when it was loaded, and how the last reload went. Masking is by key name and by URL credentials, so a
// secret written under a new option name is still caught if its name says what it is.
import type { Snapshot } from "../config/resolve.ts";
import { maskUrl } from "../config/mask-url.ts";

const SECRET_NAME = /(api_?key|secret|password|passwd|token|authorization|credential|private_?key)/i;
export const MASK = "••••••";

export interface ReloadResult {
  at_ms: number;
  ok: boolean;
  /** The problems that kept the previous config serving. */
  error: string | null;
}

let lastReload: ReloadResult | null = null;

/** Called by the config watcher after each reload attempt. */
export function noteReload(result: ReloadResult): void {
  // A config error may quote the value it refused, such as a database URL with its password.
  lastReload = { ...result, error: result.error === null ? null : result.error.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, (url) => maskUrl(url)) };
}

export function effectiveConfig(snapshot: Snapshot) {
  return {
    object: "dashboard.config" as const,
    loaded_at: snapshot.loadedAt,
    last_reload: lastReload,
    config: mask(snapshot.raw, false),
  };
}

/** A deep copy with secrets replaced; `underHeaders` masks every value (headers carry tokens under any name). */
export function mask(value: unknown, underHeaders: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => mask(item, underHeaders));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => {
        if (underHeaders || (SECRET_NAME.test(name) && (typeof inner === "string" || typeof inner === "number"))) return [name, inner === null ? null : MASK];
        return [name, mask(inner, name === "headers")];
      }),
    );
  }
  if (typeof value === "string") return maskUrlPassword(value);
  return value;
}

/** A URL's user name, password and query values (`?api_key=…`), as `sluice check` and the logs show it. */
function maskUrlPassword(text: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? maskUrl(text) : text;
}
