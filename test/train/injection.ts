/**
 * Trains the prompt-injection / jailbreak model (src/learn/models/injection.bin): softmax regression over
 * benign / injection / jailbreak on ../shared/data/injection/train.jsonl, each text normalised like at runtime
 * (normalize.ts). Settings were chosen on dev.jsonl; the
 * temperature is fitted there, and so is the default threshold: the lowest score at which at most 3 % of the
 * dev set's hard_benign prompts (benign but risky-sounding) are flagged, which maximises attack recall under
 * that ceiling. Seeded: the same data gives the same file.
 *
 *   INJECTION_GRID=0.2:1e-6,0.1:1e-5 bun test/train/injection.ts   dev figures per epoch for other settings
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { INJECTION_CLASSES, INJECTION_FEATURES, injectionFeatures, scoreVariants } from "../../src/detectors/injection-features.ts";
import { normalizeForMatching } from "../../src/detectors/normalize.ts";
import { decodeModel, encodeModel, softmax } from "../../src/learn/linear-model.ts";
import { FeatureBuffer } from "../../src/learn/features.ts";
import { DATA_DIR, fitTemperature, floatLogits, MODELS_DIR, readJsonl, trainSoftmax, type TrainOptions, type TrainedWeights } from "./lib/softmax.ts";

export interface InjectionRow {
  text: string;
  label: "attack" | "benign";
  kind: "injection" | "jailbreak" | "benign" | "hard_benign";
  source: string;
}

const CHOSEN: TrainOptions = { classes: INJECTION_CLASSES.length, bucketBits: INJECTION_FEATURES.bucketBits, epochs: 4, learningRate: 0.1, l2: 1e-5, seed: 14 };
export const HARD_BENIGN_CEILING = 0.03;

const prepare = (row: InjectionRow) => normalizeForMatching(row.text);

/** The lowest threshold that flags at most `ceiling` of the hard_benign rows; its attack recall. */
export function chooseThreshold(scores: readonly number[], rows: readonly InjectionRow[], ceiling = HARD_BENIGN_CEILING): number {
  const hard = rows.map((r, i) => (r.kind === "hard_benign" ? scores[i]! : -1)).filter((s) => s >= 0).sort((a, b) => b - a);
  const allowed = Math.floor(hard.length * ceiling);
  // just above the (allowed+1)-th highest hard_benign score, rounded up to 0.01
  return Math.min(0.99, Math.ceil(((hard[allowed] ?? 0) + 1e-9) * 100) / 100);
}

if (import.meta.main) {
  const train = readJsonl<InjectionRow>(join(DATA_DIR, "injection/train.jsonl"));
  const dev = readJsonl<InjectionRow>(join(DATA_DIR, "injection/dev.jsonl"));
  const classOf = (row: InjectionRow) => (row.label === "benign" ? 0 : row.kind === "jailbreak" ? 2 : 1);
  const started = Date.now();
  const prepared = train.map(prepare);
  const devPrepared = dev.map(prepare);
  console.log(`normalised in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const labels = Int32Array.from(train.map(classOf));
  const devLabels = Int32Array.from(dev.map(classOf));
  const devFeatures = devPrepared.map((p) => injectionFeatures(p[0] ?? "", new FeatureBuffer()));

  const report = (trained: TrainedWeights) => {
    const scores = devFeatures.map((f) => 1 - softmax(floatLogits(trained, f, 3))[0]!);
    const threshold = chooseThreshold(scores, dev);
    const rate = (keep: (r: InjectionRow) => boolean) => {
      const rows = dev.map((r, i) => [r, scores[i]!] as const).filter(([r]) => keep(r));
      return `${((rows.filter(([, s]) => s >= threshold).length / rows.length) * 100).toFixed(1)}%`;
    };
    return `threshold ${threshold}: attacks ${rate((r) => r.label === "attack")}, hard_benign ${rate((r) => r.kind === "hard_benign")}, benign ${rate((r) => r.kind === "benign")}`;
  };
  const fit = (options: TrainOptions) =>
    trainSoftmax(train.length, labels, (i, out) => injectionFeatures(prepared[i]![0] ?? "", out), options, (epoch, trained) =>
      console.log(`  epoch ${epoch}: dev ${report(trained)}`),
    );
  for (const setting of process.env.INJECTION_GRID?.split(",") ?? []) {
    const [learningRate, l2] = setting.split(":").map(Number) as [number, number];
    console.log(`learning rate ${learningRate}, l2 ${l2}`);
    fit({ ...CHOSEN, epochs: 6, learningRate, l2 });
  }

  const trained = fit(CHOSEN);
  const temperature = fitTemperature(devFeatures.map((f) => floatLogits(trained, f, 3)), devLabels);
  const header = { classes: [...INJECTION_CLASSES], features: INJECTION_FEATURES, bias: trained.bias, scale: [], temperature, extra: { threshold: 0.5 } };
  // the threshold is chosen with the scoring used at runtime: the shipped (quantised) model, max over variants
  const model = decodeModel(encodeModel(header, trained.weights));
  const scores = devPrepared.map((p) => scoreVariants(model, p).score);
  header.extra.threshold = chooseThreshold(scores, dev);
  mkdirSync(MODELS_DIR, { recursive: true });
  const bytes = encodeModel(header, trained.weights);
  writeFileSync(join(MODELS_DIR, "injection.bin"), bytes);
  console.log(`injection: temperature ${temperature}, threshold ${header.extra.threshold}; wrote injection.bin (${(bytes.length / 1e6).toFixed(2)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
