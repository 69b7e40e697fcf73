// Keys: the list with each key's spend and rate use; an admin creates (the secret is shown once), edits limits,
// budgets, models, scopes and routing defaults, and revokes. Writes go to /v1/keys.
import { useState } from "preact/hooks";
import { TimeChart } from "./chart.ts";
import { api, count, ErrorNote, html, time, usd, useApi } from "./lib.ts";
import type { ApiKey, KeyWithUse, List, Session } from "./types.ts";

const SCOPES = ["chat", "embeddings", "models", "usage", "admin"];
const OPTIMIZE = ["", "balanced", "quality", "cost", "latency"];

export function KeysPage({ session }: { session: Session }) {
  const keys = useApi<List<KeyWithUse>>("/v1/dashboard/keys", 15_000);
  const [created, setCreated] = useState<ApiKey | undefined>(undefined);
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [burning, setBurning] = useState<string | undefined>(undefined);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  const run = async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      keys.reload();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    }
  };

  return html`<section>
    <h1 tabindex="-1">Keys</h1>
    ${session.admin ? null : html`<p class="sub">This key's own record. An admin key manages keys.</p>`}
    <${ErrorNote} error=${keys.error ?? error} />
    ${created &&
    html`<div class="secret" role="status">
      <h2>Key “${created.name}” created</h2>
      <p>Copy the secret now: it is shown only this once and cannot be read again.</p>
      <code class="secret-value" data-testid="new-secret">${created.key}</code>
      <button type="button" onClick=${() => navigator.clipboard?.writeText(created.key ?? "").catch(() => undefined)}>Copy</button>
      <button type="button" onClick=${() => setCreated(undefined)}>I have saved it</button>
    </div>`}
    ${session.admin &&
    (creating
      ? html`<${KeyForm}
          title="New key"
          onCancel=${() => setCreating(false)}
          onSubmit=${(body: Record<string, unknown>) =>
            run(async () => {
              setCreated(await api<ApiKey>("/v1/keys", { method: "POST", body }));
              setCreating(false);
            })}
        />`
      : html`<button type="button" class="primary" onClick=${() => setCreating(true)}>New key</button>`)}
    ${keys.data &&
    html`<table class="keys">
      <thead><tr>
        <th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Limits</th><th scope="col">Budget use</th>
        <th scope="col" class="num">Last minute</th><th scope="col">State</th>${session.admin ? html`<th scope="col">Actions</th>` : null}
      </tr></thead>
      <tbody>
        ${keys.data.data.map(
          (k) => html`<tr data-key=${k.id}>
            <th scope="row">${k.name}<div class="muted"><code>${k.prefix}…</code> · ${k.id}</div></th>
            <td>${k.scopes.join(", ")}${k.allowed_models ? html`<div class="muted">models: ${k.allowed_models.join(", ")}</div>` : null}</td>
            <td>${limits(k)}</td>
            <td><${BudgetBar} label="today" spent=${k.use.spend_today_usd} budget=${k.budget_usd_daily} />
              <${BudgetBar} label="month" spent=${k.use.spend_month_usd} budget=${k.budget_usd_monthly} />
              <button type="button" class="small" aria-expanded=${burning === k.id} onClick=${() => setBurning(burning === k.id ? undefined : k.id)}>Burn-down</button></td>
            <td class="num">${k.use.requests_last_minute}${k.rpm ? ` / ${k.rpm}` : ""} req<br />${count(k.use.tokens_last_minute)}${k.tpm ? ` / ${count(k.tpm)}` : ""} tok</td>
            <td>${k.revoked_at ? html`<span class="pill unavailable">revoked ${time(k.revoked_at * 1000).slice(0, 10)}</span>` : html`<span class="pill ready">active</span>`}</td>
            ${session.admin &&
            html`<td>${k.revoked_at
              ? null
              : html`<button type="button" onClick=${() => setEditing(editing === k.id ? undefined : k.id)} aria-expanded=${editing === k.id}>Edit</button>
                  <${RevokeButton} name=${k.name} onRevoke=${() => run(() => api(`/v1/keys/${encodeURIComponent(k.id)}`, { method: "DELETE" }))} />`}</td>`}
          </tr>
          ${burning === k.id && html`<tr class="edit-row"><td colspan="7"><${BurnDown} keyWithUse=${k} /></td></tr>`}
          ${editing === k.id &&
          html`<tr class="edit-row"><td colspan="7">
            <${KeyForm}
              title=${`Edit ${k.name}`}
              initial=${k}
              onCancel=${() => setEditing(undefined)}
              onSubmit=${(body: Record<string, unknown>) => run(() => api(`/v1/keys/${encodeURIComponent(k.id)}`, { method: "PATCH", body })).then((ok) => ok && setEditing(undefined))}
            />
          </td></tr>`}`,
        )}
      </tbody>
    </table>`}
  </section>`;
}

/** This month's spend, day by day and summed, against the monthly budget. */
function BurnDown({ keyWithUse }: { keyWithUse: KeyWithUse }) {
  const now = new Date();
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const byDay = new Map(keyWithUse.use.month_by_day.map((d) => [Date.parse(`${d.day}T00:00:00Z`), d.cost_usd]));
  const times: number[] = [];
  const cumulative: number[] = [];
  let sum = 0;
  for (let t = monthStart; t <= today; t += 86_400_000) {
    sum += byDay.get(t) ?? 0;
    times.push(t);
    cumulative.push(sum);
  }
  const budget = keyWithUse.budget_usd_monthly;
  const series = [{ label: "spent this month", values: cumulative, color: "#d97706" }];
  if (budget !== null) series.push({ label: "monthly budget", values: times.map(() => budget), color: "#9ca3af" });
  return html`<${TimeChart} title=${`${keyWithUse.name}: spend this month (USD)`} times=${times} series=${series} fromMs=${monthStart} toMs=${today} stepMs=${86_400_000} height=${180} />`;
}

function limits(k: ApiKey): string {
  const parts = [k.rpm && `${k.rpm} rpm`, k.tpm && `${k.tpm} tpm`, k.max_concurrent && `${k.max_concurrent} concurrent`, k.routing?.optimize && `optimize ${k.routing.optimize}`];
  return parts.filter(Boolean).join(" · ") || "none";
}

function BudgetBar({ label, spent, budget }: { label: string; spent: number; budget: number | null }) {
  if (budget === null) return html`<div class="budget"><span>${label}: ${usd(spent)}</span></div>`;
  const share = budget > 0 ? Math.min(1, spent / budget) : 1;
  return html`<div class="budget">
    <span>${label}: ${usd(spent)} of ${usd(budget)}</span>
    <progress max="1" value=${share} aria-label=${`${label} budget used`}></progress>
  </div>`;
}

function RevokeButton({ name, onRevoke }: { name: string; onRevoke: () => void }) {
  const [confirming, setConfirming] = useState(false);
  if (!confirming) return html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Revoke</button>`;
  return html`<span class="confirm">Revoke ${name}? It stops working at once.
    <button type="button" class="danger" onClick=${onRevoke}>Yes, revoke</button>
    <button type="button" onClick=${() => setConfirming(false)}>Keep</button></span>`;
}

