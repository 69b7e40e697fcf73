// Stage: who is calling. A bearer key or a session cookie becomes a Principal (the key and what it may do);
// everything that is refused says why without ever echoing the presented secret.
import { BlockList, isIP } from "node:net";
import { GatewayError } from "../errors.ts";
import type { ApiKey, Scope } from "./key-record.ts";
import type { KeyStore } from "./key-store.ts";
import type { ClientAddress } from "../client-ip.ts";
import { readSessionCookie, type SessionSigner } from "./session.ts";
import type { Account } from "./account-record.ts";
import type { AccountStore } from "../store/accounts.ts";

export interface Principal {
  /** null when auth.mode is none, or for the open model list. */
  key: ApiKey | null;
  /** The key's account, when it has one (always active here: a deactivated one is refused). */
  account?: Account;
}

export const ANONYMOUS: Principal = Object.freeze({ key: null });

export class Authenticator {
  private readonly ipLists = new WeakMap<ApiKey, BlockList>();
  /** A key with its account's routing defaults filled in, rebuilt when either cached object is replaced. */
  private readonly withDefaults = new WeakMap<ApiKey, { account: Account; principal: Principal }>();

  constructor(
    private readonly keys: KeyStore,
    private readonly sessions: SessionSigner,
    private readonly accounts?: AccountStore,
  ) {}

  /** Whether the request presents any credential (the open model list serves those without one anonymously). */
  static presentsCredential(req: Request): boolean {
    return req.headers.has("authorization") || readSessionCookie(req) !== undefined;
  }

  /** Synchronous for bearer keys (the hot path); a session cookie needs an async JWT check. */
  authenticate(req: Request, clientIp: ClientAddress): Principal | Promise<Principal> {
    const authorization = req.headers.get("authorization");
    if (authorization) {
      const key = this.findBearerKey(authorization);
      // A promise only when a shared store (PostgreSQL) has not cached this key yet.
      return key instanceof Promise ? key.then((found) => this.admit(found, clientIp)) : this.admit(key, clientIp);
    }
    return this.findSessionKey(req).then((key) => this.admit(key, clientIp));
  }

  private admit(key: ApiKey, clientAddress: ClientAddress): Principal {
    const now = Date.now();
    if (key.revoked_at !== null) throw new GatewayError("key_revoked", `API key ${key.prefix}… was revoked; ask an admin for a new one`);
    if (key.expires_at !== null && key.expires_at * 1000 <= now) throw new GatewayError("unauthorized", `API key ${key.prefix}… expired at ${new Date(key.expires_at * 1000).toISOString()}`);
    const clientIp = key.allowed_ips ? clientAddress() : undefined;
    if (key.allowed_ips && !this.ipAllowed(key, clientIp)) {
      throw new GatewayError("forbidden", `API key ${key.prefix}… may not be used from ${clientIp ?? "an unknown address"}; its allowed_ips do not include it`);
    }
    return key.account_id == null ? { key } : this.withAccount(key, key.account_id);
  }

  private withAccount(key: ApiKey, accountId: string): Principal {
    const account = this.accounts?.get(accountId);
    if (!account || account.status !== "active") {
      throw new GatewayError("account_inactive", `API key ${key.prefix}… belongs to account ${accountId}, which is ${account ? "deactivated" : "deleted"}; an admin can reactivate it (PATCH /v1/accounts/${accountId} {"status": "active"})`);
    }
    const cached = this.withDefaults.get(key);
    if (cached?.account === account) return cached.principal;
    const principal: Principal = { key: key.routing === null && account.routing !== null ? { ...key, routing: account.routing } : key, account };
    this.withDefaults.set(key, { account, principal });
    return principal;
  }

  private findBearerKey(authorization: string): ApiKey | Promise<ApiKey> {
    // The scheme is case-insensitive (RFC 9110): `bearer …` is as good as `Bearer …`.
    const secret = /^bearer /i.test(authorization) ? authorization.slice(7).trim() : "";
    const key = secret ? this.keys.findBySecret(secret) : undefined;
    return key instanceof Promise ? key.then(knownKey) : knownKey(key);
  }

  private async findSessionKey(req: Request): Promise<ApiKey> {
    const token = readSessionCookie(req);
    if (token) {
      const keyId = await this.sessions.verify(token);
      const key = keyId ? await this.keys.get(keyId) : undefined;
      if (!key) throw new GatewayError("unauthorized", "session expired or invalid: POST /v1/auth/session again");
      return key;
    }
    throw new GatewayError("unauthorized", "missing API key: send 'Authorization: Bearer inf_…'");
  }

  private ipAllowed(key: ApiKey, clientIp: string | undefined): boolean {
    if (!clientIp) return false;
    let list = this.ipLists.get(key);
    if (!list) this.ipLists.set(key, (list = compileIpList(key.allowed_ips ?? [])));
    const family = isIP(clientIp) === 6 ? "ipv6" : "ipv4";
    return list.check(clientIp, family);
  }
}

function knownKey(key: ApiKey | undefined): ApiKey {
  if (!key) throw new GatewayError("unauthorized", "invalid API key: send 'Authorization: Bearer inf_…' with a key from POST /v1/keys or `sluice keys create`");
  return key;
}

export function compileIpList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split("/");
    const family = isIP(address ?? "") === 6 ? "ipv6" : "ipv4";
    const prefix = bits === undefined ? (family === "ipv6" ? 128 : 32) : Number(bits);
    list.addSubnet(address!, prefix, family);
  }
  return list;
}

/** An IPv4/IPv6 address or CIDR; used to validate allowed_ips before they are stored. */
export function isCidr(entry: string): boolean {
  const [address, bits, extra] = entry.split("/");
  const family = isIP(address ?? "");
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d+$/.test(bits) && prefix <= (family === 6 ? 128 : 32);
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  const scopes = principal.key?.scopes;
  return !scopes || scopes.includes(scope) || scopes.includes("admin");
}

export function requireScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) throw new GatewayError("forbidden", `API key ${principal.key!.prefix}… lacks the '${scope}' scope (it has: ${principal.key!.scopes.join(", ") || "none"})`);
}

const globCache = new Map<string, RegExp>();

/** allowed_models holds exact names and globs (`public:*`, `Qwen/*`); `*` matches any run of characters. */
export function modelAllowed(principal: Principal, model: string): boolean {
  return matchesAny(principal.key?.allowed_models, model) && matchesAny(principal.account?.allowed_models, model);
}

function matchesAny(patterns: string[] | null | undefined, model: string): boolean {
  if (!patterns) return true;
  return patterns.some((pattern) => {
    if (!pattern.includes("*")) return pattern === model;
    let regex = globCache.get(pattern);
    if (!regex) globCache.set(pattern, (regex = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`)));
    return regex.test(model);
  });
}

export function requireModel(principal: Principal, model: string): void {
  if (!modelAllowed(principal, model)) {
    const who = matchesAny(principal.key?.allowed_models, model) ? `account ${principal.account!.id} (key ${principal.key!.prefix}…)` : `API key ${principal.key!.prefix}…`;
    throw new GatewayError("forbidden", `${who} may not use model '${model}'; GET /v1/models lists the models it may use`, { param: "model" });
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
