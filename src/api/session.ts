// POST /v1/auth/session: exchange an API key (bearer header or {"api_key"}) for an HttpOnly session cookie.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { sessionCookie } from "../auth/session.ts";
import { readJsonBody } from "../pipeline/read-body.ts";
import type { ClientAddress } from "../client-ip.ts";

export async function createSession(req: Request, gateway: Gateway, clientIp: ClientAddress): Promise<Response> {
  const snapshot = gateway.snapshot;
  if (snapshot.auth.mode === "none") throw new GatewayError("invalid_request", "auth.mode is none: this gateway needs no session");
  let authenticated = req;
  if (!req.headers.has("authorization")) {
    const body = (await readJsonBody(req, snapshot.server.max_body_bytes).catch(() => undefined)) as { api_key?: unknown } | undefined;
    if (typeof body?.api_key !== "string") throw new GatewayError("unauthorized", "send the key as 'Authorization: Bearer inf_…' or as {\"api_key\": \"inf_…\"}");
    // A key is printable ASCII; anything else (a control character) could not even travel in a header.
    if (!/^[\x21-\x7e]{1,200}$/.test(body.api_key)) throw new GatewayError("unauthorized", "invalid API key");
    authenticated = new Request(req.url, { headers: { authorization: `Bearer ${body.api_key}` } });
  }
  const { key } = await gateway.principal(authenticated, clientIp);
  const nowS = Math.floor(Date.now() / 1000);
  const expiresAt = Math.min(nowS + snapshot.auth.session_ttl_s, key!.expires_at ?? Infinity);
  const token = await gateway.sessions.sign(key!.id, expiresAt);
  const secure = new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https";
  return Response.json(
    { object: "session", key_id: key!.id, scopes: key!.scopes, expires_at: expiresAt },
    { headers: { "set-cookie": sessionCookie(token, expiresAt - nowS, secure) } },
  );
}
