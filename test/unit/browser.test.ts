// The browser tool's engine against pages served on 127.0.0.1 by the test itself; refusals never open a connection.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { browse, BrowserRefused, closeBrowser, isPrivateAddress } from "../../src/tools/browser.ts";

const CHROMIUM = "/usr/bin/chromium";
const LOREM = "The river keeps its own counsel, and the sluice gates open only when the water asks politely. ";

const ARTICLE = `<!doctype html><html><head><title>Sluice gates explained</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/shop">Shop the catalogue</a></nav>
<article><h1>Sluice gates explained</h1>
<p>${LOREM.repeat(6)}</p><p>A second paragraph about <em>weirs</em> and ${LOREM.repeat(4)}</p>
<ul><li>first point</li><li>second point</li></ul></article>
<footer>Copyright 2024 Boilerplate Industries. All rights reserved.</footer>
<script>var tracking = "secret tracker source";</script></body></html>`;

const SCRIPTED = `<!doctype html><html><head><title>Scripted</title></head><body><div id="app"></div>
<script>document.getElementById("app").innerHTML = "<article><h1>Late news</h1><p>" + "Rendered by script only. ".repeat(40) + "</p></article>";</script>
</body></html>`;

// Served at http://localhost:<port>/probe with allowHosts ["localhost"]: its script reaches 127.0.0.1, which is not allowed.
const PROBE = (port: number) => `<!doctype html><html><head><title>Probe</title></head><body><div id="out">waiting</div>
<script>fetch("http://127.0.0.1:${port}/secret").then(r => r.text(), () => "request blocked").then(t => {
  document.getElementById("out").innerHTML = "<article><p>" + ("Probe result: " + t + ". ").repeat(20) + "</p></article>";
});</script></body></html>`;

/** The error `promise` rejects with. (Not `expect(promise).rejects`: Bun's matcher drives the event loop itself, and
 * Playwright's messages, queued with setImmediate, then wait for the next timer, a second per step.) */
async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => { throw new Error("expected a failure, but it succeeded"); },
    (error: unknown) => error as Error,
  );
}

let server: ReturnType<typeof Bun.serve>;
let base = "";
let secretHits = 0;
const ALLOW = { allowHosts: ["127.0.0.1"] };

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 30,
    fetch(request) {
      const { pathname } = new URL(request.url);
      const html = (body: string) => new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
      const to = (location: string) => new Response(null, { status: 302, headers: { location } });
      switch (pathname) {
        case "/article": return html(ARTICLE);
        case "/scripted": return html(SCRIPTED);
        case "/probe": return html(PROBE(server.port!));
        case "/secret": secretHits++; return new Response("the secret", { headers: { "access-control-allow-origin": "*" } });
        case "/plain": return new Response("just text\nsecond line", { headers: { "content-type": "text/plain" } });
        case "/big": return new Response("x".repeat(100_000), { headers: { "content-type": "text/plain" } });
        case "/image": return new Response(new Uint8Array([137, 80, 78, 71]), { headers: { "content-type": "image/png" } });
        case "/missing": return new Response("gone", { status: 404, headers: { "content-type": "text/plain" } });
        case "/hop1": return to("/hop2");
        case "/hop2": return to(`${base}/article`);
        case "/loop": return to("/loop");
        case "/to-private": return to("http://10.0.0.1/admin");
        case "/to-metadata": return to("http://169.254.169.254/latest/meta-data/");
        case "/to-file": return to("file:///etc/passwd");
        case "/stall": return new Promise<Response>(() => {});
        case "/stall-body":
          return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("<html><body><p>start")) }), {
            headers: { "content-type": "text/html" },
          });
        default: return new Response("no", { status: 404 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await closeBrowser();
  server.stop(true);
});

