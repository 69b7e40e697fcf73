// A redis-server of the test's own (Debian's, installed by test/setup-system.sh) on a free port, with no
// persistence, so a test can freeze (SIGSTOP), kill and restart it. Tests skip themselves when it is missing.
import { existsSync } from "node:fs";

export const REDIS_SERVER = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((path) => existsSync(path));

export interface TestRedis {
  port: number;
  url: string;
  /** Starts it again on the same port (after stop or kill), empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  freeze(): void;
  thaw(): void;
  /** redis-cli-like: one command on a fresh connection. */
  command(...args: string[]): Promise<unknown>;
}

/** `cpu`: pin the server to that core (benchmarks keep it off the gateway's core). */
export async function startRedis(options: { cpu?: number } = {}): Promise<TestRedis> {
  if (!REDIS_SERVER) throw new Error("redis-server is not installed (test/setup-system.sh installs it as root)");
  const port = await freePort();
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const pin = options.cpu === undefined ? [] : ["taskset", "-c", String(options.cpu)];
      const started = (child = Bun.spawn([...pin, REDIS_SERVER!, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" }));
      process.once("exit", () => started.kill("SIGKILL")); // never outlives the test or bench that started it
      const deadline = Date.now() + 5_000;
      for (;;) {
        try {
          if ((await redis.command("PING")) === "PONG") return;
        } catch {}
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
        await Bun.sleep(20);
      }
    },
    async stop() {
      child?.kill("SIGCONT");
      child?.kill("SIGTERM");
      await child?.exited;
    },
    async kill() {
      child?.kill("SIGKILL");
      await child?.exited;
    },
    freeze: () => void child?.kill("SIGSTOP"),
    thaw: () => void child?.kill("SIGCONT"),
    async command(...args) {
      const client = new Bun.RedisClient(`redis://127.0.0.1:${port}`, { autoReconnect: false, connectionTimeout: 1_000 });
      try {
        return await client.send(args[0]!, args.slice(1));
      } finally {
        client.close();
      }
    },
  };
  await redis.start();
  return redis;
}

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}
