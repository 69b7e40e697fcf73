/**
 * A streamed POST to an engine over a plain TCP socket (Bun.connect), for http:// backends: the request is
 * written by hand, the response's head parsed and its body (chunked, Content-Length or up to the close) handed
 * out chunk by chunk. Why not fetch: reading fetch's body from JavaScript costs Bun 1.4.5 a 64 KiB buffer per
 * stream and more CPU per chunk (test/bench/stream-memory.ts through sluice, 1,024 open paced streams: −35 % CPU,
 * JS heap 80 → 17 MiB; 4,096: −53 % CPU). fetch does its socket work on a thread of its own, which wins when a
 * whole answer arrives at once (the README's "Many streams at once" has the trade in figures).
 *
 * Connections come from socket-pool.ts (kept alive, one request at a time). A request whose reused connection
 * turns out to be closed before any answer byte is sent again once on a new one (what browsers do). The socket
 * stops reading (TCP backpressure on the engine) while more than HIGH_WATER_BYTES wait for the reader.
 * Nothing asks for compression.
 */
import type { ChunkReader } from "./client.ts";
import { connect, originOf, release, SocketStreamError, takeIdle, type Connection, type ConnectionUser, type Origin } from "./socket-pool.ts";

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

export { SocketStreamError };

/** Resolves once the response head is in; rejects on a connection failure, a bad head or the signal. */
export function postStream(url: URL, headers: Headers, body: string, signal: AbortSignal): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("The operation was aborted.", "AbortError"));
    const request = requestHead(url, headers, Buffer.byteLength(body)) + body;
    new SocketStream(originOf(url), request, signal, resolve, reject).start();
  });
}

type Framing = { kind: "chunked" } | { kind: "length"; remaining: number } | { kind: "close" };
type ChunkState = "size" | "data" | "data-end" | "trailer";

