/**
 * A streamed POST to an engine over a plain TCP socket (Bun.connect), for http:// backends: the request is
 * written by hand, the response's head parsed and its body (chunked, Content-Length or up to the close) handed
 * out chunk by chunk. Why not fetch: Bun 1.4.5 gives every fetch body read from JavaScript a 64 KiB buffer, so a
 * gateway that reads its engines' streams holds 64 KiB per open stream (test/bench/stream-memory.ts, 1,024 open
 * streams through a minimal relay: peak RSS 103 MiB with fetch, 76 MiB over sockets, and 30 % less CPU).
 *
 * One request per connection (`connection: close`): a stream lasts seconds and the handshake to an engine on the
 * same host or network costs ~0.1 ms. The socket stops reading (TCP backpressure on the engine) while more than
 * HIGH_WATER_BYTES wait for the reader. No request is ever pipelined, and nothing asks for compression.
 */
import type { ChunkReader } from "./client.ts";

/** Bytes read ahead of the consumer before the socket pauses. */
const HIGH_WATER_BYTES = 64 * 1024;
/** A response head longer than this is no HTTP engine's. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF_CRLF = Buffer.from("\r\n\r\n");
/** Request headers this module writes itself. */
const OWN_HEADERS = new Set(["host", "content-length", "connection", "transfer-encoding", "accept-encoding"]);

export interface StreamedResponse {
  status: number;
  headers: Headers;
  reader: ChunkReader;
  /** The whole body as text (for an error answer). */
  text(): Promise<string>;
}

/** An error before the response head, with the system's code when there is one (ECONNREFUSED …), like fetch's. */
export class SocketStreamError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Resolves once the response head is in; rejects on a connection failure, a bad head or the signal. */
export function postStream(url: URL, headers: Headers, body: string, signal: AbortSignal): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("The operation was aborted.", "AbortError"));
    new SocketStream(url, headers, body, signal, resolve, reject);
  });
}

type Framing = { kind: "chunked" } | { kind: "length"; remaining: number } | { kind: "close" };
type ChunkState = "size" | "data" | "data-end" | "trailer";
type Socket = Bun.Socket<undefined>;

class SocketStream implements ChunkReader {
  private socket: Socket | undefined;
  private unsent: Buffer | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  private framing: Framing = { kind: "close" };
  /** chunked bodies: where the decoder is, the bytes left of the current chunk, a partial size or trailer line */
  private chunkState: ChunkState = "size";
  private chunkLeft = 0;
  private line = "";
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private paused = false;
  private waiting: { resolve: (chunk: { done: boolean; value?: Uint8Array }) => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;
  private ended = false;

  constructor(
    url: URL,
    headers: Headers,
    body: string,
    private readonly signal: AbortSignal,
    private readonly onHead: (response: StreamedResponse) => void,
    private readonly onHeadFailure: (error: unknown) => void,
  ) {
    this.unsent = Buffer.from(requestHead(url, headers, Buffer.byteLength(body)) + body);
    signal.addEventListener("abort", this.abort, { once: true });
    Bun.connect<undefined>({
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 80),
      socket: {
        open: (socket) => {
          this.socket = socket;
          if (this.failure !== undefined) return void socket.terminate();
          this.flushRequest();
        },
        drain: () => this.flushRequest(),
        data: (_socket, data) => this.received(data),
        close: () => this.closed(),
        error: (_socket, error) => this.fail(error),
        connectError: (_socket, error) => this.fail(new SocketStreamError(error.message, (error as { code?: string }).code)),
      },
    }).catch((error: { message?: string; code?: string }) => this.fail(new SocketStreamError(error?.message ?? "connection failed", error?.code)));
  }

  // ---- ChunkReader ----------------------------------------------------------------------------------------

