// Stage: the firewall, before processors and before any model sees the prompt — for buffered and streamed requests
// alike, since it runs before the answer's shape is decided. The request names one with `firewall: "<slug>"`; a key
// may give a default, and with `firewall_required` no request can choose another or go without.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { addSideCost, type RequestContext } from "./context.ts";
import { screenConversation } from "../firewall/screen.ts";
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
