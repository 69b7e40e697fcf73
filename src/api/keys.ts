// /v1/keys: API key management (admin scope). The secret is returned once, on creation.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "./validate.ts";
import { KeyCreateRequest, KeyUpdateRequest, OPTIMIZE_ALIASES, type ApiKey, type KeySettings, type SeedRoutingFields } from "../auth/key-record.ts";
import { isCidr } from "../auth/authenticate.ts";
import { expectObject, readJsonBody } from "../pipeline/read-body.ts";

const validateCreate = compileValidator(KeyCreateRequest);
const validateUpdate = compileValidator(KeyUpdateRequest);

/** Both spellings of the routing defaults: `routing` (seed 003's per-request shape) and the flat key fields. */
export function publicKey(key: ApiKey, secret?: string) {
  const { id, prefix, created_at, revoked_at, ...settings } = key;
  const seedFields = { model_pool: key.routing?.model_pool ?? null, optimize_mode: key.routing?.optimize ?? null };
  // SQLite stores the flag as 0/1; the schema and POST say boolean.
  return { id, object: "api_key" as const, ...settings, firewall_required: Boolean(settings.firewall_required), ...seedFields, prefix, created_at, revoked_at, ...(secret ? { key: secret } : {}) };
}

/**
 * Seed 003 posts `{"name", "model_pool", "optimize_mode"}`: folded into `routing` (over what `routing` says, or
 * on a PATCH over the key's current routing), so the store keeps one spelling.
 */
function foldSeedRouting(body: Record<string, unknown>, current: ApiKey["routing"]): Partial<KeySettings> {
  const { model_pool, optimize_mode, ...settings } = body as Partial<KeySettings> & SeedRoutingFields;
  if (model_pool === undefined && optimize_mode === undefined) return settings;
  const routing = { ...(settings.routing !== undefined ? settings.routing : current) };
  if (model_pool !== undefined) {
    if (model_pool === null) delete routing.model_pool;
    else routing.model_pool = model_pool;
  }
  if (optimize_mode !== undefined) {
    if (optimize_mode === null) delete routing.optimize;
    else routing.optimize = OPTIMIZE_ALIASES[optimize_mode] ?? (optimize_mode as NonNullable<typeof routing.optimize>);
  }
  return { ...settings, routing: Object.keys(routing).length ? routing : null };
}

export async function createKey(req: Request, gateway: Gateway) {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateCreate(body);
  const settings = foldSeedRouting(body, null);
  await checkSettings(settings, gateway);
  const { key, secret } = await gateway.keys.create(settings as Partial<KeySettings> & { name: string });
  return publicKey(key, secret);
}

export async function listKeys(gateway: Gateway) {
  return { object: "list" as const, data: (await gateway.keys.list()).map((key) => publicKey(key)) };
}

export async function getKey(gateway: Gateway, id: string) {
  return publicKey(found(await gateway.keys.get(id), id));
}

export async function updateKey(req: Request, gateway: Gateway, id: string) {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateUpdate(body);
  const current = found(await gateway.keys.get(id), id);
  const settings = foldSeedRouting(body, current.routing);
  await checkSettings(settings, gateway);
  return publicKey(found(await gateway.keys.update(id, settings), id));
}

export async function revokeKey(gateway: Gateway, id: string) {
  const key = found(await gateway.keys.revoke(id), id);
  return { ...publicKey(key), deleted: true };
}

function found(key: ApiKey | undefined, id: string): ApiKey {
  if (!key) throw new GatewayError("not_found", `no API key with id '${id}'; GET /v1/keys lists them`);
  return key;
}

/** What the schema cannot say: CIDR syntax, an expiry in the past, an account that does not exist. */
async function checkSettings(settings: Partial<KeySettings>, gateway: Gateway): Promise<void> {
  if (settings.account_id != null && !(await gateway.accounts.find(settings.account_id))) {
    throw new GatewayError("invalid_request", `account_id: no account '${settings.account_id}'; GET /v1/accounts lists them`, { param: "account_id" });
  }
  const badIp = settings.allowed_ips?.find((entry) => !isCidr(entry));
  if (badIp !== undefined) throw new GatewayError("invalid_request", `allowed_ips: '${badIp}' is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, ::1)`, { param: "allowed_ips" });
  if (settings.expires_at != null && settings.expires_at * 1000 <= Date.now()) {
    throw new GatewayError("invalid_request", "expires_at: must be in the future (unix seconds)", { param: "expires_at" });
  }
}
