// The client address of a request. Bun knows it only through the server that accepted the connection, which
// Elysia does not see when we hand it requests from our own Bun.serve, so the server notes it here.
const addresses = new WeakMap<Request, string>();

export function noteClientIp(req: Request, address: string | undefined): void {
  if (address) addresses.set(req, address);
}

/** Looked up only when needed (a key with allowed_ips): asking the socket costs a system call. */
export type ClientAddress = () => string | undefined;
export const NO_ADDRESS: ClientAddress = () => undefined;

export function clientIpOf(req: Request): string | undefined {
  return addresses.get(req);
}
