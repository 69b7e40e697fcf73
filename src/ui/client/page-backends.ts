// Backends (admin): health, circuit breaker, queue and latency per backend, and who routes to it.
import { ErrorNote, html, ms, useApi } from "./lib.ts";
import type { Backend, List } from "./types.ts";

export function BackendsPage() {
  const { data, error } = useApi<List<Backend>>("/v1/dashboard/backends", 5_000);
  return html`<section>
    <h1 tabindex="-1">Backends</h1>
    <p class="sub">Live from the gateway's health checks and routing state · refreshes every 5 s</p>
    <${ErrorNote} error=${error} />
    ${data &&
    (data.data.length === 0
      ? html`<p class="empty">No backends configured.</p>`
      : html`<table>
          <thead><tr>
            <th scope="col">Backend</th><th scope="col">Health</th><th scope="col">Breaker</th><th scope="col" class="num">In flight</th>
            <th scope="col" class="num">Engine queue</th><th scope="col" class="num">TTFT (EWMA)</th><th scope="col" class="num">Duration (EWMA)</th><th scope="col">Used by</th>
          </tr></thead>
          <tbody>
            ${data.data.map(
              (b) => html`<tr>
                <th scope="row">${b.name}${b.public ? html` <span class="tag">public</span>` : null}${b.discovered ? html` <span class="tag">discovered</span>` : null}
                  <div class="muted">${b.model} · ${b.url}</div></th>
                <td><span class=${`pill ${b.health}`}>${b.health}</span></td>
                <td><span class=${`pill breaker-${b.breaker}`}>${b.breaker.replace("_", "-")}</span>${b.consecutive_failures ? html`<div class="muted">${b.consecutive_failures} failures in a row</div>` : null}</td>
                <td class="num">${b.in_flight}${b.max_concurrent ? ` / ${b.max_concurrent}` : ""}</td>
                <td class="num">${b.engine_queue}</td>
                <td class="num">${ms(b.ttft_ewma_ms)}</td>
                <td class="num">${ms(b.duration_ewma_ms)}</td>
                <td>${b.used_by.length ? b.used_by.join(", ") : html`<span class="muted">direct only</span>`}</td>
              </tr>`,
            )}
          </tbody>
        </table>`)}
  </section>`;
}
