// The `browser` platform tool's engine: fetch one page and return its readable text. A model picks the URL, so every
// hop is treated as hostile: only http(s); the host is resolved and every address vetted before any connection; the
// connection goes to the vetted address itself (no second DNS lookup for a rebinding attacker to answer differently);
// redirects are followed by hand and vetted again. Rendering (scripts run) uses one lazily launched headless Chromium.
import { lookup } from "node:dns/promises";
import { existsSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import type { Readability as ReadabilityType } from "@mozilla/readability";
import type { parseHTML as parseHTMLType } from "linkedom";
import type { Browser, BrowserContext, Route } from "playwright-core";

export interface BrowserOptions {
  /** hosts or CIDRs that may be fetched even though they are loopback/private/link-local (config tools.browser.allow_hosts) */
  allowHosts?: readonly string[];
  maxBytes?: number; // default 2_000_000 (stop reading beyond; say so in the result)
  timeoutMs?: number; // default 10_000, whole operation
  maxRedirects?: number; // default 5
  render?: boolean; // render with headless Chromium (scripts run) instead of plain fetch
  chromiumPath?: string; // default /usr/bin/chromium
  maxChars?: number; // default 20_000 characters of text returned
  signal?: AbortSignal;
}

export interface BrowsedPage {
  url: string /* final URL after redirects */;
  title: string;
  text: string;
  bytes: number;
  truncated: boolean;
  rendered: boolean;
}

/** The page may not be fetched: a private address, a scheme other than http(s), too many redirects, unreadable content. */
export class BrowserRefused extends Error {
  override name = "BrowserRefused";
}

const BROWSER_IDLE_MS = 60_000;
const NETWORK_IDLE_MAX_MS = 5_000;
const USER_AGENT = "Mozilla/5.0 (compatible; sluice-browser/0.1)";

// ---- addresses ----------------------------------------------------------------------------------------------------

// First match names the range in the refusal; broadcast comes before the reserved block that contains it.
const PRIVATE_RANGES: readonly (readonly [description: string, network: string, prefix: number])[] = [
  ["a loopback address", "127.0.0.0", 8],
  ["a loopback address", "::1", 128],
  ["an unspecified address", "::", 128],
  ['a "this network" address (0.0.0.0/8)', "0.0.0.0", 8],
  ["a private address (RFC 1918)", "10.0.0.0", 8],
  ["a private address (RFC 1918)", "172.16.0.0", 12],
  ["a private address (RFC 1918)", "192.168.0.0", 16],
  ["a carrier-grade NAT address (100.64.0.0/10)", "100.64.0.0", 10],
  ["a link-local address", "169.254.0.0", 16],
  ["a link-local address", "fe80::", 10],
  ["a unique local address", "fc00::", 7],
  ["a site-local address", "fec0::", 10],
  ["an IETF protocol address (192.0.0.0/24)", "192.0.0.0", 24],
  ["a benchmarking address (198.18.0.0/15)", "198.18.0.0", 15],
  ["a multicast address", "224.0.0.0", 4],
  ["a multicast address", "ff00::", 8],
  ["a broadcast address", "255.255.255.255", 32],
  ["a reserved address (240.0.0.0/4)", "240.0.0.0", 4],
  ["an IPv4-compatible IPv6 address", "::", 96],
];

// One BlockList per range so the refusal can say which; BlockList also matches IPv4-mapped IPv6 against IPv4 rules.
const RANGE_LISTS = PRIVATE_RANGES.map(([description, network, prefix]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, isIP(network) === 6 ? "ipv6" : "ipv4");
  return { description, list };
});

const bare = (host: string) => host.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
const family = (ip: string) => (isIP(ip) === 6 ? "ipv6" : "ipv4");

function privateRange(ip: string): string | undefined {
  const address = bare(ip);
  if (isIP(address) === 0) return undefined;
  return RANGE_LISTS.find(({ list }) => list.check(address, family(address)))?.description;
}

export function isPrivateAddress(ip: string): boolean {
  return privateRange(ip) !== undefined;
}

interface AllowList {
  names: ReadonlySet<string>;
  addresses: BlockList;
}

