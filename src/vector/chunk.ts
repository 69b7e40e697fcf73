// Splits a document into chunks for embedding: whole paragraphs where they fit, else sentences, else words, packed
// greedily up to `chunkChars`. Each chunk after the first starts with the tail of the one before (up to `overlap`
// characters, from a word boundary), so a sentence cut at a chunk border is still found by either side.

const PARAGRAPH_BREAK = /\n[ \t]*\n\s*/;
const sentences = new Intl.Segmenter(undefined, { granularity: "sentence" });

/** A piece that is never split further, and what joins it to the piece before. */
interface Unit {
  text: string;
  separator: "\n\n" | " ";
}

export function chunkText(text: string, chunkChars: number, overlap: number): string[] {
  if (!Number.isInteger(chunkChars) || chunkChars < 20) throw new RangeError(`chunkChars must be an integer >= 20, got ${chunkChars}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > chunkChars / 2) {
    throw new RangeError(`chunk overlap must be an integer between 0 and chunkChars / 2 (${chunkChars / 2}), got ${overlap}`);
  }
  // Units leave room for the overlap, so every chunk can carry it and none exceeds chunkChars.
  const units = splitUnits(text, chunkChars - overlap);
  const chunks: string[] = [];
  let current = "";
  for (const unit of units) {
    if (!current) {
      current = unit.text;
      continue;
    }
    const joined = current + unit.separator + unit.text;
    if (joined.length <= chunkChars) {
      current = joined;
      continue;
    }
    chunks.push(current);
    const tail = overlapTail(current, Math.min(overlap, chunkChars - unit.text.length - unit.separator.length));
    current = tail ? tail + unit.separator + unit.text : unit.text;
  }
  if (current) chunks.push(current);
  return chunks;
}

function splitUnits(text: string, maxChars: number): Unit[] {
  const units: Unit[] = [];
  for (const paragraph of text.replace(/\r\n?/g, "\n").split(PARAGRAPH_BREAK)) {
    const trimmed = paragraph.trim();
    if (!trimmed) continue;
    const pieces = trimmed.length <= maxChars ? [trimmed] : splitParagraph(trimmed, maxChars);
    pieces.forEach((piece, i) => units.push({ text: piece, separator: i === 0 ? "\n\n" : " " }));
  }
  return units;
}

function splitParagraph(paragraph: string, maxChars: number): string[] {
  const pieces: string[] = [];
  for (const { segment } of sentences.segment(paragraph)) {
    const sentence = segment.trim();
    if (!sentence) continue;
    if (sentence.length <= maxChars) pieces.push(sentence);
    else pieces.push(...splitWords(sentence, maxChars));
  }
  return pieces;
}

/** Packs words up to maxChars; a word longer than that is cut (URLs, base64, tables without spaces). */
function splitWords(sentence: string, maxChars: number): string[] {
  const pieces: string[] = [];
  let current = "";
  for (const word of sentence.split(/\s+/)) {
    if (!word) continue;
    const joined = current ? `${current} ${word}` : word;
    if (joined.length <= maxChars) {
      current = joined;
      continue;
    }
    if (current) pieces.push(current);
    let rest = word;
    while (rest.length > maxChars) {
      pieces.push(rest.slice(0, maxChars));
      rest = rest.slice(maxChars);
    }
    current = rest;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** The last `maxChars` characters of a chunk, starting at a word boundary; "" when no whole word fits. */
function overlapTail(chunk: string, maxChars: number): string {
  if (maxChars <= 0) return "";
  const start = chunk.length - maxChars;
  if (start <= 0) return chunk;
  let tail = chunk.slice(start);
  if (!/\s/.test(chunk[start - 1] ?? "")) {
    const boundary = tail.search(/\s/);
    tail = boundary === -1 ? "" : tail.slice(boundary);
  }
  return tail.trim();
}