class SocketStream implements ChunkReader, ConnectionUser {
  private connection: Connection | undefined;
  /** what is left to write of the request: the string itself until a write takes only part of it */
  private unsent: string | Buffer | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  private framing: Framing = { kind: "close" };
  /** the engine said `connection: close` (or spoke HTTP/1.0): the connection ends with this answer */
  private lastOnConnection = false;
  /** whether this request was sent again on a new connection already */
  private retried = false;
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
    private readonly origin: Origin,
    /** kept for a resend until the answer begins, then let go */
    private request: string | undefined,
    private readonly signal: AbortSignal,
    private readonly onHead: (response: StreamedResponse) => void,
    private readonly onHeadFailure: (error: unknown) => void,
  ) {}

  start(): void {
    this.signal.addEventListener("abort", this.abort, { once: true });
    this.useConnection(takeIdle(this.origin));
  }

  private useConnection(reusable: Connection | undefined): void {
    this.unsent = this.request!;
    if (reusable) {
      reusable.stream = this;
      this.connection = reusable;
      this.connected();
    } else this.connection = connect(this.origin, this);
  }

  /** The connection is open: send the request. */
  connected(): void {
    if (this.failure !== undefined || this.ended) return void this.connection?.socket?.terminate();
    this.flushRequest();
  }

  // ---- ChunkReader ----------------------------------------------------------------------------------------

  read(): Promise<{ done: boolean; value?: Uint8Array }> {
    const value = this.queue.shift();
    if (value) {
      this.queuedBytes -= value.byteLength;
      if (this.paused && this.queuedBytes < HIGH_WATER_BYTES) {
        this.paused = false;
        this.connection?.socket?.resume();
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
    if (!this.ended) this.drop(); // an answer cut short leaves the connection mid-message: it cannot carry another
    this.finish();
    return Promise.resolve();
  }

  private async text(): Promise<string> {
    const decoder = new TextDecoder();
    let text = "";
    for (let chunk = await this.read(); !chunk.done; chunk = await this.read()) text += decoder.decode(chunk.value, { stream: true });
    return text + decoder.decode();
  }

  // ---- the socket ------------------------------------------------------------------------------------------

  flushRequest(): void {
    const socket = this.connection?.socket;
    if (!this.unsent || !socket) return;
    const unsent = this.unsent;
    const written = socket.write(unsent);
    // a string is written as UTF-8; only a partial write needs its bytes
    const length = typeof unsent === "string" ? Buffer.byteLength(unsent) : unsent.byteLength;
    this.unsent = written >= length ? undefined : (typeof unsent === "string" ? Buffer.from(unsent) : unsent).subarray(Math.max(0, written));
  }

  received(data: Buffer): void {
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
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(text);
    if (!status) {
      this.fail(new SocketStreamError(`the engine answered without an HTTP/1.1 status line`));
      return false;
    }
    // only the framing is read here; the Headers object is built if someone asks (an error answer's Retry-After)
    let length: string | undefined;
    let chunked = false;
    let close = status[1] === "0";
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === "content-length") length = line.slice(colon + 1).trim();
      else if (name === "transfer-encoding") chunked = /\bchunked\b/i.test(line.slice(colon + 1));
      else if (name === "connection") close ||= /\bclose\b/i.test(line.slice(colon + 1));
    }
    this.lastOnConnection = close;
    if (chunked) this.framing = { kind: "chunked" };
    else if (length !== undefined && /^\d+$/.test(length)) this.framing = { kind: "length", remaining: Number(length) };
    this.head = undefined; // from here on, failures are the body's
    this.request = undefined; // and nothing is sent again
    let headers: Headers | undefined;
    this.onHead({
      status: Number(status[2]),
      get headers() {
        return (headers ??= headersOf(text));
      },
      reader: this,
      text: () => this.text(),
    });
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
      if (take < data.byteLength) this.lastOnConnection = true; // bytes past the answer: the connection is out of step
      if (framing.remaining === 0) this.finish();
      return;
    }
    this.chunked(data);
  }

  /**
   * Decodes chunked transfer coding: `<hex size>[;ext]\r\n<data>\r\n` … `0\r\n<trailers>\r\n`. What one read from the
   * socket holds goes to the reader as one piece, however many chunks it spans (an engine that sends a whole
   * answer at once is read once, as fetch would hand it over).
   */
  private chunked(data: Buffer): void {
    const ranges: number[] = [];
    let at = 0;
    while (at < data.byteLength && !this.ended && this.failure === undefined) {
      if (this.chunkState === "data") {
        const take = Math.min(this.chunkLeft, data.byteLength - at);
        ranges.push(at, at + take);
        at += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.chunkState = "data-end";
        continue;
      }
      const newline = data.indexOf(10, at);
      let line: string | undefined;
      if (newline >= 0 && this.line === "") {
        // the common case, a whole line in this read: decided on the bytes, no string made
        const end = newline > at && data[newline - 1] === 13 ? newline - 1 : newline;
        const blank = end === at;
        const lineStart = at;
        at = newline + 1;
        if (this.chunkState === "size") {
          const size = chunkSizeOf(data, lineStart, end);
          if (size < 0) return this.chunkedFailure(data, ranges, "has a malformed chunk size");
          this.chunkLeft = size;
          this.chunkState = size === 0 ? "trailer" : "data";
          continue;
        }
        line = blank ? "" : "-";
      } else {
        const end = newline < 0 ? data.byteLength : newline;
        this.line += data.toString("latin1", at, end);
        if (this.line.length > 1024) return this.chunkedFailure(data, ranges, "has a malformed chunk header");
        at = end + 1;
        if (newline < 0) break;
        line = this.line.endsWith("\r") ? this.line.slice(0, -1) : this.line;
        this.line = "";
      }
      if (this.chunkState === "data-end") {
        if (line !== "") return this.chunkedFailure(data, ranges, "is malformed");
        this.chunkState = "size";
      } else if (this.chunkState === "size") {
        const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
        if (!size) return this.chunkedFailure(data, ranges, "has a malformed chunk size");
        this.chunkLeft = parseInt(size[1]!, 16);
        this.chunkState = this.chunkLeft === 0 ? "trailer" : "data";
      } else if (line === "") {
        this.pushRanges(data, ranges);
        if (at < data.byteLength) this.lastOnConnection = true; // bytes past the answer: the connection is out of step
        return this.finish(); // the blank line after the last chunk's trailers
      }
    }
    this.pushRanges(data, ranges);
  }

  private chunkedFailure(data: Buffer, ranges: number[], what: string): void {
    this.pushRanges(data, ranges);
    this.fail(new Error(`the engine's chunked body ${what}`));
  }

  /** The data of `ranges` (pairs of offsets into `data`) as one piece. */
  private pushRanges(data: Buffer, ranges: readonly number[]): void {
    if (ranges.length === 2) return this.push(data, ranges[0]!, ranges[1]!);
    if (ranges.length === 0) return;
    let total = 0;
    for (let i = 0; i < ranges.length; i += 2) total += ranges[i + 1]! - ranges[i]!;
    const piece = new Uint8Array(total);
    for (let i = 0, offset = 0; i < ranges.length; i += 2) {
      piece.set(data.subarray(ranges[i]!, ranges[i + 1]!), offset);
      offset += ranges[i + 1]! - ranges[i]!;
    }
    this.enqueue(piece);
  }

  private push(data: Buffer, from: number, to: number): void {
    // A copy, though Bun hands each data callback a buffer of its own: handing out views of those buffers measured
    // more RSS, not less (1,024 open streams: peak 164–173 MiB against 142–152), as each view keeps its buffer alive.
    if (to > from) this.enqueue(new Uint8Array(data.subarray(from, to)));
  }

  private enqueue(chunk: Uint8Array): void {
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      return resolve({ done: false, value: chunk });
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.byteLength;
    if (!this.paused && this.queuedBytes >= HIGH_WATER_BYTES) {
      this.paused = true;
      this.connection?.socket?.pause();
    }
  }

  /** The connection closed (or failed, with `error`) under this stream. */
  connectionLost(error?: Error): void {
    if (this.ended || this.failure !== undefined) return;
    if (this.head) {
      // a reused connection the engine closed meanwhile: nothing was answered, so ask once more on a new one
      if (this.connection?.reused && this.head.byteLength === 0 && !this.retried) {
        this.retried = true;
        const stale = this.connection;
        stale.stream = undefined;
        stale.socket?.terminate();
        return this.useConnection(undefined);
      }
      return this.fail(error ?? new SocketStreamError("the engine closed the connection before answering", "ECONNRESET"));
    }
    if (error) return this.fail(error);
    this.connection = undefined;
    if (this.framing.kind === "close") return this.finish();
    this.fail(new Error("the engine closed the connection before the end of its answer"));
  }

  private readonly abort = () => this.fail(new DOMException("The operation was aborted.", "AbortError"));

  /** The body is complete: readers get `done` once the queue is empty; the connection carries the next request. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.signal.removeEventListener("abort", this.abort);
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      if (this.paused) connection.socket?.resume();
      if (this.lastOnConnection || this.framing.kind === "close" || this.unsent) {
        connection.stream = undefined;
        connection.socket?.end();
      } else release(connection);
    }
    if (this.waiting && this.queue.length === 0) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ done: true });
    }
  }

  fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = error;
    this.signal.removeEventListener("abort", this.abort);
    this.drop();
    if (this.head) return this.onHeadFailure(error);
    // chunks already read still go out (read() hands out the queue before the failure), as with fetch
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(error);
    }
  }

  /** Closes the connection without reuse. */
  private drop(): void {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    connection.stream = undefined;
    connection.socket?.terminate();
  }
}

