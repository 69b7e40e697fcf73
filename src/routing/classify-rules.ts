/**
 * The rule-based prompt classifier that `model: "auto"` used before the trained models (issue 14): a table of
 * precompiled regex signals and a few counts. Kept because its per-task scores are features of the task model
 * (they add measured dev accuracy, see test/train/router.ts), and test/eval/router.ts prints its figures next
 * to the model's.
 *
 * Scoring: every signal whose pattern matches adds its weight to its task. A match in the instruction (the
 * first line, and a short last line — where people put "summarize the above") counts in full; a match only in
 * pasted material counts a fraction, because an article full of numbers is still to be summarized, not solved.
 * The system message is looked at lightly for the same signals. The best task wins; the margin over the
 * runner-up becomes the confidence.
 */
import type { Classification, Complexity } from "./classify.ts";
import { TASK_TYPES, type TaskType } from "./task-features.ts";

/**
 * Enough to see the ask and a taste of any pasted material; the tail is kept because instructions often follow
 * it. Every signal is a pass over this text (~0.1 µs per character for the whole table), so the cap is the
 * worst-case time.
 */
const SCAN_HEAD_CHARS = 2000;
const SCAN_TAIL_CHARS = 500;
/** Past this much text the work is long-context work, whatever the ask. */
const LONG_CONTEXT_CHARS = 12_000;
const SYSTEM_SCAN_CHARS = 1000;
/** A last line longer than this is pasted material, not a trailing instruction. */
const TRAILING_INSTRUCTION_MAX_CHARS = 200;
const BODY_WEIGHT = 0.4;
const SYSTEM_WEIGHT = 0.3;
/** Chat is what is left when nothing else speaks up: "ok", "hmm", "I'm back". */
const CHAT_BASELINE = 0.6;

const HUMAN_LANGUAGES =
  "english|french|spanish|german|italian|portuguese|japanese|chinese|mandarin|cantonese|korean|russian|arabic|" +
  "hindi|dutch|swedish|norwegian|danish|finnish|polish|turkish|greek|hebrew|latin|vietnamese|thai|indonesian|ukrainian";
const PROGRAMMING_LANGUAGES =
  "python|javascript|typescript|js|ts|jsx|tsx|rust|golang|java|kotlin|swift|php|ruby|haskell|lua|perl|scala|elixir|" +
  "bash|shell|powershell|zsh|sql|postgres|mysql|sqlite|html|css|react|vue|angular|svelte|node|deno|pandas|numpy|" +
  "terraform|kubernetes|k8s|docker|dockerfile|yaml|awk|sed|regex|regexp|fastapi|django|flask|express|prisma";
const CODE_ARTIFACTS =
  "function|script|class|method|program|query|regex|regexp|component|endpoint|api|cli|one-liner|oneliner|snippet|" +
  "decorator|unit tests?|tests|dockerfile|workflow|config|module|hook|type guard|loop|service|backend|crawler|" +
  "parser|implementation|code|data class|struct|interface|schema|migration|yaml|page";
const CREATIVE_FORMS =
  "poem|poetry|haiku|sonnet|limerick|verse|lyrics|song|rap|story|stories|tale|fiction|novel|chapter|screenplay|" +
  "scene|monologue|joke|slogan|slogans|toast|eulogy|caption|bedtime|fairy tale|backstory|acrostic|fable|sketch|" +
  "dialogue|picture book|world-?building|fantasy|villain|plot twist";
const WRITTEN_PIECES =
  "letter|cover letter|email|e-mail|message|card|note|speech|bio|description|post|tweet|announcement|invitation";

const words = (alternatives: string) => `(?:${alternatives})`;

type SignalRow = readonly [task: TaskType, weight: number, pattern: RegExp];

/**
 * The signal table. Weights are relative: a "doing" verb that names the task outright (translate, summarize,
 * extract) outweighs vocabulary that merely hints at a domain, and question form alone is weak evidence,
 * because most tasks can be phrased as a question.
 */
