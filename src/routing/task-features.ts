/**
 * What the `auto` router's models see of a prompt (src/routing/classify.ts at runtime, test/train/router.ts and
 * test/train/complexity.ts when training): the task types and the feature settings of both models. Kept apart
 * from classify.ts, which loads the model files, so training can run before any model file exists.
 */
import { addNamedFeatures, addTextFeatures, cutText, type FeatureBuffer, type FeatureConfig } from "../learn/features.ts";
import { ruleTaskScores } from "./classify-rules.ts";

export const TASK_TYPES = [
  "code_generation",
  "math",
  "analysis",
  "summarization",
  "extraction",
  "creative_writing",
  "translation",
  "question_answering",
  "chat",
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/**
 * The head and tail hold the ask and a taste of any pasted material; the cap bounds the time per prompt. Both
 * models (task and complexity) read the same features, computed once per prompt. No shape buckets (length,
 * line count, fences): they told the training sources apart rather than the tasks (dev arena-hard +2.5 points
 * without them).
 */
export const ROUTER_FEATURES: FeatureConfig = { bucketBits: 16, headChars: 1500, tailChars: 500, shape: false };
/**
 * What the dense network reads (src/learn/word-vectors.ts): the ends only, where the ask is. The whole
 * 1,500 + 500 characters cost ~2.5× the time (p99 ~240 µs) for the same dev accuracy within noise.
 */
export const ROUTER_SENTENCE_CUT: FeatureConfig = { bucketBits: 0, headChars: 600, tailChars: 200 };
/** A system prompt nudges an ambiguous turn ("You are a translator…") without outvoting a clear one. */
const SYSTEM_WEIGHT = 0.3;
const SYSTEM_SCAN_CHARS = 1000;

/**
 * The old signal table's verdict as features: which task it scores highest, and each task's score (capped).
 * They carry hand-written knowledge the training sources lack and measured +N points on dev arena-hard.
 */
export const RULE_FEATURES = process.env.SLUICE_ROUTER_RULES !== "0";
const RULE_SCORE_CAP = 6;
/**
 * The regex table reads less than the model: ~90 patterns over 2,000 characters were 600 µs at p99, over 800 they
 * are ~400 µs, and the ask is at the ends anyway (dev accuracy unchanged: arena-hard 70.7 → 70.5 %).
 */
const RULE_SCAN: FeatureConfig = { bucketBits: 0, headChars: 400, tailChars: 150 };

export function routerFeatures(user: string, system: string, out: FeatureBuffer, config = ROUTER_FEATURES): FeatureBuffer {
  const cut = cutText(user, config);
  addTextFeatures(cut, config, out);
  if (system) addTextFeatures(system.slice(0, SYSTEM_SCAN_CHARS), config, out, SYSTEM_WEIGHT);
  if (RULE_FEATURES) {
    const scores = ruleTaskScores(cutText(user, RULE_SCAN), system);
    let best: TaskType = "chat";
    for (const task of TASK_TYPES) {
      if (scores[task] > scores[best]) best = task;
      if (scores[task] > 0) addNamedFeatures([`rule:${task}`], config, out, Math.min(scores[task], RULE_SCORE_CAP) / RULE_SCORE_CAP);
    }
    addNamedFeatures([`ruletop:${best}`], config, out);
  }
  return out;
}
