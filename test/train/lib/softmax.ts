/**
 * Training for src/learn/linear-model.ts: softmax regression over hashed features, AdaGrad steps with L2 on
 * the weights an example touches, examples visited in a seeded shuffled order — the same data and options
 * give the same bytes. Also the shared helpers of the training and eval scripts (data loading, temperature
 * fitting, reliability table).
 */
import { readFileSync } from "node:fs";
import { FeatureBuffer } from "../../../src/learn/features.ts";
import { softmax } from "../../../src/learn/linear-model.ts";
import { seededRandom } from "../../support/random.ts";

export { seededRandom };

export interface TrainOptions {
  classes: number;
  bucketBits: number;
  epochs: number;
  learningRate: number;
  l2: number;
  seed: number;
}

export interface TrainedWeights {
  weights: Float32Array;
  bias: number[];
}

export function shuffled(count: number, random: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * `featurise(i, out)` fills the features of example i; labels[i] is its class. Returns float weights,
 * bucket-major like the model file.
 */
export function trainSoftmax(
  count: number,
  labels: ArrayLike<number>,
  featurise: (index: number, out: FeatureBuffer) => void,
  options: TrainOptions,
  onEpoch?: (epoch: number, weights: TrainedWeights) => void,
): TrainedWeights {
  const learner = new SoftmaxLearner(options);
  const random = seededRandom(options.seed);
  const buffer = new FeatureBuffer();
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (const index of shuffled(count, random)) {
      featurise(index, buffer.clear());
      learner.step(buffer, labels[index]!);
    }
    onEpoch?.(epoch + 1, learner.trained);
  }
  return learner.trained;
}

/** The mean of several runs' weights (runs over differently shuffled data: a steadier estimate than one). */
export function averaged(runs: readonly TrainedWeights[]): TrainedWeights {
  const weights = new Float32Array(runs[0]!.weights.length);
  for (const run of runs) for (let i = 0; i < weights.length; i++) weights[i]! += run.weights[i]! / runs.length;
  const bias = runs[0]!.bias.map((_, c) => runs.reduce((sum, run) => sum + run.bias[c]!, 0) / runs.length);
  return { weights, bias };
}

/** One AdaGrad step of softmax regression with L2 on the weights an example touches. */
class SoftmaxLearner {
  readonly trained: TrainedWeights;
  private readonly squares: Float32Array;
  private readonly biasSquares: number[];
  private readonly scores: Float64Array;
  private readonly gradient: Float64Array;

  constructor(private readonly options: TrainOptions) {
    const size = (1 << options.bucketBits) * options.classes;
    this.trained = { weights: new Float32Array(size), bias: new Array<number>(options.classes).fill(0) };
    this.squares = new Float32Array(size);
    this.biasSquares = new Array<number>(options.classes).fill(0);
    this.scores = new Float64Array(options.classes);
    this.gradient = new Float64Array(options.classes);
  }

  step(buffer: FeatureBuffer, label: number): void {
    const { classes, learningRate: rate, l2 } = this.options;
    const { weights, bias } = this.trained;
    const { squares, biasSquares, scores, gradient } = this;
    scores.fill(0);
    for (let k = 0; k < buffer.length; k++) {
      const base = buffer.indices[k]! * classes;
      const value = buffer.values[k]!;
      for (let c = 0; c < classes; c++) scores[c]! += weights[base + c]! * value;
    }
    for (let c = 0; c < classes; c++) scores[c]! += bias[c]!;
    softmax(scores);
    for (let c = 0; c < classes; c++) gradient[c] = scores[c]! - (label === c ? 1 : 0);
    for (let k = 0; k < buffer.length; k++) {
      const base = buffer.indices[k]! * classes;
      const value = buffer.values[k]!;
      for (let c = 0; c < classes; c++) {
        const at = base + c;
        const step = gradient[c]! * value + l2 * weights[at]!;
        squares[at]! += step * step;
        weights[at]! -= (rate * step) / Math.sqrt(squares[at]! + 1e-8);
      }
    }
    for (let c = 0; c < classes; c++) {
      biasSquares[c]! += gradient[c]! * gradient[c]!;
      bias[c]! -= (rate * gradient[c]!) / Math.sqrt(biasSquares[c]! + 1e-8);
    }
  }
}

