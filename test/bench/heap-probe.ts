// Preloaded into a benchmarked server (`bun --preload test/bench/heap-probe.ts …`): on SIGUSR2 it writes where the
// process's memory is to $HEAP_PROBE_OUT as one JSON line — RSS before and after a full GC, the JS heap, memory
// outside it (buffers, strings' backing stores), and the object types the heap holds most of. A signal, not a
// route, so the server under test keeps its own code paths.
import { heapStats } from "bun:jsc";
import { appendFileSync, readFileSync } from "node:fs";

const out = process.env.HEAP_PROBE_OUT;
const TOP_TYPES = 30;

function rssKiB(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

if (out) {
  process.on("SIGUSR2", () => {
    const rssBefore = rssKiB();
    Bun.gc(true);
    const stats = heapStats();
    const memory = process.memoryUsage();
    const types = Object.entries(stats.objectTypeCounts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_TYPES);
    const line = {
      at: Date.now(),
      rss_kib_before_gc: rssBefore,
      rss_kib_after_gc: rssKiB(),
      heap_size: stats.heapSize,
      heap_capacity: stats.heapCapacity,
      extra_memory: stats.extraMemorySize,
      object_count: stats.objectCount,
      protected_objects: stats.protectedObjectCount,
      external: memory.external,
      array_buffers: memory.arrayBuffers,
      types: Object.fromEntries(types),
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  });
}
