// A firewall's rules, compiled once per config load: each looks at the conversation's text (system, user, tool and
// developer messages) and reports what it found. Catalog rules for injection, jailbreaks and topics match
// normalised text (case, look-alikes, zero-width characters, leetspeak, base64: see detectors/normalize.ts) and so
// have no spans; secrets, PII, regex and keyword rules report spans in the original text, which `redact` masks.
import type { FirewallRuleConfig } from "../config/schema.ts";
import { catalogsFlag, COMPILED_CATALOGS, defaultInjectionThreshold, matchCatalog, scoreInjection, type ModelVerdict } from "../detectors/injection.ts";
import { cutVariants } from "../detectors/injection-features.ts";
import { structuralHits } from "../detectors/injection-structure.ts";
import { findSecrets } from "../detectors/secrets.ts";
import { findTopics, isTopic, TOPIC_NAMES } from "../detectors/topics.ts";
import { findPii, type PiiKind } from "../detectors/pii.ts";
import piiCatalog from "../detectors/catalogs/pii.json" with { type: "json" };
import { normalizeForMatching } from "../detectors/normalize.ts";
import { GUESSABLE_LANGUAGES, guessLanguage } from "../detectors/language.ts";

export type FirewallAction = "block" | "redact" | "flag";

/** One text of the conversation: a message's string content or one of its text parts. */
export interface TextPiece {
  message: number;
  part: number;
  role: string;
  text: string;
}

export interface Span {
  piece: number;
  start: number;
  end: number;
}

export interface RuleHit {
  rule: string;
  action: FirewallAction;
  /** What matched, by name (catalog rule ids, PII kinds, topics) — never the matched text. */
  signals: string[];
  spans: Span[];
}

/** The conversation as the rules see it; the normalised variants are computed once, when a rule needs them. */
export class Conversation {
  private variants: string[] | undefined;

  constructor(readonly pieces: TextPiece[]) {}

  get normalised(): string[] {
    return (this.variants ??= normalizeConversation(this.pieces));
  }

  /** The user's own words, for rules about the user (language). */
  get userText(): string {
    return this.pieces.filter((piece) => piece.role === "user").map((piece) => piece.text).join("\n");
  }

  get length(): number {
    return this.pieces.reduce((sum, piece) => sum + piece.text.length, 0);
  }
}

export interface CompiledRule {
  readonly name: string;
  readonly action: FirewallAction;
  check(conversation: Conversation): RuleHit | undefined;
}

/** The injection verdict of a conversation, computed once however many injection rules a firewall has. */
const injectionVerdicts = new WeakMap<Conversation, ModelVerdict>();
const injectionVerdictOf = (conversation: Conversation) => {
  let verdict = injectionVerdicts.get(conversation);
  if (!verdict) injectionVerdicts.set(conversation, (verdict = scoreInjection(conversation.normalised)));
  return verdict;
};
/** The structural rules (detectors/injection-structure.ts) over each piece's own text, each rule once. */
const structuralHitsOf = (conversation: Conversation) => {
  const hits = conversation.pieces.flatMap((piece) => structuralHits(piece.text));
  return hits.filter((hit, index) => hits.findIndex((other) => other.rule === hit.rule) === index);
};
const compiledCatalogs = new Map(COMPILED_CATALOGS.map((compiled) => [compiled.catalog, compiled]));

