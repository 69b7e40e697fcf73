// The optional classifier model for `auto` (`auto.classifier: {backend}`): a small model asked for the task and
// complexity as JSON. Anything else — an error, a timeout, an answer that does not parse — falls back to the
// built-in classifier, so a broken classifier model never fails a request.
import type { Backend } from "../config/resolve.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { chatCompletion } from "../upstream/client.ts";
import { TASK_TYPES, classifyPrompt, isTaskType, type Classification, type Complexity } from "./classify.ts";
import { textOf } from "../pipeline/template.ts";
import { sideCallCostMicros } from "../billing/cost.ts";

type Message = { role: string; content?: unknown };

export interface ClassifierResult extends Classification {
  /** `builtin`, or `model:<backend>` when the classifier model answered. */
  classifier: string;
  /** What asking the classifier model cost, billed to the request (also when its answer was not usable). */
  costMicros?: number;
}

const PROMPT_CHARS = 2_000;
const INSTRUCTIONS =
  `Classify the user's request for a model router. Reply with JSON only, no prose: ` +
  `{"task": one of ${TASK_TYPES.map((task) => `"${task}"`).join(", ")}, "complexity": "simple" | "medium" | "complex", "confidence": 0..1}`;

export async function classifyWith(backend: Backend | undefined, timeoutMs: number, messages: readonly Message[], signal?: AbortSignal): Promise<ClassifierResult> {
  if (!backend) return { ...classifyPrompt(messages), classifier: "builtin" };
  const lastUser = [...messages].reverse().find((message) => message.role === "user");
  const call = new UpstreamCall(signal);
  const started = performance.now();
  let costMicros = 0;
  try {
    const body = JSON.stringify({
      model: backend.upstreamModel,
      messages: [
        { role: "system", content: INSTRUCTIONS },
        { role: "user", content: textOf(lastUser?.content).slice(0, PROMPT_CHARS) },
      ],
      temperature: 0,
      max_tokens: 60,
      stream: false,
    });
    const answer = (await chatCompletion({ ...backend, timeoutMs }, body, call)) as Parameters<typeof sideCallCostMicros>[2];
    costMicros = sideCallCostMicros(backend.pricing, body, answer, performance.now() - started);
    const parsed = parseVerdict(answer.choices?.[0]?.message?.content);
    if (parsed) return { ...parsed, classifier: `model:${backend.id}`, costMicros };
  } catch {
    // fall back below
  } finally {
    call.clear();
  }
  return { ...classifyPrompt(messages), classifier: "builtin", costMicros };
}

/** The JSON object in the model's answer (from its first `{` to its last `}`), if it names a known task and complexity. */
export function parseVerdict(content: unknown): Classification | undefined {
  if (typeof content !== "string") return undefined;
  const start = content.indexOf("{");
  const end = content.lastIndexOf("}");
  if (start === -1 || end <= start) return undefined;
  let verdict: { task?: unknown; complexity?: unknown; confidence?: unknown };
  try {
    verdict = JSON.parse(content.slice(start, end + 1));
  } catch {
    return undefined;
  }
  if (!isTaskType(verdict.task) || !isComplexity(verdict.complexity)) return undefined;
  const confidence = typeof verdict.confidence === "number" && verdict.confidence >= 0 && verdict.confidence <= 1 ? verdict.confidence : 0.8;
  return { task: verdict.task, complexity: verdict.complexity, confidence: Math.round(confidence * 100) / 100 };
}

function isComplexity(value: unknown): value is Complexity {
  return value === "simple" || value === "medium" || value === "complex";
}
