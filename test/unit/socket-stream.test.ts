// The socket client for engine streams (src/upstream/socket-stream.ts) against a raw TCP server that writes
// HTTP/1.1 answers byte for byte as scripted: every framing, split anywhere, engines that fail at each stage.
import { afterAll, describe, expect, test } from "bun:test";
import { postStream, type StreamedResponse } from "../../src/upstream/socket-stream.ts";

type Script = (socket: Bun.Socket<{ request: string; served: number }>, request: string, served: number) => void | Promise<void>;
let script: Script = () => {};
let connections = 0;
const server = Bun.listen<{ request: string; served: number }>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      connections++;
      socket.data = { request: "", served: 0 };
    },
    data(socket, data) {
      socket.data.request += data.toString("latin1");
      const head = socket.data.request.indexOf("\r\n\r\n");
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(socket.data.request)?.[1] ?? 0);
      if (socket.data.request.length - head - 4 < length) return;
      const request = socket.data.request;
      socket.data.request = "";
      void script(socket, request, socket.data.served++);
    },
  },
});
afterAll(() => server.stop(true));

const url = new URL(`http://127.0.0.1:${server.port}/v1/chat/completions`);
const headers = new Headers({ "content-type": "application/json", authorization: "Bearer secret", "x-extra": "1" });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readAll(response: StreamedResponse): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for (let chunk = await response.reader.read(); !chunk.done; chunk = await response.reader.read()) text += decoder.decode(chunk.value, { stream: true });
  return text;
}

/** Writes the pieces one by one with a pause between, so each arrives in its own packet. */
const inPieces = (pieces: string[], end = true): Script => async (socket) => {
  for (const piece of pieces) {
    socket.write(piece);
    socket.flush();
    await pause(5);
  }
  if (end) socket.end();
};

