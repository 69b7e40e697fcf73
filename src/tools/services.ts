// What the gateway does for tool plugins (PlatformServices in the plugin API): web search with the configured
// provider, the browser with its SSRF guard, and vector search in the configured databases. Plugins call these
// instead of reaching into the gateway, so a tool file stays a few lines.
import type { Gateway } from "../gateway.ts";
import type { Snapshot } from "../config/resolve.ts";
import type { PlatformServices } from "../plugins/api.ts";
import { searchWeb } from "./search.ts";
import { browse } from "./browser.ts";
import { usdToMicros } from "../billing/cost.ts";

/** `charge` bills what a service cost (micro-dollars: a paid search query, a priced embedding) to the request the tool runs for. */
export function platformServices(gateway: Gateway, snapshot: Snapshot, signal: AbortSignal, charge: (micros: number) => void): PlatformServices {
  const tools = snapshot.raw.tools;
  return {
    search: async (query, maxResults) => {
      const results = await searchWeb(tools.search, query, { local: gateway.localSearch, signal, maxResults: maxResults ?? tools.search.max_results });
      if (tools.search.cost_per_query_usd) charge(usdToMicros(tools.search.cost_per_query_usd));
      return results;
    },
    browse: (url, options) =>
      browse(url, {
        allowHosts: tools.browser.allow_hosts,
        maxBytes: tools.browser.max_bytes,
        timeoutMs: tools.browser.timeout_ms,
        maxChars: tools.browser.max_chars,
        chromiumPath: tools.browser.chromium_path,
        render: options?.render ?? false,
        signal,
      }),
    vectorSearch: async (database, query, options) => {
      const store = gateway.vectors.store(snapshot, database);
      return store.search(query, gateway.vectors.embedder(snapshot, database, signal, charge), options);
    },
  };
}