describe("reading pages", () => {
  test("an article gives its title and text without navigation, footer or scripts", async () => {
    const page = await browse(`${base}/article`, ALLOW);
    expect(page).toMatchObject({ url: `${base}/article`, title: "Sluice gates explained", truncated: false, rendered: false });
    expect(page.text).toContain("sluice gates open only when the water asks politely");
    expect(page.text).toContain("A second paragraph about weirs and");
    expect(page.text).toContain("- first point\n- second point");
    expect(page.text).toMatch(/\n\n/); // paragraphs stay apart
    for (const boilerplate of ["About us", "Shop the catalogue", "Boilerplate Industries", "secret tracker"]) expect(page.text).not.toContain(boilerplate);
    expect(page.bytes).toBe(Buffer.byteLength(ARTICLE));
  });

  test("text/plain comes back as it is; other content types and HTTP errors do not", async () => {
    expect(await browse(`${base}/plain`, ALLOW)).toMatchObject({ title: "", text: "just text\nsecond line" });
    const image = await failureOf(browse(`${base}/image`, ALLOW));
    expect(image).toBeInstanceOf(BrowserRefused);
    expect(image.message).toBe("content type image/png is not readable");
    expect((await failureOf(browse(`${base}/missing`, ALLOW))).message).toContain("answered HTTP 404");
  });

  test("reading stops at maxBytes and the result says so", async () => {
    const page = await browse(`${base}/big`, { ...ALLOW, maxBytes: 1000 });
    expect(page).toMatchObject({ bytes: 1000, truncated: true });
    expect(page.text).toStartWith("x".repeat(1000) + "\n\n[page truncated");
  });

  test("text beyond maxChars is cut and the result says so", async () => {
    const page = await browse(`${base}/big`, { ...ALLOW, maxChars: 50 });
    expect(page).toMatchObject({ bytes: 100_000, truncated: true });
    expect(page.text).toBe(`${"x".repeat(50)}\n\n[text truncated at 50 characters]`);
  });

  test("a server that never answers, or stops mid-body, times out", async () => {
    for (const path of ["/stall", "/stall-body"]) {
      const started = performance.now();
      expect((await failureOf(browse(`${base}${path}`, { ...ALLOW, timeoutMs: 300 }))).message).toContain("did not finish within 300 ms");
      await Bun.sleep(0);
      await browse(`${base}${path}`, { ...ALLOW, timeoutMs: 300 }).catch(() => {});
      expect(performance.now() - started).toBeLessThan(3000);
    }
  });

  test("the caller's signal aborts the browse", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("caller gave up")), 100);
    expect((await failureOf(browse(`${base}/stall`, { ...ALLOW, signal: controller.signal }))).message).toContain("caller gave up");
  });
});

describe("redirects", () => {
  test("are followed to the final URL", async () => {
    const page = await browse(`${base}/hop1`, ALLOW);
    expect(page.url).toBe(`${base}/article`);
    expect(page.title).toBe("Sluice gates explained");
  });

  test("are checked again at every hop", async () => {
    expect((await failureOf(browse(`${base}/to-private`, ALLOW))).message).toContain("10.0.0.1 is a private address (RFC 1918)");
    expect((await failureOf(browse(`${base}/to-metadata`, ALLOW))).message).toContain("169.254.169.254 is a link-local address");
    expect((await failureOf(browse(`${base}/to-file`, ALLOW))).message).toContain("file: URLs are not allowed");
  });

  test("stop after maxRedirects", async () => {
    expect((await failureOf(browse(`${base}/loop`, { ...ALLOW, maxRedirects: 2 }))).message).toContain("redirected more than 2 times");
    expect(await browse(`${base}/hop1`, { ...ALLOW, maxRedirects: 2 })).toMatchObject({ url: `${base}/article` });
    expect(await failureOf(browse(`${base}/hop1`, { ...ALLOW, maxRedirects: 1 }))).toBeInstanceOf(BrowserRefused);
  });
});

