// The contract of the `search` platform tool: what a provider is configured with and what it gives back.

export interface SearchResult {
  title: string;
  url: string;
  snippet: string;
}

export type SearchProvider = "local" | "searxng" | "brave" | "tavily";

export interface SearchConfig {
  provider: SearchProvider;
  /** searxng: its base URL (required). brave, tavily: overrides the API's base URL. */
  url?: string;
  api_key?: string;
  /** Default 5. */
  max_results?: number;
  /** Default 8000; covers the whole exchange, body included. */
  timeout_ms?: number;
}

/**
 * A provider failure. The message names the provider and what happened (HTTP status, timeout, bad JSON) so the
 * operator knows which setting to change; it never contains the API key.
 */
export class SearchError extends Error {
  override readonly name = "SearchError";
  /** The provider's HTTP status, when it answered with one. */
  readonly status: number | undefined;

  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}