function compileAllowList(entries: readonly string[]): AllowList {
  const names = new Set<string>();
  const addresses = new BlockList();
  for (const entry of entries) {
    const [network = "", prefix, extra] = bare(entry.trim()).split("/");
    const version = isIP(network);
    if (prefix !== undefined && version !== 0 && extra === undefined && /^\d+$/.test(prefix)) {
      addresses.addSubnet(network, Number(prefix), version === 6 ? "ipv6" : "ipv4");
    } else if (prefix === undefined && version !== 0) addresses.addAddress(network, version === 6 ? "ipv6" : "ipv4");
    else if (prefix === undefined && /^[a-z0-9.-]+$/.test(network)) names.add(network.replace(/\.$/, ""));
    else throw new Error(`tools.browser.allow_hosts: "${entry}" is not a host name, an IP address or a CIDR`);
  }
  return { names, addresses };
}

/** Resolves the host and refuses it if any address is private and not allowed; returns the addresses to connect to. */
async function vetHost(hostname: string, allow: AllowList, signal?: AbortSignal): Promise<string[]> {
  const host = bare(hostname);
  const literal = isIP(host) !== 0;
  const addresses = literal ? [host] : await resolve(host, signal);
  if (!literal && allow.names.has(host.replace(/\.$/, ""))) return addresses;
  for (const address of addresses) {
    const range = privateRange(address);
    if (range === undefined || allow.addresses.check(address, family(address))) continue;
    throw new BrowserRefused(
      literal
        ? `${address} is ${range}; add it to tools.browser.allow_hosts to allow it`
        : `${host} resolves to ${address}, ${range}; add ${host} or ${address} to tools.browser.allow_hosts to allow it`,
    );
  }
  return addresses;
}

async function resolve(host: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const found = await abortable(lookup(host, { all: true, verbatim: true }), signal);
    if (found.length === 0) throw new Error("no addresses");
    return found.map(({ address }) => address);
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new Error(`cannot resolve ${host}: ${(error as Error).message}`);
  }
}

const tooManyRedirects = (start: URL, settings: { maxRedirects: number }) =>
  new BrowserRefused(`too many redirects: ${start.href} redirected more than ${settings.maxRedirects} times`);

function checkedUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new BrowserRefused(`${raw} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BrowserRefused(`${url.protocol.slice(0, -1)}: URLs are not allowed; only http and https pages can be browsed`);
  }
  return url;
}

// ---- browse -------------------------------------------------------------------------------------------------------

interface Settings {
  allow: AllowList;
  maxBytes: number;
  maxChars: number;
  maxRedirects: number;
  chromiumPath: string;
  deadline: number;
  signal: AbortSignal;
}

export async function browse(url: string, options: BrowserOptions = {}): Promise<BrowsedPage> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const settings: Settings = {
    allow: compileAllowList(options.allowHosts ?? []),
    maxBytes: options.maxBytes ?? 2_000_000,
    maxChars: options.maxChars ?? 20_000,
    maxRedirects: options.maxRedirects ?? 5,
    chromiumPath: options.chromiumPath ?? "/usr/bin/chromium",
    deadline: performance.now() + timeoutMs,
    signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
  };
  const start = checkedUrl(url);
  try {
    if (!options.render) return await fetchPage(start, settings);
    await vetHost(start.hostname, settings.allow, settings.signal); // refuse before starting Chromium
    return await renderPage(start, settings);
  } catch (error) {
    if (!(error instanceof BrowserRefused) && timeout.aborted && !options.signal?.aborted) {
      throw new Error(`browsing ${start.href} did not finish within ${timeoutMs} ms`);
    }
    throw error;
  }
}

async function fetchPage(start: URL, settings: Settings): Promise<BrowsedPage> {
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const [address] = await vetHost(url.hostname, settings.allow, settings.signal);
    const response = await fetchPinned(url, address!, settings.signal);
    if (!isRedirect(response)) return readResponse(url, response, settings);
    await response.body?.cancel();
    if (redirects >= settings.maxRedirects) throw tooManyRedirects(start, settings);
    url = checkedUrl(response.headers.get("location")!, url);
  }
}

interface Outgoing {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

const PLAIN_HEADERS = { "user-agent": USER_AGENT, accept: "text/html,application/xhtml+xml,text/*;q=0.9,*/*;q=0.1" };

// Connects to the vetted address, not the name: the request line carries the IP, `Host` the name, and for https
// `serverName` makes SNI and certificate verification use the name (Bun verifies against serverName, not the IP).
async function fetchPinned(url: URL, address: string, signal: AbortSignal, outgoing: Outgoing = {}): Promise<Response> {
  const target = new URL(url);
  target.hostname = isIP(address) === 6 ? `[${address}]` : address;
  target.username = target.password = target.hash = "";
  const name = bare(url.hostname).replace(/\.$/, "");
  try {
    return await fetch(target, {
      method: outgoing.method ?? "GET",
      body: outgoing.body,
      redirect: "manual",
      signal,
      headers: { ...(outgoing.headers ?? PLAIN_HEADERS), host: url.host },
      tls: url.protocol === "https:" && isIP(name) === 0 ? { serverName: name } : undefined,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(`could not fetch ${url.href}: ${(error as Error).message}`);
  }
}

const isRedirect = (response: Response) => [301, 302, 303, 307, 308].includes(response.status) && response.headers.has("location");

async function readResponse(url: URL, response: Response, settings: Settings): Promise<BrowsedPage> {
  const contentType = response.headers.get("content-type") ?? "";
  const kind = readableKind(contentType);
  if (response.status >= 400 || kind === undefined) {
    await response.body?.cancel();
    if (response.status >= 400) throw new Error(`${url.href} answered HTTP ${response.status}`);
    throw new BrowserRefused(`content type ${mediaType(contentType) || "(none)"} is not readable`);
  }
  const { body, cut } = await readCapped(response, settings.maxBytes);
  const source = decode(body, contentType, kind);
  return pageOf(url.href, kind, source, body.length, cut, false, settings);
}

const mediaType = (contentType: string) => contentType.split(";")[0]!.trim().toLowerCase();

function readableKind(contentType: string): "html" | "text" | undefined {
  const type = mediaType(contentType);
  if (type === "text/html" || type === "application/xhtml+xml") return "html";
  return type.startsWith("text/") ? "text" : undefined;
}

async function readCapped(response: Response, maxBytes: number): Promise<{ body: Uint8Array; cut: boolean }> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = response.body?.getReader();
  if (!reader) return { body: new Uint8Array(), cut: false };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { body: Buffer.concat(chunks, length), cut: false };
    if (length + value.length > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - length));
      await reader.cancel().catch(() => {});
      return { body: Buffer.concat(chunks, maxBytes), cut: true };
    }
    chunks.push(value);
    length += value.length;
  }
}

function decode(body: Uint8Array, contentType: string, kind: "html" | "text"): string {
  const declared =
    /charset=["']?([\w-]+)/i.exec(contentType)?.[1] ??
    (kind === "html" ? /<meta[^>]+charset=["']?([\w-]+)/i.exec(Buffer.from(body.subarray(0, 1024)).toString("latin1"))?.[1] : undefined);
  try {
    return new TextDecoder((declared ?? "utf-8") as ConstructorParameters<typeof TextDecoder>[0]).decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body);
  }
}

function pageOf(url: string, kind: "html" | "text", source: string, bytes: number, cut: boolean, rendered: boolean, settings: Settings): BrowsedPage {
  let { title, text } = kind === "html" ? readableText(source) : { title: "", text: source.trim() };
  const notes: string[] = [];
  if (cut) notes.push(`[page truncated: only the first ${settings.maxBytes} bytes were read]`);
  if (text.length > settings.maxChars) {
    text = text.slice(0, settings.maxChars);
    notes.push(`[text truncated at ${settings.maxChars} characters]`);
  }
  if (notes.length > 0) text = `${text}\n\n${notes.join("\n")}`;
  return { url, title, text, bytes, truncated: notes.length > 0, rendered };
}

// ---- readable text ------------------------------------------------------------------------------------------------

type DomNode = ReturnType<typeof parseHTMLType>["document"]["body"];

function readableText(html: string): { title: string; text: string } {
  // Loaded on the first page read, not at start-up: they stay resident in every gateway process otherwise.
  const { parseHTML } = require("linkedom") as { parseHTML: typeof parseHTMLType };
  const { Readability } = require("@mozilla/readability") as { Readability: typeof ReadabilityType };
  const { document } = parseHTML(html);
  const pageTitle = (document.title ?? "").trim();
  const article = new Readability(document).parse();
  if (article?.content) {
    const text = blockText(parseHTML(`<!doctype html><html><body>${article.content}</body></html>`).document.body);
    if (text) return { title: (article.title ?? "").trim() || pageTitle, text };
  }
  // Readability gave up (little or oddly structured content): the body's text, minus what is never shown.
  const fallback = parseHTML(html).document;
  return { title: pageTitle, text: fallback.body ? blockText(fallback.body) : "" };
}

// Blocks that end a paragraph (a blank line) and blocks that only end a line.
const PARAGRAPHS = new Set("ARTICLE ASIDE BLOCKQUOTE DETAILS DL FIELDSET FIGURE FOOTER FORM H1 H2 H3 H4 H5 H6 HEADER HR MAIN NAV OL P PRE SECTION TABLE UL".split(" "));
const LINES = new Set("ADDRESS DD DIV DT FIGCAPTION LI SUMMARY TR".split(" "));
const HIDDEN = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "IFRAME", "OBJECT", "CANVAS", "HEAD"]);

/** Text with paragraphs apart, "- " before list items and "#" before headings; spaces collapsed outside <pre>. */
function blockText(root: DomNode): string {
  let text = "";
  let pendingBreaks = 0; // newlines owed before the next text; adjacent block edges share them
  const emit = (part: string, pre: boolean) => {
    if (pendingBreaks > 0 && text) text = text.trimEnd() + "\n".repeat(pendingBreaks);
    pendingBreaks = 0;
    const lineStart = !text || text.endsWith("\n");
    text += lineStart && !pre ? part.trimStart() : part;
  };
  const walk = (node: DomNode, pre: boolean): void => {
    for (const child of Array.from(node.childNodes) as DomNode[]) {
      if (child.nodeType === 3) {
        const part = pre ? (child.textContent ?? "") : (child.textContent ?? "").replace(/\s+/g, " ");
        if (pre ? part : part.trim() || (text && !text.endsWith(" ") && !pendingBreaks)) emit(part, pre);
        continue;
      }
      if (child.nodeType !== 1) continue;
      const tag = child.tagName.toUpperCase();
      if (HIDDEN.has(tag)) continue;
      if (tag === "BR") {
        text += "\n";
        continue;
      }
      const breaks = PARAGRAPHS.has(tag) ? 2 : LINES.has(tag) ? 1 : 0;
      pendingBreaks = Math.max(pendingBreaks, breaks);
      if (tag === "LI") emit("- ", false);
      if (/^H[1-6]$/.test(tag)) emit(`${"#".repeat(Number(tag[1]))} `, false);
      if ((tag === "TD" || tag === "TH") && text && !text.endsWith("\n")) emit(" ", false);
      walk(child, pre || tag === "PRE");
      pendingBreaks = Math.max(pendingBreaks, breaks);
    }
  };
  walk(root, false);
  return text
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

// ---- rendering ----------------------------------------------------------------------------------------------------

let browser: Promise<Browser> | undefined;
let launchedPath = "";
let activeRenders = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

/** Closes the shared Chromium (it is relaunched on the next render). */
export async function closeBrowser(): Promise<void> {
  clearTimeout(idleTimer);
  const closing = browser;
  browser = undefined;
  const instance = await closing?.catch(() => undefined);
  await instance?.close().catch(() => {});
}

async function sharedBrowser(chromiumPath: string): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`rendering needs Chromium, and there is none at ${chromiumPath}; install it (e.g. apt-get install chromium) or set its path`);
  }
  // A changed path (a config reload) replaces the browser; renders still running on the old one fail.
  if (browser && launchedPath !== chromiumPath) await closeBrowser();
  if (browser) return browser;
  launchedPath = chromiumPath;
  const launching = import("playwright-core").then(({ chromium }) =>
    chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        // WebRTC is not seen by request routing; keep it from probing local addresses.
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      ],
    }),
  );
  browser = launching;
  launching.then(
    (instance) => instance.on("disconnected", () => browser === launching && (browser = undefined)),
    () => browser === launching && (browser = undefined),
  );
  return launching;
}

async function renderPage(start: URL, settings: Settings): Promise<BrowsedPage> {
  clearTimeout(idleTimer);
  activeRenders++;
  let context: BrowserContext | undefined;
  try {
    const instance = await abortable(sharedBrowser(settings.chromiumPath), settings.signal);
    const opening = instance.newContext({ serviceWorkers: "block", acceptDownloads: false, userAgent: USER_AGENT });
    context = await abortable(opening, settings.signal).catch(async (error) => {
      await (await opening.catch(() => undefined))?.close().catch(() => {});
      throw error;
    });
    return await abortable(renderIn(context, start, settings), settings.signal);
  } finally {
    await context?.close().catch(() => {});
    if (--activeRenders === 0) {
      idleTimer = setTimeout(() => void closeBrowser(), BROWSER_IDLE_MS);
      idleTimer.unref?.();
    }
  }
}

// Chromium neither routes redirect hops nor lets a route see them coming, and it resolves names itself. So no request of a
// rendered page reaches the network from Chromium: each one is vetted and made here with the pinned fetch, redirects
// are followed here (vetted hop by hop), and Chromium gets the final response. A redirect of the top document instead
// becomes a fresh navigation, so the page keeps its real URL. WebSockets are not routed requests; a handler that closes them at once stands in for each.
async function renderIn(context: BrowserContext, start: URL, settings: Settings): Promise<BrowsedPage> {
  const navigation: { refusal?: Error; redirectTo?: URL } = {};
  await context.route("**/*", async (route: Route) => {
    const request = route.request();
    const topLevel = request.isNavigationRequest() && request.frame().parentFrame() === null;
    if (SKIPPED_RESOURCES.has(request.resourceType())) return route.abort("blockedbyclient").catch(() => {});
    try {
      const response = await fetchForPage(route, topLevel, settings);
      if (response instanceof URL) {
        navigation.redirectTo = response;
        return await route.abort("aborted");
      }
      await route.fulfill(response);
    } catch (error) {
      if (topLevel && error instanceof BrowserRefused) navigation.refusal ??= error;
      await route.abort(error instanceof BrowserRefused ? "blockedbyclient" : "failed").catch(() => {});
    }
  });
  await context.routeWebSocket(/.*/, (socket) => socket.close());
  const page = await context.newPage();
  const remaining = () => Math.max(1, settings.deadline - performance.now());
  let target = start;
  for (let redirects = 0; ; redirects++) {
    navigation.redirectTo = undefined;
    const response = await page.goto(target.href, { timeout: remaining(), waitUntil: "load" }).catch((error: unknown) => {
      if (navigation.refusal || navigation.redirectTo) return null;
      throw error;
    });
    if (navigation.refusal) throw navigation.refusal;
    if (!navigation.redirectTo) {
      if (response && response.status() >= 400) throw new Error(`${page.url()} answered HTTP ${response.status()}`);
      const contentType = response?.headers()["content-type"] ?? "text/html";
      if (readableKind(contentType) === undefined) throw new BrowserRefused(`content type ${mediaType(contentType)} is not readable`);
      break;
    }
    if (redirects >= settings.maxRedirects) throw tooManyRedirects(start, settings);
    target = navigation.redirectTo;
  }
  await page.waitForLoadState("networkidle", { timeout: Math.min(remaining(), NETWORK_IDLE_MAX_MS) }).catch(() => {});
  const html = Buffer.from(await page.content());
  const cut = html.length > settings.maxBytes;
  const body = cut ? html.subarray(0, settings.maxBytes) : html;
  return pageOf(page.url(), "html", body.toString("utf8"), body.length, cut, true, settings);
}

// Pictures, video and fonts carry no text; not fetching them saves time and memory.
const SKIPPED_RESOURCES = new Set(["image", "media", "font"]);
// Set by fetch itself, or wrong once the body has been decoded and re-framed for Chromium.
const HOP_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding", "accept-encoding", "content-encoding", "keep-alive"]);

type Fulfillment = { status: number; headers: Record<string, string>; body: Buffer };

/** The final response for one request of a rendered page, or, for a top-level navigation that redirects, where to. */
async function fetchForPage(route: Route, topLevel: boolean, settings: Settings): Promise<Fulfillment | URL> {
  const request = route.request();
  const first = checkedUrl(request.url());
  const outgoing: Outgoing = { method: request.method(), headers: withoutHopHeaders(await request.allHeaders()), body: request.postDataBuffer() ?? undefined };
  let url = first;
  for (let redirects = 0; ; redirects++) {
    const [address] = await vetHost(url.hostname, settings.allow, settings.signal);
    const response = await fetchPinned(url, address!, settings.signal, outgoing);
    if (!isRedirect(response)) {
      const { body } = await readCapped(response, settings.maxBytes);
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => HOP_HEADERS.has(name) || name === "set-cookie" || (headers[name] = value));
      const cookies = response.headers.getSetCookie();
      if (cookies.length > 0) headers["set-cookie"] = cookies.join("\n"); // Playwright's separator for several cookies
      return { status: response.status, headers, body: Buffer.from(body) };
    }
    await response.body?.cancel();
    const next = checkedUrl(response.headers.get("location")!, url);
    if (topLevel) return next;
    if (redirects >= settings.maxRedirects) throw tooManyRedirects(first, settings);
    if (response.status === 303 || (response.status <= 302 && outgoing.method === "POST")) {
      outgoing.method = "GET";
      outgoing.body = undefined;
    }
    // Credentials were meant for the first origin only.
    if (next.origin !== url.origin && outgoing.headers) {
      const { cookie: _cookie, authorization: _authorization, ...rest } = outgoing.headers;
      outgoing.headers = rest;
    }
    url = next;
  }
}

function withoutHopHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_HEADERS.has(name.toLowerCase())));
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (the promise is left to finish on its own). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {}); // an abandoned promise's late failure is nobody's error
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
