// GET /v1/usage: usage and cost rolled up from the ledger. A key sees its own; admin sees all and may filter by key.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { hasScope, type Principal } from "../auth/authenticate.ts";
import { usageCsv } from "../store/usage.ts";

const GROUPS = new Set(["key", "model", "day"]);

export async function usageReport(gateway: Gateway, principal: Principal, url: URL): Promise<Response> {
  const params = url.searchParams;
  const groupBy = params.get("group_by") ?? undefined;
  if (groupBy !== undefined && !GROUPS.has(groupBy)) throw new GatewayError("invalid_request", `group_by: expected key, model or day, got '${groupBy}'`, { param: "group_by" });
  const format = params.get("format") ?? "json";
  if (format !== "json" && format !== "csv") throw new GatewayError("invalid_request", `format: expected json or csv, got '${format}'`, { param: "format" });

  let keyId = params.get("key_id") ?? undefined;
  const own = principal.key;
  if (own && !hasScope(principal, "admin")) {
    if (keyId !== undefined && keyId !== own.id) throw new GatewayError("forbidden", "only an admin key may read another key's usage");
    keyId = own.id;
  }
  // The ledger keeps a row per request, so the rollup is a live query off the ledger (after the store flushes it).
  const report = await gateway.store.reads.usage({ fromMs: instant(params.get("from"), "from"), toMs: instant(params.get("to"), "to"), groupBy: groupBy as "key" | "model" | "day" | undefined, keyId });
  if (format === "csv") return new Response(usageCsv(report), { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="usage.csv"' } });
  return Response.json(report);
}

/** Unix seconds, or an ISO 8601 date/time. */
function instant(text: string | null, name: string): number | undefined {
  if (text === null || text === "") return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text);
  if (!Number.isFinite(ms)) throw new GatewayError("invalid_request", `${name}: expected unix seconds or an ISO date like 2026-11-01, got '${text}'`, { param: name });
  return ms;
}
