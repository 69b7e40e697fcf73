// Provider titles and snippets arrive as HTML fragments (Brave wraps matches in <strong>) of any length; the model
// gets short plain text.

export const SNIPPET_MAX_CHARS = 300;
export const TITLE_MAX_CHARS = 200;

const TAG = /<!--[\s\S]*?-->|<\/?[a-zA-Z][^>]*>/g;
const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g;
const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Removes tags (only things that look like tags, so "a < b" survives), decodes entities, collapses whitespace. */
export function htmlToText(html: string): string {
  return collapseWhitespace(html.replace(TAG, " ").replace(ENTITY, decodeEntity));
}

function decodeEntity(entity: string, body: string): string {
  if (body.startsWith("#")) {
    const code = body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
    return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  }
  return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
}

export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Cuts at a word boundary near `maxChars` (code points, so no emoji is split) and marks the cut with "…". */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const chars = Array.from(text);
  if (chars.length <= maxChars) return text;
  const head = chars.slice(0, maxChars - 1).join("");
  const lastSpace = head.lastIndexOf(" ");
  const cut = lastSpace > head.length * 0.6 ? head.slice(0, lastSpace) : head;
  return `${cut.replace(/[\s,;:.\-–—]+$/, "")}…`;
}
