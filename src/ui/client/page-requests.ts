// Requests: the ledger newest first, filtered by key, model, status and time, a page at a time ("Older" follows
// the cursor, so the gateway never counts or skips rows); one request's detail with its timings broken down.
import { useState } from "preact/hooks";
import { api, ErrorNote, html, ms, time, usd, useApi } from "./lib.ts";
import type { KeyWithUse, List, RequestDetail, RequestSummary, Session } from "./types.ts";

interface Filters {
  key_id: string;
  model: string;
  status: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { key_id: "", model: "", status: "", from: "", to: "" };

export function RequestsPage({ session, detail }: { session: Session; detail: string }) {
  if (detail) return html`<${RequestDetailView} reference=${detail} />`;
  return html`<${RequestList} session=${session} />`;
}

function queryOf(filters: Filters, before?: string): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (!value) continue;
    // datetime-local inputs carry no zone; the dashboard shows and filters in UTC.
    params.set(name, name === "from" || name === "to" ? `${value}:00Z` : value);
  }
  if (before) params.set("before", before);
  return params.toString();
}

function RequestList({ session }: { session: Session }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const first = useApi<List<RequestSummary>>(`/v1/dashboard/requests?${queryOf(filters)}`);
  const [older, setOlder] = useState<{ rows: RequestSummary[]; next: string | null } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  // Admins pick a key by name; the list is read once per visit to the page.
  const keys = useApi<List<KeyWithUse>>(session.admin ? "/v1/dashboard/keys" : undefined);
  const rows = [...(first.data?.data ?? []), ...(older?.rows ?? [])];
  const next = older ? older.next : (first.data?.next_before ?? null);

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setOlder(undefined);
    setFilters({ key_id: String(form.get("key_id") ?? ""), model: String(form.get("model") ?? ""), status: String(form.get("status") ?? ""), from: String(form.get("from") ?? ""), to: String(form.get("to") ?? "") });
  };
  const loadOlder = async () => {
    if (!next) return;
    try {
      const page = await api<List<RequestSummary>>(`/v1/dashboard/requests?${queryOf(filters, next)}`);
      setOlder({ rows: [...(older?.rows ?? []), ...page.data], next: page.next_before ?? null });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const refresh = () => (setOlder(undefined), first.reload());

  return html`<section>
    <h1 tabindex="-1">Requests</h1>
    <form class="filters" onSubmit=${apply} aria-label="Filter requests">
      ${session.admin
        ? html`<label>Key id <input name="key_id" list="request-keys" placeholder="key_…" value=${filters.key_id} /></label>
            <datalist id="request-keys">${keys.data?.data.map((k) => html`<option value=${k.id}>${k.name}</option>`)}</datalist>`
        : null}
      <label>Model <input name="model" value=${filters.model} /></label>
      <label>Status
        <select name="status">
          ${[["", "any"], ["ok", "ok (< 400)"], ["error", "errors (≥ 400)"], ["429", "429"], ["502", "502"], ["503", "503"]].map(([v, l]) => html`<option value=${v} selected=${filters.status === v}>${l}</option>`)}
        </select>
      </label>
      <label>From (UTC) <input type="datetime-local" name="from" value=${filters.from} /></label>
      <label>To (UTC) <input type="datetime-local" name="to" value=${filters.to} /></label>
      <button type="submit">Filter</button>
      <button type="button" onClick=${refresh}>Refresh</button>
    </form>
    <${ErrorNote} error=${first.error ?? error} />
    ${first.data &&
    (rows.length === 0
      ? html`<p class="empty">No requests match.</p>`
      : html`<table class="requests">
          <thead><tr>
            <th scope="col">Time (UTC)</th><th scope="col">Request</th>${session.admin ? html`<th scope="col">Key</th>` : null}<th scope="col">Model → backend</th>
            <th scope="col" class="num">Status</th><th scope="col" class="num">Tokens</th><th scope="col" class="num">Latency</th><th scope="col" class="num">Cost</th>
          </tr></thead>
          <tbody>
            ${rows.map(
              (r) => html`<tr class=${r.status >= 400 ? "failed" : ""}>
                <td>${time(r.started_at)}</td>
                <td><a href=${`#/requests/${encodeURIComponent(r.request_id)}@${r.started_at}`}><code>${r.request_id.slice(0, 12)}</code></a></td>
                ${session.admin ? html`<td><code>${r.key_id ?? "–"}</code></td>` : null}
                <td><code>${r.model}</code>${r.backend && r.backend !== r.model ? html` → <code>${r.backend}</code>` : null}${r.stream ? html` <span class="tag">stream</span>` : null}</td>
                <td class="num">${r.status}${r.error_code ? html`<div class="muted">${r.error_code}</div>` : null}</td>
                <td class="num">${r.prompt_tokens} + ${r.completion_tokens}</td>
                <td class="num">${ms(r.total_ms)}</td>
                <td class="num">${usd(r.cost_usd)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${next ? html`<button type="button" onClick=${loadOlder}>Older</button>` : html`<p class="muted">End of the log.</p>`}`)}
  </section>`;
}

function RequestDetailView({ reference }: { reference: string }) {
  const [id = "", at = ""] = reference.split("@");
  const { data, error } = useApi<RequestDetail>(`/v1/dashboard/requests/${id}${at ? `?at=${at}` : ""}`);
  const timings = data ? Object.entries(data.timings).filter(([, v]) => v !== null) : [];
  const total = data?.timings.total_ms ?? 0;
  return html`<section>
    <p><a href="#/requests">← All requests</a></p>
    <h1 tabindex="-1">Request <code>${decodeURIComponent(id)}</code></h1>
    <${ErrorNote} error=${error} />
    ${data &&
    html`<dl class="facts">
        <dt>Time (UTC)</dt><dd>${time(data.started_at)}</dd>
        <dt>Status</dt><dd>${data.status}${data.error_code ? ` (${data.error_code})` : ""}</dd>
        <dt>Key</dt><dd><code>${data.key_id ?? "–"}</code></dd>
        <dt>Endpoint</dt><dd>${data.endpoint}${data.stream ? ", streamed" : ", buffered"}</dd>
        <dt>Model asked</dt><dd><code>${data.model}</code></dd>
        <dt>Routing</dt><dd>served by <code>${data.backend ?? "–"}</code>${data.route ? html` via route <code>${data.route}</code>` : null}</dd>
        <dt>Tokens</dt><dd>${data.prompt_tokens} prompt + ${data.completion_tokens} completion${data.tokens_estimated ? " (estimated: the engine reported none)" : ""}</dd>
        <dt>Cost</dt><dd>${usd(data.cost_usd)} (${data.billing_basis})</dd>
        <dt>Firewall</dt><dd>${data.firewall ? html`<code>${data.firewall}</code>: ${data.firewall_verdict}${data.firewall_rules.length ? html` — rules: ${data.firewall_rules.map((r) => html`<code>${r}</code> `)}` : null}` : "none"}</dd>
      </dl>
      <${Reports} detail=${data} />
      <h2>Timings</h2>
      <table class="timings">
        <thead><tr><th scope="col">Phase</th><th scope="col" class="num">ms</th><th scope="col">Share of total</th></tr></thead>
        <tbody>${timings.map(
          ([name, value]) => html`<tr><th scope="row">${name.replace(/_ms$/, "").replace("_", " ")}</th><td class="num">${value!.toFixed(1)}</td>
            <td><progress max="1" value=${total > 0 ? Math.min(1, value! / total) : 0} aria-label=${`${name} share`}></progress></td></tr>`,
        )}</tbody>
      </table>`}
  </section>`;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
const isRecord = (value: unknown): value is Record<string, Json> => value !== null && typeof value === "object" && !Array.isArray(value);
const scalar = (value: unknown) => value === null || ["string", "number", "boolean"].includes(typeof value);
const show = (value: unknown) => (typeof value === "number" ? String(Math.round(value * 1000) / 1000) : typeof value === "string" ? value : JSON.stringify(value));

/** An array of objects as a table, an object of scalars as name/value rows, anything else as JSON. */
function JsonView({ value, label }: { value: unknown; label: string }) {
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
    const columns = [...new Set(value.flatMap((row) => Object.keys(row)))];
    return html`<table aria-label=${label}>
      <thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${value.map((row) => html`<tr>${columns.map((c) => html`<td>${c in row ? (scalar(row[c]) ? show(row[c]) : html`<code class="wrap">${show(row[c]).slice(0, 300)}</code>`) : ""}</td>`)}</tr>`)}</tbody>
    </table>`;
  }
  if (isRecord(value)) {
    const entries = Object.entries(value);
    return html`<dl class="facts" aria-label=${label}>
      ${entries.map(([name, inner]) => html`<dt>${name}</dt><dd>${scalar(inner) ? show(inner) : html`<${JsonView} value=${inner} label=${name} />`}</dd>`)}
    </dl>`;
  }
  return html`<pre class="wrap">${JSON.stringify(value, null, 2)}</pre>`;
}

/** What the response reported beyond the ledger's columns: the routing decision, processors, tool runs. */
function Reports({ detail }: { detail: RequestDetail }) {
  const processors = isRecord(detail.inferada) && Array.isArray(detail.inferada.processors) ? detail.inferada.processors : detail.inferada;
  if (detail.routing === null && detail.inferada === null && detail.tool_runs === null) {
    return html`<p class="muted">No routing decision, processor or tool reports were recorded for this request.</p>`;
  }
  return html`
    ${detail.routing !== null && html`<h2>Routing decision</h2><${JsonView} value=${detail.routing} label="Routing decision" />`}
    ${detail.inferada !== null && html`<h2>Processors</h2><${JsonView} value=${processors} label="Processors" />`}
    ${detail.tool_runs !== null && html`<h2>Tool runs</h2><${JsonView} value=${detail.tool_runs} label="Tool runs" />`}`;
}
