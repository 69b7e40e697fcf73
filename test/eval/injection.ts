/**
 * The prompt-injection / jailbreak detector (src/detectors/injection.ts) on ../shared/data/injection/dev.jsonl
 * and on the hand-written fixture set, next to the rule catalogs alone (the detector before the model:
 * 1 - Π(1 - weight) over the matching rules ≥ 0.5), and on the written probe (test/fixtures/probe/injection.jsonl:
 * 768 attacks and benign texts written for sluice by family, never trained on): attack recall per kind, false-positive rates per kind (hard_benign: benign but
 * risky-sounding; benign), a threshold sweep, the reliability of the score, latency per text.
 */
import { join } from "node:path";
import { CATALOG_FLAG_SCORE, combineScore, COMPILED_CATALOGS, defaultInjectionThreshold, detectInjection, matchCatalog, scoreInjection } from "../../src/detectors/injection.ts";
import { normalizeForMatching } from "../../src/detectors/normalize.ts";
import { DATA_DIR, readJsonl, reliabilityTable } from "../train/lib/softmax.ts";
import { latency } from "./lib/latency.ts";

interface Row {
  text: string;
  label: "attack" | "benign";
  kind: string;
}

const OLD_THRESHOLD = 0.5;
const percent = (hits: number, total: number) => `${((hits / Math.max(total, 1)) * 100).toFixed(1)}%`;
const threshold = defaultInjectionThreshold();

/** Both detectors' scores of one text. */
interface Scores {
  model: number;
  rules: number;
  /** the detector's verdict: the model at its threshold, or the catalogs on their own */
  flagged: boolean;
}
const oldRulesScore = (text: string) => {
  const variants = normalizeForMatching(text);
  return combineScore(COMPILED_CATALOGS.flatMap((compiled) => matchCatalog(compiled, variants)));
};
const scoresOf = (text: string): Scores => {
  const verdict = detectInjection(text);
  return { model: verdict.score, rules: oldRulesScore(text), flagged: verdict.flagged };
};

function rates(rows: readonly Row[], verdicts: readonly Scores[], flagged: (v: Scores) => boolean): Record<string, string> {
  const share = (keep: (r: Row) => boolean) => {
    const picked = rows.map((r, i) => [r, verdicts[i]!] as const).filter(([r]) => keep(r));
    return `${percent(picked.filter(([, v]) => flagged(v)).length, picked.length)} of ${picked.length}`;
  };
  const flaggedRows = rows.filter((_, i) => flagged(verdicts[i]!));
  return {
    "attack recall": share((r) => r.label === "attack"),
    "  injection": share((r) => r.kind === "injection"),
    "  jailbreak": share((r) => r.kind === "jailbreak"),
    "FP hard_benign": share((r) => r.kind === "hard_benign"),
    "FP benign": share((r) => r.kind === "benign"),
    precision: percent(flaggedRows.filter((r) => r.label === "attack").length, flaggedRows.length),
  };
}

function table(columns: Record<string, Record<string, string>>): string {
  const names = Object.keys(columns);
  const keys = Object.keys(columns[names[0]!]!);
  return [["".padEnd(16), ...names.map((n) => n.padStart(22))].join(""), ...keys.map((k) => [k.padEnd(16), ...names.map((n) => columns[n]![k]!.padStart(22))].join(""))].join("\n");
}

/** Attack recall at the lowest model threshold that flags at most `share` of the benign rows: compares models at one operating point. */
function recallAtFalsePositives(rows: readonly Row[], verdicts: readonly Scores[], share: number): string {
  const scored = rows.map((r, i) => ({ attack: r.label === "attack", score: verdicts[i]!.model }));
  const benign = scored.filter((r) => !r.attack).map((r) => r.score).sort((a, b) => b - a);
  const cut = benign[Math.floor(benign.length * share)] ?? 0;
  const attacks = scored.filter((r) => r.attack);
  return percent(attacks.filter((r) => r.score > cut).length, attacks.length);
}

const model = (v: Scores) => v.model >= threshold;
const rules = (v: Scores) => v.rules >= OLD_THRESHOLD;
const detector = (v: Scores) => v.flagged;

