// The `search` platform tool's providers: the embedded FTS5 index, or a hosted search API. One entry point,
// `searchWeb`, so callers never branch on the provider.
import { LocalSearchIndex } from "./search/local-index.ts";
import { SearchError, type SearchConfig, type SearchResult } from "./search/types.ts";
import { searchWithProvider } from "./search/web-providers.ts";

export { LocalSearchIndex, type LocalDocument } from "./search/local-index.ts";
export { SearchError, type SearchConfig, type SearchProvider, type SearchResult } from "./search/types.ts";

export const DEFAULT_MAX_RESULTS = 5;
export const DEFAULT_SEARCH_TIMEOUT_MS = 8000;

export interface SearchOptions {
  /** Required when `config.provider` is "local". */
  local?: LocalSearchIndex;
  /** The client's signal: aborting it rejects with its reason (not a SearchError), since nobody waits any more. */
  signal?: AbortSignal;
  /** Overrides `config.max_results` for this call (a model may ask for fewer). */
  maxResults?: number;
}

/** Runs one query. Provider failures reject with a SearchError; an empty or punctuation-only query gives []. */
export async function searchWeb(config: SearchConfig, query: string, options: SearchOptions = {}): Promise<SearchResult[]> {
  const maxResults = Math.floor(options.maxResults ?? config.max_results ?? DEFAULT_MAX_RESULTS);
  const trimmed = query.trim();
  if (!(maxResults > 0) || trimmed === "") return [];
  options.signal?.throwIfAborted();
  if (config.provider === "local") {
    if (!options.local) throw new SearchError("search provider local has no index to search");
    return options.local.search(trimmed, maxResults);
  }
  const timeoutMs = config.timeout_ms ?? DEFAULT_SEARCH_TIMEOUT_MS;
  return searchWithProvider(config.provider, config, trimmed, maxResults, timeoutMs, options.signal);
}
