// The hosted search providers. Each is a request builder and a result extractor; one exchange function does the
// fetch, the deadline, the status and JSON checks and the error messages for all of them.
import { collapseWhitespace, htmlToText, SNIPPET_MAX_CHARS, TITLE_MAX_CHARS, truncateText } from "./clean-text.ts";
import { SearchError, type SearchConfig, type SearchProvider, type SearchResult } from "./types.ts";

export type WebProviderName = Exclude<SearchProvider, "local">;

interface RawResult {
  title: unknown;
  url: unknown;
  snippet: unknown;
}

interface WebProvider {
  /** Used when `url` is not configured; searxng is always self-hosted, so it has none. */
  defaultBaseUrl: string | undefined;
  needsApiKey: boolean;
  request(base: string, query: string, count: number, apiKey: string | undefined): { url: URL; init: RequestInit };
  /** The result list of a 2xx answer, or null when the JSON has some other shape. */
  results(body: unknown): RawResult[] | null;
  /** What the operator should check after this status, if anything specific. */
  hint(status: number): string | undefined;
}

/** Brave and Tavily both reject counts above 20. */
const PROVIDER_MAX_COUNT = 20;
/** A search answer is tens of kilobytes; anything far bigger is not one. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const ERROR_DETAIL_CHARS = 160;

const keyHint = (status: number) => (status === 401 || status === 403 ? "check api_key" : status === 429 ? "rate limited or out of quota" : undefined);

const PROVIDERS: Record<WebProviderName, WebProvider> = {
  searxng: {
    defaultBaseUrl: undefined,
    needsApiKey: false,
    request(base, query) {
      const url = endpoint(base, "/search");
      url.searchParams.set("q", query);
      url.searchParams.set("format", "json");
      return { url, init: { method: "GET", headers: { accept: "application/json" } } };
    },
    results(body) {
      const results = field(body, "results");
      if (!Array.isArray(results)) return null;
      return results.map((r) => ({ title: field(r, "title"), url: field(r, "url"), snippet: field(r, "content") }));
    },
    // SearXNG answers 403 to format=json unless its settings.yml lists json under search.formats.
    hint: (status) => (status === 403 ? "add json to search.formats in the searxng settings.yml" : status === 429 ? "its limiter is throttling the gateway" : undefined),
  },
  brave: {
    defaultBaseUrl: "https://api.search.brave.com",
    needsApiKey: true,
    request(base, query, count, apiKey) {
      const url = endpoint(base, "/res/v1/web/search");
      url.searchParams.set("q", query);
      url.searchParams.set("count", String(count));
      return { url, init: { method: "GET", headers: { accept: "application/json", "x-subscription-token": apiKey ?? "" } } };
    },
    results(body) {
      if (typeof body !== "object" || body === null) return null;
      const web = field(body, "web");
      if (web === undefined) return []; // Brave leaves `web` out when nothing matched
      const results = field(web, "results");
      if (!Array.isArray(results)) return null;
      return results.map((r) => ({ title: field(r, "title"), url: field(r, "url"), snippet: field(r, "description") }));
    },
    hint: keyHint,
  },
  tavily: {
    defaultBaseUrl: "https://api.tavily.com",
    needsApiKey: true,
    request(base, query, count, apiKey) {
      return {
        url: endpoint(base, "/search"),
        init: {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${apiKey ?? ""}` },
          body: JSON.stringify({ query, max_results: count }),
        },
      };
    },
    results(body) {
      const results = field(body, "results");
      if (!Array.isArray(results)) return null;
      return results.map((r) => ({ title: field(r, "title"), url: field(r, "url"), snippet: field(r, "content") }));
    },
    hint: keyHint,
  },
};

export async function searchWithProvider(name: WebProviderName, config: SearchConfig, query: string, maxResults: number, timeoutMs: number, callerSignal: AbortSignal | undefined): Promise<SearchResult[]> {
  const provider = PROVIDERS[name];
  const redact = redactor(config.api_key);
  const base = config.url ?? provider.defaultBaseUrl;
  if (base === undefined) throw new SearchError(`search provider ${name} needs a url (its base URL, e.g. http://127.0.0.1:8888)`);
  if (provider.needsApiKey && !config.api_key) throw new SearchError(`search provider ${name} needs an api_key`);
  const label = redact(`${name} at ${displayUrl(base)}`);

  let request: { url: URL; init: RequestInit };
  try {
    request = provider.request(base, query, Math.min(maxResults, PROVIDER_MAX_COUNT), config.api_key);
  } catch {
    throw new SearchError(redact(`search provider ${name} has an invalid url: ${JSON.stringify(base)}`));
  }

  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
  // A failure is the provider's unless the caller gave up: then the caller's own abort reason propagates.
  const failure = (error: unknown, during: string): unknown => {
    if (callerSignal?.aborted) return callerSignal.reason;
    if (deadline.aborted) return new SearchError(`${label} did not answer within ${timeoutMs} ms (timeout_ms)`);
    if (error instanceof SearchError) return error;
    return new SearchError(`${label} ${during}: ${redact(errorCode(error))}`);
  };

  let response: Response;
  let text: string;
  try {
    // Redirects are not followed: the API key must not travel to another address.
    response = await fetch(request.url, { ...request.init, signal, redirect: "manual" });
  } catch (error) {
    throw failure(error, "could not be reached");
  }
  try {
    text = await readBounded(response, label);
  } catch (error) {
    throw failure(error, "broke off its answer");
  }

  if (response.status < 200 || response.status > 299) {
    const hint = response.status >= 300 && response.status < 400 ? "a redirect; set url to the final address" : provider.hint(response.status);
    const detail = errorDetail(text);
    throw new SearchError(redact(`${label} answered HTTP ${response.status}${detail ? `: ${detail}` : ""}${hint ? ` (${hint})` : ""}`), response.status);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SearchError(redact(`${label} answered with invalid JSON (${describeBody(text)})`));
  }
  const raw = provider.results(body);
  if (raw === null) throw new SearchError(`${label} answered JSON without the expected results list`);
  return cleanResults(raw, maxResults);
}

function cleanResults(raw: RawResult[], maxResults: number): SearchResult[] {
  const results: SearchResult[] = [];
  for (const r of raw) {
    if (results.length >= maxResults) break;
    if (typeof r.url !== "string" || r.url.trim() === "") continue;
    const url = r.url.trim();
    const title = typeof r.title === "string" ? truncateText(htmlToText(r.title), TITLE_MAX_CHARS) : "";
    const snippet = typeof r.snippet === "string" ? truncateText(htmlToText(r.snippet), SNIPPET_MAX_CHARS) : "";
    results.push({ title: title || url, url, snippet });
  }
  return results;
}

/** Appends the API path to the base URL's path, keeping any query (e.g. a token for an auth proxy in front). */
function endpoint(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, "") + path;
  return url;
}

