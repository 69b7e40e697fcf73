/**
 * The strings one of which every match of a regex must contain: the prefilter that lets the injection catalogs
 * (injection-catalogs.ts) skip the rules whose words are not in a text. Why: JSC runs each of the ~90 rules from
 * every position of a 3,000-character text; a text holds the required words of a few of them.
 *
 * The analysis is conservative: anything it cannot bound (a class like `\w`, a back-reference, an optional
 * part) contributes no clause, and a pattern with no clause at all is always run. Every required part of a
 * sequence is a clause, so `\b(?:ignore|disregard)\b.{0,20}?\b(?:instructions?|rules)\b` requires one of
 * "ignore", "disregard" and one of "instruction", "rules"; alternatives share one clause, the union of each
 * one's most selective.
 */
import { RegExpParser } from "@eslint-community/regexpp";
import type { Alternative, CharacterClass, Element } from "@eslint-community/regexpp/ast";

/** Strings one of which must occur (a clause). A bound is a list of clauses that must all hold; empty: nothing known. */
type Clause = string[];

/** Past this many strings a clause is no help as a filter (and small classes multiply out). */
const MAX_STRINGS = 64;
/** A class of at most this many single characters is expanded (`summari[sz]e`); wider ones end the literal run. */
const MAX_CLASS_CHARS = 4;

/** Clauses kept per pattern, the most selective first: a third one rarely removes a rule the two did not. */
const MAX_CLAUSES = 2;
/** A clause with a one- or two-character string (" ", ":", "ai") holds in nearly every text. */
const MIN_USEFUL_LENGTH = 3;

const parser = new RegExpParser({ ecmaVersion: 2025 });

/**
 * The clauses every match of a pattern (written for the `u` flag, matched case-sensitively) satisfies: each a
 * list of strings of which the match contains at least one. Empty when nothing is known.
 */
export function requiredLiterals(pattern: string): Clause[] {
  const ast = parser.parsePattern(pattern, 0, pattern.length, { unicode: true });
  return ofAlternatives(ast.alternatives)
    .filter((clause) => shortest(clause) >= MIN_USEFUL_LENGTH)
    .sort(bySelectivity)
    .slice(0, MAX_CLAUSES);
}

/** One alternative: all of its clauses. Several: one clause, the union of each alternative's best. */
function ofAlternatives(alternatives: readonly Alternative[]): Clause[] {
  if (alternatives.length === 1) return ofSequence(alternatives[0]!.elements);
  const union = new Set<string>();
  for (const alternative of alternatives) {
    const best = bestOf(ofSequence(alternative.elements));
    if (!best) return [];
    for (const literal of best) union.add(literal);
  }
  return union.size > MAX_STRINGS ? [] : [[...union]];
}

/** Every part of a sequence is required: its runs of literal characters and the clauses of its groups. */
function ofSequence(elements: readonly Element[]): Clause[] {
  const clauses: Clause[] = [];
  let run: string[] = [""];
  const endRun = () => {
    if (run[0] !== "") clauses.push(run);
    run = [""];
  };
  for (const element of elements) {
    const chars = charsOf(element);
    if (chars && run.length * chars.length <= MAX_STRINGS) {
      run = run.flatMap((prefix) => chars.map((char) => prefix + char));
      continue;
    }
    endRun();
    if (chars) run = chars;
    else clauses.push(...ofElement(element));
  }
  endRun();
  return clauses;
}

/** The characters a one-character element matches, when it is a literal or a small class of literals. */
function charsOf(element: Element): string[] | null {
  if (element.type === "Character") return [String.fromCodePoint(element.value)];
  if (element.type === "CharacterClass") return classChars(element);
  return null;
}

function classChars(node: CharacterClass): string[] | null {
  if (node.negate || node.unicodeSets || node.elements.length > MAX_CLASS_CHARS) return null;
  const chars: string[] = [];
  for (const member of node.elements) {
    if (member.type !== "Character") return null;
    chars.push(String.fromCodePoint(member.value));
  }
  return chars;
}

function ofElement(element: Element): Clause[] {
  switch (element.type) {
    case "Group":
    case "CapturingGroup":
      return ofAlternatives(element.alternatives);
    case "Quantifier":
      return element.min >= 1 ? ofSequence([element.element]) : [];
    default:
      // assertions (\b, ^, lookarounds) consume nothing; sets (\w, .), back-references: no bound
      return [];
  }
}

const shortest = (clause: Clause) => Math.min(...clause.map((literal) => literal.length));

/** The more selective clause first: the one whose shortest string is longer; on a tie, the one with fewer strings. */
const bySelectivity = (a: Clause, b: Clause) => shortest(b) - shortest(a) || a.length - b.length;

const bestOf = (clauses: readonly Clause[]): Clause | null => [...clauses].sort(bySelectivity)[0] ?? null;