  read(): Promise<{ done: boolean; value?: Uint8Array }> {
    const value = this.queue.shift();
    if (value) {
      this.queuedBytes -= value.byteLength;
      if (this.paused && this.queuedBytes < HIGH_WATER_BYTES) {
        this.paused = false;
        this.socket?.resume();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  cancel(): Promise<void> {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.finish();
    this.socket?.terminate();
    return Promise.resolve();
  }

  private async text(): Promise<string> {
    const decoder = new TextDecoder();
    let text = "";
    for (let chunk = await this.read(); !chunk.done; chunk = await this.read()) text += decoder.decode(chunk.value, { stream: true });
    return text + decoder.decode();
  }

  // ---- the socket ------------------------------------------------------------------------------------------

  private flushRequest(): void {
    if (!this.unsent || !this.socket) return;
    const written = this.socket.write(this.unsent);
    this.unsent = written >= this.unsent.byteLength ? undefined : this.unsent.subarray(Math.max(0, written));
  }

  private received(data: Buffer): void {
    if (this.failure !== undefined || this.ended) return;
    if (this.head) {
      const head = this.head.byteLength ? Buffer.concat([this.head, data]) : data;
      const end = head.indexOf(CRLF_CRLF);
      if (end < 0) {
        if (head.byteLength > MAX_HEAD_BYTES) return this.fail(new SocketStreamError(`the engine's response head exceeds ${MAX_HEAD_BYTES} bytes`));
        this.head = Buffer.from(head); // a copy: the socket's buffer is not ours to keep
        return;
      }
      if (!this.parseHead(head.toString("latin1", 0, end))) return;
      data = head.subarray(end + 4);
    }
    this.body(data);
  }

  private parseHead(text: string): boolean {
    const [statusLine, ...lines] = text.split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "");
    if (!status) {
      this.fail(new SocketStreamError(`the engine answered without an HTTP/1.1 status line`));
      return false;
    }
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const length = headers.get("content-length");
    if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) this.framing = { kind: "chunked" };
    else if (length !== null && /^\d+$/.test(length)) this.framing = { kind: "length", remaining: Number(length) };
    this.head = undefined; // from here on, failures are the body's
    this.onHead({ status: Number(status[1]), headers, reader: this, text: () => this.text() });
    if (this.framing.kind === "length" && this.framing.remaining === 0) this.finish();
    return true;
  }

  private body(data: Buffer): void {
    const framing = this.framing;
    if (framing.kind === "close") return this.push(data, 0, data.byteLength);
    if (framing.kind === "length") {
      const take = Math.min(framing.remaining, data.byteLength);
      framing.remaining -= take;
      this.push(data, 0, take);
      if (framing.remaining === 0) this.finish();
      return;
    }
    this.chunked(data);
  }

  /** Decodes chunked transfer coding: `<hex size>[;ext]\r\n<data>\r\n` … `0\r\n<trailers>\r\n`. */
  private chunked(data: Buffer): void {
    let at = 0;
    while (at < data.byteLength && !this.ended && this.failure === undefined) {
      if (this.chunkState === "data") {
        const take = Math.min(this.chunkLeft, data.byteLength - at);
        this.push(data, at, at + take);
        at += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.chunkState = "data-end";
        continue;
      }
      const newline = data.indexOf(10, at);
      const end = newline < 0 ? data.byteLength : newline;
      this.line += data.toString("latin1", at, end);
      if (this.line.length > 1024) return this.fail(new Error("the engine's chunked body has a malformed chunk header"));
      at = end + 1;
      if (newline < 0) return;
      const line = this.line.replace(/\r$/, "");
      this.line = "";
      if (this.chunkState === "data-end") {
        if (line !== "") return this.fail(new Error("the engine's chunked body is malformed"));
        this.chunkState = "size";
      } else if (this.chunkState === "size") {
        const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
        if (!size) return this.fail(new Error("the engine's chunked body has a malformed chunk size"));
        this.chunkLeft = parseInt(size[1]!, 16);
        this.chunkState = this.chunkLeft === 0 ? "trailer" : "data";
      } else if (line === "") {
        return this.finish(); // the blank line after the last chunk's trailers
      }
    }
  }

  private push(data: Buffer, from: number, to: number): void {
    if (to <= from) return;
    // A copy, though Bun hands each data callback a buffer of its own: handing out views of those buffers measured
    // more RSS, not less (1,024 open streams: peak 164–173 MiB against 142–152), as each view keeps its buffer alive.
    const chunk = new Uint8Array(data.subarray(from, to));
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      return resolve({ done: false, value: chunk });
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
    if (!this.paused && this.queuedBytes >= HIGH_WATER_BYTES) {
      this.paused = true;
      this.socket?.pause();
    }
  }

  private closed(): void {
    if (this.ended || this.failure !== undefined) return;
    if (this.head) return this.fail(new SocketStreamError("the engine closed the connection before answering", "ECONNRESET"));
    if (this.framing.kind === "close") return this.finish();
    this.fail(new Error("the engine closed the connection before the end of its answer"));
  }

  private readonly abort = () => this.fail(new DOMException("The operation was aborted.", "AbortError"));

  /** The body is complete: readers get `done` once the queue is empty, and the connection is closed. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.signal.removeEventListener("abort", this.abort);
    this.socket?.end();
    if (this.waiting && this.queue.length === 0) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ done: true });
    }
  }

  private fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = error;
    this.signal.removeEventListener("abort", this.abort);
    this.socket?.terminate();
    if (this.head) return this.onHeadFailure(error);
    // chunks already read still go out (read() hands out the queue before the failure), as with fetch
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(error);
    }
  }
}

function requestHead(url: URL, headers: Headers, bodyBytes: number): string {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: ${bodyBytes}\r\nconnection: close\r\n`;
  let agent = false;
  headers.forEach((value, name) => {
    if (OWN_HEADERS.has(name) || /[\r\n]/.test(value)) return;
    if (name === "user-agent") agent = true;
    head += `${name}: ${value}\r\n`;
  });
  if (!agent) head += "user-agent: sluice\r\n";
  return head + "\r\n";
}
