// Output screening: the firewall's text rules (secrets, pii, regex, keywords, topics, injection catalogs) on the
// model's answer. Streams hold back a bounded window of text so a rule sees a match whole before any of it is
// released: a block ends the stream with an error event, a redact masks the match, a flag records it.
import { GatewayError } from "../errors.ts";
import type { Firewall } from "../config/resolve-firewalls.ts";
import { Conversation, type RuleHit } from "./rules.ts";

/** Rules about the prompt's shape or its author, which say nothing about an answer. */
const PROMPT_ONLY_RULES = new Set(["max_prompt_chars", "languages"]);

export class OutputScreen {
  /** Rules that matched the answer so far, by name, with their action. */
  readonly hits = new Map<string, RuleHit["action"]>();
  private readonly pending = new Map<number, string>();

  constructor(
    private readonly firewall: Firewall,
    private readonly windowChars: number,
  ) {}

  /** A chunk of choice `index`'s text arrives: returns what may be released now (the rest is held back). */
  push(index: number, text: string): string {
    const held = (this.pending.get(index) ?? "") + text;
    if (held.length <= this.windowChars) {
      this.pending.set(index, held);
      return "";
    }
    const checked = this.check(held);
    const release = checked.slice(0, checked.length - this.windowChars);
    this.pending.set(index, checked.slice(release.length));
    return release;
  }

  /** The choice finished: the held-back text, checked. */
  finish(index: number): string {
    const held = this.pending.get(index) ?? "";
    this.pending.delete(index);
    return held ? this.check(held) : "";
  }

  /** The choices with text held back (to finish when an engine ends without a finish_reason). */
  heldChoices(): number[] {
    return [...this.pending.keys()];
  }

  /** A whole answer (buffered responses). */
  screenWhole(text: string): string {
    return this.check(text);
  }

  report(): { verdict: string; rules: { rule: string; action: string }[] } {
    const rules = [...this.hits].map(([rule, action]) => ({ rule, action }));
    const verdict = rules.some((r) => r.action === "block") ? "blocked" : rules.some((r) => r.action === "redact") ? "redacted" : rules.length ? "flagged" : "allowed";
    return { verdict, rules };
  }

  /** Runs the rules on `text`; throws on a block, returns the text with redactions applied. */
  private check(text: string): string {
    const conversation = new Conversation([{ message: 0, part: -1, role: "assistant", text }]);
    const spans: { start: number; end: number; rule: string }[] = [];
    for (const rule of this.firewall.rules) {
      if (PROMPT_ONLY_RULES.has(rule.name)) continue;
      const hit = rule.check(conversation);
      if (!hit) continue;
      this.hits.set(hit.rule, hit.action);
      if (hit.action === "block") {
        throw new GatewayError("policy_rejected", `firewall '${this.firewall.slug}' blocked the answer: ${hit.rule}${hit.signals.length ? ` (${hit.signals.join(", ")})` : ""}`, {
          reportedCode: "firewall_blocked",
        });
      }
      if (hit.action === "redact") for (const span of hit.spans) spans.push({ ...span, rule: hit.rule });
    }
    if (!spans.length) return text;
    spans.sort((a, b) => a.start - b.start);
    let out = "";
    let copied = 0;
    for (const span of spans) {
      if (span.end <= copied) continue;
      out += text.slice(copied, Math.max(copied, span.start)) + `[REDACTED:${span.rule}]`;
      copied = span.end;
    }
    return out + text.slice(copied);
  }
}
