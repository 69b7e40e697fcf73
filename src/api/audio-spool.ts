// A transcription upload whose file comes before its `model` field (the Node SDK with `{ file, model }`, curl
// with `-F file=@… -F model=…`, as OpenAI's own examples write them): routing needs the model, which arrives
// last, so the body is written to a temporary file as it arrives (never held in memory), under the same limits,
// and sent from there once it is in. The file goes when the request ends. Uploads with the model first stream
// through without this (audio-upload.ts).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rm } from "node:fs/promises";
import { GatewayError } from "../errors.ts";
import { dispositionOf } from "./multipart-head.ts";

/** More parts than a transcription form has; beyond, the body is refused rather than scanned on. */
const MAX_PARTS = 256;
/** A part's header block is read from the file up to this much. */
const MAX_PART_HEADER_BYTES = 4096;
/** Longest model field read back. */
const MAX_MODEL_BYTES = 1024;
/** Written bytes the file sink may hold before it is flushed (its writes are buffered in memory). */
const FLUSH_BYTES = 1024 * 1024;

export interface SpoolSource {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  /** Bytes so far past server.max_upload_bytes: the caller's 413. */
  tooLarge(size: number): GatewayError | undefined;
}

export class SpooledUpload {
  readonly started = false; // the file can be sent again: a balancer may retry it elsewhere
  readonly failure: GatewayError | undefined = undefined; // the whole body was in before any engine saw it

  private constructor(
    readonly model: string,
    readonly contentType: string,
    private readonly path: string,
    private readonly size: number,
    private readonly value: { start: number; end: number },
  ) {}

  /** Writes the body (its `head` already read, then the rest of `source`) to a file and finds the model field in it. */
  static async write(head: Buffer, source: SpoolSource, boundary: string, contentType: string): Promise<SpooledUpload> {
    const path = join(tmpdir(), `sluice-upload-${crypto.randomUUID()}`);
    const sink = Bun.file(path).writer();
    const delimiter = Buffer.from(`\r\n--${boundary}`);
    const delimiters: number[] = [];
    let carry = Buffer.alloc(0);
    let size = 0;
    let unflushed = 0;
    const take = async (bytes: Uint8Array) => {
      // A delimiter may straddle two chunks: the last bytes of the previous one are searched again.
      const window = Buffer.concat([carry, bytes]);
      for (let at = window.indexOf(delimiter); at !== -1; at = window.indexOf(delimiter, at + 1)) delimiters.push(size - carry.length + at);
      if (delimiters.length > MAX_PARTS) throw new GatewayError("invalid_request", `the multipart body has more than ${MAX_PARTS} parts`);
      carry = window.subarray(Math.max(0, window.length - (delimiter.length - 1)));
      sink.write(bytes);
      size += bytes.byteLength;
      unflushed += bytes.byteLength;
      if (unflushed >= FLUSH_BYTES) {
        unflushed = 0;
        await sink.flush();
      }
    };
    try {
      await take(head);
      for (;;) {
        const { done, value } = await source.read();
        if (done || !value) break;
        await take(value);
        const over = source.tooLarge(size);
        if (over) throw over;
      }
      await sink.end();
      const field = await findModel(path, delimiters, delimiter.length);
      return new SpooledUpload(field.model, contentType, path, size, field);
    } catch (error) {
      await Promise.resolve(sink.end()).catch(() => {});
      await rm(path, { force: true });
      throw error;
    }
  }

  /** The file with the model field's value replaced by `upstreamModel`, read from disk as the engine takes it. */
  body(upstreamModel: string): ReadableStream<Uint8Array> {
    const file = Bun.file(this.path);
    const pieces: (() => ReadableStream<Uint8Array> | Uint8Array)[] = [() => file.slice(0, this.value.start).stream(), () => Buffer.from(upstreamModel), () => file.slice(this.value.end, this.size).stream()];
    let piece: AsyncIterator<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          for (;;) {
            if (piece) {
              const { done, value } = await piece.next();
              if (!done) return controller.enqueue(value);
              piece = undefined;
            }
            const next = pieces.shift()?.();
            if (!next) return controller.close();
            if (next instanceof Uint8Array) return controller.enqueue(next);
            piece = (next as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
          }
        },
        cancel: async () => {
          await piece?.return?.();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Nothing to stop: the client's body was read to its end. */
  answered(): void {}

  release(): void {
    void rm(this.path, { force: true });
  }
}

/** The first model field (not a file) among the parts that begin at `delimiters` (offsets of CRLF--boundary). */
async function findModel(path: string, delimiters: number[], delimiterLength: number): Promise<{ model: string; start: number; end: number }> {
  const file = Bun.file(path);
  for (let i = 0; i < delimiters.length - 1; i++) {
    const partStart = delimiters[i]! + delimiterLength;
    const block = Buffer.from(await file.slice(partStart, Math.min(partStart + MAX_PART_HEADER_BYTES, delimiters[i + 1]!)).arrayBuffer());
    if (block[0] === 0x2d && block[1] === 0x2d) break; // the closing delimiter
    const headersStart = block.indexOf("\r\n");
    const headersEnd = block.indexOf("\r\n\r\n", headersStart);
    if (headersStart === -1 || headersEnd === -1) continue;
    const disposition = dispositionOf(block.subarray(headersStart + 2, headersEnd).toString("latin1"));
    if (disposition?.name !== "model" || disposition.isFile) continue;
    const start = partStart + headersEnd + 4;
    const end = delimiters[i + 1]!;
    if (end - start > MAX_MODEL_BYTES) throw new GatewayError("invalid_request", `model: the form's model field is longer than ${MAX_MODEL_BYTES} bytes`, { param: "model" });
    const model = Buffer.from(await file.slice(start, end).arrayBuffer()).toString("utf8");
    if (!model) throw new GatewayError("invalid_request", "model: the form's model field is empty", { param: "model" });
    return { model, start, end };
  }
  throw new GatewayError("invalid_request", "model: the form needs a model field", { param: "model" });
}
