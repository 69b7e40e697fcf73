// The client address of a request. Bun knows it only through the server that accepted the connection, which
// Elysia does not see when we hand it requests from our own Bun.serve, so the server notes it here.
const addresses = new WeakMap<Request, string>();

export function noteClientIp(req: Request, address: string | undefined): void {
  if (address) addresses.set(req, address);
}

export function clientIpOf(req: Request): string | undefined {
  return addresses.get(req);
}
