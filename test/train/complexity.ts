/**
 * Trains the complexity model of the `auto` router (src/learn/models/complexity.bin): a binary logistic
 * regression on the task model's features predicting P(a weak model answers wrong) from ../shared/data/routing/complexity.jsonl (questions
 * with whether a weak and a strong model got them right). A seeded tenth of the rows is held out to choose the
 * settings and fit the temperature; the router maps the probability to simple / medium / complex with the
 * thresholds stored in the file:
 *   simple   P(weak wrong) < SIMPLE_BELOW   the weak model is right four times out of five or more
 *   complex  P(weak wrong) ≥ COMPLEX_FROM   the weak model is about as likely wrong as right
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FeatureBuffer } from "../../src/learn/features.ts";
import { encodeModel, softmax } from "../../src/learn/linear-model.ts";
import { ROUTER_FEATURES, routerFeatures } from "../../src/routing/task-features.ts";
import { DATA_DIR, fitTemperature, floatLogits, MODELS_DIR, readJsonl, seededRandom, shuffled, trainSoftmax, type TrainOptions, type TrainedWeights } from "./lib/softmax.ts";

export interface ComplexityRow {
  text: string;
  weak_correct: boolean;
  strong_correct: boolean;
  subject: string;
}

const SIMPLE_BELOW = 0.2;
const COMPLEX_FROM = 0.45;
const CHOSEN: TrainOptions = { classes: 2, bucketBits: ROUTER_FEATURES.bucketBits, epochs: 3, learningRate: 0.1, l2: 1e-5, seed: 14 };

/** The held-out tenth, the same in training and in test/eval/router.ts. */
export function splitComplexity(rows: readonly ComplexityRow[]): { train: ComplexityRow[]; heldOut: ComplexityRow[] } {
  const order = shuffled(rows.length, seededRandom(1414));
  const cut = Math.floor(rows.length / 10);
  return { heldOut: order.slice(0, cut).map((i) => rows[i]!), train: order.slice(cut).map((i) => rows[i]!) };
}

/** Area under the ROC curve: the chance a random positive row scores above a random negative one (ties: half). */
export function auc(scores: readonly number[], positive: readonly boolean[]): number {
  const order = scores.map((score, i) => ({ score, positive: positive[i]! })).sort((a, b) => a.score - b.score);
  let rankSum = 0;
  let positives = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end < order.length && order[end]!.score === order[start]!.score) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start+1 … end share their mean
    for (let i = start; i < end; i++)
      if (order[i]!.positive) {
        rankSum += averageRank;
        positives++;
      }
    start = end;
  }
  const negatives = order.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

if (import.meta.main) {
  const { train, heldOut } = splitComplexity(readJsonl<ComplexityRow>(join(DATA_DIR, "routing/complexity.jsonl")));
  const labels = Int32Array.from(train.map((row) => (row.weak_correct ? 0 : 1)));
  const heldLabels = Int32Array.from(heldOut.map((row) => (row.weak_correct ? 0 : 1)));
  const heldFeatures = heldOut.map((row) => routerFeatures(row.text, "", new FeatureBuffer()));
  const heldScores = (trained: TrainedWeights) => heldFeatures.map((features) => floatLogits(trained, features, 2));
  const report = (scores: Float64Array[], temperature = 1) => {
    const p = scores.map((row) => softmax(Float64Array.from(row), temperature)[1]!);
    return `AUC ${auc(p, [...heldLabels].map((l) => l === 1)).toFixed(3)}`;
  };
  const options = process.env.COMPLEXITY_GRID ? process.env.COMPLEXITY_GRID.split(",").map((s) => s.split(":").map(Number) as [number, number]) : [];
  for (const [learningRate, l2] of options) {
    console.log(`learning rate ${learningRate}, l2 ${l2}`);
    trainSoftmax(train.length, labels, (i, out) => routerFeatures(train[i]!.text, "", out), { ...CHOSEN, epochs: 6, learningRate, l2 }, (epoch, trained) =>
      console.log(`  epoch ${epoch}: held out ${report(heldScores(trained))}`),
    );
  }
  const trained = trainSoftmax(train.length, labels, (i, out) => routerFeatures(train[i]!.text, "", out), CHOSEN, (epoch, t) => console.log(`  epoch ${epoch}: held out ${report(heldScores(t))}`));
  const scores = heldScores(trained);
  const temperature = fitTemperature(scores, heldLabels);
  const p = scores.map((row) => softmax(Float64Array.from(row), temperature)[1]!);
  for (const [name, keep] of [["simple", (x: number) => x < SIMPLE_BELOW], ["medium", (x: number) => x >= SIMPLE_BELOW && x < COMPLEX_FROM], ["complex", (x: number) => x >= COMPLEX_FROM]] as const) {
    const rows = heldOut.filter((_, i) => keep(p[i]!));
    const rate = (f: (r: ComplexityRow) => boolean) => `${((rows.filter(f).length / Math.max(rows.length, 1)) * 100).toFixed(0)}%`;
    console.log(`  ${name.padEnd(8)} ${String(rows.length).padStart(5)} rows: weak right ${rate((r) => r.weak_correct)}, strong right ${rate((r) => r.strong_correct)}`);
  }
  console.log(`complexity: held out ${report(scores, temperature)}; temperature ${temperature}`);
  mkdirSync(MODELS_DIR, { recursive: true });
  const header = { classes: ["weak_right", "weak_wrong"], features: ROUTER_FEATURES, bias: trained.bias, scale: [], temperature, extra: { simpleBelow: SIMPLE_BELOW, complexFrom: COMPLEX_FROM } };
  const bytes = encodeModel(header, trained.weights);
  writeFileSync(join(MODELS_DIR, "complexity.bin"), bytes);
  console.log(`wrote complexity.bin (${(bytes.length / 1e6).toFixed(2)} MB)`);
}