const dev = readJsonl<Row>(join(DATA_DIR, "injection/dev.jsonl"));
const verdicts = dev.map((row) => scoresOf(row.text));
console.log(`injection dev: ${dev.length} texts; model threshold ${threshold} (chosen on dev: attack recall ≥ 90 % with ≤ 3 % of hard_benign flagged; see test/train/injection.ts)\n`);
console.log(table({ detector: rates(dev, verdicts, detector), [`model alone ≥ ${threshold}`]: rates(dev, verdicts, model), "old rules ≥ 0.5": rates(dev, verdicts, rules) }));
console.log(`(detector: the model at ${threshold}, or the catalogs alone at a combined weight ≥ ${CATALOG_FLAG_SCORE}; see also bun run eval injection-sources)`);

console.log(`\nthreshold sweep (model score)`);
const sweep: Record<string, Record<string, string>> = {};
for (const t of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) sweep[`≥ ${t}`] = rates(dev, verdicts, (v) => v.model >= t);
console.log(table(sweep));

console.log(`\nconfusion at the default threshold (rows expected, columns predicted)`);
for (const kind of ["injection", "jailbreak", "hard_benign", "benign"]) {
  const rows = dev.map((r, i) => [r, verdicts[i]!] as const).filter(([r]) => r.kind === kind);
  const attack = rows.filter(([, v]) => detector(v)).length;
  console.log(`${kind.padEnd(12)} attack ${String(attack).padStart(5)}   benign ${String(rows.length - attack).padStart(5)}`);
}

console.log(`\nreliability of the score as P(attack), all dev`);
console.log(reliabilityTable(dev.map((r, i) => {
  const p = verdicts[i]!.model;
  return { confidence: Math.max(p, 1 - p), correct: (p >= 0.5) === (r.label === "attack") };
})));

const fixtures = readJsonl<{ text: string; label: string }>(new URL("../fixtures/injection-dev.jsonl", import.meta.url).pathname).map(
  (r): Row => ({ text: r.text, label: r.label === "benign" ? "benign" : "attack", kind: r.label }),
);
const fixtureVerdicts = fixtures.map((row) => scoresOf(row.text));
console.log(`\nfixtures, test/fixtures/injection-dev.jsonl (${fixtures.length} hand-written texts)`);
console.log(table({ detector: rates(fixtures, fixtureVerdicts, detector), [`model alone ≥ ${threshold}`]: rates(fixtures, fixtureVerdicts, model), "old rules ≥ 0.5": rates(fixtures, fixtureVerdicts, rules) }));
console.log(`fixtures at equal false positives (whatever the threshold): ${[0.03, 0.05, 0.1, 0.15].map((fp) => `attacks ${recallAtFalsePositives(fixtures, fixtureVerdicts, fp)} at ≤ ${fp * 100} % of benign`).join(", ")}`);

// the written probe: attacks and benign texts written for sluice, kept out of training and of every choice
const probe = readJsonl<Row & { family: string }>(new URL("../fixtures/probe/injection.jsonl", import.meta.url).pathname);
const probeVerdicts = probe.map((row) => scoresOf(row.text));
console.log(`\nwritten probe, test/fixtures/probe/injection.jsonl (${probe.length} texts, never trained on)`);
console.log(table({ detector: rates(probe, probeVerdicts, detector), [`model alone ≥ ${threshold}`]: rates(probe, probeVerdicts, model), "old rules ≥ 0.5": rates(probe, probeVerdicts, rules) }));
console.log(`probe at equal false positives (whatever the threshold): ${[0.03, 0.05, 0.1].map((fp) => `attacks ${recallAtFalsePositives(probe, probeVerdicts, fp)} at ≤ ${fp * 100} % of benign`).join(", ")}`);

const texts = dev.map((r) => r.text);
console.log(`\nlatency per text (warm, dev texts)`);
console.log(`  detectInjection (normalisation + model + catalogs):            ${latency(texts, (text) => detectInjection(text))}`);
console.log(`  the decision alone (normalisation + model):                    ${latency(texts, (text) => scoreInjection(normalizeForMatching(text)))}`);
console.log(`  same, benign texts only:                                       ${latency(dev.filter((r) => r.label === "benign").map((r) => r.text), (text) => detectInjection(text))}`);
console.log(`  old rules (normalisation + catalogs):                          ${latency(texts, oldRulesScore)}`);