const list = (text: string) => {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
};
const number = (text: string, integer: boolean) => (text.trim() === "" ? null : integer ? Math.round(Number(text)) : Number(text));

function KeyForm({ title, initial, onSubmit, onCancel }: { title: string; initial?: ApiKey; onSubmit: (body: Record<string, unknown>) => void; onCancel: () => void }) {
  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? "");
    const pool = list(text("model_pool"));
    const optimize = text("optimize");
    onSubmit({
      name: text("name").trim(),
      scopes: SCOPES.filter((s) => form.get(`scope-${s}`) !== null),
      allowed_models: list(text("allowed_models")),
      rpm: number(text("rpm"), true),
      tpm: number(text("tpm"), true),
      max_concurrent: number(text("max_concurrent"), true),
      budget_usd_daily: number(text("budget_usd_daily"), false),
      budget_usd_monthly: number(text("budget_usd_monthly"), false),
      routing: pool || optimize ? { ...(pool ? { model_pool: pool } : {}), ...(optimize ? { optimize } : {}) } : null,
    });
  };
  const value = (v: number | string | null | undefined) => (v === null || v === undefined ? "" : String(v));
  const scopes = initial?.scopes ?? ["chat", "embeddings", "models"];
  return html`<form class="key-form" onSubmit=${submit} aria-label=${title}>
    <h2>${title}</h2>
    <div class="grid">
      <label>Name <input name="name" required maxlength="200" value=${value(initial?.name)} /></label>
      <fieldset><legend>Scopes</legend>
        ${SCOPES.map((s) => html`<label class="check"><input type="checkbox" name=${`scope-${s}`} checked=${scopes.includes(s)} /> ${s}</label>`)}
      </fieldset>
      <label>Allowed models <input name="allowed_models" placeholder="all; or e.g. qwen35-demo, public:*" value=${value(initial?.allowed_models?.join(", "))} /></label>
      <label>Requests per minute <input name="rpm" type="number" min="1" value=${value(initial?.rpm)} /></label>
      <label>Tokens per minute <input name="tpm" type="number" min="1" value=${value(initial?.tpm)} /></label>
      <label>Max concurrent <input name="max_concurrent" type="number" min="1" value=${value(initial?.max_concurrent)} /></label>
      <label>Daily budget (USD) <input name="budget_usd_daily" type="number" min="0" step="0.01" value=${value(initial?.budget_usd_daily)} /></label>
      <label>Monthly budget (USD) <input name="budget_usd_monthly" type="number" min="0" step="0.01" value=${value(initial?.budget_usd_monthly)} /></label>
      <label>Routing model pool <input name="model_pool" placeholder="for model auto; e.g. qwen35-demo, llama-8b" value=${value(initial?.routing?.model_pool?.join(", "))} /></label>
      <label>Routing optimize
        <select name="optimize">${OPTIMIZE.map((o) => html`<option value=${o} selected=${(initial?.routing?.optimize ?? "") === o}>${o || "(default)"}</option>`)}</select>
      </label>
    </div>
    <button type="submit" class="primary">${initial ? "Save" : "Create key"}</button>
    <button type="button" onClick=${onCancel}>Cancel</button>
  </form>`;
}
