// Overview: traffic, tokens, errors by kind, latency percentiles and spend, refreshed at a bounded rate.
import { useState } from "preact/hooks";
import { TimeChart } from "./chart.ts";
import { count, ErrorNote, html, ms, rate, Stat, usd, useApi } from "./lib.ts";
import type { Overview, Session } from "./types.ts";

const WINDOWS = [
  { id: "hour", label: "Last hour", refreshMs: 5_000 },
  { id: "day", label: "Last day", refreshMs: 30_000 },
  { id: "month", label: "Last 30 days", refreshMs: 60_000 },
] as const;

export function OverviewPage({ session }: { session: Session }) {
  const [window, setWindow] = useState<(typeof WINDOWS)[number]["id"]>("hour");
  const spec = WINDOWS.find((w) => w.id === window)!;
  const { data, error } = useApi<Overview>(`/v1/dashboard/overview?window=${window}`, spec.refreshMs);
  const times = data?.series.map((p) => p.t) ?? [];
  return html`<section>
    <h1 tabindex="-1">Overview</h1>
    <p class="sub">${session.admin ? "All keys" : `Key ${session.name}`} · refreshes every ${spec.refreshMs / 1000} s while this tab is visible</p>
    <div class="tabs" role="group" aria-label="Time window">
      ${WINDOWS.map((w) => html`<button type="button" aria-pressed=${w.id === window} onClick=${() => setWindow(w.id)}>${w.label}</button>`)}
    </div>
    <${ErrorNote} error=${error} />
    ${data &&
    html`<div class="stats">
        <${Stat} label="Requests/s (last minute)" value=${rate(data.last_minute.requests_per_s)} hint=${`${rate(data.totals.requests_per_s)} avg over the window`} />
        <${Stat} label="Tokens/s (last minute)" value=${rate(data.last_minute.tokens_per_s)} hint=${`${rate(data.totals.tokens_per_s)} avg over the window`} />
        <${Stat} label="Requests" value=${count(data.totals.requests)} hint=${`${count(data.totals.errors)} errors`} />
        <${Stat} label="Latency p50 / p95" value=${`${ms(data.latency_ms.total.p50)} / ${ms(data.latency_ms.total.p95)}`} />
        <${Stat} label="TTFT p50 / p95" value=${`${ms(data.latency_ms.ttft.p50)} / ${ms(data.latency_ms.ttft.p95)}`} />
        <${Stat} label="Spend today (UTC)" value=${usd(data.spend_today_usd)} hint=${`${usd(data.totals.cost_usd)} in window`} />
      </div>
      <div class="charts">
        <${TimeChart}
          title="Requests and errors"
          times=${times}
          fromMs=${data.from_ms}
          toMs=${data.to_ms}
          stepMs=${data.step_ms}
          series=${[
            { label: "requests", values: data.series.map((p) => p.requests), color: "#2563eb" },
            { label: "errors", values: data.series.map((p) => p.errors), color: "#dc2626" },
          ]}
        />
        <${TimeChart}
          title="Tokens"
          times=${times}
          fromMs=${data.from_ms}
          toMs=${data.to_ms}
          stepMs=${data.step_ms}
          series=${[
            { label: "prompt", values: data.series.map((p) => p.prompt_tokens), color: "#7c3aed" },
            { label: "completion", values: data.series.map((p) => p.completion_tokens), color: "#059669" },
          ]}
        />
      </div>
      <h2>Errors by kind</h2>
      ${data.errors_by_code.length === 0
        ? html`<p class="empty">No errors in this window.</p>`
        : html`<table>
            <thead><tr><th scope="col">Code</th><th scope="col" class="num">Requests</th></tr></thead>
            <tbody>${data.errors_by_code.map((e) => html`<tr><td><code>${e.code}</code></td><td class="num">${e.requests}</td></tr>`)}</tbody>
          </table>`}`}
  </section>`;
}
