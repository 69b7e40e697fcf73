// The leading fields of a multipart/form-data body, read before its file part: where the `model` field's value
// sits, so an upload can be routed (and its model replaced by the engine's id) without holding the file.
// Pure: it looks at the bytes read so far and says whether more are needed.

export type HeadScan =
  /** The model field is complete at bytes [valueStart, valueEnd). */
  | { kind: "model"; model: string; valueStart: number; valueEnd: number }
  /** Not yet decidable: read more. */
  | { kind: "more" }
  /** A file part began before any model field. */
  | { kind: "file_first"; field: string }
  /** The body ended (closing delimiter) without a model field. */
  | { kind: "no_model" }
  /** Not multipart as its boundary says. */
  | { kind: "malformed"; reason: string };

const CRLF = Buffer.from("\r\n");
const HEADERS_END = Buffer.from("\r\n\r\n");

/** The boundary of a `multipart/form-data; boundary=...` content type, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))\s*(?:;|$)/i.exec(contentType); // RFC 2046: at most 70 characters
  return match?.[1] ?? match?.[2];
}

/** Scans `bytes` (the body's first bytes) part by part up to the model field. */
export function scanHead(bytes: Buffer, boundary: string): HeadScan {
  const delimiter = Buffer.from(`--${boundary}`);
  // The first delimiter opens the body (a preamble before it is allowed and ignored).
  let at = bytes.indexOf(delimiter);
  if (at === -1) return bytes.length > delimiter.length + 1024 ? { kind: "malformed", reason: "the body does not start with its multipart boundary" } : { kind: "more" };
  if (at > 0 && !(bytes[at - 2] === 0x0d && bytes[at - 1] === 0x0a)) return { kind: "malformed", reason: "the first multipart boundary is not at a line start" };
  const between = Buffer.concat([CRLF, delimiter]);
  for (;;) {
    const afterDelimiter = at + delimiter.length;
    if (bytes.length < afterDelimiter + 2) return { kind: "more" };
    if (bytes[afterDelimiter] === 0x2d && bytes[afterDelimiter + 1] === 0x2d) return { kind: "no_model" }; // "--": the closing delimiter
    const headersStart = bytes.indexOf(CRLF, afterDelimiter); // transport padding may precede the line end
    if (headersStart === -1) return { kind: "more" };
    const headersEnd = bytes.indexOf(HEADERS_END, headersStart);
    if (headersEnd === -1) return { kind: "more" };
    const disposition = dispositionOf(bytes.subarray(headersStart + 2, headersEnd).toString("latin1"));
    if (!disposition) return { kind: "malformed", reason: "a part has no Content-Disposition: form-data header with a name" };
    if (disposition.isFile || disposition.name === "file") return { kind: "file_first", field: disposition.name };
    const valueStart = headersEnd + HEADERS_END.length;
    const next = bytes.indexOf(between, valueStart);
    if (next === -1) return { kind: "more" };
    if (disposition.name === "model") return { kind: "model", model: bytes.subarray(valueStart, next).toString("utf8"), valueStart, valueEnd: next };
    at = next + CRLF.length;
  }
}

/** A part's form-data name and whether it is a file, from its header block (CRLF-separated lines). */
export function dispositionOf(headers: string): { name: string; isFile: boolean } | undefined {
  for (const line of headers.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon === -1 || line.slice(0, colon).trim().toLowerCase() !== "content-disposition") continue;
    const value = line.slice(colon + 1);
    if (!/^\s*form-data\s*(;|$)/i.test(value)) return undefined;
    const name = /;\s*name="([^"]*)"/i.exec(value)?.[1] ?? /;\s*name=([^\s;"]+)/i.exec(value)?.[1];
    if (name === undefined) return undefined;
    return { name, isFile: /;\s*filename\*?=/i.test(value) };
  }
  return undefined;
}
