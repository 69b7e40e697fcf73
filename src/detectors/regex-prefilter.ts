/**
 * Skips the regexes of a rule list that cannot match a text: each pattern's required strings (required-literals.ts)
 * are found in one pass over the text (literal-scanner.ts), and a rule is worth running only where all of its
 * clauses are there. The injection catalogs and the topic deny-list use it; both match ~90 regexes against every
 * normalised variant of a prompt, and a prompt holds the words of a few.
 */
import { LiteralScanner } from "./literal-scanner.ts";
import { requiredLiterals } from "./required-literals.ts";

export class RegexPrefilter {
  private readonly scanner: LiteralScanner;
  /** rule index → the ids of the clauses it needs (none: always run) */
  private readonly clausesOfRule: readonly (readonly number[])[];
  private readonly clauses: number;

  /** Patterns as written for the `u` flag, matched case-sensitively. */
  constructor(patterns: readonly string[]) {
    const strings: string[] = [];
    const tags: number[] = [];
    let clauses = 0;
    this.clausesOfRule = patterns.map((pattern) =>
      requiredLiterals(pattern).map((clause) => {
        for (const literal of clause) strings.push(literal), tags.push(clauses);
        return clauses++;
      }),
    );
    this.clauses = clauses;
    this.scanner = new LiteralScanner(strings, tags);
  }

  /** Which clauses a text holds: pass the result to mayMatch. */
  scan(text: string): Uint8Array {
    const found = new Uint8Array(this.clauses);
    this.scanner.scan(text, found);
    return found;
  }

  /** Whether rule `index` can match the text whose scan is `found`. */
  mayMatch(index: number, found: Uint8Array): boolean {
    return this.clausesOfRule[index]!.every((clause) => found[clause] === 1);
  }
}
