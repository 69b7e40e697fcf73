/**
 * The connections of socket-stream.ts, kept alive and reused per engine address (host and port), one request at a
 * time each (never pipelined): a new connection per stream left thousands of sockets in TIME_WAIT and cut short
 * streams' throughput to a third. A connection goes back to the pool only after a complete answer (the stream
 * decides); an idle one is closed after IDLE_SECONDS, and one that the engine closes or writes to while idle is
 * dropped. One set of socket handlers serves every connection and hands each event to the stream it carries.
 */

/** An idle connection is closed after this long (engines close theirs sooner or later: uvicorn after 5 s). */
const IDLE_SECONDS = 30;
/** Idle connections kept per engine address; more are closed. */
const MAX_IDLE_PER_ORIGIN = 1024;

/** An error before the response head, with the system's code when there is one (ECONNREFUSED …), like fetch's. */
export class SocketStreamError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** What a connection's socket events go to: the stream it carries. */
export interface ConnectionUser {
  connected(): void;
  flushRequest(): void;
  received(data: Buffer): void;
  connectionLost(error?: Error): void;
  fail(error: unknown): void;
}

export interface Origin {
  key: string;
  hostname: string;
  port: number;
}
export const originOf = (url: URL): Origin => {
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 80);
  return { key: `${hostname}:${port}`, hostname, port };
};

/** One TCP connection to an engine: carries one stream at a time, then waits in its origin's pool. */
export interface Connection {
  socket: Socket | undefined;
  stream: ConnectionUser | undefined;
  origin: Origin;
  /** it carried a stream before (a failure before any answer byte may be the engine closing it meanwhile) */
  reused: boolean;
}
type Socket = Bun.Socket<Connection>;

const idle = new Map<string, Connection[]>();

export function takeIdle(origin: Origin): Connection | undefined {
  const pool = idle.get(origin.key);
  const connection = pool?.pop();
  if (pool && pool.length === 0) idle.delete(origin.key);
  connection?.socket?.timeout(0);
  return connection;
}

export function release(connection: Connection): void {
  connection.stream = undefined;
  const socket = connection.socket;
  if (!socket) return;
  const pool = idle.get(connection.origin.key) ?? [];
  if (pool.length >= MAX_IDLE_PER_ORIGIN) return void socket.end();
  connection.reused = true;
  socket.timeout(IDLE_SECONDS);
  pool.push(connection);
  idle.set(connection.origin.key, pool);
}

function forget(connection: Connection): void {
  const pool = idle.get(connection.origin.key);
  const at = pool?.indexOf(connection) ?? -1;
  if (at >= 0) pool!.splice(at, 1);
  if (pool && pool.length === 0) idle.delete(connection.origin.key);
}

/** One set of handlers for every connection (Bun's advice: no closures per socket); each routes to its stream. */
const handlers: Bun.SocketHandler<Connection> = {
  open(socket) {
    const connection = socket.data;
    connection.socket = socket;
    if (connection.stream) connection.stream.connected();
    else socket.end();
  },
  drain: (socket) => socket.data.stream?.flushRequest(),
  data(socket, data) {
    const stream = socket.data.stream;
    if (stream) return stream.received(data);
    // bytes on an idle connection: no answer to anything we sent, so the connection is out of step
    forget(socket.data);
    socket.terminate();
  },
  close(socket) {
    const connection = socket.data;
    forget(connection);
    connection.socket = undefined;
    connection.stream?.connectionLost();
  },
  error: (socket, error) => socket.data.stream?.connectionLost(error),
  timeout(socket) {
    forget(socket.data);
    socket.end();
  },
  connectError: (socket, error) => socket.data.stream?.fail(new SocketStreamError(error.message, (error as { code?: string }).code)),
};

export function connect(origin: Origin, stream: ConnectionUser): Connection {
  const connection: Connection = { socket: undefined, stream, origin, reused: false };
  Bun.connect<Connection>({ hostname: origin.hostname, port: origin.port, data: connection, socket: handlers }).catch((error: { message?: string; code?: string }) => {
    if (connection.stream === stream) stream.fail(new SocketStreamError(error?.message ?? "connection failed", error?.code));
  });
  return connection;
}
