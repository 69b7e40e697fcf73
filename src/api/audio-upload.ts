// POST /v1/audio/transcriptions' body: multipart/form-data streamed to the engine as it arrives, never held whole.
// The leading fields are read first, up to the `model` field (routing needs it; MAX_HEAD_BYTES at most), so the
// model must come before the file to stream — the Python SDK and the Vercel AI SDK always send it so, the Node SDK
// and curl in the order they are given; a file first is written to disk instead (audio-spool.ts). The rest passes
// through chunk by chunk, counted against server.max_upload_bytes,
// each read bounded by server.body_timeout_ms: an upload over the limit or stalled fails the stream, which aborts
// the engine request, and the client gets the 413 or 408 (`failure`).
import { GatewayError } from "../errors.ts";
import { clientClosed } from "../upstream/client.ts";
import { liftIdleTimeoutOf } from "../pipeline/read-body.ts";
import { boundaryOf, scanHead } from "./multipart-head.ts";
import { SpooledUpload } from "./audio-spool.ts";

/** An upload as the passthrough sends it: streamed (model first) or from a temporary file (file first). */
export type Upload = AudioUpload | SpooledUpload;

/** The fields before the file may take this much; a model field further in is refused. */
export const MAX_HEAD_BYTES = 64 * 1024;

export interface UploadLimits {
  /** server.max_upload_bytes */
  maxBytes: number;
  /** server.body_timeout_ms: the leading fields, and then each read, must arrive within it. */
  timeoutMs: number;
  /** A file-first upload, written to disk before it is sent, must be in within this (the longest backends[].timeout_ms). */
  spoolDeadlineMs: number;
}

/** What is used of the client body's reader. */
interface Reader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

const MODEL_FIRST = "send the model field before the file (openai SDK: create({ model, file }); curl: -F model=... before -F file=@...)";

export class AudioUpload {
  /** Set once the client's bytes after the leading fields were asked for: the upload cannot be sent again. */
  started = false;
  /** Why the upload stopped when the client is the cause (over the limit, stalled, gone); reported instead of the engine's failure. */
  failure: GatewayError | undefined;
  private received: number;
  private done = false;

  private constructor(
    readonly model: string,
    readonly contentType: string,
    private readonly head: Buffer,
    private readonly value: { start: number; end: number },
    private readonly reader: Reader,
    private readonly req: Request,
    private readonly limits: UploadLimits,
  ) {
    this.received = head.length;
  }

  /** Reads the leading fields up to `model`. Call after authentication: it lifts the connection's idle timeout. */
  static async open(req: Request, limits: UploadLimits): Promise<Upload> {
    const contentType = req.headers.get("content-type") ?? "";
    const boundary = boundaryOf(contentType);
    if (!boundary) throw new GatewayError("invalid_request", "send the audio as multipart/form-data (with its boundary) with model and file fields, as the OpenAI SDKs do");
    const encoding = req.headers.get("content-encoding")?.trim().toLowerCase();
    if (encoding && encoding !== "identity") throw new GatewayError("invalid_request", "audio uploads are not decoded: send them without content-encoding", { status: 415 });
    const declared = req.headers.get("content-length");
    if (declared !== null && Number(declared) > limits.maxBytes) throw tooLarge(limits.maxBytes);
    if (!req.body) throw new GatewayError("invalid_request", "model: the form needs a model field", { param: "model" });
    liftIdleTimeoutOf(req);

    const reader = req.body.getReader();
    const deadline = Date.now() + limits.timeoutMs;
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await readWithin(reader, req, deadline - Date.now(), limits.timeoutMs);
      if (value) {
        chunks.push(value);
        size += value.byteLength;
        if (size > limits.maxBytes) throw cancelled(reader, tooLarge(limits.maxBytes));
      }
      const head = Buffer.concat(chunks);
      const scan = scanHead(head, boundary);
      if (scan.kind === "model") {
        if (!scan.model) throw cancelled(reader, new GatewayError("invalid_request", "model: the form's model field is empty", { param: "model" }));
        return new AudioUpload(scan.model, contentType, head, { start: scan.valueStart, end: scan.valueEnd }, reader, req, limits);
      }
      if (scan.kind === "file_first") return spool(head, reader, req, boundary, contentType, limits);
      if (scan.kind === "malformed") throw cancelled(reader, new GatewayError("invalid_request", `the multipart body could not be parsed: ${scan.reason}`));
      if (scan.kind === "no_model" || done) throw cancelled(reader, new GatewayError("invalid_request", "model: the form needs a model field", { param: "model" }));
      if (head.length > MAX_HEAD_BYTES) throw cancelled(reader, new GatewayError("invalid_request", `model: no model field in the form's first ${MAX_HEAD_BYTES} bytes; ${MODEL_FIRST}`, { param: "model" }));
    }
  }

  /** The body for one attempt, naming `upstreamModel`; only the first attempt that reads past the head has the rest. */
  body(upstreamModel: string): ReadableStream<Uint8Array> {
    const prefix = Buffer.concat([this.head.subarray(0, this.value.start), Buffer.from(upstreamModel), this.head.subarray(this.value.end)]);
    let sentPrefix = false;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (!sentPrefix) {
            sentPrefix = true;
            return controller.enqueue(prefix);
          }
          this.started = true;
          try {
            const { done, value } = await readWithin(this.reader, this.req, this.limits.timeoutMs, this.limits.timeoutMs);
            if (done || !value) {
              this.done = true;
              return controller.close();
            }
            this.received += value.byteLength;
            if (this.received > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes, true);
            controller.enqueue(value);
          } catch (error) {
            this.failure = error instanceof GatewayError ? error : clientClosed();
            this.release();
            controller.error(this.failure);
          }
        },
        cancel: () => this.release(),
      },
      { highWaterMark: 0 }, // read from the client only as the engine takes bytes: its pace is the upload's
    );
  }

  /** The engine answered: whatever the client still sends is not read. */
  answered(): void {
    this.release();
  }

  /** Stops reading the client's body (the engine answered or failed, or the upload did). */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.reader.cancel().catch(() => {});
  }
}

