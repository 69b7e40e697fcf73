// Audio transcriptions stream to the engine (issue 19 item 4): the openai SDK's multi-megabyte upload arrives at
// the scripted engine chunked and whole, the engine has bytes before the client has sent them all, an upload over
// server.max_upload_bytes midway is a 413 and the engine's request is cut, a stalled one is a 408, a slow but
// moving one is not cut, and a file before its model field is written to a temporary file first (then sent).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect, type Socket } from "node:net";
import OpenAI, { toFile } from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import type { UploadRecord } from "../support/scripted-more-apis.ts";
import { createKey, eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "U".repeat(20) + "uploaduploaduploadup";
const MAX_UPLOAD_BYTES = 6_000_000;
const BODY_TIMEOUT_MS = 1_500;
setDefaultTimeout(30_000);
const BOUNDARY = "sluice-test-boundary";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let key: { id: string; key: string };

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const backends = [
    { name: "whisper", model: "echo", extra: "endpoints: [audio_transcriptions]\npricing: {gpu_hour: 1}" },
    { name: "plain", model: "echo" },
    // Behind balancers: an engine that cannot be reached (its health read from the live one), and one that fails the upload.
    { name: "whisper-dead", model: "echo", url: "http://127.0.0.1:9/v1", extra: `endpoints: [audio_transcriptions]\nhealth_url: ${upstream.url}/health` },
    { name: "whisper-broken", model: "fail-500", extra: "endpoints: [audio_transcriptions]" },
  ];
  const balancer = (name: string, first: string) => `  - {name: ${name}, strategy: priority, retries: 1, retry_budget: 1, retry_backoff_ms: 1, routes: [{targets: [${first}, whisper]}]}`;
  const yaml =
    configFor(upstream.url, backends, `  max_upload_bytes: ${MAX_UPLOAD_BYTES}\n  body_timeout_ms: ${BODY_TIMEOUT_MS}\n  base_path: /api/v1/inference`).replace("  mode: none", "  mode: keys") +
    `balancers:\n${balancer("pool-dead-first", "whisper-dead")}\n${balancer("pool-broken-first", "whisper-broken")}\n`;
  gateway = await spawnGateway(yaml, { env: { SLUICE_ADMIN_KEY: ADMIN } });
  key = await createKey(gateway, ADMIN, { name: "uploads" });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

const uploads = async () => (await (await fetch(`${upstream.url}/__uploads`)).json()) as UploadRecord[];
const client = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.key, maxRetries: 0 });

/** A multipart body's leading bytes: the model field, then the file part's headers. */
function head(model = "whisper"): Buffer {
  return Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${model}\r\n--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="speech.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
}
const TAIL = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

/**
 * A raw HTTP/1.1 upload (`headers` after the request line); `write` sends more. `answer`: the text once a whole
 * answer is in or the socket closed; `closed`: true once the gateway closed the connection (false after 10 s).
 */
