// A PostgreSQL server of the test's own: a fresh cluster (initdb) on a free port in a temporary folder, run as the
// postgres user, so a test can stop and restart it without touching the machine's cluster or another test's.
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

const BIN = "/usr/lib/postgresql/15/bin";

export interface PostgresInstance {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** A new empty database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT of the server and its backends: a hung server that neither answers nor refuses. */
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

export const postgresAvailable = (() => {
  try {
    return Bun.spawnSync([`${BIN}/initdb`, "--version"]).exitCode === 0 && process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function asPostgres(args: string[]): { exitCode: number; output: string } {
  const result = Bun.spawnSync(["runuser", "-u", "postgres", "--", ...args], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, output: `${result.stdout.toString()}${result.stderr.toString()}` };
}

function must(args: string[]): void {
  const { exitCode, output } = asPostgres(args);
  if (exitCode !== 0) throw new Error(`${args.join(" ")} failed:\n${output}`);
}

/** `durable`: the server's default fsync and commit settings (benchmarks); tests turn them off for speed. */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresInstance> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-pg-"));
  chmodSync(dir, 0o755);
  const { uid, gid } = (() => {
    const out = Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim();
    const group = Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim();
    return { uid: Number(out), gid: Number(group) };
  })();
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  must([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const fast = options.durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${fast}`;
  const start = async () => {
    must([`${BIN}/pg_ctl`, "-D", data, "-o", serverOptions, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
  };
  const stop = async () => {
    must([`${BIN}/pg_ctl`, "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const processes = () => {
    const master = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    const children = Bun.spawnSync(["pgrep", "-P", String(master)]).stdout.toString().trim().split("\n").filter(Boolean).map(Number);
    return [master, ...children];
  };
  return {
    url,
    port,
    freeze: () => processes().forEach((pid) => process.kill(pid, "SIGSTOP")),
    thaw: () => processes().forEach((pid) => process.kill(pid, "SIGCONT")),
    async createDatabase(name) {
      must([`${BIN}/psql`, "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-qc", `CREATE DATABASE "${name}"`]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    async destroy() {
      asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
