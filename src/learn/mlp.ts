/**
 * A one-hidden-layer network (ReLU) over a dense input such as a sentence vector (word-vectors.ts), as shipped
 * in src/learn/models/*-mlp.bin and written by test/train/lib/mlp.ts. Its logits are added to a linear model's
 * (the two read different things: hashed n-grams of the very words, and what the words mean).
 *
 * File layout: "SMP1", a little-endian u32 header length, the JSON header, zero padding to a multiple of 4,
 * then float32: hidden weights (input-major: the hidden units of one input side by side), hidden biases,
 * output weights (hidden-major), output biases.
 */
import { readFileSync } from "node:fs";

export interface MlpHeader {
  inputs: number;
  hidden: number;
  classes: string[];
  /** settings chosen at training time (the softmax temperature of the combined logits, say) */
  extra: Record<string, number>;
}

export interface Mlp {
  readonly header: MlpHeader;
  readonly hiddenWeights: Float32Array;
  readonly hiddenBias: Float32Array;
  readonly outputWeights: Float32Array;
  readonly outputBias: Float32Array;
}

const MAGIC = "SMP1";

export function mlpParameterCount(header: Pick<MlpHeader, "inputs" | "hidden" | "classes">): number {
  return header.inputs * header.hidden + header.hidden + header.hidden * header.classes.length + header.classes.length;
}

/** `parameters`: hidden weights, hidden bias, output weights, output bias, concatenated. */
export function encodeMlp(header: MlpHeader, parameters: Float32Array): Uint8Array {
  if (parameters.length !== mlpParameterCount(header)) throw new Error("parameter count does not match the header");
  const json = new TextEncoder().encode(JSON.stringify(header));
  const offset = (8 + json.length + 3) & ~3;
  const bytes = new Uint8Array(offset + parameters.byteLength);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(4, json.length, true);
  bytes.set(json, 8);
  bytes.set(new Uint8Array(parameters.buffer, parameters.byteOffset, parameters.byteLength), offset);
  return bytes;
}

export function decodeMlp(bytes: Uint8Array): Mlp {
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a sluice network file");
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as MlpHeader;
  const offset = (8 + length + 3) & ~3;
  // a copy (new Uint8Array of a view copies; a Buffer's slice would not), aligned for the Float32Array
  const parameters = new Float32Array(new Uint8Array(bytes.subarray(offset, offset + mlpParameterCount(header) * 4)).buffer);
  return viewParameters(header, parameters);
}

/** The four parts of a parameter vector, as views (training updates them in place). */
export function viewParameters(header: MlpHeader, parameters: Float32Array): Mlp {
  const { inputs, hidden } = header;
  const classes = header.classes.length;
  let at = 0;
  const take = (count: number) => parameters.subarray(at, (at += count));
  return { header, hiddenWeights: take(inputs * hidden), hiddenBias: take(hidden), outputWeights: take(hidden * classes), outputBias: take(classes) };
}

export function lazyMlp(path: string): () => Mlp {
  let loaded: Mlp | undefined;
  return () => (loaded ??= decodeMlp(readFileSync(path)));
}

/** The logits of `input`; `hidden` receives the hidden layer's activations (training reads them). */
export function mlpLogits(model: Mlp, input: Float32Array, out = new Float64Array(model.header.classes.length), hidden = new Float32Array(model.header.hidden)): Float64Array {
  const { inputs } = model.header;
  const units = model.header.hidden;
  const classes = model.header.classes.length;
  hidden.set(model.hiddenBias);
  for (let i = 0; i < inputs; i++) {
    const value = input[i]!;
    if (value === 0) continue;
    const base = i * units;
    for (let j = 0; j < units; j++) hidden[j]! += value * model.hiddenWeights[base + j]!;
  }
  for (let c = 0; c < classes; c++) out[c] = model.outputBias[c]!;
  for (let j = 0; j < units; j++) {
    if (hidden[j]! <= 0) {
      hidden[j] = 0;
      continue;
    }
    const base = j * classes;
    for (let c = 0; c < classes; c++) out[c]! += hidden[j]! * model.outputWeights[base + c]!;
  }
  return out;
}
