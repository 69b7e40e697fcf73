// Memory per open stream: opens N paced streams at once through a server in front of the shared fake engine and
// reports the server's RSS (before and after a full GC), JS heap and the object types it holds, while they are
// all open, then waits for them to end and counts errors.
//
//   bun test/bench/stream-memory.ts [--targets sluice,bare,<proxy.ts>] [--streams 256,1024,4096] [--chunks 1500] [--delay-ms 10]
//
// Each (target, N) gets a fresh server, preloaded with heap-probe.ts (SIGUSR2 → one JSON line). The client is
// this process, on raw sockets (no fetch: it would cap itself at 256 and cost more than the server under test).
// Streams are long (chunks × delay, 15 s by default) so all N are open at the sample. Servers run with
// BUN_CONFIG_MAX_HTTP_REQUESTS set, so `sluice serve` does not start itself again: the process measured is the
// one serving. Needs file descriptors: about 2 N in the server and N here (`ulimit -n`).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Socket } from "bun";

const root = resolve(import.meta.dir, "../..");
const shared = process.env.BENCH_DIR ?? resolve(root, "../shared/bench");
const bun = process.execPath;

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const targets = opt("targets", "sluice,bare").split(",");
const counts = opt("streams", "256,1024,4096").split(",").map(Number);
const chunks = Number(opt("chunks", "1500"));
const delayMs = Number(opt("delay-ms", "10"));
const enginePort = Number(opt("engine-port", "18400"));
const serverPort = Number(opt("port", "18401"));
const OPEN_BATCH = 128;
const SETTLE_MS = 1_500;

interface Stream {
  opened: number;
  firstByte?: number;
  ended?: number;
  ok: boolean;
  status?: number;
  tail: string;
  error?: string;
}

const body = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Say hello in one short sentence." },
  ],
  max_tokens: 64,
  stream: true,
  stream_options: { include_usage: true },
});
const request = `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${serverPort}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;

function openStream(port: number, streams: Stream[]): Promise<void> {
  const stream: Stream = { opened: performance.now(), ok: false, tail: "" };
  streams.push(stream);
  return Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(socket: Socket) {
        socket.write(request);
      },
      data(socket: Socket, data: Buffer) {
        if (stream.firstByte === undefined) {
          stream.firstByte = performance.now();
          stream.status = Number(data.toString("latin1", 9, 12));
        }
        // [DONE] ends every stream: it is always in the last bytes.
        stream.tail = (stream.tail + data.toString("latin1", Math.max(0, data.length - 64))).slice(-96);
        if (stream.tail.includes("data: [DONE]")) {
          stream.ok = stream.status === 200;
          stream.ended = performance.now();
          socket.end();
        }
      },
      close() {
        stream.ended ??= performance.now();
        if (!stream.ok) stream.error ??= `closed before [DONE] (status ${stream.status ?? "none"})`;
      },
      error(_socket: Socket, error: Error) {
        stream.error = error.message;
      },
    },
  }).then(
    () => {},
    (error: Error) => {
      stream.error = `connect: ${error.message}`;
      stream.ended = performance.now();
    },
  );
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (check()) return true;
    await Bun.sleep(50);
  }
  return check();
}

async function ready(url: string, timeoutMs = 20_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    try {
      await fetch(url);
      return;
    } catch {
      await Bun.sleep(100);
    }
  }
  throw new Error(`${url} did not answer`);
}

function procStatus(pid: number): { rss: number; hwm: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(status)![1]), cpuMs: (ticks * 1000) / 100 };
}

async function probe(pid: number, file: string): Promise<Record<string, any>> {
  const before = (() => {
    try {
      return readFileSync(file, "utf8").trim().split("\n").length;
    } catch {
      return 0;
    }
  })();
  process.kill(pid, "SIGUSR2");
  let lines: string[] = [];
  await waitFor(() => {
    try {
      lines = readFileSync(file, "utf8").trim().split("\n");
    } catch {
      lines = [];
    }
    return lines.length > before;
  }, 10_000);
  return JSON.parse(lines.at(-1)!);
}

function serverCommand(target: string, dataDir: string): string[] {
  const preload = ["--preload", join(root, "test/bench/heap-probe.ts")];
  if (target === "sluice") return [bun, ...preload, join(root, "src/cli.ts"), "serve", "--config", join(root, "test/bench/sluice.yaml"), "--data-dir", dataDir, "--port", String(serverPort)];
  const proxy = target === "bare" ? join(shared, "bare-proxy.ts") : target.endsWith(".ts") ? resolve(target) : undefined;
  if (proxy) return [bun, ...preload, proxy, "--port", String(serverPort), "--upstream", `http://127.0.0.1:${enginePort}`];
  throw new Error(`unknown target ${target} (sluice, bare, or a proxy script taking --port and --upstream)`);
}

