// The `browser` platform tool's engine: fetch one page and return its readable text. A model picks the URL, so every
// hop is treated as hostile: only http(s); the host is resolved and every address vetted before any connection; the
// connection goes to the vetted address itself (no second DNS lookup for a rebinding attacker to answer differently);
// redirects are followed by hand and vetted again. Rendering (scripts run) uses one lazily launched headless Chromium.
import { lookup } from "node:dns/promises";
import { existsSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
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

function checkedUrl(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BrowserRefused(`${String(raw)} is not a valid URL`);
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
    await vetHost(start.hostname, settings.allow, settings.signal);
    return options.render ? await renderPage(start, settings) : await fetchPage(start, settings);
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
    url = checkedUrl(new URL(response.headers.get("location")!, url));
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

type Element = ReturnType<typeof parseHTML>["document"]["body"];

function readableText(html: string): { title: string; text: string } {
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

const BLOCKS = new Set(
  "ADDRESS ARTICLE ASIDE BLOCKQUOTE DD DETAILS DIV DL DT FIELDSET FIGCAPTION FIGURE FOOTER FORM H1 H2 H3 H4 H5 H6 HEADER HR LI MAIN NAV OL P PRE SECTION SUMMARY TABLE TR UL".split(" "),
);
const HIDDEN = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "SVG", "IFRAME", "OBJECT", "CANVAS", "HEAD"]);

/** Text with a line break around every block, "- " before list items and "#" before headings; spaces collapsed outside <pre>. */
function blockText(root: Element): string {
  const out: string[] = [];
  const walk = (node: Element, pre: boolean): void => {
    for (const child of Array.from(node.childNodes) as Element[]) {
      if (child.nodeType === 3) {
        let text = pre ? (child.textContent ?? "") : (child.textContent ?? "").replace(/\s+/g, " ");
        if (!pre && (out.length === 0 || out[out.length - 1]!.endsWith("\n"))) text = text.trimStart();
        if (text) out.push(text);
        continue;
      }
      if (child.nodeType !== 1) continue;
      const tag = child.tagName.toUpperCase();
      if (HIDDEN.has(tag)) continue;
      if (tag === "BR") {
        out.push("\n");
        continue;
      }
      const block = BLOCKS.has(tag);
      if (block) out.push("\n");
      if (tag === "LI") out.push("- ");
      if (/^H[1-6]$/.test(tag)) out.push(`${"#".repeat(Number(tag[1]))} `);
      if (tag === "TD" || tag === "TH") out.push(" ");
      walk(child, pre || tag === "PRE");
      if (block) out.push("\n");
    }
  };
  walk(root, false);
  return out
    .join("")
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

// ---- rendering ----------------------------------------------------------------------------------------------------

let browser: Promise<Browser> | undefined;
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

function sharedBrowser(chromiumPath: string): Promise<Browser> {
  if (browser) return browser;
  if (!existsSync(chromiumPath)) {
    return Promise.reject(new Error(`rendering needs Chromium, and there is none at ${chromiumPath}; install it (e.g. apt-get install chromium) or set its path`));
  }
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

async function renderIn(context: BrowserContext, start: URL, settings: Settings): Promise<BrowsedPage> {
  const verdicts = new Map<string, Promise<unknown>>();
  let navigationRefusal: Error | undefined;
  // Every request of every page in the context, navigations and their redirects included, is vetted by host. Chromium
  // resolves the name again after the vetting, so a rebinding DNS server could still switch it: plain fetch has no
  // such gap. WebSockets are not routed requests; they are answered by a stub that closes them.
  await context.route("**/*", async (route: Route) => {
    const request = route.request();
    const navigation = request.isNavigationRequest() && request.frame().parentFrame() === null;
    try {
      const url = checkedUrl(request.url());
      let hops = 0;
      for (let from = request.redirectedFrom(); from; from = from.redirectedFrom()) hops++;
      if (navigation && hops > settings.maxRedirects) {
        throw new BrowserRefused(`too many redirects: ${start.href} redirected more than ${settings.maxRedirects} times`);
      }
      const host = bare(url.hostname);
      if (!verdicts.has(host)) verdicts.set(host, vetHost(host, settings.allow));
      await verdicts.get(host);
    } catch (error) {
      if (navigation) navigationRefusal ??= error as Error;
      return route.abort("blockedbyclient").catch(() => {});
    }
    return route.continue().catch(() => {});
  });
  await context.routeWebSocket(/.*/, (socket) => socket.close());
  const page = await context.newPage();
  const remaining = () => Math.max(1, settings.deadline - performance.now());
  const response = await page.goto(start.href, { timeout: remaining(), waitUntil: "load" }).catch((error: unknown) => {
    throw navigationRefusal ?? error;
  });
  if (navigationRefusal) throw navigationRefusal;
  if (response && response.status() >= 400) throw new Error(`${page.url()} answered HTTP ${response.status()}`);
  const contentType = response?.headers()["content-type"] ?? "text/html";
  if (readableKind(contentType) === undefined) throw new BrowserRefused(`content type ${mediaType(contentType)} is not readable`);
  await page.waitForLoadState("networkidle", { timeout: Math.min(remaining(), NETWORK_IDLE_MAX_MS) }).catch(() => {});
  const html = Buffer.from(await page.content());
  const cut = html.length > settings.maxBytes;
  const body = cut ? html.subarray(0, settings.maxBytes) : html;
  return pageOf(page.url(), "html", body.toString("utf8"), body.length, cut, true, settings);
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