describe("postStream", () => {
  test("writes one HTTP/1.1 request with the backend's headers and the body", async () => {
    let seen = "";
    script = (socket, request) => {
      seen = request;
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    };
    const response = await postStream(url, headers, '{"a":"é"}', new AbortController().signal);
    expect(await readAll(response)).toBe("ok");
    expect(seen).toStartWith("POST /v1/chat/completions HTTP/1.1\r\n");
    expect(seen).toContain(`host: 127.0.0.1:${server.port}\r\n`);
    expect(seen).toContain("content-length: 10\r\n"); // bytes, not characters
    expect(seen).toContain("authorization: Bearer secret\r\n");
    expect(seen).toContain("x-extra: 1\r\n");
    expect(seen).not.toContain("connection:"); // HTTP/1.1 keeps it alive
    expect(seen).not.toContain("accept-encoding");
    expect(Buffer.from(seen, "latin1").toString("utf8")).toEndWith('\r\n\r\n{"a":"é"}');
  });

  test("chunked bodies, split anywhere, with extensions and trailers", async () => {
    const body = "4\r\ndata\r\n5;name=x\r\n: one\r\n0\r\ntrailer: yes\r\n\r\n";
    script = inPieces(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n", ...body.split("")]);
    const response = await postStream(url, headers, "{}", new AbortController().signal);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await readAll(response)).toBe("data: one");
    // and all in one piece, as an engine that has finished sends it
    script = inPieces(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n" + body + "4\r\nlate\r\n"]);
    expect(await readAll(await postStream(url, headers, "{}", new AbortController().signal))).toBe("data: one");
    // bytes past the end of a kept-alive answer put the connection out of step: the next request gets a new one
    script = (socket) => void socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body + "XYZ");
    await readAll(await postStream(url, headers, "{}", new AbortController().signal));
    const before = connections;
    expect(await readAll(await postStream(url, headers, "{}", new AbortController().signal))).toBe("data: one");
    expect(connections - before).toBe(1);
  });

  test("a head split across packets, Content-Length bodies and bodies that end at the close", async () => {
    script = inPieces(["HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-", "length: 11\r\n", "\r\nhello", " worldIGNORED"]);
    expect(await readAll(await postStream(url, headers, "{}", new AbortController().signal))).toBe("hello world");
    script = inPieces(["HTTP/1.0 200 OK\r\n\r\nuntil ", "the close"]);
    expect(await readAll(await postStream(url, headers, "{}", new AbortController().signal))).toBe("until the close");
  });

  test("a large body read slowly arrives whole and in order, and chunks kept stay intact", async () => {
    const piece = (i: number) => `${String(i).padStart(6, "0")}${"x".repeat(993)}\n`;
    const expected = Array.from({ length: 2000 }, (_, i) => piece(i)).join("");
    script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${expected.length}\r\nconnection: close\r\n\r\n`);
      let sent = 0;
      const more = () => {
        while (sent < 2000 && socket.write(piece(sent)) === 1000) sent++;
        if (sent < 2000) setTimeout(more, 1);
        else socket.end();
      };
      more();
    };
    const response = await postStream(url, headers, "{}", new AbortController().signal);
    const kept: Uint8Array[] = [];
    for (let chunk = await response.reader.read(); !chunk.done; chunk = await response.reader.read()) {
      kept.push(chunk.value!); // held, not copied: later reads must not overwrite them
      if (kept.length % 7 === 0) await pause(1);
    }
    expect(Buffer.concat(kept).toString("latin1")).toBe(expected);
  });

  test("a reader that stops reading stops the socket: the engine feels TCP backpressure, the gateway holds little", async () => {
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 120);
    let accepted = 0;
    script = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\nconnection: close\r\n\r\n`);
      const more = () => {
        while (accepted < total) {
          const written = socket.write(piece);
          accepted += Math.max(0, written);
          if (written < piece.length) return void setTimeout(more, 2);
        }
        socket.end();
      };
      more();
    };
    const response = await postStream(url, headers, "{}", new AbortController().signal);
    await pause(300); // nothing read
    const acceptedWhileIdle = accepted;
    let received = 0;
    for (let chunk = await response.reader.read(); !chunk.done; chunk = await response.reader.read()) received += chunk.value!.byteLength;
    expect(received).toBe(total);
    // what the kernel's socket buffers hold, not the 64 MiB the engine had to send
    expect(acceptedWhileIdle).toBeLessThan(24 * 1024 * 1024);
  });

  test("a connection carries the next request after a complete answer, not after `connection: close`", async () => {
    const ok = (extra = "") => `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n${extra}\r\nok`;
    const ask = async () => readAll(await postStream(url, headers, "{}", new AbortController().signal));
    script = (socket) => void socket.write(ok());
    await ask(); // whatever the earlier tests left in the pool is now used or replaced
    const before = connections;
    for (let i = 0; i < 5; i++) expect(await ask()).toBe("ok");
    expect(connections - before).toBeLessThanOrEqual(1);

    script = (socket) => void socket.write(ok("connection: close\r\n"));
    await ask(); // on the pooled connection, which it then closes
    const closing = connections;
    await ask();
    await ask();
    expect(connections - closing).toBe(2);
  });

  test("a pooled connection the engine closed is not used; one closed as the request goes out is retried once", async () => {
    const ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    const ask = async () => readAll(await postStream(url, headers, "{}", new AbortController().signal));
    // answers, then closes while idle
    script = (socket) => {
      socket.write(ok);
      setTimeout(() => socket.end(), 10);
    };
    expect(await ask()).toBe("ok");
    await pause(50);
    expect(await ask()).toBe("ok");
    // keeps the connection, but drops it without an answer when the next request arrives on it
    script = (socket, _request, served) => void (served === 0 ? socket.write(ok) : socket.end());
    expect(await ask()).toBe("ok");
    expect(await ask()).toBe("ok");
  });

  test("an error answer's status, headers and text", async () => {
    script = (socket) => void socket.end('HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 24\r\nconnection: close\r\n\r\n{"error":"slow down !!"}');
    const response = await postStream(url, headers, "{}", new AbortController().signal);
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(await response.text()).toBe('{"error":"slow down !!"}');
  });

  test("failures: refused, closed before or during the answer, not HTTP, a malformed chunk", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const refusedPort = closed.port;
    closed.stop(true);
    const refused = await postStream(new URL(`http://127.0.0.1:${refusedPort}/v1`), headers, "{}", new AbortController().signal).catch((error) => error);
    expect(refused.code).toBe("ECONNREFUSED");

    script = (socket) => void socket.end();
    expect(await postStream(url, headers, "{}", new AbortController().signal).catch((error) => error.message)).toContain("before answering");
    script = (socket) => void socket.end("SSH-2.0-OpenSSH\r\n\r\n");
    expect(await postStream(url, headers, "{}", new AbortController().signal).catch((error) => error.message)).toContain("status line");

    script = inPieces(["HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", "only part"]);
    const cut = await postStream(url, headers, "{}", new AbortController().signal);
    expect((await cut.reader.read()).value).toEqual(new TextEncoder().encode("only part"));
    expect(await cut.reader.read().catch((error) => error.message)).toContain("before the end");

    script = inPieces(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "zz\r\n"]);
    const malformed = await postStream(url, headers, "{}", new AbortController().signal);
    expect(await readAll(malformed).catch((error) => error.message)).toContain("malformed");
  });

  test("the signal aborts before the answer and in the middle of it", async () => {
    script = () => {}; // never answers
    const early = new AbortController();
    const waiting = postStream(url, headers, "{}", early.signal).catch((error) => error.name);
    await pause(20);
    early.abort();
    expect(await waiting).toBe("AbortError");

    script = inPieces(["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "3\r\nabc\r\n"], false);
    const late = new AbortController();
    const response = await postStream(url, headers, "{}", late.signal);
    expect((await response.reader.read()).value).toEqual(new TextEncoder().encode("abc"));
    const next = response.reader.read().catch((error) => error.name);
    late.abort();
    expect(await next).toBe("AbortError");
  });
});
