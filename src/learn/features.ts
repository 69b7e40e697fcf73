/**
 * Text → hashed sparse features, shared by the shipped models at runtime and by their training scripts
 * (test/train/), so both see exactly the same numbers.
 *
 * Features (each in its own hash namespace): lower-cased word unigrams and bigrams, character 3–5-grams of the
 * whitespace-collapsed text, the words of the instruction (first line and a short last line, where people
 * put the ask), and a few coarse shape buckets (length, lines, code fences). Every occurrence adds one entry;
 * each block is scaled to unit length (see normalise), so a long paste does not drown a short one. Indices are hashed into
 * `buckets` slots (a power of two): no vocabulary to ship, unknown words still land somewhere useful.
 */

export interface FeatureConfig {
  /** log2 of the number of hash buckets */
  bucketBits: number;
  /** characters kept from the start and from the end of a long text */
  headChars: number;
  tailChars: number;
  /** character 3–5-grams too (default true) */
  charGrams?: boolean;
  /** the words of the first and last line as features of their own (default true) */
  instructionWords?: boolean;
  /** the length, line-count and code-fence buckets (default true) */
  shape?: boolean;
}

/** Sparse features of one text; entries may repeat an index (they add up when scored). */
export class FeatureBuffer {
  indices = new Int32Array(4096);
  values = new Float32Array(4096);
  length = 0;

  clear(): this {
    this.length = 0;
    return this;
  }

  push(index: number, value: number): void {
    if (this.length === this.indices.length) {
      const indices = new Int32Array(this.length * 2);
      const values = new Float32Array(this.length * 2);
      indices.set(this.indices);
      values.set(this.values);
      this.indices = indices;
      this.values = values;
    }
    this.indices[this.length] = index;
    this.values[this.length++] = value;
  }

  /**
   * Gives the entries from `start` on the value scale/‖counts‖, the L2 norm of the block's per-bucket counts:
   * the block then scores like a unit-length term-frequency vector, however often one n-gram repeats.
   */
  normalise(start: number, scale: number): void {
    if (this.length <= start) return;
    let sumOfSquares = 0;
    for (let i = start; i < this.length; i++) {
      const index = this.indices[i]!;
      sumOfSquares += 2 * counts[index]! + 1; // (c + 1)² - c²
      counts[index]!++;
    }
    for (let i = start; i < this.length; i++) counts[this.indices[i]!] = 0;
    const value = scale / Math.sqrt(sumOfSquares);
    for (let i = start; i < this.length; i++) this.values[i] = value;
  }
}

/** The largest bucketBits a model may use: the size of the scratch counts below. */
export const MAX_BUCKET_BITS = 18;
// scratch for normalise, all zero between calls
const counts = new Uint32Array(1 << MAX_BUCKET_BITS);

const enum Namespace {
  Word = 0x9e3779b1,
  Bigram = 0x85ebca77,
  Char = 0xc2b2ae3d,
  Instruction = 0x27d4eb2f,
  Shape = 0x165667b1,
}

/** murmur3's finaliser: spreads FNV's low bits before masking to a bucket. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

function hashString(text: string, seed: number): number {
  let hash = seed ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return hash;
}

const WORD = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
const TRAILING_INSTRUCTION_MAX_CHARS = 200;
const INSTRUCTION_MAX_WORDS = 24;

/** The text a model looks at: a long text is cut to its head and tail, where the ask usually is. */
export function cutText(text: string, config: FeatureConfig): string {
  if (text.length <= config.headChars + config.tailChars) return text;
  return `${text.slice(0, config.headChars)}\n${text.slice(-config.tailChars)}`;
}

/**
 * Appends the features of `text` to `out` with every value multiplied by `weight` (a system prompt counts
 * less than the user's turn). `text` should already be cut with cutText.
 */
export function addTextFeatures(text: string, config: FeatureConfig, out: FeatureBuffer, weight = 1): void {
  if (config.bucketBits > MAX_BUCKET_BITS) throw new Error(`bucketBits ${config.bucketBits} > ${MAX_BUCKET_BITS}`);
  const mask = (1 << config.bucketBits) - 1;
  const lower = text.toLowerCase();
  const words = lower.match(WORD) ?? [];

  let start = out.length;
  let previous = 0;
  for (let i = 0; i < words.length; i++) {
    const hash = hashString(words[i]!, Namespace.Word);
    out.push(mix(hash) & mask, 1);
    if (i > 0) out.push(mix(Math.imul(previous, 31) ^ hash ^ Namespace.Bigram) & mask, 1);
    previous = hash;
  }
  out.normalise(start, weight);

  start = out.length;
  const collapsed = config.charGrams === false ? "" : ` ${lower.replace(/\s+/g, " ").trim()} `;
  for (let i = 0; i + 3 <= collapsed.length; i++) {
    let hash = Namespace.Char;
    for (let n = 0; n < 5 && i + n < collapsed.length; n++) {
      hash = Math.imul(hash ^ collapsed.charCodeAt(i + n), 16777619);
      if (n >= 2) out.push(mix(hash ^ n) & mask, 1);
    }
  }
  out.normalise(start, weight);

  if (config.instructionWords !== false) {
    start = out.length;
    for (const word of instructionWords(lower)) out.push(mix(hashString(word, Namespace.Instruction)) & mask, 1);
    out.normalise(start, weight);
  }

  if (config.shape === false) return;
  start = out.length;
  const lines = text.split("\n").length;
  for (const shape of [`len${Math.round(Math.log2(text.length + 1))}`, `lines${Math.min(Math.round(Math.log2(lines)), 8)}`, text.includes("```") ? "fence" : "nofence"])
    out.push(mix(hashString(shape, Namespace.Shape)) & mask, 1);
  out.normalise(start, weight * 0.5);
}

/** The words of the first non-empty line and of a short last line. */
function instructionWords(lower: string): string[] {
  const lines = lower.split("\n").filter((line) => line.trim() !== "");
  const first = (lines[0] ?? "").match(WORD)?.slice(0, INSTRUCTION_MAX_WORDS) ?? [];
  const last = lines.length > 1 ? lines[lines.length - 1]! : "";
  const tail = last.length <= TRAILING_INSTRUCTION_MAX_CHARS ? (last.match(WORD)?.slice(0, INSTRUCTION_MAX_WORDS) ?? []) : [];
  return [...first, ...tail.map((word) => `>${word}`)];
}

/** Named boolean signals (catalog rule ids, say) as features of their own. */
export function addNamedFeatures(names: readonly string[], config: FeatureConfig, out: FeatureBuffer, value = 1): void {
  const mask = (1 << config.bucketBits) - 1;
  for (const name of names) out.push(mix(hashString(name, Namespace.Shape ^ 0x5bd1e995)) & mask, value);
}
