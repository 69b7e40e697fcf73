// redact: masks PII in the prompt before the model sees it — emails, phone numbers, credit cards (Luhn), IBANs
// (mod 97), IP addresses, national ids with checksums, person names — with stable placeholders ([EMAIL_1] is the
// same address everywhere in the conversation), and puts the originals back into the answer. Restoring needs the
// whole answer, so a request using redact is answered buffered.
//   inferada: {processors: ["redact"], language: "de", redact: {kinds: ["email", "iban"]}}
import { definePlugin, findPii, mapText, PII_KINDS, t, type PiiKind } from "sluice/plugin";

export default definePlugin({
  name: "redact",
  kind: "processor",
  description: "Masks PII in the prompt with placeholders and restores it in the answer.",
  config: t.Object(
    {
      kinds: t.Optional(t.Array(t.Union(PII_KINDS.map((kind) => t.Literal(kind))), { description: "what to mask; default all" })),
      restore: t.Boolean({ default: true, description: "put the originals back into the answer" }),
    },
    { additionalProperties: false },
  ),
  wholeAnswer: true,
  pre(ctx) {
    const placeholders = new Map<string, string>(); // original → placeholder
    const counts: Partial<Record<PiiKind, number>> = {};
    const mask = (text: string) => {
      const matches = findPii(text, { kinds: ctx.config.kinds, language: ctx.language });
      let out = "";
      let copied = 0;
      for (const match of matches) {
        let placeholder = placeholders.get(match.value);
        if (!placeholder) {
          counts[match.kind] = (counts[match.kind] ?? 0) + 1;
          placeholder = `[${match.kind.toUpperCase()}_${counts[match.kind]}]`;
          placeholders.set(match.value, placeholder);
        }
        out += text.slice(copied, match.start) + placeholder;
        copied = match.end;
      }
      return out + text.slice(copied);
    };
    ctx.messages = ctx.messages.map((message) => ({ ...message, content: mapText(message.content, mask) }));
    ctx.state.set("originals", new Map([...placeholders].map(([original, placeholder]) => [placeholder, original])));
    ctx.metadata.masked = counts; // counts only: the values never leave the request
  },
  post(ctx, text) {
    const originals = ctx.state.get("originals") as Map<string, string> | undefined;
    if (!ctx.config.restore || !originals?.size) return;
    let restored = 0;
    const result = text.replace(/\[(?:[A-Z_]+)_\d+\]/g, (placeholder) => {
      const original = originals.get(placeholder);
      if (original === undefined) return placeholder;
      restored++;
      return original;
    });
    ctx.metadata.restored = (Number(ctx.metadata.restored) || 0) + restored;
    return result;
  },
});