describe("SSRF refusals without allow_hosts", () => {
  const refused: [url: string, reason: string][] = [
    ["http://127.0.0.1/", "127.0.0.1 is a loopback address; add it to tools.browser.allow_hosts to allow it"],
    ["http://localhost:8080/", "localhost resolves to 127.0.0.1, a loopback address"],
    ["http://10.0.0.1/", "10.0.0.1 is a private address (RFC 1918)"],
    ["http://192.168.1.1/", "192.168.1.1 is a private address"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"],
    ["http://[::1]/", "::1 is a loopback address"],
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 is a loopback address"],
    ["http://[fd00::1]/", "fd00::1 is a unique local address"],
    ["http://2130706433/", "127.0.0.1 is a loopback address"],
    ["http://0x7f.0.0.1/", "127.0.0.1 is a loopback address"],
    ["http://0x7f.1/", "127.0.0.1 is a loopback address"],
    ["http://0177.0.0.1/", "127.0.0.1 is a loopback address"],
    ["http://0.0.0.0/", "0.0.0.0 is a \"this network\" address"],
    ["http://100.64.0.1/", "100.64.0.1 is a carrier-grade NAT address"],
    ["file:///etc/passwd", "file: URLs are not allowed; only http and https"],
    ["ftp://example.com/file", "ftp: URLs are not allowed"],
    ["not a url", "is not a valid URL"],
  ];
  for (const [url, reason] of refused) {
    test(url, async () => {
      const error = await failureOf(browse(url));
      expect(error).toBeInstanceOf(BrowserRefused);
      expect(error.message).toContain(reason);
    });
  }

  test("allow_hosts admits by address, CIDR or host name, and only what it names", async () => {
    expect(await browse(`${base}/plain`, { allowHosts: ["127.0.0.0/8"] })).toMatchObject({ text: "just text\nsecond line" });
    expect(await browse(`http://localhost:${server.port}/plain`, { allowHosts: ["localhost"] })).toMatchObject({ url: `http://localhost:${server.port}/plain` });
    expect((await failureOf(browse(`${base}/plain`, { allowHosts: ["10.0.0.0/8", "localhost"] }))).message).toContain("127.0.0.1 is a loopback address");
    expect((await failureOf(browse(`${base}/plain`, { allowHosts: ["10.0.0.0/xx"] }))).message).toContain("is not a host name, an IP address or a CIDR");
  });
});

test("isPrivateAddress", () => {
  const table: [ip: string, isPrivate: boolean][] = [
    ["127.0.0.1", true], ["127.255.255.254", true], ["10.1.2.3", true], ["172.16.0.1", true], ["172.31.255.255", true],
    ["172.32.0.1", false], ["192.168.0.1", true], ["169.254.169.254", true], ["0.0.0.0", true], ["0.1.2.3", true],
    ["100.64.0.1", true], ["100.127.255.255", true], ["100.128.0.1", false], ["224.0.0.1", true], ["239.255.255.250", true],
    ["255.255.255.255", true], ["8.8.8.8", false], ["1.1.1.1", false], ["93.184.216.34", false],
    ["::1", true], ["::", true], ["fe80::1", true], ["fe80::1%eth0", true], ["febf::1", true], ["fc00::1", true], ["fd12:3456::1", true],
    ["ff02::1", true], ["::ffff:127.0.0.1", true], ["::ffff:7f00:1", true], ["::ffff:10.0.0.1", true], ["::ffff:169.254.1.1", true],
    ["::ffff:8.8.8.8", false], ["2001:4860:4860::8888", false], ["2606:4700::1111", false], ["[::1]", true], ["not an ip", false],
  ];
  for (const [ip, isPrivate] of table) expect({ ip, isPrivate: isPrivateAddress(ip) }).toEqual({ ip, isPrivate });
});

describe("rendering with Chromium", () => {
  const requireChromium = () => {
    if (!existsSync(CHROMIUM)) throw new Error(`rendering tests need Chromium at ${CHROMIUM} (CI installs it: apt-get install chromium)`);
  };

  test("content inserted by scripts is seen only when rendered", async () => {
    requireChromium();
    const fetched = await browse(`${base}/scripted`, ALLOW);
    expect(fetched.text).not.toContain("Rendered by script only");
    const rendered = await browse(`${base}/scripted`, { ...ALLOW, render: true, timeoutMs: 30_000 });
    expect(rendered).toMatchObject({ url: `${base}/scripted`, rendered: true, truncated: false });
    expect(rendered.text).toContain("Rendered by script only.");
  }, 60_000);

  test("a rendered page's own requests to private addresses are blocked", async () => {
    requireChromium();
    secretHits = 0;
    const page = await browse(`http://localhost:${server.port}/probe`, { allowHosts: ["localhost"], render: true, timeoutMs: 30_000 });
    expect(page.text).toContain("Probe result: request blocked.");
    expect(secretHits).toBe(0);
  }, 60_000);

  test("rendered navigations and redirects are vetted too", async () => {
    requireChromium();
    expect(await browse(`${base}/hop1`, { ...ALLOW, render: true, timeoutMs: 30_000 })).toMatchObject({ url: `${base}/article`, title: "Sluice gates explained" });
    const privateHop = await failureOf(browse(`${base}/to-private`, { ...ALLOW, render: true, timeoutMs: 30_000 }));
    expect(privateHop).toBeInstanceOf(BrowserRefused);
    expect(privateHop.message).toContain("10.0.0.1 is a private address");
    expect((await failureOf(browse("http://127.0.0.1/", { render: true }))).message).toContain("127.0.0.1 is a loopback address");
    expect((await failureOf(browse(`${base}/loop`, { ...ALLOW, render: true, maxRedirects: 2, timeoutMs: 30_000 }))).message).toContain("redirected more than 2 times");
  }, 60_000);

  test("closeBrowser() closes Chromium; the next render launches it again", async () => {
    requireChromium();
    await closeBrowser();
    expect(await browse(`${base}/article`, { ...ALLOW, render: true, timeoutMs: 30_000 })).toMatchObject({ title: "Sluice gates explained", rendered: true });
  }, 60_000);

  test("a missing Chromium is a clear error", async () => {
    const error = await failureOf(browse(`${base}/article`, { ...ALLOW, render: true, chromiumPath: "/nonexistent/chromium" }));
    expect(error.message).toContain("rendering needs Chromium, and there is none at /nonexistent/chromium");
  });
});
