/**
 * The `auto` router's classifier (src/routing/classify.ts) on the dev sets, next to the rule-based classifier
 * it replaced (src/routing/classify-rules.ts, whose scores are now features of the model):
 *   task        accuracy on dev subsets `split` and `arena-hard`, per-class precision / recall, confusion
 *               matrix, reliability table of the confidence, latency per prompt
 *   complexity  on the held-out tenth of complexity.jsonl: AUC of P(weak model wrong), and how often the weak
 *               and the strong model were right in each band
 *   fixtures    test/fixtures/routing-prompts.jsonl (hand-written, with complexity labels)
 *   probe       test/fixtures/probe/router.jsonl: 405 prompts written for sluice in the style of real users
 *               (casual, long pasted material, LaTeX, ~10 % in other languages), 45 per task, kept out of training
 *               and not used to choose settings: a second held-out figure beside dev arena-hard
 */
import { join } from "node:path";
import { classifyByRules } from "../../src/routing/classify-rules.ts";
import { classifyPrompt, TASK_TYPES, type Classification, type TaskType } from "../../src/routing/classify.ts";
import { auc, splitComplexity, type ComplexityRow } from "../train/complexity.ts";
import { DATA_DIR, readJsonl, reliabilityTable } from "../train/lib/softmax.ts";
import { latency } from "./lib/latency.ts";

type Classifier = (text: string) => Classification;
const classifiers: Record<string, Classifier> = {
  model: (text) => classifyPrompt([{ role: "user", content: text }]),
  "old rules": (text) => classifyByRules([{ role: "user", content: text }]),
};

interface DevRow {
  text: string;
  label: TaskType;
  subset: string;
}

const percent = (hits: number, total: number) => `${((hits / Math.max(total, 1)) * 100).toFixed(1)}%`;
const short = (task: string) => task.split("_").map((word) => word.slice(0, 4)).join("_").slice(0, 9);

function confusion(rows: readonly { expected: TaskType; predicted: TaskType }[]): string {
  const counts = new Map<string, number>();
  for (const { expected, predicted } of rows) counts.set(`${expected}>${predicted}`, (counts.get(`${expected}>${predicted}`) ?? 0) + 1);
  const header = "expected \\ predicted".padEnd(20) + TASK_TYPES.map((task) => short(task).padStart(10)).join("");
  const lines = TASK_TYPES.map((e) => e.padEnd(20) + TASK_TYPES.map((p) => String(counts.get(`${e}>${p}`) ?? ".").padStart(10)).join(""));
  return [header, ...lines].join("\n");
}

function perClass(rows: readonly { expected: TaskType; predicted: TaskType }[]): string {
  const lines = ["task                 precision  recall      n"];
  for (const task of TASK_TYPES) {
    const predicted = rows.filter((r) => r.predicted === task);
    const actual = rows.filter((r) => r.expected === task);
    const hits = actual.filter((r) => r.predicted === task).length;
    lines.push(`${task.padEnd(20)} ${percent(hits, predicted.length).padStart(9)} ${percent(hits, actual.length).padStart(7)} ${String(actual.length).padStart(6)}`);
  }
  return lines.join("\n");
}

