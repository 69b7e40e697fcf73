/**
 * The topic deny-list: an operator picks topics (weapons, self_harm, medical_advice, ...) and the firewall
 * flags requests about them. Each topic is a handful of regexes in a versioned data file
 * (src/detectors/catalogs/topics.json), written like the injection catalogs: lower-case ASCII, matched against
 * every variant from normalizeForMatching, so look-alike letters, leetspeak and base64 do not slip past.
 * The patterns aim at requests for the thing ("how to build a pipe bomb"), not mentions of it ("history of the
 * atomic bomb"); each topic's description in the catalog says what it catches and what it lets through.
 */
import { Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import topicsCatalog from "./catalogs/topics.json" with { type: "json" };
import { normalizeForMatching } from "./normalize.ts";
import { RegexPrefilter } from "./regex-prefilter.ts";
import { hasUnboundedQuantifier } from "./secrets.ts";

export interface TopicHit {
  topic: string;
  /** topic#n, n counting the topic's patterns from 1: "weapons#2" */
  rule: string;
}

export interface CompiledTopics {
  readonly version: string;
  /** each topic's rules; `index` numbers every rule of the catalog, for the prefilter */
  readonly topics: ReadonlyMap<string, readonly { readonly rule: string; readonly regex: RegExp; readonly index: number }[]>;
  /** Tells which patterns' required strings a text holds (regex-prefilter.ts). */
  readonly prefilter: RegexPrefilter;
}

const TOPIC_NAME = "^[a-z][a-z0-9_]*$";

/** The shape of the catalog file; unknown keys are rejected so a misspelt field is an error, not a no-op. */
const TopicsCatalogSchema = T.Object(
  {
    catalog: T.Literal("topics"),
    version: T.String({ minLength: 1 }),
    description: T.String(),
    topics: T.Record(
      T.String({ pattern: TOPIC_NAME }),
      T.Object(
        { description: T.String(), patterns: T.Array(T.String({ minLength: 1 }), { minItems: 1 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Patterns see lower-cased ASCII; an upper-case letter outside an escape (`\W`, `\S`) could never match. */
const UPPER_CASE_LITERAL = /(?<!\\)(?<!\\p\{)(?<!\\(?:u\{?|x)[0-9A-Fa-f]{0,5})[A-Z]/;
const NON_ASCII = /[^\x00-\x7f]/;

/** Checks the catalog and compiles its regexes once; throws naming the topic and pattern at fault. */
export function compileTopicsCatalog(catalog: unknown): CompiledTopics {
  const problem = Value.Errors(TopicsCatalogSchema, catalog).First();
  if (problem) throw new Error(`topics catalog: ${problem.path || "/"} ${problem.message}`);
  const checked = catalog as typeof TopicsCatalogSchema.static;
  const topics = new Map<string, readonly { readonly rule: string; readonly regex: RegExp; readonly index: number }[]>();
  const patternsInOrder: string[] = [];
  for (const [topic, { patterns }] of Object.entries(checked.topics)) {
    if (!new RegExp(TOPIC_NAME).test(topic)) throw new Error(`topics catalog: topic name "${topic}" must match ${TOPIC_NAME}`);
    const rules = patterns.map((pattern, index) => {
      const rule = `${topic}#${index + 1}`;
      if (hasUnboundedQuantifier(pattern)) throw new Error(`topics catalog ${rule}: unbounded "*", "+" or "{n,}"; bound the gap, e.g. .{0,40}`);
      if (UPPER_CASE_LITERAL.test(pattern) || NON_ASCII.test(pattern))
        throw new Error(`topics catalog ${rule}: patterns match lower-cased ASCII text; write letters in lower case ASCII`);
      try {
        const regex = new RegExp(pattern, "u");
        patternsInOrder.push(pattern);
        return Object.freeze({ rule, regex, index: patternsInOrder.length - 1 });
      } catch (error) {
        throw new Error(`topics catalog ${rule}: ${(error as Error).message}`);
      }
    });
    topics.set(topic, Object.freeze(rules));
  }
  return Object.freeze({ version: checked.version, topics, prefilter: new RegexPrefilter(patternsInOrder) });
}

const COMPILED = compileTopicsCatalog(topicsCatalog);

export const TOPIC_NAMES: readonly string[] = Object.freeze([...COMPILED.topics.keys()]);
export const TOPICS_CATALOG_VERSION: string = COMPILED.version;

export function isTopic(name: string): boolean {
  return COMPILED.topics.has(name);
}

/**
 * The patterns of the chosen topics that match any normalised variant of `text`, each once, in the order of
 * `topics` and then of the catalog. An unknown topic name throws: config resolution checks names with isTopic,
 * so one reaching here is a bug, and silently not filtering it would fail open.
 */
export function findTopics(text: string, topics: readonly string[]): TopicHit[] {
  return findTopicsWith(COMPILED, text, topics);
}

/** findTopics over another compiled catalog (tests, or an operator's own topics). */
export function findTopicsWith(compiled: CompiledTopics, text: string, topics: readonly string[]): TopicHit[] {
  const chosen = [...new Set(topics)].map((topic) => {
    const rules = compiled.topics.get(topic);
    if (!rules) throw new Error(`unknown topic "${topic}"; known topics: ${[...compiled.topics.keys()].join(", ")}`);
    return { topic, rules };
  });
  if (chosen.length === 0) return [];
  const variants = normalizeForMatching(text);
  const found = variants.map((variant) => compiled.prefilter.scan(variant));
  const hits: TopicHit[] = [];
  for (const { topic, rules } of chosen)
    for (const { rule, regex, index } of rules)
      if (variants.some((variant, v) => compiled.prefilter.mayMatch(index, found[v]!) && regex.test(variant))) hits.push({ topic, rule });
  return hits;
}
