// injection_guard: rejects (422) prompt-injection and jailbreak attempts, reporting the score and the rules that
// matched. The rules are sluice's prompt_injection and jailbreak catalogs, matched against normalised text
// (case, look-alike characters, zero-width characters, leetspeak, base64); they also reject on their own when
// they match strongly (combined weight ≥ 0.5) below the model's threshold. Without a `threshold` the detector's
// default applies, the same one the firewall's prompt_injection / jailbreak rules use (chosen on the dev set).
//   inferada: {processors: ["injection_guard"], injection_guard: {threshold: 0.6}}
import { definePlugin, detectInjection, t, textOf } from "sluice/plugin";

export default definePlugin({
  name: "injection_guard",
  kind: "processor",
  description: "Rejects prompt-injection and jailbreak attempts.",
  config: t.Object(
    {
      threshold: t.Optional(t.Number({ minimum: 0, maximum: 1, description: "score at or above which the request is rejected; default the firewall's (chosen on the dev set)" })),
      roles: t.Array(t.String(), { default: ["user", "tool"], description: "whose messages are screened (system prompts are the operator's)" }),
    },
    { additionalProperties: false },
  ),
  pre(ctx) {
    const text = ctx.messages
      .filter((message) => ctx.config.roles.includes(message.role))
      .map((message) => textOf(message.content))
      .join("\n");
    const verdict = detectInjection(text, { threshold: ctx.config.threshold });
    const signals = verdict.hits.map((hit) => `${hit.catalog}/${hit.rule}`);
    ctx.metadata.score = verdict.score;
    ctx.metadata.signals = signals;
    if (!verdict.flagged) return;
    // flagged by the model's score, or by the catalogs alone (their combined weight) below the threshold
    const why = verdict.score >= verdict.threshold ? `score ${verdict.score.toFixed(2)} ≥ ${verdict.threshold}` : `the rule catalogs matched; model score ${verdict.score.toFixed(2)} < ${verdict.threshold}`;
    return {
      reject: {
        message: `the prompt looks like a prompt-injection or jailbreak attempt (${why}; signals: ${signals.join(", ")})`,
        code: "prompt_injection",
      },
    };
  },
});
