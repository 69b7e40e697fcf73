// /v1/accounts (admin): accounts that own keys and a prepaid credit balance, and POST /v1/accounts/{id}/credits to
// deposit or adjust. An account is never deleted: DELETE deactivates it (its keys then get 403 account_inactive)
// and its transactions stay.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "./validate.ts";
import { expectObject, readJsonBody } from "../pipeline/read-body.ts";
import { AccountCreateRequest, AccountUpdateRequest, CreditRequest, type Account, type AccountSettings } from "../auth/account-record.ts";
import { publicTransaction } from "./credits.ts";

const validateCreate = compileValidator(AccountCreateRequest);
const validateUpdate = compileValidator(AccountUpdateRequest);
const validateCredit = compileValidator(CreditRequest);

export function publicAccount(gateway: Gateway, account: Account) {
  const credits = gateway.credits.state(account.id);
  return {
    id: account.id,
    object: "account" as const,
    name: account.name,
    status: account.status,
    balance_usd: credits.balanceMicros / 1e6,
    reserved_usd: credits.reservedMicros / 1e6,
    available_usd: credits.availableMicros / 1e6,
    budget_usd_daily: account.budget_usd_daily,
    budget_usd_monthly: account.budget_usd_monthly,
    allowed_models: account.allowed_models,
    routing: account.routing,
    created_at: account.created_at,
    deactivated_at: account.deactivated_at,
  };
}

export async function createAccount(req: Request, gateway: Gateway): Promise<Response> {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateCreate(body);
  const { initial_credits_usd, ...settings } = body as Partial<AccountSettings> & { name: string; initial_credits_usd?: number };
  const account = await gateway.accounts.create(settings);
  if (initial_credits_usd) {
    const deposit = gateway.credits.adjust(account.id, toMicros(initial_credits_usd), "deposit", "initial credits");
    if ("transaction" in deposit) await deposit.transaction; // PostgreSQL: the balance below includes it
  }
  return Response.json(publicAccount(gateway, account), { status: 201 });
}

export async function listAccounts(gateway: Gateway) {
  return { object: "list" as const, data: (await gateway.accounts.list()).map((account) => publicAccount(gateway, account)) };
}

export function getAccount(gateway: Gateway, id: string) {
  return publicAccount(gateway, found(gateway, id));
}

export async function updateAccount(req: Request, gateway: Gateway, id: string) {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateUpdate(body);
  found(gateway, id);
  return publicAccount(gateway, (await gateway.accounts.update(id, body as Partial<AccountSettings>))!);
}

export async function deactivateAccount(gateway: Gateway, id: string) {
  found(gateway, id);
  return { ...publicAccount(gateway, (await gateway.accounts.update(id, { status: "deactivated" }))!), deleted: true };
}

/** A deposit or adjustment; the answer is the transaction and the account's balance after it. */
export async function addCredits(req: Request, gateway: Gateway, id: string): Promise<Response> {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateCredit(body);
  const { amount_usd, note, kind } = body as { amount_usd: number; note?: string; kind?: "deposit" | "adjustment" };
  found(gateway, id);
  const micros = toMicros(amount_usd);
  if (micros === 0) throw new GatewayError("invalid_request", "amount_usd: must not be zero (at least $0.000001 either way)", { param: "amount_usd" });
  if (kind === "deposit" && micros < 0) throw new GatewayError("invalid_request", "amount_usd: a deposit must be positive; send kind 'adjustment' to take credit away", { param: "amount_usd" });
  const result = gateway.credits.adjust(id, micros, kind ?? (micros > 0 ? "deposit" : "adjustment"), note ?? null);
  if ("refused" in result) throw new GatewayError("invalid_request", `amount_usd: ${result.refused}`, { param: "amount_usd" });
  return Response.json({ ...publicTransaction(await result.transaction), account: publicAccount(gateway, found(gateway, id)) }, { status: 201 });
}

function found(gateway: Gateway, id: string): Account {
  const account = gateway.accounts.get(id);
  if (!account) throw new GatewayError("not_found", `no account with id '${id}'; GET /v1/accounts lists them`);
  return account;
}

/** USD to micro-dollars: deposits are exact amounts, so rounded to the nearest micro-dollar (not up, as costs are). */
function toMicros(usd: number): number {
  const micros = Math.round(usd * 1e6);
  if (!Number.isSafeInteger(micros)) throw new GatewayError("invalid_request", "amount_usd: too large", { param: "amount_usd" });
  return micros;
}
