/**
 * The secrets detector: API keys, tokens, private keys and passwords, found by a versioned catalog of regexes
 * (src/detectors/catalogs/secrets.json) so the firewall's `secrets` rule catalog can report or redact them.
 *
 * Unlike the injection and topic catalogs, patterns run on the original text, case-sensitively (a rule may ask
 * for "i"): a secret is not normalised, and a redaction needs offsets into the text the caller holds. A rule's
 * span is its named group `secret` when it has one (the password in a URL, the value after `password=`), else
 * the whole match. A rule with `min_entropy_bits` also needs that much Shannon entropy per character in its
 * span, so a random value counts and `password = "aaaaaaaa11111111"` does not; at 16 characters the 3.5-bit
 * threshold still lets a human pattern with few repeats through (a false positive is a masked non-secret).
 *
 * Cost: every quantifier is bounded (checked when the catalog loads) and the token rules begin with a fixed
 * prefix behind a lookbehind, so each candidate costs at most a few thousand steps and most positions none.
 */
import { Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import secretsCatalog from "./catalogs/secrets.json" with { type: "json" };

/** Where a secret is; the value itself is never returned, so a match can be logged. */
export interface SecretMatch {
  rule: string;
  start: number;
  end: number;
}

export interface SecretRuleInfo {
  id: string;
  description: string;
  /** false: report the match but leave the text alone */
  redact: boolean;
}

export interface CompiledSecretRule {
  readonly id: string;
  readonly regex: RegExp;
  readonly minEntropyBits: number | undefined;
}

const RULE_ID = "^[a-z][a-z0-9_]*$";

/** The shape of the catalog file; unknown keys are rejected so a misspelt field is an error, not a no-op. */
const SecretsCatalogSchema = T.Object(
  {
    catalog: T.String({ pattern: RULE_ID }),
    version: T.String({ minLength: 1 }),
    description: T.String(),
    rules: T.Array(
      T.Object(
        {
          id: T.String({ pattern: RULE_ID }),
          pattern: T.String({ minLength: 1 }),
          /** added to "gdu"; "i" for rules keyed on a variable or header name */
          flags: T.Optional(T.String({ pattern: "^[ims]{0,3}$" })),
          description: T.String(),
          redact: T.Boolean(),
          min_entropy_bits: T.Optional(T.Number({ minimum: 0, maximum: 16 })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

/**
 * An unbounded quantifier (`*`, `+`, `{n,}`) outside a character class. A secret pattern runs on raw text of any
 * length, so even the `\w+` the injection catalogs allow inside a word is refused here: write `{1,64}`.
 */
export function hasUnboundedQuantifier(pattern: string): boolean {
  const outsideClasses = pattern.replace(/\\./g, "e").replace(/\[[^\]]*\]/g, "c");
  return /[*+]|\{\d+,\}/.test(outsideClasses);
}

/** Checks the catalog and compiles its regexes once; throws naming the rule at fault. */
export function compileSecretsCatalog(catalog: unknown): readonly CompiledSecretRule[] {
  const problem = Value.Errors(SecretsCatalogSchema, catalog).First();
  if (problem) throw new Error(`secrets catalog: ${problem.path || "/"} ${problem.message}`);
  const checked = catalog as typeof SecretsCatalogSchema.static;
  const seen = new Set<string>();
  const rules = checked.rules.map((rule) => {
    const where = `secrets catalog rule ${rule.id}`;
    if (seen.has(rule.id)) throw new Error(`${where}: duplicate rule id`);
    seen.add(rule.id);
    if (hasUnboundedQuantifier(rule.pattern)) throw new Error(`${where}: unbounded "*", "+" or "{n,}"; bound it, e.g. {1,64}`);
    let regex: RegExp;
    try {
      regex = new RegExp(rule.pattern, `gdu${rule.flags ?? ""}`);
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    return Object.freeze({ id: rule.id, regex, minEntropyBits: rule.min_entropy_bits });
  });
  return Object.freeze(rules);
}

const COMPILED_RULES = compileSecretsCatalog(secretsCatalog);

export const SECRETS_CATALOG: { catalog: string; version: string; rules: SecretRuleInfo[] } = Object.freeze({
  catalog: secretsCatalog.catalog,
  version: secretsCatalog.version,
  rules: secretsCatalog.rules.map(({ id, description, redact }) => Object.freeze({ id, description, redact })),
});

/** Shannon entropy in bits per character (per UTF-16 code unit; secrets are ASCII). */
export function shannonEntropyBits(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

interface Candidate extends SecretMatch {
  /** index of the rule in the catalog: on equal length the earlier, more specific rule wins */
  order: number;
}

/** Every secret in `text`, sorted by start, non-overlapping: of two that overlap the longer wins, then the earlier rule. */
export function findSecrets(text: string): SecretMatch[] {
  return findSecretsWith(COMPILED_RULES, text);
}

/** findSecrets over another compiled catalog (tests, or an operator's own rules). */
export function findSecretsWith(rules: readonly CompiledSecretRule[], text: string): SecretMatch[] {
  const found: Candidate[] = [];
  rules.forEach((rule, order) => {
    for (const match of text.matchAll(rule.regex)) {
      const [start, end] = match.indices?.groups?.secret ?? match.indices?.[0] ?? [match.index, match.index + match[0].length];
      if (end <= start) continue;
      if (rule.minEntropyBits !== undefined && shannonEntropyBits(text.slice(start, end)) < rule.minEntropyBits) continue;
      found.push({ rule: rule.id, start, end, order });
    }
  });
  return resolveOverlaps(found, text.length);
}

function resolveOverlaps(found: Candidate[], textLength: number): SecretMatch[] {
  const ranked = found.sort((a, b) => b.end - b.start - (a.end - a.start) || a.order - b.order || a.start - b.start);
  const taken = ranked.length > 1 ? new Uint8Array(textLength) : undefined;
  const kept: SecretMatch[] = [];
  for (const { rule, start, end } of ranked) {
    if (taken) {
      if (taken.subarray(start, end).includes(1)) continue;
      taken.fill(1, start, end);
    }
    kept.push({ rule, start, end });
  }
  return kept.sort((a, b) => a.start - b.start);
}