const SIGNALS: readonly SignalRow[] = [
  // code_generation: asked to produce or change code, or code is pasted in.
  ["code_generation", 3, /```/],
  ["code_generation", 3, new RegExp(`\\b(write|implement|create|build|make|generate|give me|code|add)\\b.{0,60}\\b${words(CODE_ARTIFACTS)}\\b`, "i")],
  ["code_generation", 2.5, new RegExp(`\\b(write|implement|create|build|make|generate|port|convert|translate)\\b.{0,60}\\b(in|to|using|with)\\s+${words(PROGRAMMING_LANGUAGES)}\\b`, "i")],
  // "C function to reverse a list", "regex for zip codes": a request without a verb
  ["code_generation", 2.5, /^\s*(an? )?([\w#+]+ )?(regexp?|function|script|one-liner|query|class|method|snippet|program) (for|to|that|which)\b/im],
  ["code_generation", 2.5, /\b(refactor|debug|fix (this|my|the) (code|bug|function|error)?|fix this|add type hints|type hints|unit tests?|rewrite this (function|code))\b/i],
  ["code_generation", 1.5, new RegExp(`\\b${words(PROGRAMMING_LANGUAGES)}\\b|\\bc(\\+\\+|#)|\\bin go\\b`, "i")],
  ["code_generation", 1.5, new RegExp(`^\\s*${words(PROGRAMMING_LANGUAGES)}\\b.{0,40}\\b${words(CODE_ARTIFACTS)}\\b|\\b${words(CODE_ARTIFACTS)}\\b.{0,20}\\b(in|using)\\s+${words(PROGRAMMING_LANGUAGES)}`, "im")],
  ["code_generation", 1, /\b[a-z_]\w*\([^)]*\)|=>|\bdef \w|\bconst \w|[{};]\s*$/im],

  // math: numbers with operators, equations, and the vocabulary of calculation.
  ["math", 3, /\d\s*[+*^×÷]\s*\(?\d|\d\s+[-/]\s+\(?\d|\d\s*\^|\b\d*[a-z]\s*(\^|\*\*)\s*\d|\b\d+[a-z]\s*[-+=]\s*\d/i],
  ["math", 2.5, /\b(solve|simplify|compute|calculate|differentiate|integrate|factori[sz]e|expand|prove that|show that|evaluate the (integral|limit|sum|expression))\b/i],
  ["math", 2, /\b(derivative|integral|limit|equation|eigen\w*|matri(x|ces)|probability|primes?|polynomial|logarithm|log base|square root|sqrt|fraction|percent|standard deviation|variance|median|mean of|series|recurrence|theorem|binomial|dice|tangent line|perimeter|area of|compounded|expected value|combinations|permutations|how many ways|converge\w*|arithmetic|geometric|equal)\b/i],
  ["math", 2, /\d+(\.\d+)?\s*%\s*of\s*\d|(?<![\d/.-])\d{1,3}\/\d{1,3}(?![\d/])|=\s*\?|\bx\s*=|\b[xy]\)|\bf\(x\)/i],
  ["math", 1, /\b(how many|how much|how long until|what is \d|what's \d)\b/i],

  // analysis: weigh, compare, judge — an opinion backed by reasons is the expected answer.
  ["analysis", 3, /\b(analy[sz]e|analysis|evaluate|assess|critique|critically|appraise|swot|postmortem|post-mortem)\b/i],
  ["analysis", 2.5, /\b(compare|comparison|versus|vs\.?|trade-?offs?|pros and cons|strengths and weaknesses|advantages and disadvantages|implications|root causes?|weigh|which is better|better for|worth (it|buying)|makes? sense|good idea|overkill|good (long-term )?investment|what could explain|issues with|problems with)\b/i],
  ["analysis", 1.5, /\b(risks?|recommend\w*|prioriti[sz]\w*|why did .{0,40} (fail|succeed)|review this|threats?|dilemma|ethical|persuasive|reasoning|argument)\b/i],

  // summarization: the verb gives it away almost every time.
  ["summarization", 4, /\b(summari[sz]\w*|summary|summaries|tl;?dr|synopsis|recap|gist|sum (it |this |them )?up|condense|boil (this|it) down|key (points|takeaways)|main points)\b/i],
  ["summarization", 1, /\b(shorten|briefly|in (one|two|three|\d+) (sentences?|bullets?|bullet points|lines?))\b/i],

  // extraction: pull given facts out of given text, often into a structure.
  ["extraction", 4, /\b(extract|pull (out|the|each)|parse|grab|get (the )?\w+ out of|turn this .{0,30} into structured|structured fields)\b/i],
  ["extraction", 2.5, /\b(list|find|identify|give me)\b (all|every|each|just|the names)\b|\bwhich of these\b/i],
  ["extraction", 1.5, /\b(return (a |strict )?json|as json|json object|into (a )?(csv|json|table)|fields?|schema|markdown table)\b/i],
  ["extraction", 1, /\b(from|in|on) (this|these|the following|the text|the (email|invoice|receipt|message|log|contract|tweet|note|report))\b/i],
  ["extraction", 2.5, /\bwhat('s| is| are) the \w+( \w+)? (in|on|from) (this|these|the following)\b/i],

  // translation: the verb, "how do you say", or a human language as the destination.
  ["translation", 4, /(?<![a-z])(translat|locali[sz]|traduc|tradui|traduz|übersetz)/i],
  ["translation", 3, /\bhow (do|would|can) (you|i) say\b|\bc[oó]mo se dice\b/i],
  ["translation", 2.5, new RegExp(`\\b(in|into|to|from|for) ${words(HUMAN_LANGUAGES)}\\b|\\b${words(HUMAN_LANGUAGES)} (for|word)\\b`, "i")],
  ["translation", 1.5, /\bwhat does ['"“‘][^'"”’]+['"”’] (mean|translate)/i],
  ["translation", 1.5, /[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af\u0400-\u04ff\u0600-\u06ff\u0900-\u097f]/],

  // creative_writing: a form of imaginative writing, or a piece of prose written for someone.
  ["creative_writing", 3, new RegExp(`\\b${words(CREATIVE_FORMS)}\\b`, "i")],
  ["creative_writing", 2, new RegExp(`\\b(write|compose|draft|make up|come up with)\\b.{0,40}\\b${words(WRITTEN_PIECES)}\\b`, "i")],
  ["creative_writing", 1, /\b(write|compose|make up|come up with|continue this)\b|\b(in the style of|funny|witty|heartfelt|whimsical|catchy|evocative|tone)\b/i],

  // question_answering: a question asking for facts or an explanation.
  ["question_answering", 1.5, /^\s*(what|who|whom|when|where|which|why|how)\b/im],
  ["question_answering", 1, /^\s*(is|are|can|does|do|did|was|were|could|will|has|have)\b/im],
  ["question_answering", 1, /\?\s*$/m],
  ["question_answering", 1.5, /\b(explain|difference between|stand for|how (does|do|did|is|are) .{0,40}work|how (do|can) i|how to|what does .{0,40} (do|mean)|what causes|why (is|are|does|do)|walk me through)\b/i],

  // chat: greetings, thanks, feelings and talk about the assistant itself.
  ["chat", 3, /^\s*(hi|hello|hey|yo|hiya|howdy|greetings|good (morning|afternoon|evening|night))\b/i],
  ["chat", 2.5, /\b(how are you|how's (your|it going)|what's up|who are you|your name|are you (a|an|real)|tell me about yourself|do you (like|ever|enjoy|have)|nice to meet you|(let's|can we) (just )?(chat|talk)|(we|us) (talk|chat)|talk for a bit|i need to vent|i'm (so |really |kind of )?(bored|tired|sad|lonely|happy|back)|rough day|feeling)\b/i],
  ["chat", 2, /\b(thanks|thank you|thx|bye|goodbye|talk later|see you|sorry|never mind|nvm)\b/i],
  ["chat", 2, /^\s*you('re| are)\b/i],
  ["chat", 1.5, /^\s*(ok|okay|lol|haha|hehe|lmao|hmm+|nice|cool|ugh|yay|sounds good|interesting|that's)\b/i],
];

type ComplexityRow = readonly [points: number, pattern: RegExp];

/** Each matching pattern is one more sign of a demanding request: several steps, hard constraints, rigour. */
const COMPLEXITY_SIGNALS: readonly ComplexityRow[] = [
  [1, /\bstep[- ]by[- ]step\b|\bthen\b|\band also\b|\bfinally\b|\bafter that\b|\bplus\b/i],
  [1, /\b(must|requirements?|constraints?|make sure|at least|at most|exactly|no more than|under \d|keep (it|the|each)|don't|do not|preserv\w+|without)\b/i],
  [1, /\(\s*(\d|[a-e]|i{1,3})\s*\)|^\s*(\d+[.)]|[-*•])\s+\S/m],
  [1, /\b(each|every|for all|separately|respectively)\b/i],
  [2, /\b(prove|rigorous\w*|justify|in detail|thorough\w*|concurren\w*|thread-safe|lock-free|distributed|scalab\w*|architecture|validity|asymptotic)\b/i],
];
/**
 * Some kinds of task are harder at the same length: a dozen words asking for an analysis want a reasoned essay,
 * a dozen words asking to pull a date out of a sentence want one line.
 */
const TASK_DIFFICULTY: Record<TaskType, number> = {
  code_generation: 0,
  math: 0,
  analysis: 1,
  summarization: 0,
  extraction: -1,
  creative_writing: 0,
  translation: -1,
  question_answering: 0,
  chat: -1,
};
const SIMPLE_MAX_POINTS = 1;
const MEDIUM_MAX_POINTS = 4;

interface PromptText {
  /** The scanned user text: capped, head and tail. */
  text: string;
  /** Where the instruction usually is: the first line, plus a short last line. */
  instruction: string;
  /** Length of the whole user message, before capping: a long paste makes any task harder. */
  totalChars: number;
  system: string;
}

/** The scores of every task: the evidence the signal table finds, before the best one is picked. */
export function ruleTaskScores(user: string, system: string): Record<TaskType, number> {
  return scoreTasks(readPrompt([{ role: "system", content: system }, { role: "user", content: user }]));
}

export function classifyByRules(messages: readonly { role: string; content?: unknown }[]): Classification {
  const prompt = readPrompt(Array.isArray(messages) ? messages : []);
  const scores = scoreTasks(prompt);
  const ranked = TASK_TYPES.map((task) => ({ task, score: scores[task] })).sort((a, b) => b.score - a.score);
  const [best, second] = [ranked[0]!, ranked[1]!];
  // a margin of 1 (a weak signal's worth) gives 0.5; one strong signal over the rest gives ~0.75
  const margin = best.score - second.score;
  return {
    task: best.task,
    complexity: rateComplexity(prompt, best.task),
    confidence: Math.round((margin / (margin + 1)) * 100) / 100,
  };
}

function scoreTasks(prompt: PromptText): Record<TaskType, number> {
  const scores = Object.fromEntries(TASK_TYPES.map((task) => [task, 0])) as Record<TaskType, number>;
  scores.chat = CHAT_BASELINE;
  if (prompt.text.trim().length > 0 && prompt.text.length <= 25) scores.chat += 1; // "ok cool", "hey": short turns are mostly conversation
  for (const [task, weight, pattern] of SIGNALS) {
    if (pattern.test(prompt.instruction)) scores[task] += weight;
    else if (pattern.test(prompt.text)) scores[task] += weight * BODY_WEIGHT;
    if (prompt.system && pattern.test(prompt.system)) scores[task] += weight * SYSTEM_WEIGHT;
  }
  return scores;
}

function rateComplexity(prompt: PromptText, task: TaskType): Complexity {
  if (prompt.totalChars > LONG_CONTEXT_CHARS) return "complex";
  const instructionWords = countWords(prompt.instruction);
  const contextWords = Math.max(0, countWords(prompt.text.replace(/```[\s\S]*?(```|$)/g, " ")) - instructionWords);
  const hasCode = prompt.text.includes("```");
  // a long ask is a demanding ask; pasted material makes any ask at least medium, a lot of it more so
  const askPoints = instructionWords < 12 ? 0 : instructionWords < 25 ? 2 : instructionWords < 50 ? 3 : 4;
  const contextPoints = prompt.totalChars > 6000 || contextWords > 250 ? 3 : contextWords > 20 || hasCode ? 2 : 0;
  let points = Math.max(askPoints, contextPoints) + TASK_DIFFICULTY[task];
  // listed requirements: "with X, Y and Z, plus W" — commas and "and"s in the ask itself
  const clauses = prompt.instruction.match(/,|;| and /g)?.length ?? 0;
  points += clauses >= 8 ? 2 : clauses >= 4 ? 1 : 0;
  for (const [weight, pattern] of COMPLEXITY_SIGNALS) if (pattern.test(prompt.text)) points += weight;
  if (instructionWords + contextWords < 8) points = Math.min(points, SIMPLE_MAX_POINTS); // a handful of words is never a hard ask
  return points <= SIMPLE_MAX_POINTS ? "simple" : points <= MEDIUM_MAX_POINTS ? "medium" : "complex";
}

const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;

function readPrompt(messages: readonly { role: string; content?: unknown }[]): PromptText {
  const lastUser = findLast(messages, (m) => m?.role === "user");
  const full = lastUser ? textOf(lastUser.content) : "";
  const text =
    full.length > SCAN_HEAD_CHARS + SCAN_TAIL_CHARS
      ? `${full.slice(0, SCAN_HEAD_CHARS)}\n${full.slice(-SCAN_TAIL_CHARS)}`
      : full;
  const system = messages
    .filter((m) => m?.role === "system" || m?.role === "developer")
    .map((m) => textOf(m.content))
    .join("\n")
    .slice(0, SYSTEM_SCAN_CHARS);
  return { text, instruction: instructionOf(text), totalChars: full.length, system };
}

function instructionOf(text: string): string {
  const lines = text.split("\n").filter((line) => line.trim() !== "" && !line.trimStart().startsWith("```"));
  const first = lines[0] ?? "";
  const last = lines.length > 1 ? lines[lines.length - 1]! : "";
  return last.length > 0 && last.length <= TRAILING_INSTRUCTION_MAX_CHARS ? `${first}\n${last}` : first;
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
