/**
 * Trains the complexity model of the `auto` router (src/learn/models/complexity.bin): a binary logistic
 * regression on the task model's features predicting P(a weak model answers wrong) from ../shared/data/routing/complexity.jsonl (questions
 * with whether a weak and a strong model got them right), each question seen as recorded and as a bare stem
 * (questionStem). A seeded tenth of the rows is held out to choose the settings, fit the temperature and choose
 * the thresholds stored in the file, by which the router maps the probability to simple / medium / complex
 * (chooseBands):
 *   simple   P(weak wrong) < simpleBelow   the weak model is right four times out of five or more
 *   complex  P(weak wrong) ≥ complexFrom   the weak model is at best as likely right as wrong
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FeatureBuffer } from "../../src/learn/features.ts";
import { encodeModel, softmax } from "../../src/learn/linear-model.ts";
import { ROUTER_FEATURES, routerFeatures } from "../../src/routing/task-features.ts";
import { cachedFeatures, DATA_DIR, fitTemperature, floatLogits, MODELS_DIR, readJsonl, seededRandom, shuffled, trainSoftmax, type TrainOptions, type TrainedWeights } from "./lib/softmax.ts";

export interface ComplexityRow {
  text: string;
  weak_correct: boolean;
  strong_correct: boolean;
  subject: string;
}

/** simple: the weak model is right this often or more; complex: this often or less */
const SIMPLE_WEAK_RIGHT = 0.8;
const COMPLEX_WEAK_RIGHT = 0.5;
const CHOSEN: TrainOptions = { classes: 2, bucketBits: ROUTER_FEATURES.bucketBits, epochs: 3, learningRate: 0.1, l2: 1e-5, seed: 14 };

/**
 * The question without MMLU's scaffolding (the "A. … D." option lines and "Answer:"): people seldom send
 * that, and a model that learned only the scaffolded form judges every other prompt by its absence.
 */
export function questionStem(text: string): string {
  return text.replace(/(\n[A-D]\. [^\n]*)+\nAnswer:\s*$/, "").trim();
}

/** The held-out tenth, the same in training and in test/eval/router.ts. */
export function splitComplexity(rows: readonly ComplexityRow[]): { train: ComplexityRow[]; heldOut: ComplexityRow[] } {
  const order = shuffled(rows.length, seededRandom(1414));
  const cut = Math.floor(rows.length / 10);
  return { heldOut: order.slice(0, cut).map((i) => rows[i]!), train: order.slice(cut).map((i) => rows[i]!) };
}

/**
 * The band thresholds on P(weak wrong), to 0.01: simple below the highest threshold under which the weak model
 * is still right SIMPLE_WEAK_RIGHT of the time, complex from the lowest at and above which it is right no more
 * than COMPLEX_WEAK_RIGHT of the time.
 */
export function chooseBands(p: readonly number[], weakRight: readonly boolean[]): { simpleBelow: number; complexFrom: number } {
  const rate = (keep: (x: number) => boolean) => {
    const rows = p.map((x, i) => [x, weakRight[i]!] as const).filter(([x]) => keep(x));
    return rows.length ? rows.filter(([, right]) => right).length / rows.length : NaN;
  };
  const steps = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
  const simple = steps.filter((t) => rate((x) => x < t) >= SIMPLE_WEAK_RIGHT);
  const complex = steps.filter((t) => rate((x) => x >= t) <= COMPLEX_WEAK_RIGHT);
  return { simpleBelow: simple[simple.length - 1] ?? 0.2, complexFrom: complex[0] ?? 0.5 };
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
  const split = splitComplexity(readJsonl<ComplexityRow>(join(DATA_DIR, "routing/complexity.jsonl")));
  const heldOut = split.heldOut;
  // each training question twice: as recorded and as a bare stem
  const train = split.train.flatMap((row) => [row, { ...row, text: questionStem(row.text) }]);
  const labels = Int32Array.from(train.map((row) => (row.weak_correct ? 0 : 1)));
  const heldLabels = Int32Array.from(heldOut.map((row) => (row.weak_correct ? 0 : 1)));
  const heldFeatures = heldOut.map((row) => routerFeatures(row.text, "", new FeatureBuffer()));
  const stemFeatures = heldOut.map((row) => routerFeatures(questionStem(row.text), "", new FeatureBuffer()));
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
  const trainFeatures = cachedFeatures(train.length, (i, out) => routerFeatures(train[i]!.text, "", out));
  const stemReport = (t: TrainedWeights) => report(stemFeatures.map((features) => floatLogits(t, features, 2)));
  const trained = trainSoftmax(train.length, labels, trainFeatures, CHOSEN, (epoch, t) => console.log(`  epoch ${epoch}: held out ${report(heldScores(t))}; stems alone ${stemReport(t)}`));
  const scores = heldScores(trained);
  const temperature = fitTemperature(scores, heldLabels);
  // bands chosen on the held-out questions, recorded and as stems (what people send)
  const pooled = [...scores, ...stemFeatures.map((features) => floatLogits(trained, features, 2))].map((row) => softmax(Float64Array.from(row), temperature)[1]!);
  const pooledRows = [...heldOut, ...heldOut];
  const { simpleBelow, complexFrom } = chooseBands(pooled, pooledRows.map((r) => r.weak_correct));
  for (const [name, keep] of [["simple", (x: number) => x < simpleBelow], ["medium", (x: number) => x >= simpleBelow && x < complexFrom], ["complex", (x: number) => x >= complexFrom]] as const) {
    const rows = pooledRows.filter((_, i) => keep(pooled[i]!));
    const rate = (f: (r: ComplexityRow) => boolean) => `${((rows.filter(f).length / Math.max(rows.length, 1)) * 100).toFixed(0)}%`;
    console.log(`  ${name.padEnd(8)} ${String(rows.length).padStart(5)} rows: weak right ${rate((r) => r.weak_correct)}, strong right ${rate((r) => r.strong_correct)}`);
  }
  console.log(`complexity: held out ${report(scores, temperature)}; temperature ${temperature}; simple below ${simpleBelow}, complex from ${complexFrom}`);
  mkdirSync(MODELS_DIR, { recursive: true });
  const header = { classes: ["weak_right", "weak_wrong"], features: ROUTER_FEATURES, bias: trained.bias, scale: [], temperature, extra: { simpleBelow, complexFrom } };
  const bytes = encodeModel(header, trained.weights);
  writeFileSync(join(MODELS_DIR, "complexity.bin"), bytes);
  console.log(`wrote complexity.bin (${(bytes.length / 1e6).toFixed(2)} MB)`);
}