/** The rest of a file-first body to a temporary file: each read within the stall window, all within spoolDeadlineMs. */
function spool(head: Buffer, reader: Reader, req: Request, boundary: string, contentType: string, limits: UploadLimits): Promise<SpooledUpload> {
  const deadline = Date.now() + limits.spoolDeadlineMs;
  const source = {
    read: async () => {
      const left = deadline - Date.now();
      if (left <= 0) throw new GatewayError("invalid_request", `the upload did not arrive within ${limits.spoolDeadlineMs} ms (a file before its model field is read whole first; the longest backends[].timeout_ms); ${MODEL_FIRST} to stream it`, { status: 408, headers: { connection: "close" } });
      return readWithin(reader, req, Math.min(left, limits.timeoutMs), limits.timeoutMs);
    },
    tooLarge: (size: number) => (size > limits.maxBytes ? tooLarge(limits.maxBytes, true) : undefined),
  };
  return SpooledUpload.write(head, source, boundary, contentType).catch((error: unknown) => {
    throw cancelled(reader, error instanceof GatewayError ? error : new GatewayError("invalid_request", `the upload could not be read: ${(error as Error).message.slice(0, 200)}`));
  });
}

/** One read, or a 408 when nothing came within `ms` (`window` is what the message names). */
async function readWithin(reader: Reader, req: Request, ms: number, window: number): Promise<{ done: boolean; value?: Uint8Array }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled: GatewayError | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stalled = req.signal.aborted ? clientClosed() : new GatewayError("invalid_request", `the upload stalled: no bytes for ${window} ms (server.body_timeout_ms)`, { status: 408, headers: { connection: "close" } });
      reject(stalled);
      reader.cancel().catch(() => {}); // after the rejection: cancelling ends the pending read as if the body were complete
    }, Math.max(0, ms));
  });
  try {
    const result = await Promise.race([reader.read(), late]);
    if (stalled) throw stalled;
    return result;
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (req.signal.aborted) throw clientClosed();
    throw new GatewayError("invalid_request", `the upload could not be read: ${(error as Error).message.slice(0, 200)}`);
  } finally {
    clearTimeout(timer);
  }
}

function cancelled(reader: Reader, error: GatewayError): GatewayError {
  reader.cancel().catch(() => {});
  return error;
}

function tooLarge(maxBytes: number, midway = false): GatewayError {
  // Midway the client is still sending: the connection closes rather than reading the rest.
  return new GatewayError("body_too_large", `audio upload is larger than ${maxBytes} bytes (server.max_upload_bytes)`, midway ? { headers: { connection: "close" } } : {});
}
