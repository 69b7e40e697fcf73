// spellcheck: corrects the user's messages with Hunspell dictionaries (en, de, fr, es) before the model sees them
// and reports each correction. `inferada.language` is required.
//   inferada: {processors: ["spellcheck"], language: "fr"}
import { correctSpelling, definePlugin, isSpellLanguage, mapText, SPELLCHECK_LANGUAGES } from "sluice/plugin";

export default definePlugin({
  name: "spellcheck",
  kind: "processor",
  description: "Corrects spelling in the user's messages (Hunspell: en, de, fr, es).",
  async pre(ctx) {
    const language = ctx.language;
    if (!isSpellLanguage(language)) {
      return {
        reject: {
          message: `${language === undefined ? "inferada.language is required" : `inferada.language '${language}' is not supported`} for spellcheck; supported: ${SPELLCHECK_LANGUAGES.join(", ")}`,
          code: language === undefined ? "language_required" : "language_unsupported",
          param: "inferada.language",
        },
      };
    }
    const corrections: { from: string; to: string }[] = [];
    ctx.messages = await Promise.all(
      ctx.messages.map(async (message) => {
        if (message.role !== "user") return message;
        const parts: string[] = [];
        mapText(message.content, (text) => (parts.push(text), text));
        const corrected = await Promise.all(parts.map((text) => correctSpelling(text, language)));
        for (const result of corrected) for (const c of result.corrections) corrections.push({ from: c.from, to: c.to });
        let index = 0;
        return { ...message, content: mapText(message.content, () => corrected[index++]!.text) };
      }),
    );
    ctx.metadata.language = language;
    ctx.metadata.corrections = corrections;
  },
});
