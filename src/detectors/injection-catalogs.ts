/**
 * The rule catalogs of the prompt-injection and jailbreak detector (injection.ts). Each catalog is a data file (a versioned list of
 * weighted regexes, src/detectors/catalogs/*.json) plus the matcher below, so the same catalogs serve the
 * `injection_guard` processor and the firewall's `prompt_injection` / `jailbreak` rule catalogs.
 *
 * Patterns are matched against every variant from normalizeForMatching (lower-case ASCII with look-alikes,
 * invisible characters, leetspeak, spaced letters and base64 undone), never against the raw text, so a rule is
 * written once in plain lower case. A rule counts once however many variants it matches. Hits combine as
 * independent evidence, score = 1 - Π(1 - weight): one strong rule (weight ≥ 0.5) flags alone; weak signals
 * ("act as", "no restrictions", "[INST]") flag only together.
 */
import { Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import jailbreakCatalog from "./catalogs/jailbreak.json" with { type: "json" };
import promptInjectionCatalog from "./catalogs/prompt_injection.json" with { type: "json" };
import { RegexPrefilter } from "./regex-prefilter.ts";

export interface CatalogRule {
  id: string;
  pattern: string;
  weight: number;
  description: string;
}

export interface Catalog {
  catalog: string;
  version: string;
  description: string;
  rules: CatalogRule[];
}

export interface RuleHit {
  catalog: string;
  rule: string;
  weight: number;
}

export interface CompiledCatalog {
  readonly catalog: string;
  readonly version: string;
  readonly rules: readonly { readonly id: string; readonly weight: number; readonly regex: RegExp }[];
  /** Tells which rules' required strings a text holds (regex-prefilter.ts). */
  readonly prefilter: RegexPrefilter;
}

/** The shape of a catalog file; unknown keys are rejected so a misspelt field is an error, not a no-op. */
const CatalogSchema = T.Object(
  {
    catalog: T.String({ pattern: "^[a-z][a-z0-9_]*$" }),
    version: T.String({ minLength: 1 }),
    description: T.String(),
    rules: T.Array(
      T.Object(
        {
          id: T.String({ pattern: "^[a-z][a-z0-9_]*$" }),
          pattern: T.String({ minLength: 1 }),
          weight: T.Number({ minimum: 0, maximum: 1 }),
          description: T.String(),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

/**
 * Shapes that invite catastrophic or quadratic backtracking on long input: an unbounded quantifier on "." or on a
 * group (`.*`, `.+`, `(...)+`), and any open-ended count (`#{2,}`: 200 KB of "#" took 48 s). Gaps between words
 * are written bounded, `.{0,40}`. Unbounded `\w*` / `\w+` inside a word are allowed: a word ends at a space.
 */
const UNBOUNDED_GAP = /(?<!\\)\.[*+]|(?<!\\)\)[*+]|\{\d+,\}/;
/** Patterns see lower-case text; an upper-case letter outside an escape (`\W`, `\S`, `\u{1F513}`) could never match. */
const UPPER_CASE_LITERAL = /(?<!\\)(?<!\\p\{)(?<!\\(?:u\{?|x)[0-9A-Fa-f]{0,5})[A-Z]/;

/** A pattern that names a code point (`\u{1F513}`), a property (`\p{L}`) or holds an astral character needs the `u` flag. */
const NEEDS_UNICODE_MODE = /\\[upP]\{|[\u{10000}-\u{10FFFF}]/u;

/**
 * Patterns are checked in `u` mode (stricter: no stray escapes) but matched without it where the meaning is the
 * same, which is every pattern that names no code point or property: JSC runs such regexes ~30 % faster
 * (all dev texts through both catalogs: p99 2.8 → 2.0 ms).
 */
const matcherOf = (pattern: string) => new RegExp(pattern, NEEDS_UNICODE_MODE.test(pattern) ? "u" : "");

export const INJECTION_CATALOGS: readonly Catalog[] = Object.freeze([promptInjectionCatalog, jailbreakCatalog]);

/** Checks a catalog and compiles its regexes once; throws naming the catalog and rule at fault. */
export function compileCatalog(catalog: Catalog): CompiledCatalog {
  const name = typeof catalog?.catalog === "string" ? catalog.catalog : "(unnamed)";
  const problem = Value.Errors(CatalogSchema, catalog).First();
  if (problem) throw new Error(`injection catalog ${name}: ${problem.path || "/"} ${problem.message}`);

  const seen = new Set<string>();
  const rules = catalog.rules.map((rule) => {
    const where = `injection catalog ${name} rule ${rule.id}`;
    if (seen.has(rule.id)) throw new Error(`${where}: duplicate rule id`);
    seen.add(rule.id);
    if (UNBOUNDED_GAP.test(rule.pattern)) throw new Error(`${where}: unbounded ".*", ".+" or repeated group; bound the gap, e.g. .{0,40}`);
    if (UPPER_CASE_LITERAL.test(rule.pattern)) throw new Error(`${where}: patterns match lower-cased text; write letters in lower case`);
    try {
      new RegExp(rule.pattern, "u");
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    return Object.freeze({ id: rule.id, weight: rule.weight, regex: matcherOf(rule.pattern) });
  });
  return Object.freeze({ catalog: catalog.catalog, version: catalog.version, rules: Object.freeze(rules), prefilter: new RegexPrefilter(catalog.rules.map((rule) => rule.pattern)) });
}

/**
 * The rules of one catalog that match any of the variants, each once, in catalog order. A rule's regex runs only
 * on a text that holds one of its required strings: the same hits as running every rule, at a fraction of the
 * time (all dev texts through both catalogs, best of 5: p50 81 → 19 µs, p99 1.28 → 0.55 ms).
 */
export function matchCatalog(compiled: CompiledCatalog, variants: string[]): RuleHit[] {
  const { prefilter } = compiled;
  const found = variants.map((variant) => prefilter.scan(variant));
  const hits: RuleHit[] = [];
  compiled.rules.forEach((rule, index) => {
    if (variants.some((variant, v) => prefilter.mayMatch(index, found[v]!) && rule.regex.test(variant)))
      hits.push({ catalog: compiled.catalog, rule: rule.id, weight: rule.weight });
  });
  return hits;
}

/** 1 - Π(1 - weight) over hits distinct by catalog and rule. */
export function combineScore(hits: readonly RuleHit[]): number {
  const seen = new Set<string>();
  let miss = 1;
  for (const hit of hits) {
    const key = `${hit.catalog}/${hit.rule}`;
    if (seen.has(key)) continue;
    seen.add(key);
    miss *= 1 - hit.weight;
  }
  return 1 - miss;
}

export const COMPILED_CATALOGS: readonly CompiledCatalog[] = INJECTION_CATALOGS.map(compileCatalog);