function rawUpload(headers: string): { socket: Socket; write(bytes: Buffer): void; answer: Promise<string>; closed: Promise<boolean> } {
  let text = "";
  const socket = connect(gateway.port, "127.0.0.1");
  socket.write(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key.key}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n${headers}\r\n`);
  socket.on("error", () => {}); // the gateway may close while we still write
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  const answer = new Promise<string>((resolve) => {
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (answered(text)) resolve(text);
    });
    void closed.then(() => resolve(text));
  });
  return { socket, write: (bytes) => socket.writable && socket.write(bytes), answer, closed };
}

/** A whole answer is in: its headers and as many body bytes as its content-length says. */
function answered(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
  return end !== -1 && length !== undefined && text.length - end - 4 >= Number(length);
}
const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from("\r\n")]);

async function ledger(keyId: string) {
  await Bun.sleep(1_200); // the ledger writes in batches
  const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
  try {
    return db.query("SELECT endpoint, status, error_code FROM ledger WHERE key_id = ? ORDER BY started_at").all(keyId) as { endpoint: string; status: number; error_code: string | null }[];
  } finally {
    db.close();
  }
}

describe("streamed to the engine", () => {
  test("the openai SDK's 5 MB upload reaches the engine whole, chunked (not buffered into one body first)", async () => {
    const before = (await uploads()).length;
    const size = 5 * 1024 * 1024;
    const result = await client().audio.transcriptions.create({ model: "whisper", file: await toFile(new Uint8Array(size).fill(7), "speech.wav", { type: "audio/wav" }) });
    expect(result.text).toBe(`heard ${size} bytes of speech.wav`);
    const upload = (await uploads())[before]!;
    expect(upload).toMatchObject({ chunked: true, content_length: null, complete: true, aborted: false });
    expect(upload.bytes_received).toBeGreaterThan(size);
    expect(upload.chunks).toBeGreaterThan(1);
    const recorded = (await upstream.requests()).filter((r) => r.path === "/v1/audio/transcriptions").at(-1)!.body;
    expect(recorded).toMatchObject({ model: "echo", file: { name: "speech.wav", size } }); // model: the engine's id
  });

  test("under server.base_path as well (served by the same handler, off the framework's router)", async () => {
    const before = (await uploads()).length;
    const viaBase = new OpenAI({ baseURL: `${gateway.url}/api/v1/inference`, apiKey: key.key, maxRetries: 0 });
    const result = await viaBase.audio.transcriptions.create({ model: "whisper", file: await toFile(new Uint8Array(1_000_000), "b.wav") });
    expect(result.text).toBe("heard 1000000 bytes of b.wav");
    expect((await uploads())[before]).toMatchObject({ chunked: true, complete: true });
  });

  test("the engine has the first bytes while the client still holds the rest", async () => {
    const before = (await uploads()).length;
    const first = Buffer.concat([head(), Buffer.alloc(512 * 1024, 1)]);
    const rest = Buffer.concat([Buffer.alloc(512 * 1024, 2), TAIL]);
    const upload = rawUpload(`Content-Length: ${first.length + rest.length}\r\n`);
    upload.write(first);
    // Nothing more is sent until the engine reports bytes of this upload: a gateway that buffered would wait forever.
    const arriving = await eventually(async () => {
      const record = (await uploads())[before];
      return record && record.bytes_received > 0 && !record.finished ? record : undefined;
    }, 10_000);
    expect(arriving.bytes_received).toBeLessThanOrEqual(first.length);
    upload.write(rest);
    const text = await upload.answer;
    expect(text).toStartWith("HTTP/1.1 200");
    expect(text).toContain(`heard ${1024 * 1024} bytes of speech.wav`);
    upload.socket.destroy();
  });

  test("an upload slower than server.body_timeout_ms in total, but never silent that long, is not cut", async () => {
    const upload = rawUpload("Transfer-Encoding: chunked\r\n");
    upload.write(chunk(head()));
    for (let i = 0; i < 12; i++) {
      await Bun.sleep(BODY_TIMEOUT_MS / 6);
      upload.write(chunk(Buffer.alloc(1000, i)));
    }
    upload.write(Buffer.concat([chunk(TAIL), Buffer.from("0\r\n\r\n")]));
    const text = await upload.answer;
    expect(text).toStartWith("HTTP/1.1 200");
    expect(text).toContain("heard 12000 bytes of speech.wav");
    upload.socket.destroy();
  });
});

describe("limits", () => {
  test("over server.max_upload_bytes midway (chunked, no length given) → 413 naming the setting; the engine's request is cut", async () => {
    const own = await createKey(gateway, ADMIN, { name: "over-limit" });
    const before = (await uploads()).length;
    let text = "";
    const socket = connect(gateway.port, "127.0.0.1");
    socket.on("error", () => {});
    socket.on("data", (data) => (text += data.toString("latin1")));
    socket.write(`POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${own.key}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    socket.write(chunk(head()));
    const piece = chunk(Buffer.alloc(256 * 1024, 3));
    for (let sent = 0; sent < MAX_UPLOAD_BYTES + 1024 * 1024 && !text && socket.writable; sent += 256 * 1024) {
      if (!socket.write(piece)) await new Promise((resolve) => socket.once("drain", resolve).once("close", resolve));
    }
    await eventually(() => (text.includes("\r\n\r\n") ? true : undefined), 10_000);
    socket.destroy();
    expect(text).toStartWith("HTTP/1.1 413");
    expect(text).toContain("server.max_upload_bytes");
    const upload = await eventually(async () => {
      const record = (await uploads())[before];
      return record?.finished ? record : undefined;
    }, 10_000);
    expect(upload).toMatchObject({ complete: false, aborted: true });
    expect(upload.bytes_received).toBeLessThanOrEqual(MAX_UPLOAD_BYTES);
    expect(await ledger(own.id)).toEqual([{ endpoint: "audio_transcriptions", status: 413, error_code: "body_too_large" }]);
  });

  test("a declared length over the limit is refused before any byte is read (the SDK sees 413)", async () => {
    const before = (await uploads()).length;
    const file = await toFile(new Uint8Array(MAX_UPLOAD_BYTES + 1), "big.wav");
    const error = await client().audio.transcriptions.create({ model: "whisper", file }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((await uploads()).length).toBe(before);
  });

  test("an upload that stalls → 408 naming server.body_timeout_ms, the connection closes, the engine's request is cut", async () => {
    const before = (await uploads()).length;
    const upload = rawUpload("Content-Length: 2000000\r\n");
    upload.write(Buffer.concat([head(), Buffer.alloc(100_000, 4)]));
    const text = await upload.answer;
    const closed = await upload.closed;
    expect(text).toStartWith("HTTP/1.1 408");
    expect(text).toContain("server.body_timeout_ms");
    expect(closed).toBe(true);
    const record = await eventually(async () => {
      const found = (await uploads())[before];
      return found?.finished ? found : undefined;
    }, 10_000);
    expect(record).toMatchObject({ complete: false, aborted: true });
  });

  test("leading fields that never arrive → 408 too", async () => {
    const upload = rawUpload("Content-Length: 5000\r\n");
    upload.write(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="mo`));
    const text = await upload.answer;
    const closed = await upload.closed;
    expect(text).toStartWith("HTTP/1.1 408");
    expect(closed).toBe(true);
  });
});

