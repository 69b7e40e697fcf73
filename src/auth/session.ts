// Browser sessions (seed 003): a key is exchanged for an HttpOnly cookie holding an HS256 JWT that names the key.
// Each request with the cookie re-reads the key, so revoking the key ends its sessions too.
import type * as Jose from "jose";

/** Loaded on the first session: a gateway whose clients send keys (or with auth.mode none) never needs it. */
const jose = () => import("jose") as Promise<typeof Jose>;

export const SESSION_COOKIE = "sluice_session";

export class SessionSigner {
  private readonly secret: Uint8Array;

  constructor(secret: string) {
    this.secret = new TextEncoder().encode(secret);
  }

  async sign(keyId: string, expiresAtS: number): Promise<string> {
    const { SignJWT } = await jose();
    return new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(keyId).setIssuer("sluice").setIssuedAt().setExpirationTime(expiresAtS).sign(this.secret);
  }

  /** The key id inside a valid, unexpired token, or undefined. */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { jwtVerify } = await jose();
      const { payload } = await jwtVerify(token, this.secret, { algorithms: ["HS256"], issuer: "sluice" });
      return payload.sub;
    } catch {
      return undefined;
    }
  }
}

export function sessionCookie(token: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure ? "; Secure" : ""}`;
}

export function readSessionCookie(req: Request): string | undefined {
  const header = req.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=");
  }
  return undefined;
}
