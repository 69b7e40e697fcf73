/**
 * A multinomial logistic regression (softmax) over hashed features, as shipped in src/learn/models/*.bin and
 * written by the training scripts in test/train/.
 *
 * File layout: "SLM1", a little-endian u32 header length, the JSON header, zero padding to a multiple of 2,
 * then the weights as int16, bucket-major (the classes of one bucket side by side, so scoring a feature reads
 * one short run). A class's weights are stored as round(w / scale[c]); int16 keeps the scores within 1e-4 of
 * the float model at half its size.
 */
import { readFileSync } from "node:fs";
import { FeatureBuffer, type FeatureConfig } from "./features.ts";

export interface ModelHeader {
  classes: string[];
  features: FeatureConfig;
  bias: number[];
  scale: number[];
  /** softmax temperature fitted on the dev set: probabilities are softmax(logits / temperature) */
  temperature: number;
  /** model-specific settings chosen at training time (thresholds, say) */
  extra: Record<string, number>;
}

export interface LinearModel {
  readonly header: ModelHeader;
  readonly weights: Int16Array;
}

const MAGIC = "SLM1";

export function encodeModel(header: ModelHeader, weights: Float32Array): Uint8Array {
  const classes = header.classes.length;
  const scale = header.classes.map((_, c) => {
    let max = 0;
    for (let i = c; i < weights.length; i += classes) max = Math.max(max, Math.abs(weights[i]!));
    return max > 0 ? max / 32767 : 1;
  });
  const quantised = new Int16Array(weights.length);
  for (let i = 0; i < weights.length; i++) quantised[i] = Math.round(weights[i]! / scale[i % classes]!);
  const json = new TextEncoder().encode(JSON.stringify({ ...header, scale }));
  const offset = 8 + json.length + ((8 + json.length) % 2);
  const bytes = new Uint8Array(offset + quantised.byteLength);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(bytes.buffer).setUint32(4, json.length, true);
  bytes.set(json, 8);
  bytes.set(new Uint8Array(quantised.buffer), offset);
  return bytes;
}

export function decodeModel(bytes: Uint8Array): LinearModel {
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw new Error("not a sluice linear model file");
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as ModelHeader;
  const offset = 8 + length + ((8 + length) % 2);
  const count = (1 << header.features.bucketBits) * header.classes.length;
  const aligned = new Uint8Array(count * 2);
  aligned.set(bytes.subarray(offset, offset + count * 2));
  return { header, weights: new Int16Array(aligned.buffer) };
}

/** Reads a model file once, on first use; `path` is what an `import … with { type: "file" }` gives. */
export function lazyModel(path: string): () => LinearModel {
  let model: LinearModel | undefined;
  return () => (model ??= decodeModel(readFileSync(path)));
}

/** Raw scores (before temperature), one per class. */
export function logits(model: LinearModel, features: FeatureBuffer, out = new Float64Array(model.header.classes.length)): Float64Array {
  const { classes, bias, scale } = model.header;
  const count = classes.length;
  const weights = model.weights;
  out.fill(0);
  for (let i = 0; i < features.length; i++) {
    const base = features.indices[i]! * count;
    const value = features.values[i]!;
    for (let c = 0; c < count; c++) out[c]! += weights[base + c]! * value;
  }
  for (let c = 0; c < count; c++) out[c] = out[c]! * scale[c]! + bias[c]!;
  return out;
}

/** softmax(logits / temperature), in place. */
export function softmax(scores: Float64Array, temperature = 1): Float64Array {
  let max = -Infinity;
  for (const score of scores) max = Math.max(max, score / temperature);
  let sum = 0;
  for (let c = 0; c < scores.length; c++) sum += scores[c] = Math.exp(scores[c]! / temperature - max);
  for (let c = 0; c < scores.length; c++) scores[c] = scores[c]! / sum;
  return scores;
}

export function predict(model: LinearModel, features: FeatureBuffer): Float64Array {
  return softmax(logits(model, features), model.header.temperature);
}