/** The base URL as an operator would recognise it, without credentials or query strings. */
function displayUrl(base: string): string {
  try {
    const url = new URL(base);
    return url.origin + url.pathname.replace(/\/+$/, "");
  } catch {
    return JSON.stringify(base);
  }
}

function redactor(apiKey: string | undefined): (text: string) => string {
  if (!apiKey) return (text) => text;
  return (text) => text.split(apiKey).join("[api_key]");
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Fetch errors carry a code (ECONNREFUSED, ConnectionRefused…); their messages may repeat the full URL. */
function errorCode(error: unknown): string {
  const code = field(error, "code");
  if (typeof code === "string" && code) return code;
  return error instanceof Error ? error.name : "unknown error";
}

async function readBounded(response: Response, label: string): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw new SearchError(`${label} answered with ${declared} bytes, more than a search answer can be`);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new SearchError(`${label} answered with more than ${MAX_RESPONSE_BYTES} bytes, more than a search answer can be`);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/** The provider's own error message (JSON `error`/`detail`/`message`, or the text of an HTML page), shortened. */
function errorDetail(text: string): string {
  let candidate: unknown = text;
  try {
    const body: unknown = JSON.parse(text);
    const error = field(body, "error");
    const detail = field(body, "detail");
    candidate = [error, field(error, "message"), field(error, "detail"), detail, field(detail, "error"), field(body, "message")].find(
      (c) => typeof c === "string" && c.trim() !== "",
    );
  } catch {
    // not JSON: the raw text (often an HTML error page)
  }
  return typeof candidate === "string" ? truncateText(htmlToText(candidate), ERROR_DETAIL_CHARS) : "";
}

function describeBody(text: string): string {
  const start = collapseWhitespace(text).slice(0, 40);
  return start ? `it starts with ${JSON.stringify(start)}` : "the body is empty";
}
