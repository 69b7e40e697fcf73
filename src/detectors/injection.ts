/**
 * The prompt-injection and jailbreak detector: a trained model (src/learn/models/injection.bin, trained by
 * test/train/injection.ts, measured by test/eval/injection.ts) on top of the rule catalogs
 * (injection-catalogs.ts), serving the `injection_guard` processor and the firewall's `prompt_injection` /
 * `jailbreak` rule catalogs.
 *
 * The text is normalised first (normalize.ts: look-alikes, invisible characters, leetspeak, spaced letters and
 * base64 undone); the catalogs are matched against every variant and the model scores every variant, with the
 * matched rule ids among its features, keeping the highest score — so an evasion is judged by the text it
 * hides. The verdict's score is the model's calibrated P(attack); the hits name the catalog rules that
 * matched, which explain a verdict but no longer decide it alone.
 */
import injectionModelPath from "../learn/models/injection.bin" with { type: "file" };
import { lazyModel } from "../learn/linear-model.ts";
import { COMPILED_CATALOGS, combineScore, matchCatalog, type RuleHit } from "./injection-catalogs.ts";
import { scoreVariants } from "./injection-features.ts";
import { normalizeForMatching } from "./normalize.ts";

export {
  combineScore,
  compileCatalog,
  INJECTION_CATALOGS,
  matchCatalog,
  type Catalog,
  type CatalogRule,
  type CompiledCatalog,
  type RuleHit,
} from "./injection-catalogs.ts";

export interface InjectionVerdict {
  /** 0..1: the model's calibrated probability that the text is an attack. */
  score: number;
  /** The catalog rules that matched, each once. */
  hits: RuleHit[];
  /** score >= threshold */
  flagged: boolean;
  /** The model's score (the same as score; named for readers of the verdict). */
  modelScore: number;
  /** 1 - Π(1 - weight) over distinct hits: the score of the rules alone, as before the model. */
  ruleScore: number;
  /** The more likely kind of attack, by the model. */
  kind: "injection" | "jailbreak";
}

const injectionModel = lazyModel(injectionModelPath);

/** The threshold chosen on the dev set (at most 3 % of risky-sounding benign prompts flagged). */
export function defaultInjectionThreshold(): number {
  return injectionModel().header.extra.threshold ?? 0.5;
}

/** Judges text already normalised (normalizeForMatching); the model reads the head and tail of each variant. */
export function judgeVariants(variants: string[]): Omit<InjectionVerdict, "flagged"> {
  const hits = COMPILED_CATALOGS.flatMap((compiled) => matchCatalog(compiled, variants));
  const model = scoreVariants(injectionModel(), variants, hits.map((hit) => `${hit.catalog}/${hit.rule}`));
  return { score: model.score, hits, modelScore: model.score, ruleScore: combineScore(hits), kind: model.kind };
}

export function detectInjection(text: string, options: { threshold?: number } = {}): InjectionVerdict {
  const threshold = options.threshold ?? defaultInjectionThreshold();
  const verdict = judgeVariants(normalizeForMatching(text));
  return { ...verdict, flagged: verdict.score >= threshold };
}
