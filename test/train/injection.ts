/**
 * Trains the prompt-injection / jailbreak model (src/learn/models/injection.bin): softmax regression over
 * benign / injection / jailbreak on ../shared/data/injection/train.jsonl plus, as benign, the task prompts of
 * ../shared/data/routing/train.jsonl (without them ordinary asks — "Summarise the plot of Hamlet." — scored as
 * attacks: the attack sources wrap their payloads in such asks more often than the benign sources ask them).
 * Each text is normalised like at runtime (normalize.ts). Settings were chosen on dev.jsonl; the
 * temperature is fitted there, and so is the default threshold (see chooseThreshold): at most 3 % of the dev
 * set's hard_benign prompts (benign but risky-sounding) flagged, attack recall at the 90 % target, and no more
 * false positives than that recall needs. Seeded: the same data gives the same file.
 *
 *   INJECTION_GRID=0.2:1e-6,0.1:1e-5 bun test/train/injection.ts   dev figures per epoch for other settings
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { INJECTION_CLASSES, INJECTION_FEATURES, injectionFeatures, scoreVariants } from "../../src/detectors/injection-features.ts";
import { normalizeForMatching } from "../../src/detectors/normalize.ts";
import { generateInjectionTexts } from "./injection-data.ts";
import { generatePiiTexts } from "./pii-data.ts";
import { generateRouterPrompts } from "./router-data.ts";
import { decodeModel, encodeModel, softmax } from "../../src/learn/linear-model.ts";
import { FeatureBuffer } from "../../src/learn/features.ts";
import { averaged, cachedFeatures, DATA_DIR, fitTemperature, floatLogits, MODELS_DIR, readJsonl, trainSoftmax, type TrainOptions, type TrainedWeights } from "./lib/softmax.ts";

export interface InjectionRow {
  text: string;
  label: "attack" | "benign";
  kind: "injection" | "jailbreak" | "benign" | "hard_benign";
  source: string;
}

const CHOSEN: TrainOptions = { classes: INJECTION_CLASSES.length, bucketBits: INJECTION_FEATURES.bucketBits, epochs: 4, learningRate: 0.1, l2: 1e-4, seed: 14 };
/**
 * The shipped weights are the mean of three runs over differently shuffled data: texts near the threshold flip
 * with the order one run happened to see (the same data, shuffled with seed 14 or 15, flagged 6 or 7 of the 30
 * risky-sounding benign prompts of test/unit/injection.test.ts, 6.0 or 7.1 % of the fixtures' benign texts);
 * the mean is the steadier estimate (fixtures: 4.8 % of benign texts flagged, dev unchanged).
 */
const SEEDS = [14, 15, 16];

export const HARD_BENIGN_CEILING = 0.03;
export const RECALL_TARGET = 0.9;

const prepare = (row: InjectionRow) => normalizeForMatching(row.text);

/**
 * The default threshold, to 0.01: the highest at which dev attack recall still reaches RECALL_TARGET (the
 * issue's target), so that false positives are as few as that recall allows — as long as at most `ceiling` of
 * the hard_benign rows are flagged there; otherwise the lowest threshold that keeps to the ceiling. (The lowest
 * threshold within the hard_benign ceiling alone, printed too, flagged 6 % of the plain benign dev texts and
 * ordinary asks like "Summarise the plot of Hamlet.": plain benign texts score higher than hard_benign ones here,
 * because BIPIA's tables and emails without the inserted attack look like the same tables with it.)
 */
export function chooseThreshold(scores: readonly number[], rows: readonly InjectionRow[], ceiling = HARD_BENIGN_CEILING, recallTarget = RECALL_TARGET): number {
  const share = (kind: (r: InjectionRow) => boolean, threshold: number) => {
    const picked = rows.map((r, i) => [r, scores[i]!] as const).filter(([r]) => kind(r));
    return picked.filter(([, score]) => score >= threshold).length / picked.length;
  };
  const steps = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
  const withinCeiling = steps.filter((t) => share((r) => r.kind === "hard_benign", t) <= ceiling);
  const lowest = withinCeiling[0] ?? 0.99;
  const meetingTarget = withinCeiling.filter((t) => share((r) => r.label === "attack", t) >= recallTarget);
  return meetingTarget.length ? meetingTarget[meetingTarget.length - 1]! : lowest;
}

/** Generated benign texts per generator (before repeats are dropped). */
const GENERATED_BENIGN = Number(process.env.INJECTION_GENERATED ?? 1500);

/** Generated attacks (and as many benign texts sharing their words), injection-data.ts. */
const GENERATED_ATTACKS = Number(process.env.INJECTION_ATTACKS ?? 3000);

