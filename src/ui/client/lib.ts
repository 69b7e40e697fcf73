// What every page shares: htm bound to Preact, the one fetch wrapper (same-origin cookie, errors as text), a
// polling hook with a bounded rate, and number formatting.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** JSON from the gateway's API; a 4xx/5xx becomes an ApiError with the gateway's own message. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? "GET",
    credentials: "same-origin",
    headers: init.body === undefined ? {} : { "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const message = (data as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${response.status}`;
    if (response.status === 401) window.dispatchEvent(new CustomEvent("sluice:signed-out"));
    throw new ApiError(response.status, message);
  }
  return data as T;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/**
 * Loads `path` and, with `everyMs`, again that long after each answer arrives: never two requests at once, and
 * none while the tab is hidden (a dashboard left open must not flood the gateway with requests).
 */
export function useApi<T>(path: string | undefined, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [turn, setTurn] = useState(0);
  const live = useRef(true);
  useEffect(() => {
    live.current = true;
    if (path === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      if (document.hidden && everyMs) return schedule();
      try {
        const next = await api<T>(path);
        if (!live.current) return;
        setData(next);
        setError(undefined);
      } catch (e) {
        if (live.current) setError((e as Error).message);
      }
      schedule();
    };
    const schedule = () => {
      if (everyMs && live.current) timer = setTimeout(load, everyMs);
    };
    void load();
    return () => {
      live.current = false;
      clearTimeout(timer);
    };
  }, [path, everyMs, turn]);
  return { data, error, reload: () => setTurn((t) => t + 1) };
}

export const usd = (value: number) =>
  value === 0 ? "$0" : value >= 100 ? `$${value.toFixed(0)}` : value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
/** A rate with about three significant digits, so 0.0001/s does not print as 0. */
export const rate = (value: number) => (value === 0 ? "0" : value >= 100 ? value.toFixed(0) : value.toPrecision(3).replace(/\.?0+$/, ""));
export const count = (value: number) => (value >= 1e6 ? `${(value / 1e6).toFixed(1)}M` : value >= 1e4 ? `${(value / 1e3).toFixed(1)}k` : String(value));
export const ms = (value: number | null | undefined) => (value === null || value === undefined ? "–" : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`);
export const time = (unixMs: number) => new Date(unixMs).toISOString().replace("T", " ").slice(0, 19);

export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

export function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return html`<div class="stat"><div class="stat-label">${label}</div><div class="stat-value">${value}</div>${hint ? html`<div class="stat-hint">${hint}</div>` : null}</div>`;
}
