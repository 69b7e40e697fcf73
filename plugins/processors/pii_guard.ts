// pii_guard: rejects (422) a prompt that contains PII, naming the kinds found — never the values.
//   inferada: {processors: ["pii_guard"], pii_guard: {kinds: ["credit_card", "iban"]}}
import { definePlugin, findPii, PII_KINDS, t, textOf } from "sluice/plugin";

export default definePlugin({
  name: "pii_guard",
  kind: "processor",
  description: "Rejects prompts that contain personal data.",
  config: t.Object(
    { kinds: t.Optional(t.Array(t.Union(PII_KINDS.map((kind) => t.Literal(kind))), { description: "what counts; default all" })) },
    { additionalProperties: false },
  ),
  pre(ctx) {
    const found: Record<string, number> = {};
    for (const message of ctx.messages) {
      for (const match of findPii(textOf(message.content), { kinds: ctx.config.kinds, language: ctx.language })) found[match.kind] = (found[match.kind] ?? 0) + 1;
    }
    const kinds = Object.keys(found).sort();
    ctx.metadata.found = found;
    if (!kinds.length) return;
    return {
      reject: {
        message: `the prompt contains personal data (${kinds.map((kind) => `${kind} ×${found[kind]}`).join(", ")}); remove it, or use the redact processor to mask it`,
        code: "pii_detected",
      },
    };
  },
});