/**
 * Computes every example's features once and serves copies: training visits each example once per epoch, and
 * text → features is most of the time of a visit. Repeated indices are summed first (fewer entries to store).
 */
export function cachedFeatures(count: number, featurise: (index: number, out: FeatureBuffer) => void): (index: number, out: FeatureBuffer) => void {
  const starts = new Uint32Array(count + 1);
  let indices = new Int32Array(1 << 20);
  let values = new Float32Array(1 << 20);
  const buffer = new FeatureBuffer();
  const sums = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    featurise(i, buffer.clear());
    sums.clear();
    for (let k = 0; k < buffer.length; k++) sums.set(buffer.indices[k]!, (sums.get(buffer.indices[k]!) ?? 0) + buffer.values[k]!);
    let at = starts[i]!;
    if (at + sums.size > indices.length) {
      const size = Math.max(indices.length * 2, at + sums.size);
      const grownIndices = new Int32Array(size);
      const grownValues = new Float32Array(size);
      grownIndices.set(indices);
      grownValues.set(values);
      [indices, values] = [grownIndices, grownValues];
    }
    for (const [index, value] of sums) {
      indices[at] = index;
      values[at++] = value;
    }
    starts[i + 1] = at;
  }
  return (index, out) => {
    for (let k = starts[index]!; k < starts[index + 1]!; k++) out.push(indices[k]!, values[k]!);
  };
}

/** Float scores of one example under float weights (for selection before quantising). */
export function floatLogits(trained: TrainedWeights, features: FeatureBuffer, classes: number): Float64Array {
  const out = new Float64Array(classes);
  for (let k = 0; k < features.length; k++) {
    const base = features.indices[k]! * classes;
    for (let c = 0; c < classes; c++) out[c]! += trained.weights[base + c]! * features.values[k]!;
  }
  for (let c = 0; c < classes; c++) out[c]! += trained.bias[c]!;
  return out;
}

/** The temperature that minimises the negative log-likelihood of the labels (grid search, 0.25–8). */
export function fitTemperature(scores: readonly Float64Array[], labels: ArrayLike<number>): number {
  let best = 1;
  let bestLoss = Infinity;
  for (let t = 0.25; t <= 8; t *= 1.05) {
    let loss = 0;
    scores.forEach((row, i) => {
      const p = softmax(Float64Array.from(row), t);
      loss -= Math.log(Math.max(p[labels[i]!]!, 1e-12));
    });
    if (loss < bestLoss) [best, bestLoss] = [t, loss];
  }
  return Math.round(best * 1000) / 1000;
}

/** Confidence bins vs accuracy, and the expected calibration error. */
export function reliabilityTable(rows: readonly { confidence: number; correct: boolean }[], bins = 10): string {
  const lines = ["confidence    n   accuracy  mean conf"];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const low = b / bins;
    const high = (b + 1) / bins;
    const inBin = rows.filter((r) => r.confidence >= low && (r.confidence < high || (b === bins - 1 && r.confidence <= 1)));
    if (!inBin.length) continue;
    const accuracy = inBin.filter((r) => r.correct).length / inBin.length;
    const mean = inBin.reduce((sum, r) => sum + r.confidence, 0) / inBin.length;
    ece += (inBin.length / rows.length) * Math.abs(accuracy - mean);
    lines.push(`${low.toFixed(1)}–${high.toFixed(1)}  ${String(inBin.length).padStart(5)}   ${(accuracy * 100).toFixed(1).padStart(5)}%     ${mean.toFixed(3)}`);
  }
  lines.push(`expected calibration error: ${(ece * 100).toFixed(1)}%`);
  return lines.join("\n");
}

export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** ../shared/data beside the checkout, as the README lays it out (SLUICE_DATA_DIR overrides). */
export const DATA_DIR = process.env.SLUICE_DATA_DIR ?? new URL("../../../../shared/data/", import.meta.url).pathname;
export const MODELS_DIR = new URL("../../../src/learn/models/", import.meta.url).pathname;
