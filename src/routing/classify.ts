/**
 * The built-in prompt classifier behind `model: "auto"`: guesses what kind of task a chat request is and how
 * hard it is, so the router can send it to a fitting model. Two small trained models (src/learn/, trained by
 * test/train/router.ts and complexity.ts, measured by test/eval/router.ts), no network, tens of µs per prompt:
 *   task        softmax regression over the nine task types on hashed words, word pairs and character
 *               n-grams of the last user message (its head and tail) and, weighted lower, the system prompt,
 *               plus a small network over the message's sentence vector (pretrained word vectors), the two
 *               logits added; the confidence is the top probability, temperature-calibrated on the dev set
 *   complexity  logistic regression on the same features for P(a weak model answers wrong), cut into
 *               simple / medium / complex at thresholds stored in the model file; small talk is simple
 *               (the model learned from exam questions and maths problems, which have none)
 */
import complexityModelPath from "../learn/models/complexity.bin" with { type: "file" };
import routerNetworkPath from "../learn/models/router-mlp.bin" with { type: "file" };
import routerModelPath from "../learn/models/router.bin" with { type: "file" };
import wordVectorsPath from "../learn/models/word-vectors.bin" with { type: "file" };
import { FeatureBuffer } from "../learn/features.ts";
import { lazyModel, logits, predict, softmax } from "../learn/linear-model.ts";
import { lazyMlp, mlpLogits } from "../learn/mlp.ts";
import { lazyWordVectors, sentenceVector } from "../learn/word-vectors.ts";
import { ROUTER_SENTENCE_CUT, routerFeatures, TASK_TYPES, type TaskType } from "./task-features.ts";

export { TASK_TYPES, type TaskType } from "./task-features.ts";
export type Complexity = "simple" | "medium" | "complex";

export interface Classification {
  task: TaskType;
  complexity: Complexity;
  /** 0..1, rounded to 2 decimals: the calibrated probability of the chosen task. */
  confidence: number;
}

export function isTaskType(value: unknown): value is TaskType {
  return typeof value === "string" && (TASK_TYPES as readonly string[]).includes(value);
}

/** Past this much text the work is long-context work, whatever the ask: only a long-context model will do. */
const LONG_CONTEXT_CHARS = 12_000;

const routerModel = lazyModel(routerModelPath);
const routerNetwork = lazyMlp(routerNetworkPath);
const wordVectors = lazyWordVectors(wordVectorsPath);
const complexityModel = lazyModel(complexityModelPath);
// classification is synchronous and single-threaded, so one set of buffers serves every call
const buffer = new FeatureBuffer();
const linearScores = new Float64Array(TASK_TYPES.length);
const denseScores = new Float64Array(TASK_TYPES.length);
let sentence: Float32Array<ArrayBuffer> | undefined;

export function classifyPrompt(messages: readonly { role: string; content?: unknown }[]): Classification {
  const list = Array.isArray(messages) ? messages : [];
  const lastUser = findLast(list, (m) => m?.role === "user");
  const user = lastUser ? textOf(lastUser.content) : "";
  if (user.trim() === "") return { task: "chat", complexity: "simple", confidence: 0.5 };
  const system = list
    .filter((m) => m?.role === "system" || m?.role === "developer")
    .map((m) => textOf(m.content))
    .join("\n");

  const features = routerFeatures(user, system, buffer.clear());
  const probabilities = taskProbabilities(user, features);
  let best = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c]! > probabilities[best]!) best = c;
  return {
    task: TASK_TYPES[best]!,
    complexity: TASK_TYPES[best] === "chat" && user.length <= LONG_CONTEXT_CHARS ? "simple" : rateComplexity(user, features),
    confidence: Math.round(probabilities[best]! * 100) / 100,
  };
}

/** softmax((linear + denseWeight × network logits) / temperature): the temperature in router.bin is the sum's. */
function taskProbabilities(user: string, features: FeatureBuffer): Float64Array {
  const linear = routerModel();
  const network = routerNetwork();
  sentence = sentenceVector(wordVectors(), user, ROUTER_SENTENCE_CUT, sentence);
  logits(linear, features, linearScores);
  mlpLogits(network, sentence, denseScores);
  const weight = network.header.extra.denseWeight ?? 1;
  for (let c = 0; c < linearScores.length; c++) linearScores[c]! += weight * denseScores[c]!;
  return softmax(linearScores, linear.header.temperature);
}

function rateComplexity(user: string, features: FeatureBuffer): Complexity {
  if (user.length > LONG_CONTEXT_CHARS) return "complex";
  const model = complexityModel();
  const weakWrong = predict(model, features)[1]!;
  return weakWrong < model.header.extra.simpleBelow! ? "simple" : weakWrong < model.header.extra.complexFrom! ? "medium" : "complex";
}

/** String content, or the text parts of a content-part array; images and anything unknown contribute nothing. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : ""))
    .filter(Boolean)
    .join("\n");
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return items[i];
  return undefined;
}