const dev = readJsonl<DevRow>(join(DATA_DIR, "routing/dev.jsonl"));
console.log(`routing dev: ${dev.length} prompts (${dev.filter((r) => r.subset === "split").length} split, ${dev.filter((r) => r.subset === "arena-hard").length} arena-hard)`);
const summary: string[] = [];
for (const [name, classify] of Object.entries(classifiers)) {
  const results = dev.map((row) => {
    const result = classify(row.text);
    return { ...row, expected: row.label, predicted: result.task, confidence: result.confidence, correct: result.task === row.label };
  });
  const bySubset = (subset: string) => results.filter((r) => r.subset === subset);
  const accuracy = (rows: typeof results) => percent(rows.filter((r) => r.correct).length, rows.length);
  console.log(`\n## ${name}: task accuracy split ${accuracy(bySubset("split"))}, arena-hard ${accuracy(bySubset("arena-hard"))}, all ${accuracy(results)}`);
  for (const subset of ["split", "arena-hard"]) {
    console.log(`\n${name}, ${subset}: per class\n${perClass(bySubset(subset))}`);
    console.log(`\n${name}, ${subset}: confusion (rows expected, columns predicted)\n${confusion(bySubset(subset))}`);
  }
  console.log(`\n${name}: reliability of the confidence, all dev\n${reliabilityTable(results)}`);
  const time = latency(dev.map((r) => r.text), classify);
  console.log(`\n${name}: latency per prompt (warm, dev prompts) ${time}`);
  summary.push(`${name.padEnd(10)} task split ${accuracy(bySubset("split"))}, arena-hard ${accuracy(bySubset("arena-hard"))}; ${time}`);
}

// complexity
const { heldOut } = splitComplexity(readJsonl<ComplexityRow>(join(DATA_DIR, "routing/complexity.jsonl")));
console.log(`\n## complexity, held-out tenth of complexity.jsonl (${heldOut.length} questions; weak model right on ${percent(heldOut.filter((r) => r.weak_correct).length, heldOut.length)})`);
for (const [name, classify] of Object.entries(classifiers)) {
  const bands = heldOut.map((row) => classify(row.text).complexity);
  const lines = (["simple", "medium", "complex"] as const).map((band) => {
    const rows = heldOut.filter((_, i) => bands[i] === band);
    return `  ${band.padEnd(8)} ${String(rows.length).padStart(5)}: weak right ${percent(rows.filter((r) => r.weak_correct).length, rows.length)}, strong right ${percent(rows.filter((r) => r.strong_correct).length, rows.length)}`;
  });
  const rank = bands.map((band) => ["simple", "medium", "complex"].indexOf(band));
  const rankAuc = auc(rank, heldOut.map((r) => !r.weak_correct));
  console.log(`${name}: AUC of the band for "weak model wrong" ${rankAuc.toFixed(3)}\n${lines.join("\n")}`);
  summary.push(`${name.padEnd(10)} complexity band AUC (weak wrong) ${rankAuc.toFixed(3)}`);
}

// the hand-written fixture set
const fixtures = readJsonl<{ prompt: string; task: TaskType; complexity: string }>(new URL("../fixtures/routing-prompts.jsonl", import.meta.url).pathname);
console.log(`\n## fixtures, test/fixtures/routing-prompts.jsonl (${fixtures.length} prompts)`);
for (const [name, classify] of Object.entries(classifiers)) {
  const results = fixtures.map((row) => classify(row.prompt));
  const line = `task ${percent(results.filter((r, i) => r.task === fixtures[i]!.task).length, fixtures.length)}, complexity label agreement ${percent(results.filter((r, i) => r.complexity === fixtures[i]!.complexity).length, fixtures.length)}`;
  console.log(`${name}: ${line}`);
  summary.push(`${name.padEnd(10)} fixtures ${line}`);
}
// the written probe: prompts written for sluice in the style of real users, never trained on or tuned to
const probe = readJsonl<{ text: string; label: TaskType }>(new URL("../fixtures/probe/router.jsonl", import.meta.url).pathname);
console.log(`\n## written probe, test/fixtures/probe/router.jsonl (${probe.length} prompts, never trained on)`);
for (const [name, classify] of Object.entries(classifiers)) {
  const results = probe.map((row) => ({ expected: row.label, predicted: classify(row.text).task }));
  const line = `task ${percent(results.filter((r) => r.expected === r.predicted).length, results.length)}`;
  console.log(`\n${name}: ${line}\n${perClass(results)}\n\n${name}, probe: confusion (rows expected, columns predicted)\n${confusion(results)}`);
  summary.push(`${name.padEnd(10)} written probe ${line}`);
}
console.log(`\n## summary\n${summary.join("\n")}`);
