// Usage: spend and tokens by day (charts), by key and by model (tables), from the daily roll-up; CSV export.
import { useState } from "preact/hooks";
import { TimeChart } from "./chart.ts";
import { count, ErrorNote, html, usd, useApi } from "./lib.ts";
import type { Session, UsageReport, UsageRow } from "./types.ts";

const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

export function UsagePage({ session }: { session: Session }) {
  const [range, setRange] = useState({ from: day(-29), to: day(0) });
  const query = `from=${range.from}&to=${range.to}`;
  const byDay = useApi<UsageReport>(`/v1/dashboard/usage?group_by=day&${query}`, 60_000);
  const byKey = useApi<UsageReport>(session.admin ? `/v1/dashboard/usage?group_by=key&${query}` : undefined, 60_000);
  const byModel = useApi<UsageReport>(`/v1/dashboard/usage?group_by=model&${query}`, 60_000);
  const days = byDay.data?.data ?? [];
  const times = days.map((d) => Date.parse(`${d.day}T00:00:00Z`));
  const fromMs = Date.parse(`${range.from}T00:00:00Z`);
  const toMs = Date.parse(`${range.to}T00:00:00Z`);
  const onRange = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setRange({ from: String(form.get("from")), to: String(form.get("to")) });
  };
  return html`<section>
    <h1 tabindex="-1">Usage</h1>
    <form class="filters" onSubmit=${onRange} aria-label="Date range">
      <label>From <input type="date" name="from" value=${range.from} required /></label>
      <label>To <input type="date" name="to" value=${range.to} required /></label>
      <button type="submit">Show</button>
      <a class="button" href=${`/v1/dashboard/usage?group_by=day&${query}&format=csv`} download="sluice-usage-by-day.csv">CSV by day</a>
      ${session.admin ? html`<a class="button" href=${`/v1/dashboard/usage?group_by=key&${query}&format=csv`} download="sluice-usage-by-key.csv">CSV by key</a>` : null}
      <a class="button" href=${`/v1/dashboard/usage?group_by=model&${query}&format=csv`} download="sluice-usage-by-model.csv">CSV by model</a>
    </form>
    <${ErrorNote} error=${byDay.error ?? byKey.error ?? byModel.error} />
    ${byDay.data &&
    html`<p class="sub">Total: ${usd(byDay.data.total.cost_usd)} · ${count(byDay.data.total.requests)} requests ·
        ${count(byDay.data.total.prompt_tokens)} prompt + ${count(byDay.data.total.completion_tokens)} completion tokens (UTC days)</p>
      <div class="charts">
        <${TimeChart} title="Spend per day (USD)" times=${times} fromMs=${fromMs} toMs=${toMs} stepMs=${86_400_000} series=${[{ label: "spend", values: days.map((d) => d.cost_usd), color: "#d97706" }]} />
        <${TimeChart}
          title="Tokens per day"
          times=${times}
          fromMs=${fromMs}
          toMs=${toMs}
          stepMs=${86_400_000}
          series=${[
            { label: "prompt", values: days.map((d) => d.prompt_tokens), color: "#7c3aed" },
            { label: "completion", values: days.map((d) => d.completion_tokens), color: "#059669" },
          ]}
        />
      </div>`}
    ${session.admin && byKey.data && html`<h2>By key</h2><${UsageTable} rows=${byKey.data.data} label="Key" name=${(r: UsageRow) => r.key_id ?? "(no key)"} />`}
    ${byModel.data && html`<h2>By model</h2><${UsageTable} rows=${byModel.data.data} label="Model" name=${(r: UsageRow) => r.model ?? ""} />`}
  </section>`;
}

function UsageTable({ rows, label, name }: { rows: UsageRow[]; label: string; name: (r: UsageRow) => string }) {
  if (rows.length === 0) return html`<p class="empty">No usage in this range.</p>`;
  return html`<table class="usage">
    <thead><tr><th scope="col">${label}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Prompt tokens</th><th scope="col" class="num">Completion tokens</th><th scope="col" class="num">Spend</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr><th scope="row"><code>${name(r)}</code></th><td class="num">${r.requests}</td><td class="num">${r.prompt_tokens}</td><td class="num">${r.completion_tokens}</td><td class="num">${usd(r.cost_usd)}</td></tr>`)}</tbody>
  </table>`;
}
