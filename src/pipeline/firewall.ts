// Stage: the firewall, before processors and before any model sees the prompt — for buffered and streamed requests
// alike, since it runs before the answer's shape is decided. The request names one with `firewall: "<slug>"`; a key
// may give a default, and with `firewall_required` no request can choose another or go without.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { addSideCost, type RequestContext } from "./context.ts";
import { screenConversation } from "../firewall/screen.ts";
import type { Message } from "../plugins/api.ts";
import { OutputScreen } from "../firewall/output.ts";

export async function runFirewall(ctx: RequestContext, gateway: Gateway, body: Record<string, unknown>): Promise<void> {
  const key = ctx.principal?.key;
  const requested = body.firewall as string | undefined;
  if (key?.firewall_required && key.firewall && requested !== undefined && requested !== key.firewall) {
    throw new GatewayError("forbidden", `API key ${key.prefix}… must use firewall '${key.firewall}' (firewall_required); leave out the firewall field or name it`, { param: "firewall" });
  }
  const slug = key?.firewall_required ? (key.firewall ?? requested) : (requested ?? key?.firewall ?? undefined);
  if (!slug) return;
  const firewall = ctx.snapshot.firewalls.get(slug);
  if (!firewall) {
    const known = [...ctx.snapshot.firewalls.keys()].sort();
    const whose = requested === slug ? "" : ` (the API key's default)`;
    throw new GatewayError("invalid_request", `unknown firewall '${slug}'${whose}; configured: ${known.join(", ") || "none"}`, { param: "firewall" });
  }
  const { outcome, messages, costMicros } = await screenConversation(firewall, body.messages as never, gateway.judgeCache, ctx.clientSignal);
  ctx.firewall = outcome;
  addSideCost(ctx, costMicros);
  if (outcome.verdict === "blocked") {
    const blocking = outcome.rules.filter((rule) => rule.action === "block");
    const named = blocking.map((rule) => `${rule.rule}${rule.signals.length ? ` (${rule.signals.join(", ")})` : ""}`).join("; ");
    throw new GatewayError("policy_rejected", `firewall '${slug}' blocked the request: ${named}`, { reportedCode: "firewall_blocked", param: "messages" });
  }
  body.messages = messages;
  if (firewall.outputWindowChars !== undefined) ctx.outputScreen = new OutputScreen(firewall, firewall.outputWindowChars);
}

const VERDICT_RANK = { allowed: 0, flagged: 1, redacted: 2, blocked: 3 } as const;

/**
 * Text the gateway adds to the conversation (platform tools' results, a tool's `before` context) is screened by
 * the request's firewall like the client's own: a fetched page can carry an injection or a secret as well as a
 * prompt can. A block withholds that text from the model (the request goes on without it); a redact masks it.
 * What fired is reported with the request's verdict as `tool:<rule>`.
 */
export async function screenAddedMessages(ctx: RequestContext, gateway: Gateway, messages: Message[]): Promise<Message[]> {
  const outcome = ctx.firewall;
  const firewall = outcome && ctx.snapshot.firewalls.get(outcome.slug);
  if (!outcome || !firewall) return messages;
  const screened: Message[] = [];
  for (const message of messages) {
    const result = await screenConversation(firewall, [message], gateway.judgeCache, ctx.clientSignal);
    addSideCost(ctx, result.costMicros);
    outcome.ms = Math.round((outcome.ms + result.outcome.ms) * 100) / 100;
    for (const rule of result.outcome.rules) outcome.rules.push({ ...rule, rule: `tool:${rule.rule}` });
    const verdict = result.outcome.verdict;
    if (verdict === "blocked") {
      const named = result.outcome.rules.filter((rule) => rule.action === "block").map((rule) => rule.rule);
      screened.push({ ...message, content: `[withheld: firewall '${firewall.slug}' blocked this tool result (${named.join(", ")})]` });
    } else {
      screened.push(result.messages[0]!);
    }
    // A withheld result leaves the request flagged, not blocked: it goes on without that text.
    const reported = verdict === "blocked" ? "flagged" : verdict;
    if (VERDICT_RANK[reported] > VERDICT_RANK[outcome.verdict]) outcome.verdict = reported;
  }
  return screened;
}