describe("the model field", () => {
  test("a file before its model (the SDK with { file, model }, as OpenAI's examples write it) still works: spooled to a temporary file that is gone after", async () => {
    const spooled = () => readdirSync(tmpdir()).filter((name) => name.startsWith("sluice-upload-")).length;
    const before = (await uploads()).length;
    const size = 3 * 1024 * 1024;
    const result = await client().audio.transcriptions.create({ file: await toFile(new Uint8Array(size).fill(9), "first.wav"), model: "whisper", language: "en" });
    expect(result.text).toBe(`heard ${size} bytes of first.wav`);
    expect((await uploads())[before]).toMatchObject({ complete: true, aborted: false });
    const recorded = (await upstream.requests()).filter((r) => r.path === "/v1/audio/transcriptions").at(-1)!.body;
    expect(recorded).toMatchObject({ model: "echo", file: { name: "first.wav", size } });
    await eventually(() => (spooled() === 0 ? true : undefined));
  });

  test("a file-first upload over the limit midway → 413, and its temporary file is removed", async () => {
    const upload = rawUpload("Transfer-Encoding: chunked\r\n");
    upload.write(chunk(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n`)));
    for (let sent = 0; sent <= MAX_UPLOAD_BYTES && upload.socket.writable; sent += 512 * 1024) upload.write(chunk(Buffer.alloc(512 * 1024, 5)));
    const text = await upload.answer;
    upload.socket.destroy();
    expect(text).toStartWith("HTTP/1.1 413");
    expect(text).toContain("server.max_upload_bytes");
    await eventually(() => (readdirSync(tmpdir()).some((name) => name.startsWith("sluice-upload-")) ? undefined : true));
  });

  test("no model field, an empty one, one too long, a model without audio, an unknown model: each a clear 4xx", async () => {
    const send = (body: Buffer) => fetch(`${gateway.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${key.key}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` }, body });
    const noModel = await send(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n--${BOUNDARY}--\r\n`));
    expect(noModel.status).toBe(400);
    expect(((await noModel.json()) as { error: { param: string } }).error.param).toBe("model");
    expect((await send(Buffer.concat([head(""), Buffer.alloc(10), TAIL]))).status).toBe(400);
    const long = await send(Buffer.concat([head("m".repeat(300)), Buffer.alloc(10), TAIL]));
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: { message: string } }).error.message).toBe("model: longer than 256 characters");
    const plain = await send(Buffer.concat([head("plain"), Buffer.alloc(10), TAIL]));
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { error: { message: string } }).error.message).toContain("does not serve /v1/audio/transcriptions");
    expect((await send(Buffer.concat([head("nope"), Buffer.alloc(10), TAIL]))).status).toBe(404);
    expect((await send(Buffer.from("not multipart at all"))).status).toBe(400);
  });
});

test("the OpenAPI document gives the multipart body, the model-first streaming rule and the 408 / 413 / 415 answers", async () => {
  type Operation = { description: string; requestBody: { content: Record<string, { schema: { $ref: string } }> }; responses: Record<string, unknown> };
  const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { paths: Record<string, { post: Operation }> };
  const operation = doc.paths["/v1/audio/transcriptions"]!.post;
  expect(operation.requestBody.content["multipart/form-data"]!.schema.$ref).toBe("#/components/schemas/TranscriptionForm");
  expect(operation.description).toContain("comes before the file");
  expect(operation.description).toContain("server.max_upload_bytes");
  for (const status of ["200", "400", "408", "413", "415"]) expect(operation.responses).toHaveProperty(status);
});

describe("behind a balancer", () => {
  test("an attempt that took none of the upload (engine unreachable) is retried on the next backend", async () => {
    const result = await client().audio.transcriptions.create({ model: "pool-dead-first", file: await toFile(new Uint8Array(200_000), "r.wav") });
    expect(result.text).toBe("heard 200000 bytes of r.wav");
  });

  test("an engine that took the upload and failed is not retried (the bytes are gone): its error stands", async () => {
    const before = (await uploads()).length;
    const error = await client()
      .audio.transcriptions.create({ model: "pool-broken-first", file: await toFile(new Uint8Array(200_000), "r.wav") })
      .catch((thrown: unknown) => thrown);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((await uploads()).length - before).toBe(1); // the failing engine only
  });

  test("a file-first upload is on disk, so it can be retried even after an engine took it", async () => {
    const before = (await uploads()).length;
    const result = await client().audio.transcriptions.create({ file: await toFile(new Uint8Array(200_000), "r.wav"), model: "pool-broken-first" });
    expect(result.text).toBe("heard 200000 bytes of r.wav");
    expect((await uploads()).length - before).toBe(2);
  });
});
