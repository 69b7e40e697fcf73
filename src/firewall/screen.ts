// Runs a firewall over a request's conversation before the model (or any processor) sees it: the rules, then the
// judge unless a rule already blocked (or the firewall says always). Actions: block stops the request (422
// firewall_blocked, naming the firewall and the rules, never the matched text), redact masks what the rule found
// and continues, flag continues and records. The outcome goes into the response and the ledger.
import type { Firewall } from "../config/resolve-firewalls.ts";
import { textOf } from "../pipeline/template.ts";
import { Conversation, type RuleHit, type Span, type TextPiece } from "./rules.ts";
import { askJudge, judgeKey, type JudgeCache, type JudgeVerdict } from "./judge.ts";

type Message = { role: string; content?: unknown } & Record<string, unknown>;

export type FirewallVerdict = "allowed" | "flagged" | "redacted" | "blocked";

export interface FirewallOutcome {
  slug: string;
  verdict: FirewallVerdict;
  rules: { rule: string; action: RuleHit["action"]; signals: string[] }[];
  judge?: { verdict: JudgeVerdict["verdict"]; categories?: string[]; error?: string; cached: boolean; ms: number };
  ms: number;
  /** The answer's screening, when the firewall screens output. */
  output?: { verdict: string; rules: { rule: string; action: string }[] };
}

/** The roles whose text the rules see (the whole conversation but the model's own earlier answers). */
const SCREENED_ROLES = new Set(["system", "developer", "user", "tool"]);

/** `costMicros`: what asking the judge cost (0 when it was not asked or its verdict was cached). */
export async function screenConversation(firewall: Firewall, messages: Message[], cache: JudgeCache, signal?: AbortSignal): Promise<{ outcome: FirewallOutcome; messages: Message[]; costMicros: number }> {
  const started = performance.now();
  const pieces = textPieces(messages);
  const conversation = new Conversation(pieces);
  const hits: RuleHit[] = [];
  for (const rule of firewall.rules) {
    const hit = rule.check(conversation);
    if (hit) hits.push(hit);
  }
  const outcome: FirewallOutcome = { slug: firewall.slug, verdict: "allowed", rules: [], ms: 0 };
  let costMicros = 0;

  const judge = firewall.judge;
  if (judge && (judge.always || !hits.some((hit) => hit.action === "block"))) {
    const judgeStarted = performance.now();
    const transcript = messages.map((message) => `${message.role}: ${textOf(message.content)}`).join("\n");
    const key = judgeKey(judge, transcript);
    const cached = cache.get(key, Date.now());
    const asked = cached ? undefined : await askJudge(judge, transcript, signal);
    const verdict = cached ?? asked!.verdict;
    costMicros = asked?.costMicros ?? 0;
    if (!cached) cache.set(key, verdict, judge.cacheTtlMs, Date.now());
    outcome.judge = { verdict: verdict.verdict, cached: cached !== undefined, ms: round(performance.now() - judgeStarted) };
    if (verdict.verdict === "unsafe") {
      outcome.judge.categories = verdict.categories;
      hits.push({ rule: "judge", action: firewall.action, signals: verdict.categories, spans: [] });
    } else if (verdict.verdict === "error") {
      outcome.judge.error = verdict.error;
      // Fail closed: a judge that cannot answer blocks; fail open: the request goes on, flagged.
      hits.push({ rule: "judge", action: judge.fail === "closed" ? "block" : "flag", signals: ["judge_error"], spans: [] });
    }
  }

  outcome.rules = hits.map((hit) => ({ rule: hit.rule, action: hit.action, signals: hit.signals }));
  outcome.verdict = hits.some((hit) => hit.action === "block") ? "blocked" : hits.some((hit) => hit.action === "redact") ? "redacted" : hits.length ? "flagged" : "allowed";
  const redactions = hits.filter((hit) => hit.action === "redact");
  const screened = outcome.verdict === "redacted" ? redact(messages, pieces, redactions) : messages;
  outcome.ms = round(performance.now() - started);
  return { outcome, messages: screened, costMicros };
}

function textPieces(messages: Message[]): TextPiece[] {
  const pieces: TextPiece[] = [];
  messages.forEach((message, index) => {
    if (!SCREENED_ROLES.has(message.role)) return;
    if (typeof message.content === "string") pieces.push({ message: index, part: -1, role: message.role, text: message.content });
    else if (Array.isArray(message.content)) {
      message.content.forEach((part: { type?: string; text?: unknown }, p) => {
        if (part?.type === "text" && typeof part.text === "string") pieces.push({ message: index, part: p, role: message.role, text: part.text });
      });
    }
  });
  return pieces;
}

/** Masks every span the redacting rules found with `[REDACTED:<rule>]`; overlapping spans merge. */
function redact(messages: Message[], pieces: TextPiece[], hits: RuleHit[]): Message[] {
  const byPiece = new Map<number, (Span & { rule: string })[]>();
  for (const hit of hits) for (const span of hit.spans) byPiece.set(span.piece, [...(byPiece.get(span.piece) ?? []), { ...span, rule: hit.rule }]);
  const out = messages.map((message) => ({ ...message, content: Array.isArray(message.content) ? [...message.content] : message.content }));
  for (const [index, spans] of byPiece) {
    const piece = pieces[index]!;
    spans.sort((a, b) => a.start - b.start);
    let text = "";
    let copied = 0;
    for (const span of spans) {
      if (span.end <= copied) continue;
      text += piece.text.slice(copied, Math.max(copied, span.start)) + `[REDACTED:${span.rule}]`;
      copied = span.end;
    }
    text += piece.text.slice(copied);
    const message = out[piece.message]!;
    if (piece.part < 0) message.content = text;
    else (message.content as unknown[])[piece.part] = { ...(message.content as Record<string, unknown>[])[piece.part], text };
  }
  return out;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
