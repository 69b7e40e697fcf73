// /v1/keys: API key management (admin scope). The secret is returned once, on creation.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "./validate.ts";
import { KeyCreateRequest, KeyUpdateRequest, type ApiKey, type KeySettings } from "../auth/key-record.ts";
import { isCidr } from "../auth/authenticate.ts";
import { expectObject, readJsonBody } from "../pipeline/read-body.ts";

const validateCreate = compileValidator(KeyCreateRequest);
const validateUpdate = compileValidator(KeyUpdateRequest);

export function publicKey(key: ApiKey, secret?: string) {
  const { id, prefix, created_at, revoked_at, ...settings } = key;
  // SQLite stores the flag as 0/1; the schema and POST say boolean.
  return { id, object: "api_key" as const, ...settings, firewall_required: Boolean(settings.firewall_required), prefix, created_at, revoked_at, ...(secret ? { key: secret } : {}) };
}

export async function createKey(req: Request, gateway: Gateway) {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateCreate(body);
  checkSettings(body as Partial<KeySettings>);
  const { key, secret } = gateway.keys.create(body as Partial<KeySettings> & { name: string });
  return publicKey(key, secret);
}

export function listKeys(gateway: Gateway) {
  return { object: "list" as const, data: gateway.keys.list().map((key) => publicKey(key)) };
}

export function getKey(gateway: Gateway, id: string) {
  return publicKey(found(gateway.keys.get(id), id));
}

export async function updateKey(req: Request, gateway: Gateway, id: string) {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  validateUpdate(body);
  checkSettings(body as Partial<KeySettings>);
  return publicKey(found(gateway.keys.update(id, body as Partial<KeySettings>), id));
}

export function revokeKey(gateway: Gateway, id: string) {
  const key = found(gateway.keys.revoke(id), id);
  return { ...publicKey(key), deleted: true };
}

function found(key: ApiKey | undefined, id: string): ApiKey {
  if (!key) throw new GatewayError("not_found", `no API key with id '${id}'; GET /v1/keys lists them`);
  return key;
}

/** What the schema cannot say: CIDR syntax, and an expiry in the past. */
function checkSettings(settings: Partial<KeySettings>): void {
  const badIp = settings.allowed_ips?.find((entry) => !isCidr(entry));
  if (badIp !== undefined) throw new GatewayError("invalid_request", `allowed_ips: '${badIp}' is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, ::1)`, { param: "allowed_ips" });
  if (settings.expires_at != null && settings.expires_at * 1000 <= Date.now()) {
    throw new GatewayError("invalid_request", "expires_at: must be in the future (unix seconds)", { param: "expires_at" });
  }
}
