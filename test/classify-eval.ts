/**
 * Accuracy of the built-in prompt classifier (src/routing/classify.ts) on the labeled prompt set.
 *
 *   bun test/classify-eval.ts             accuracy, confusion matrix, timing
 *   bun test/classify-eval.ts --misses    also list the misclassified prompts of the tuning split
 *
 * The prompt set, test/fixtures/routing-prompts.jsonl, was written by hand for this project (licence: the same
 * as the project). Lines whose 0-based index % 5 === 4 are the held-out split: the classifier is tuned on the
 * other lines only, so the held-out figure is the honest one. That is also why --misses never lists held-out
 * prompts.
 */
import { readFileSync } from "node:fs";
import { classifyPrompt, isTaskType, TASK_TYPES, type Classification, type Complexity, type TaskType } from "../src/routing/classify.ts";

export interface LabeledPrompt {
  prompt: string;
  task: TaskType;
  complexity: Complexity;
}

const COMPLEXITIES: readonly Complexity[] = ["simple", "medium", "complex"];
export const PROMPT_SET_PATH = new URL("./fixtures/routing-prompts.jsonl", import.meta.url);

export const isHeldOut = (index: number) => index % 5 === 4;

export function loadPromptSet(): LabeledPrompt[] {
  return readFileSync(PROMPT_SET_PATH, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, index) => {
      const row = JSON.parse(line) as Partial<LabeledPrompt>;
      if (typeof row.prompt !== "string" || !isTaskType(row.task) || !COMPLEXITIES.includes(row.complexity as Complexity))
        throw new Error(`routing-prompts.jsonl line ${index + 1}: needs prompt, a known task and simple|medium|complex`);
      return row as LabeledPrompt;
    });
}

export const classifyText = (prompt: string): Classification => classifyPrompt([{ role: "user", content: prompt }]);

function accuracy(rows: readonly { correct: boolean }[]): string {
  const hits = rows.filter((row) => row.correct).length;
  return `${((hits / Math.max(rows.length, 1)) * 100).toFixed(1)}% (${hits}/${rows.length})`;
}

function confusionMatrix(rows: readonly { expected: TaskType; predicted: TaskType }[]): string {
  const counts = new Map<string, number>();
  for (const { expected, predicted } of rows) counts.set(`${expected}>${predicted}`, (counts.get(`${expected}>${predicted}`) ?? 0) + 1);
  // columns are abbreviated so the table fits a terminal; the legend is the row labels
  const short = (task: TaskType) => task.split("_").map((word) => word.slice(0, 4)).join("_").slice(0, 9);
  const labelWidth = Math.max(...TASK_TYPES.map((task) => task.length)) + 2;
  const header = "expected \\ predicted".padEnd(labelWidth) + TASK_TYPES.map((task) => short(task).padStart(10)).join("");
  const lines = TASK_TYPES.map(
    (expected) =>
      expected.padEnd(labelWidth) +
      TASK_TYPES.map((predicted) => String(counts.get(`${expected}>${predicted}`) ?? ".").padStart(10)).join(""),
  );
  return [header, ...lines].join("\n");
}

function main() {
  const set = loadPromptSet();
  const results = set.map((row, index) => {
    const started = Bun.nanoseconds();
    const result = classifyText(row.prompt);
    const elapsedUs = (Bun.nanoseconds() - started) / 1000;
    return { ...row, index, result, elapsedUs, expected: row.task, predicted: result.task, correct: result.task === row.task };
  });

  // time again on a warm JIT: the first pass above includes regex compilation and tier-up
  const timesUs: number[] = [];
  for (let round = 0; round < 20; round++)
    for (const row of set) {
      const started = Bun.nanoseconds();
      classifyText(row.prompt);
      timesUs.push((Bun.nanoseconds() - started) / 1000);
    }
  timesUs.sort((a, b) => a - b);
  const meanUs = timesUs.reduce((sum, t) => sum + t, 0) / timesUs.length;
  const p99Us = timesUs[Math.min(timesUs.length - 1, Math.floor(timesUs.length * 0.99))]!;
  const coldMaxUs = Math.max(...results.map((r) => r.elapsedUs));

  const tuning = results.filter((r) => !isHeldOut(r.index));
  const heldOut = results.filter((r) => isHeldOut(r.index));
  console.log(`prompt set: ${set.length} prompts (${tuning.length} tuning, ${heldOut.length} held out)\n`);
  console.log(`task accuracy, tuning split:   ${accuracy(tuning)}`);
  console.log(`task accuracy, held-out split: ${accuracy(heldOut)}`);
  console.log(`task accuracy, all:            ${accuracy(results)}`);
  const complexityRows = (rows: typeof results) => rows.map((r) => ({ correct: r.result.complexity === r.complexity }));
  console.log(`complexity accuracy, tuning:   ${accuracy(complexityRows(tuning))}`);
  console.log(`complexity accuracy, held out: ${accuracy(complexityRows(heldOut))}`);
  console.log(`complexity accuracy, all:      ${accuracy(complexityRows(results))}`);
  const offByTwo = results.filter((r) => Math.abs(COMPLEXITIES.indexOf(r.result.complexity) - COMPLEXITIES.indexOf(r.complexity)) === 2);
  console.log(`complexity off by two levels:  ${offByTwo.length}`);

  const confident = results.filter((r) => r.result.confidence >= 0.5);
  const unsure = results.filter((r) => r.result.confidence < 0.5);
  console.log(`task accuracy, confidence >= 0.5: ${accuracy(confident)}; < 0.5: ${accuracy(unsure)}`);

  console.log(`\ntask confusion matrix, all prompts (rows = expected, columns = predicted)\n`);
  console.log(confusionMatrix(results));

  console.log(`\nclassification time (warm, ${timesUs.length} calls): mean ${meanUs.toFixed(1)} µs, p99 ${p99Us.toFixed(1)} µs; first-call max ${coldMaxUs.toFixed(1)} µs`);

  if (process.argv.includes("--misses")) {
    console.log("\nmisclassified, tuning split only:");
    for (const r of tuning.filter((r) => !r.correct || r.result.complexity !== r.complexity))
      console.log(
        `#${r.index} ${r.expected}/${r.complexity} -> ${r.predicted}/${r.result.complexity} (${r.result.confidence}): ${JSON.stringify(r.prompt.slice(0, 110))}`,
      );
  }
}

if (import.meta.main) main();
