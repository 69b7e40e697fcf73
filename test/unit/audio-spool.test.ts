// A file-first upload written to disk: the model field is found wherever the chunks split the delimiters, and the
// body read back has only the model's value replaced.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { SpooledUpload, type SpoolSource } from "../../src/api/audio-spool.ts";
import { GatewayError } from "../../src/errors.ts";

const B = "b0undary";
const body = Buffer.from(
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n` +
    "RIFF\r\n--not-the-boundary\r\n" + "x".repeat(300) +
    `\r\n--${B}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n--${B}\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n--${B}--\r\n`,
);

function source(bytes: Buffer, chunkSize: number, maxBytes = Infinity): SpoolSource {
  let at = 0;
  return {
    read: async () => (at >= bytes.length ? { done: true } : { done: false, value: bytes.subarray(at, (at += chunkSize)) }),
    tooLarge: (size) => (size > maxBytes ? new GatewayError("body_too_large", "too large") : undefined),
  };
}

const spoolFiles = () => readdirSync(tmpdir()).filter((name) => name.startsWith("sluice-upload-")).length;

test("every chunk size finds the model field and sends the body back with the engine's id in its place", async () => {
  const expected = body.toString().replace("\r\n\r\nwhisper\r\n", "\r\n\r\nengine/id\r\n");
  for (const size of [1, 2, 3, 7, 13, 64, 1000, body.length]) {
    const head = body.subarray(0, 20);
    const upload = await SpooledUpload.write(head, source(body.subarray(20), size), B, `multipart/form-data; boundary=${B}`);
    expect(upload.model).toBe("whisper");
    expect(await new Response(upload.body("engine/id")).text()).toBe(expected);
    expect(await new Response(upload.body("again")).text()).toContain("\r\n\r\nagain\r\n"); // a retry reads the file again
    upload.release();
  }
});

test("over the limit, or no model field: an error, and no file is left", async () => {
  for (let i = 0; i < 100 && spoolFiles() > 0; i++) await Bun.sleep(10); // the first test's releases remove theirs in the background
  const before = spoolFiles();
  const tooLarge = await SpooledUpload.write(Buffer.alloc(0), source(body, 50, 100), B, "x").catch((error: unknown) => error);
  expect((tooLarge as GatewayError).code).toBe("body_too_large");
  const noModel = Buffer.from(body.toString().replace('name="model"', 'name="prompt"'));
  const missing = await SpooledUpload.write(Buffer.alloc(0), source(noModel, 50), B, "x").catch((error: unknown) => error);
  expect((missing as GatewayError).message).toContain("model: the form needs a model field");
  expect(spoolFiles()).toBe(before);
});