/** `<hex>[ \t]*[;ext]` in data[from, to), or -1 when it is not a chunk size. */
function chunkSizeOf(data: Buffer, from: number, to: number): number {
  let size = 0;
  let at = from;
  for (; at < to; at++) {
    const byte = data[at]!;
    const digit = byte >= 48 && byte <= 57 ? byte - 48 : byte >= 97 && byte <= 102 ? byte - 87 : byte >= 65 && byte <= 70 ? byte - 55 : -1;
    if (digit < 0) break;
    size = size * 16 + digit;
  }
  if (at === from || at - from > 12) return -1;
  while (at < to && (data[at] === 32 || data[at] === 9)) at++;
  return at === to || data[at] === 59 ? size : -1; // 59: ";", an extension follows
}

function headersOf(head: string): Headers {
  const headers = new Headers();
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

function requestHead(url: URL, headers: Headers, bodyBytes: number): string {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-length: ${bodyBytes}\r\n`;
  let agent = false;
  headers.forEach((value, name) => {
    if (OWN_HEADERS.has(name) || /[\r\n]/.test(value)) return;
    if (name === "user-agent") agent = true;
    head += `${name}: ${value}\r\n`;
  });
  if (!agent) head += "user-agent: sluice\r\n";
  return head + "\r\n";
}