/** Compiles one rule; problems are reported with the rule's YAML path. */
export function compileRule(config: FirewallRuleConfig, defaultAction: "block" | "flag", path: string, problems: string[]): CompiledRule | undefined {
  const kinds = [config.catalog, config.regex, config.keywords, config.max_prompt_chars, config.languages].filter((value) => value !== undefined).length;
  if (kinds !== 1) {
    problems.push(`${path}: a rule needs exactly one of catalog, regex, keywords, max_prompt_chars, languages`);
    return undefined;
  }
  const action = config.action ?? defaultAction;
  const spanless = config.catalog === "prompt_injection" || config.catalog === "jailbreak" || config.catalog === "topics" || config.max_prompt_chars !== undefined || config.languages !== undefined;
  if (action === "redact" && spanless) {
    problems.push(`${path}.action: redact needs a rule that finds the text to mask (secrets, pii, regex, keywords)`);
    return undefined;
  }
  const rule = (name: string, check: (conversation: Conversation) => Omit<RuleHit, "rule" | "action"> | undefined): CompiledRule => {
    const ruleName = config.name ?? name;
    return { name: ruleName, action, check: (conversation) => {
      const found = check(conversation);
      return found && { rule: ruleName, action, ...found };
    } };
  };

  if (config.catalog === "prompt_injection" || config.catalog === "jailbreak") {
    // the model scores attacks of both kinds; a rule triggers for its own kind, or when its catalog also
    // matched; the catalog's rules name what was seen. Below the threshold the catalog still triggers the rule
    // on its own when its hits flag the text (catalogsFlag, see detectors/injection.ts: it catches
    // attacks of kinds the model was not trained on)
    const catalog = compiledCatalogs.get(config.catalog)!;
    const kind = config.catalog === "prompt_injection" ? "injection" : "jailbreak";
    const threshold = config.threshold ?? defaultInjectionThreshold();
    return rule(config.catalog, (conversation) => {
      const verdict = injectionVerdictOf(conversation);
      const own = matchCatalog(catalog, cutVariants(conversation.normalised));
      if (kind === "injection") own.push(...structuralHitsOf(conversation));
      if (verdict.score < threshold) return catalogsFlag(own) ? { signals: own.map((hit) => hit.rule), spans: [] } : undefined;
      if (verdict.kind !== kind && !own.length) return undefined;
      return { signals: [...own.map((hit) => hit.rule), "model"], spans: [] };
    });
  }
  if (config.catalog === "topics") {
    const topics = config.topics ?? [];
    const unknown = topics.filter((topic) => !isTopic(topic));
    if (!topics.length || unknown.length) {
      problems.push(`${path}.topics: ${unknown.length ? `unknown ${unknown.join(", ")}; ` : ""}choose from ${TOPIC_NAMES.join(", ")}`);
      return undefined;
    }
    return rule("topics", (conversation) => {
      const hits = findTopics(conversation.normalised.join("\n"), topics);
      return hits.length ? { signals: [...new Set(hits.map((hit) => hit.topic))], spans: [] } : undefined;
    });
  }
  if (config.catalog === "secrets") {
    return rule("secrets", (conversation) => spanned(conversation, (text) => findSecrets(text).map((m) => ({ ...m, signal: m.rule }))));
  }
  if (config.catalog === "pii") {
    const known = piiCatalog.kinds.map((kind) => kind.id);
    const wanted = config.kinds ?? known;
    const unknown = wanted.filter((kind) => !known.includes(kind));
    if (unknown.length) {
      problems.push(`${path}.kinds: unknown ${unknown.join(", ")}; choose from ${known.join(", ")}`);
      return undefined;
    }
    const piiKinds = wanted as PiiKind[];
    return rule("pii", (conversation) => spanned(conversation, (text) => findPii(text, { kinds: piiKinds }).map((m) => ({ ...m, signal: m.kind }))));
  }
  if (config.regex !== undefined) {
    const regex = compileRegex(config.regex, `${path}.regex`, problems);
    if (!regex) return undefined;
    return rule("regex", (conversation) => spanned(conversation, (text) => [...text.matchAll(regex)].filter((m) => m[0].length).map((m) => ({ start: m.index, end: m.index + m[0].length, signal: "regex" }))));
  }
  if (config.keywords !== undefined) {
    const keywords = new RegExp(`(?<![\\p{L}\\p{N}])(?:${config.keywords.map(escapeRegex).join("|")})(?![\\p{L}\\p{N}])`, "giu");
    return rule("keywords", (conversation) => spanned(conversation, (text) => [...text.matchAll(keywords)].map((m) => ({ start: m.index, end: m.index + m[0].length, signal: m[0].toLowerCase() }))));
  }
  if (config.languages !== undefined) {
    const allowed = config.languages;
    const unknown = allowed.filter((language) => !GUESSABLE_LANGUAGES.includes(language));
    if (unknown.length) {
      problems.push(`${path}.languages: ${unknown.join(", ")} cannot be recognised; choose from ${GUESSABLE_LANGUAGES.join(", ")}`);
      return undefined;
    }
    return rule("languages", (conversation) => {
      const language = guessLanguage(conversation.userText);
      return language !== undefined && !allowed.includes(language) ? { signals: [language], spans: [] } : undefined;
    });
  }
  const limit = config.max_prompt_chars!;
  return rule("max_prompt_chars", (conversation) => (conversation.length > limit ? { signals: [`${conversation.length} > ${limit} characters`], spans: [] } : undefined));
}

/** Runs a span finder over every piece; signals are deduplicated names of what matched. */
function spanned(conversation: Conversation, find: (text: string) => { start: number; end: number; signal: string }[]): Omit<RuleHit, "rule" | "action"> | undefined {
  const spans: Span[] = [];
  const signals = new Set<string>();
  conversation.pieces.forEach((piece, index) => {
    for (const match of find(piece.text)) {
      spans.push({ piece: index, start: match.start, end: match.end });
      signals.add(match.signal);
    }
  });
  return spans.length ? { signals: [...signals], spans } : undefined;
}

/** JavaScript regex source; a leading `(?i)` (as in PCRE/RE2 configs) becomes the i flag. */
function compileRegex(source: string, path: string, problems: string[]): RegExp | undefined {
  const insensitive = source.startsWith("(?i)");
  try {
    return new RegExp(insensitive ? source.slice(4) : source, insensitive ? "giu" : "gu");
  } catch (error) {
    problems.push(`${path}: ${(error as Error).message}`);
    return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+");
}

function normalizeConversation(pieces: TextPiece[]): string[] {
  return normalizeForMatching(pieces.map((piece) => piece.text).join("\n"));
}
