// Plugins and config (admin): loaded plugins with state and last error, and the effective config, secrets masked.
import { ErrorNote, html, time, useApi } from "./lib.ts";
import type { List, Plugin } from "./types.ts";

interface ConfigView {
  loaded_at: number;
  last_reload: { at_ms: number; ok: boolean; error: string | null } | null;
  config: unknown;
}

export function PluginsPage() {
  const plugins = useApi<List<Plugin>>("/v1/plugins", 10_000);
  const config = useApi<ConfigView>("/v1/dashboard/config", 10_000);
  return html`<section>
    <h1 tabindex="-1">Plugins and config</h1>
    <h2>Plugins</h2>
    <${ErrorNote} error=${plugins.error} />
    ${plugins.data &&
    (plugins.data.data.length === 0
      ? html`<p class="empty">No plugins loaded.</p>`
      : html`<table>
          <thead><tr><th scope="col">Plugin</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Loaded</th><th scope="col">Last error</th></tr></thead>
          <tbody>
            ${plugins.data.data.map(
              (p) => html`<tr>
                <th scope="row">${p.name ?? html`<span class="muted">(never loaded)</span>`}<div class="muted">${p.file}</div></th>
                <td>${p.kind}</td>
                <td><span class=${`pill ${p.state === "active" ? "ready" : "unavailable"}`}>${p.state}</span></td>
                <td>${p.loaded_at ?? "–"}${p.version !== null ? html`<div class="muted">version ${p.version}</div>` : null}</td>
                <td>${p.last_error ? html`<pre class="wrap">${p.last_error}</pre>` : "–"}</td>
              </tr>`,
            )}
          </tbody>
        </table>`)}
    <h2>Effective config</h2>
    <${ErrorNote} error=${config.error} />
    ${config.data &&
    html`<p class="sub">Loaded ${time(config.data.loaded_at * 1000)} UTC.
        ${config.data.last_reload
          ? config.data.last_reload.ok
            ? ` Last reload ${time(config.data.last_reload.at_ms)}: applied.`
            : html` Last reload ${time(config.data.last_reload.at_ms)}: <strong>failed</strong>, the previous config keeps serving.`
          : " No reload since start."}
        Secrets are masked.</p>
      ${config.data.last_reload?.error ? html`<pre class="wrap error">${config.data.last_reload.error}</pre>` : null}
      <pre class="config" tabindex="0" aria-label="Effective configuration">${JSON.stringify(config.data.config, null, 2)}</pre>`}
  </section>`;
}