/**
 * Benign texts we generate: everyday sentences in German, French, Spanish, Italian, Dutch and Portuguese (the PII
 * generator's, with and without PII) and casual asks (the router's). Without them, the only non-English
 * prompts beside ALMA's news were CyberSecEval's machine-translated injections, and the model learned that a
 * Spanish question is an attack.
 */
function generatedBenign(): InjectionRow[] {
  const benign = (text: string, source: string): InjectionRow => ({ text, label: "benign", kind: "benign", source });
  return [
    ...generatePiiTexts("train", GENERATED_BENIGN).map((t) => benign(t.text, `generated/pii-${t.language}`)),
    ...generateRouterPrompts(GENERATED_BENIGN / 5).map((p) => benign(p.text, p.source)),
  ];
}

/** Everything the model trains on: the shared training set, the routing prompts as benign, and generated texts. */
export function injectionTrainingRows(): InjectionRow[] {
  const tasks = readJsonl<{ text: string; source: string }>(join(DATA_DIR, "routing/train.jsonl"));
  return [
    ...readJsonl<InjectionRow>(join(DATA_DIR, "injection/train.jsonl")),
    ...tasks.map((row): InjectionRow => ({ text: row.text, label: "benign", kind: "benign", source: `routing/${row.source}` })),
    ...generatedBenign(),
    ...generateInjectionTexts(GENERATED_ATTACKS, tasks.map((row) => row.text)),
    ...writtenRows(),
  ];
}

/**
 * Attacks and benign texts written for sluice by hand (test/train/written/injection.jsonl, 1,957 texts in 124
 * families: overrides in many wordings, leaks, fake role tags, instructions planted in 26 kinds of host
 * document — each host also clean and with a note meant for human readers —, personas, fiction and research
 * framings of harmful asks, refusal suppression, ~20 % in 13 other languages; and security questions, ordinary
 * senses of "ignore" / "override" / "act as", legitimate system prompts and role-play as hard_benign).
 */
function writtenRows(): InjectionRow[] {
  return WRITTEN_FILES.flatMap((file) =>
    readJsonl<InjectionRow & { family: string }>(new URL(`./written/${file}`, import.meta.url).pathname).map((row) => ({
      text: row.text,
      label: row.label,
      kind: row.kind,
      source: `written/${row.family}`,
    })),
  );
}
const WRITTEN_FILES = ["injection.jsonl", "injection-2.jsonl", "injection-3.jsonl"];

export const classOf = (row: InjectionRow) => (row.label === "benign" ? 0 : row.kind === "jailbreak" ? 2 : 1);
export { CHOSEN as INJECTION_TRAINING };

if (import.meta.main) {
  const train = injectionTrainingRows();
  const dev = readJsonl<InjectionRow>(join(DATA_DIR, "injection/dev.jsonl"));
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
  const trainFeatures = cachedFeatures(train.length, (i, out) => injectionFeatures(prepared[i]![0] ?? "", out));
  const fit = (options: TrainOptions) =>
    trainSoftmax(train.length, labels, trainFeatures, options, (epoch, trained) =>
      console.log(`  epoch ${epoch}: dev ${report(trained)}`),
    );
  for (const setting of process.env.INJECTION_GRID?.split(",") ?? []) {
    const [learningRate, l2] = setting.split(":").map(Number) as [number, number];
    console.log(`learning rate ${learningRate}, l2 ${l2}`);
    fit({ ...CHOSEN, epochs: 6, learningRate, l2 });
  }

  const trained = averaged(SEEDS.map((seed) => fit({ ...CHOSEN, seed })));
  const temperature = fitTemperature(devFeatures.map((f) => floatLogits(trained, f, 3)), devLabels);
  const header = { classes: [...INJECTION_CLASSES], features: INJECTION_FEATURES, bias: trained.bias, scale: [], temperature, extra: { threshold: 0.5 } };
  // the threshold is chosen with the scoring used at runtime: the shipped (quantised) model, max over variants
  const model = decodeModel(encodeModel(header, trained.weights));
  const scores = devPrepared.map((p) => scoreVariants(model, p).score);
  header.extra.threshold = chooseThreshold(scores, dev);
  console.log(`threshold for ≤ 3 % hard_benign alone: ${chooseThreshold(scores, dev, HARD_BENIGN_CEILING, 1)}`);
  mkdirSync(MODELS_DIR, { recursive: true });
  const bytes = encodeModel(header, trained.weights);
  writeFileSync(join(MODELS_DIR, "injection.bin"), bytes);
  console.log(`injection: temperature ${temperature}, threshold ${header.extra.threshold}; wrote injection.bin (${(bytes.length / 1e6).toFixed(2)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
