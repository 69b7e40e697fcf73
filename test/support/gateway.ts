// Starts the real gateway (`bun src/cli.ts serve`) as a child process on a free port with a given YAML config.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

export interface RunningGateway {
  url: string;
  port: number;
  configPath: string;
  dir: string;
  /** Everything the gateway logged so far. */
  logs(): string;
  writeConfig(yaml: string): void;
  stop(): Promise<void>;
}

export async function spawnGateway(yaml: string, options: { command?: string[]; env?: Record<string, string>; args?: string[] } = {}): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-test-"));
  const configPath = join(dir, "sluice.yaml");
  writeFileSync(configPath, yaml);
  const command = options.command ?? [process.execPath, join(ROOT, "src/cli.ts")];
  const child = Bun.spawn([...command, "serve", "--config", configPath, "--port", "0", "--data-dir", join(dir, "data"), ...(options.args ?? [])], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) output += new TextDecoder().decode(chunk);
  };
  void collect(child.stdout);
  void collect(child.stderr);

  const deadline = Date.now() + 15_000;
  let port = 0;
  while (!port) {
    const match = output.match(/listening on http:\/\/[^:]+:(\d+)/);
    if (match) port = Number(match[1]);
    else if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start:\n${output}`);
    else await Bun.sleep(20);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    configPath,
    dir,
    logs: () => output,
    writeConfig: (text) => writeFileSync(configPath, text),
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` until it returns a value other than undefined, up to `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(25);
  }
}

/** Creates an API key through POST /v1/keys with an admin key; throws unless it is created (201). */
export async function createKey(gateway: RunningGateway, adminKey: string, settings: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await fetch(`${gateway.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${adminKey}` }, body: JSON.stringify(settings) });
  if (response.status !== 201) throw new Error(`POST /v1/keys answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { id: string; key: string };
}
