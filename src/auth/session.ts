// Browser sessions (seed 003): a key is exchanged for an HttpOnly cookie holding an HS256 JWT that names the key.
// Each request with the cookie re-reads the key, so revoking the key ends its sessions too.
import { SignJWT, jwtVerify } from "jose";

export const SESSION_COOKIE = "sluice_session";

export class SessionSigner {
  private readonly secret: Uint8Array;

  constructor(secret: string) {
    this.secret = new TextEncoder().encode(secret);
  }

  async sign(keyId: string, expiresAtS: number): Promise<string> {
    return new SignJWT({}).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(keyId).setIssuer("sluice").setIssuedAt().setExpirationTime(expiresAtS).sign(this.secret);
  }

  /** The key id inside a valid, unexpired token, or undefined. */
  async verify(token: string): Promise<string | undefined> {
    try {
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
