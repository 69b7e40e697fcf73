// GET /v1/credits and /v1/credits/transactions (seed 003): the caller's account balance and its deposits,
// adjustments and deductions. Any key of the account may read them; an admin key may name any account.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { hasScope, type Principal } from "../auth/authenticate.ts";
import type { TransactionRow } from "../store/accounts.ts";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

export function creditBalance(gateway: Gateway, principal: Principal, url: URL) {
  const accountId = accountOf(gateway, principal, url);
  const state = gateway.credits.state(accountId);
  return { object: "credit_balance" as const, account_id: accountId, balance_usd: state.balanceMicros / 1e6, reserved_usd: state.reservedMicros / 1e6, available_usd: state.availableMicros / 1e6 };
}

/** Newest first, `limit` per page; `starting_after` is the last id of the previous page; `group=hour` rolls deductions up. */
export async function creditTransactions(gateway: Gateway, principal: Principal, url: URL) {
  const accountId = accountOf(gateway, principal, url);
  const params = url.searchParams;
  const limit = integerParam(params.get("limit"), "limit", DEFAULT_LIMIT);
  if (limit < 1 || limit > MAX_LIMIT) throw new GatewayError("invalid_request", `limit: expected 1 to ${MAX_LIMIT}, got ${limit}`, { param: "limit" });
  const group = params.get("group") ?? "request";
  if (group !== "request" && group !== "hour") throw new GatewayError("invalid_request", `group: expected request or hour, got '${group}'`, { param: "group" });
  const cursor = params.get("starting_after");
  const beforeId = cursor === null ? undefined : transactionNumber(cursor);
  gateway.credits.flush(); // deductions still queued belong on the page too
  const rows = await gateway.accounts.transactions({ accountId, limit, beforeId, hourly: group === "hour" });
  const page = rows.slice(0, limit).map(publicTransaction);
  return { object: "list" as const, data: page, has_more: rows.length > limit, ...(rows.length > limit ? { next_cursor: page.at(-1)!.id } : {}) };
}

export function publicTransaction(row: TransactionRow) {
  return {
    id: `txn_${row.id}`,
    object: "credit_transaction" as const,
    account_id: row.account_id,
    kind: row.kind,
    amount_usd: row.amount_micros / 1e6,
    balance_usd: row.balance_micros === null ? null : row.balance_micros / 1e6,
    request_id: row.request_id,
    key_id: row.key_id,
    note: row.note,
    ...(row.requests != null ? { requests: row.requests } : {}),
    created_at: Math.floor(row.created_at / 1000),
  };
}

/** The caller's own account; an admin may pass `?account_id=` for any. */
function accountOf(gateway: Gateway, principal: Principal, url: URL): string {
  const asked = url.searchParams.get("account_id");
  const admin = hasScope(principal, "admin");
  if (asked !== null) {
    if (!admin && asked !== principal.account?.id) throw new GatewayError("forbidden", "only an admin key may read another account's credits");
    if (!gateway.accounts.get(asked)) throw new GatewayError("not_found", `no account with id '${asked}'; GET /v1/accounts lists them`, { param: "account_id" });
    return asked;
  }
  if (principal.account) return principal.account.id;
  const hint = admin ? "pass ?account_id=acct_…" : "ask an admin to give the key an account (PATCH /v1/keys/{id} {\"account_id\": …})";
  throw new GatewayError("not_found", `this key belongs to no account, so it has no credits; ${hint}`);
}

function integerParam(text: string | null, name: string, fallback: number): number {
  if (text === null || text === "") return fallback;
  if (!/^\d+$/.test(text)) throw new GatewayError("invalid_request", `${name}: expected a whole number, got '${text}'`, { param: name });
  return Number(text);
}

function transactionNumber(cursor: string): number {
  const match = /^txn_(\d+)$/.exec(cursor);
  if (!match) throw new GatewayError("invalid_request", `starting_after: expected a transaction id like txn_42, got '${cursor}'`, { param: "starting_after" });
  return Number(match[1]);
}
