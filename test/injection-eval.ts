/**
 * Detection and false-positive rates of the rule-based injection / jailbreak detector (src/detectors/injection.ts)
 * on the labeled development set.
 *
 *   bun test/injection-eval.ts            rates per split, timing
 *   bun test/injection-eval.ts --misses   also list the misses and false positives of the tuning split
 *
 * The set, test/fixtures/injection-dev.jsonl, was written by hand for this project (licence: the same as the
 * project) before the rules, and shuffled with a fixed seed. Lines whose 0-based index % 4 === 3 are the held-out
 * split: the rules are tuned on the other lines only, so the held-out figures are the honest ones, and --misses
 * never lists held-out lines.
 */
import { readFileSync } from "node:fs";
import { detectInjection, type InjectionVerdict } from "../src/detectors/injection.ts";

export type InjectionLabel = "injection" | "jailbreak" | "benign";

export interface LabeledText {
  text: string;
  label: InjectionLabel;
  source: string;
}

const LABELS: readonly InjectionLabel[] = ["injection", "jailbreak", "benign"];
export const DEV_SET_PATH = new URL("./fixtures/injection-dev.jsonl", import.meta.url);

export const isHeldOut = (index: number) => index % 4 === 3;
export const isAttack = (row: LabeledText) => row.label !== "benign";

export function loadDevSet(): LabeledText[] {
  return readFileSync(DEV_SET_PATH, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, index) => {
      const row = JSON.parse(line) as Partial<LabeledText>;
      if (typeof row.text !== "string" || !LABELS.includes(row.label as InjectionLabel) || typeof row.source !== "string")
        throw new Error(`injection-dev.jsonl line ${index + 1}: needs text, label injection|jailbreak|benign and source`);
      return row as LabeledText;
    });
}

export interface EvalRow extends LabeledText {
  index: number;
  verdict: InjectionVerdict;
}

export interface Rates {
  attacks: number;
  detected: number;
  benign: number;
  falsePositives: number;
}

export function rates(rows: readonly EvalRow[]): Rates {
  const attacks = rows.filter(isAttack);
  const benign = rows.filter((row) => !isAttack(row));
  return {
    attacks: attacks.length,
    detected: attacks.filter((row) => row.verdict.flagged).length,
    benign: benign.length,
    falsePositives: benign.filter((row) => row.verdict.flagged).length,
  };
}

export const evaluate = (set: readonly LabeledText[]): EvalRow[] => set.map((row, index) => ({ ...row, index, verdict: detectInjection(row.text) }));

const percent = (part: number, whole: number) => `${((part / Math.max(whole, 1)) * 100).toFixed(1)}% (${part}/${whole})`;

function main() {
  const set = loadDevSet();
  const results = evaluate(set);

  // time on a warm JIT: the pass above includes regex compilation and tier-up
  const timesUs: number[] = [];
  for (let round = 0; round < 20; round++)
    for (const row of set) {
      const started = Bun.nanoseconds();
      detectInjection(row.text);
      timesUs.push((Bun.nanoseconds() - started) / 1000);
    }
  timesUs.sort((a, b) => a - b);
  const meanUs = timesUs.reduce((sum, t) => sum + t, 0) / timesUs.length;
  const p99Us = timesUs[Math.min(timesUs.length - 1, Math.floor(timesUs.length * 0.99))]!;
  const meanChars = set.reduce((sum, row) => sum + row.text.length, 0) / set.length;

  const tuning = results.filter((row) => !isHeldOut(row.index));
  const heldOut = results.filter((row) => isHeldOut(row.index));
  console.log(`dev set: ${set.length} texts (${tuning.length} tuning, ${heldOut.length} held out)\n`);
  console.log("split        detection rate        false-positive rate");
  for (const [name, rows] of [["tuning", tuning], ["held out", heldOut], ["all", results]] as const) {
    const r = rates(rows);
    console.log(`${name.padEnd(12)} ${percent(r.detected, r.attacks).padEnd(21)} ${percent(r.falsePositives, r.benign)}`);
  }
  for (const label of ["injection", "jailbreak"] as const) {
    const rows = results.filter((row) => row.label === label);
    console.log(`detection, ${label} only (all): ${percent(rows.filter((row) => row.verdict.flagged).length, rows.length)}`);
  }
  console.log(`\ndetection time (warm, ${timesUs.length} calls, mean ${meanChars.toFixed(0)} chars): mean ${meanUs.toFixed(1)} µs per prompt, p99 ${p99Us.toFixed(1)} µs`);

  if (process.argv.includes("--misses")) {
    console.log("\ntuning split only, misses (attacks not flagged) and false positives:");
    for (const row of tuning.filter((row) => isAttack(row) !== row.verdict.flagged))
      console.log(
        `#${row.index} ${row.label} score ${row.verdict.score.toFixed(2)} [${row.verdict.hits.map((hit) => hit.rule).join(", ")}]: ${JSON.stringify(row.text.slice(0, 140))}`,
      );
  }
}

if (import.meta.main) main();
