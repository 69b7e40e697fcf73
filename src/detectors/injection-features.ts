/**
 * What the injection / jailbreak model sees (src/detectors/injection.ts at runtime, test/train/injection.ts when
 * training): one normalised variant of the text (normalize.ts: look-alikes, invisible characters, leetspeak,
 * base64 undone) as hashed words, word pairs and character n-grams, plus the catalog rules that matched any
 * variant, as named features — so a rule id keeps explaining a verdict and still counts as evidence. Kept apart
 * from injection.ts, which loads the model file, so training can run before the file exists.
 */
import { addNamedFeatures, addTextFeatures, cutText, FeatureBuffer, type FeatureConfig } from "../learn/features.ts";
import { predict, type LinearModel } from "../learn/linear-model.ts";

export const INJECTION_CLASSES = ["benign", "injection", "jailbreak"] as const;
/** Injections hide in the middle of pasted documents too, so more of the text is kept than for routing. */
export const INJECTION_FEATURES: FeatureConfig = { bucketBits: 18, headChars: 3000, tailChars: 1500 };

export function injectionFeatures(variant: string, ruleNames: readonly string[], out: FeatureBuffer): FeatureBuffer {
  addTextFeatures(cutText(variant, INJECTION_FEATURES), INJECTION_FEATURES, out);
  addNamedFeatures(ruleNames.map((name) => `catalog:${name}`), INJECTION_FEATURES, out);
  return out;
}

export interface ModelVerdict {
  /** P(attack) = 1 - P(benign), the highest over the variants */
  score: number;
  kind: "injection" | "jailbreak";
}

const buffer = new FeatureBuffer();

/** Scores every variant and keeps the most suspicious, so an evasion is judged by the text it hides. */
export function scoreVariants(model: LinearModel, variants: readonly string[], ruleNames: readonly string[]): ModelVerdict {
  let best: ModelVerdict = { score: 0, kind: "injection" };
  for (const variant of variants) {
    const p = predict(model, injectionFeatures(variant, ruleNames, buffer.clear()));
    const score = 1 - p[0]!;
    if (score > best.score) best = { score, kind: p[2]! > p[1]! ? "jailbreak" : "injection" };
  }
  return best;
}
