// The leading fields of a multipart upload: found at every prefix length, never guessed from a partial part.
import { describe, expect, test } from "bun:test";
import { boundaryOf, scanHead } from "../../src/api/multipart-head.ts";

const B = "xyz";
const field = (name: string, value: string) => `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const file = (name: string) => `--${B}\r\nContent-Disposition: form-data; name="${name}"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF....`;

describe("boundaryOf", () => {
  test("plain and quoted boundaries; other types have none", () => {
    expect(boundaryOf("multipart/form-data; boundary=abc")).toBe("abc");
    expect(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b:c"')).toBe("a b:c");
    expect(boundaryOf("multipart/form-data")).toBeUndefined();
    expect(boundaryOf("application/json; boundary=abc")).toBeUndefined();
    expect(boundaryOf(`multipart/form-data; boundary=${"x".repeat(71)}`)).toBeUndefined();
  });
});

describe("scanHead", () => {
  test("every prefix of a body asks for more until the model field is whole, then gives its exact bytes", () => {
    const body = Buffer.from(field("language", "en") + field("model", "whisper-1") + file("file"));
    const complete = body.indexOf(`\r\n--${B}\r\nContent-Disposition: form-data; name="file"`) + 2 + B.length + 2; // "\r\n--B" after the value
    for (let length = 0; length <= body.length; length++) {
      const scan = scanHead(body.subarray(0, length), B);
      if (scan.kind === "model") {
        expect(length).toBeGreaterThanOrEqual(complete - 2 - B.length);
        expect(scan.model).toBe("whisper-1");
        expect(body.subarray(scan.valueStart, scan.valueEnd).toString()).toBe("whisper-1");
      } else expect(scan.kind).toBe("more");
    }
    expect(scanHead(body, B).kind).toBe("model");
  });

  test("a file part before any model field, also one named file without a filename", () => {
    expect(scanHead(Buffer.from(field("language", "en") + file("file") + field("model", "m")), B)).toEqual({ kind: "file_first", field: "file" });
    expect(scanHead(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="file"\r\n\r\nbytes`), B)).toEqual({ kind: "file_first", field: "file" });
  });

  test("the closing delimiter without a model; a body that is not the boundary's multipart", () => {
    expect(scanHead(Buffer.from(field("language", "en") + `--${B}--\r\n`), B).kind).toBe("no_model");
    expect(scanHead(Buffer.from("x".repeat(2000)), B).kind).toBe("malformed");
    expect(scanHead(Buffer.from(`--${B}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${B}--`), B).kind).toBe("malformed");
    expect(scanHead(Buffer.from(`junk--${B}\r\n`), B).kind).toBe("malformed");
  });

  test("a preamble before the first boundary is skipped; the model value may hold anything but the delimiter", () => {
    const scan = scanHead(Buffer.from(`preamble\r\n${field("model", "org/model:q4 --x")}${file("file")}`), B);
    expect(scan).toMatchObject({ kind: "model", model: "org/model:q4 --x" });
  });
});