const pct = (values: number[], p: number) => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
};
const mib = (kib: number) => +(kib / 1024).toFixed(1);

const engine = Bun.spawn([bun, join(shared, "upstream.ts"), "--port", String(enginePort), "--chunks", String(chunks), "--chunk-delay-ms", String(delayMs)], { stdout: "ignore", stderr: "inherit" });
const results: Record<string, unknown>[] = [];
try {
  await ready(`http://127.0.0.1:${enginePort}/health`);
  for (const target of targets) {
    for (const n of counts) {
      const dataDir = mkdtempSync(join(tmpdir(), "sluice-memory-"));
      const probeFile = join(dataDir, "probe.jsonl");
      const server = Bun.spawn(serverCommand(target, dataDir), {
        cwd: root,
        env: { ...process.env, HEAP_PROBE_OUT: probeFile, BUN_CONFIG_MAX_HTTP_REQUESTS: "65535", PORT: String(serverPort), UPSTREAM_BASE: `http://127.0.0.1:${enginePort}/v1` },
        stdout: "ignore",
        stderr: "ignore",
      });
      try {
        await ready(`http://127.0.0.1:${serverPort}/health`);
        // Warm: JIT and connection pools, as a running gateway is.
        const warm: Stream[] = [];
        await Promise.all(Array.from({ length: 32 }, () => openStream(serverPort, warm)));
        await waitFor(() => warm.every((s) => s.ended !== undefined), (chunks * delayMs) * 3 + 10_000);
        const idle = await probe(server.pid, probeFile);
        const cpuStart = procStatus(server.pid).cpuMs;
        const streams: Stream[] = [];
        // RSS every 100 ms, to tell when the peak comes: while streams open, while they run, or as they end.
        const samples: { at: number; rss: number }[] = [];
        const sampler = setInterval(() => samples.push({ at: performance.now(), rss: procStatus(server.pid).rss }), 100);
        const openedAt = performance.now();
        for (let i = 0; i < n; i += OPEN_BATCH) await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, n - i) }, () => openStream(serverPort, streams)));
        await waitFor(() => streams.every((s) => s.firstByte !== undefined || s.ended !== undefined), 30_000);
        const allOpenAt = performance.now();
        const allOpenMs = allOpenAt - openedAt;
        await Bun.sleep(SETTLE_MS);
        const stillOpen = streams.filter((s) => s.ended === undefined).length;
        const rssOpen = procStatus(server.pid).rss;
        const open = await probe(server.pid, probeFile);
        await waitFor(() => streams.every((s) => s.ended !== undefined), chunks * delayMs * 4 + 60_000);
        const firstEnd = Math.min(...streams.map((s) => s.ended ?? Infinity));
        clearInterval(sampler);
        const end = procStatus(server.pid);
        const peakIn = (from: number, to: number) => mib(Math.max(0, ...samples.filter((s) => s.at >= from && s.at < to).map((s) => s.rss)));
        const errors = streams.filter((s) => !s.ok);
        const totals = streams.filter((s) => s.ok).map((s) => s.ended! - s.opened);
        const row = {
          target,
          streams: n,
          open_at_sample: stillOpen,
          all_open_ms: Math.round(allOpenMs),
          idle_rss_mib: mib(idle.rss_kib_after_gc),
          open_rss_mib: mib(rssOpen),
          open_rss_after_gc_mib: mib(open.rss_kib_after_gc),
          peak_rss_mib: mib(end.hwm),
          peak_opening_mib: peakIn(openedAt, allOpenAt + 200),
          peak_running_mib: peakIn(allOpenAt + 200, firstEnd),
          peak_ending_mib: peakIn(firstEnd, Infinity),
          kib_per_stream: +((rssOpen - idle.rss_kib_after_gc) / n).toFixed(1),
          heap_mib: +(open.heap_size / 2 ** 20).toFixed(1),
          heap_idle_mib: +(idle.heap_size / 2 ** 20).toFixed(1),
          extra_mib: +(open.extra_memory / 2 ** 20).toFixed(1),
          objects_per_stream: +((open.object_count - idle.object_count) / n).toFixed(1),
          errors: errors.length,
          error_samples: [...new Set(errors.map((s) => s.error))].slice(0, 3),
          total_p50_ms: Math.round(pct(totals, 50)),
          cpu_ms: Math.round(end.cpuMs - cpuStart),
          top_types_per_stream: Object.fromEntries(
            Object.entries(open.types as Record<string, number>)
              .map(([type, count]) => [type, +((count - ((idle.types as Record<string, number>)[type] ?? 0)) / n).toFixed(2)] as const)
              .filter(([, perStream]) => perStream >= 0.5)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 20),
          ),
        };
        results.push(row);
        console.log(JSON.stringify(row));
      } finally {
        server.kill("SIGKILL");
        await server.exited;
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  }
} finally {
  engine.kill();
  await engine.exited;
}
