// Who is looking at the dashboard, and what they may see: an admin key (or auth.mode none) sees every key's rows,
// any other key only its own. Also the CSRF guard for writes that ride on the session cookie.
import { GatewayError } from "../errors.ts";
import { hasScope, type Principal } from "../auth/authenticate.ts";
import { readSessionCookie } from "../auth/session.ts";

export interface Viewer {
  admin: boolean;
  /** The key whose rows a non-admin sees; undefined for an admin (all rows). */
  ownKeyId: string | undefined;
}

export function viewerOf(principal: Principal): Viewer {
  const admin = hasScope(principal, "admin");
  return { admin, ownKeyId: admin ? undefined : principal.key!.id };
}

export function requireAdmin(viewer: Viewer, what: string): void {
  if (!viewer.admin) throw new GatewayError("forbidden", `${what} needs an admin key; this key sees only its own usage and requests`);
}

/** The key filter a query should use: an admin's choice (or none), a non-admin's own key, never another's. */
export function keyFilter(viewer: Viewer, requested: string | null): string | undefined {
  if (viewer.admin) return requested || undefined;
  if (requested && requested !== viewer.ownKeyId) throw new GatewayError("forbidden", "only an admin key may read another key's rows", { param: "key_id" });
  return viewer.ownKeyId;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Refuses a cross-site write made with the session cookie. The cookie is SameSite=Strict already; this is the
 * second lock for browsers or proxies that get SameSite wrong: a cookie-borne write must come from a page of
 * this same origin (its `Origin`, or `Sec-Fetch-Site: same-origin` when a browser sends no Origin). Requests
 * with a bearer key carry no ambient credential, so they pass.
 */
export function requireSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method) || req.headers.has("authorization") || readSessionCookie(req) === undefined) return;
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== "null") {
    const forwardedHost = req.headers.get("x-forwarded-host");
    const hosts = new Set([new URL(req.url).host, req.headers.get("host"), forwardedHost]);
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost !== undefined && hosts.has(originHost)) return;
  } else if (req.headers.get("sec-fetch-site") === "same-origin") {
    return;
  }
  throw new GatewayError("forbidden", "cross-origin write with the session cookie refused: send it from the dashboard's own origin, or use 'Authorization: Bearer'");
}

/** A query parameter as unix ms: unix seconds, unix ms (13 digits) or an ISO 8601 date/time. */
export function instantMs(text: string | null, name: string): number | undefined {
  if (text === null || text === "") return undefined;
  const ms = /^\d{1,11}$/.test(text) ? Number(text) * 1000 : /^\d{12,}$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new GatewayError("invalid_request", `${name}: expected unix seconds, unix milliseconds or an ISO date like 2026-11-01, got '${text}'`, { param: name });
  return ms;
}

/** A bounded positive integer query parameter. */
export function intParam(text: string | null, name: string, fallback: number, max: number): number {
  if (text === null || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new GatewayError("invalid_request", `${name}: expected an integer from 1 to ${max}, got '${text}'`, { param: name });
  return value;
}

export const MICROS_PER_USD = 1_000_000;
