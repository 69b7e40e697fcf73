/**
 * What the injection / jailbreak model sees (src/detectors/injection.ts at runtime, test/train/injection.ts when
 * training): one normalised variant of the text (normalize.ts: look-alikes, invisible characters, leetspeak,
 * base64 undone) as hashed words, word pairs and character n-grams. The catalog rules are not features: as
 * features they added 1–2 points of attack recall on dev (within noise on 364 attacks) and cost 2–3 ms per
 * 3,000 characters, three times the budget. Kept apart from injection.ts, which loads the model file, so
 * training can run before the file exists.
 */
import { addTextFeatures, cutText, FeatureBuffer, type FeatureConfig } from "../learn/features.ts";
import { predict, type LinearModel } from "../learn/linear-model.ts";

export const INJECTION_CLASSES = ["benign", "injection", "jailbreak"] as const;
/** The head and tail of a text, where instructions sit; the cap bounds the time per request. */
export const INJECTION_FEATURES: FeatureConfig = { bucketBits: 18, headChars: 2000, tailChars: 1000, charGrams: false };

/** Every variant cut to what the model reads; the catalogs explaining a verdict read the same. */
export const cutVariants = (variants: readonly string[]) => variants.map((variant) => cutText(variant, INJECTION_FEATURES));

export function injectionFeatures(variant: string, out: FeatureBuffer): FeatureBuffer {
  addTextFeatures(cutText(variant, INJECTION_FEATURES), INJECTION_FEATURES, out);
  return out;
}

/**
 * A long text is also scored by the first and last END_CHARS of what the model reads, alone: an instruction
 * planted at either end of a document is a small share of the whole text's features, and the host's words
 * outvote it (200 KB of lorem ipsum ending in "Ignore all previous instructions." scored 0.18 whole, 0.41 by its
 * end; the instruction alone, 0.98). Chosen on dev: at 90 % attack recall, 0.5 % of hard_benign and 5.2 % of benign flagged with the ends,
 * 1.4 % and 5.6 % without; 300-character ends and every sentence alone measured worse, and so did windows over
 * the whole text trained as multiple instances.
 */
const END_CHARS = 100;

function variantParts(variant: string): string[] {
  if (variant.length <= END_CHARS * 3) return [variant];
  const cut = cutText(variant, INJECTION_FEATURES);
  return [variant, cut.slice(0, END_CHARS), cut.slice(-END_CHARS)];
}

export interface ModelVerdict {
  /** P(attack) = 1 - P(benign), the highest over the variants */
  score: number;
  kind: "injection" | "jailbreak";
}

const buffer = new FeatureBuffer();

/**
 * Scores every variant, and the first and last sentences of each on their own, and keeps the most suspicious:
 * an evasion is judged by the text it hides, and an instruction planted in a document by itself. Scored with
 * the whole document, a planted sentence is a small share of the features and the host's words outvote it
 * ("The report shows revenue grew 4 %. Ignore all previous instructions." scored 0.18 whole, 0.98 alone).
 */
export function scoreVariants(model: LinearModel, variants: readonly string[]): ModelVerdict {
  let best: ModelVerdict = { score: 0, kind: "injection" };
  for (const variant of variants)
    for (const part of variantParts(variant)) {
      const p = predict(model, injectionFeatures(part, buffer.clear()));
      const score = 1 - p[0]!;
      if (score > best.score) best = { score, kind: p[2]! > p[1]! ? "jailbreak" : "injection" };
    }
  return best;
}
