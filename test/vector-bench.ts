// Search latency of SqliteVectorStore at 10 000 and 100 000 chunks: `bun test/vector-bench.ts`.
// Random normalised 384-dim vectors (the size of all-MiniLM / bge-small) from a seeded generator, one chunk per
// document, in a store file under the OS temp dir. sqlite-vec's KNN is an exact scan, so latency grows with the count.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteVectorStore, type Embedder } from "../src/vector/store.ts";
import { seededRandom as seeded } from "./support/random.ts";

const DIMENSIONS = 384;
const SIZES = [10_000, 100_000];
const QUERIES = 200;
const TOP_K = 5;
const ADD_BATCH = 5_000;
// Every tenth document carries { shard: 0 }, so a filtered search scans a tenth of the candidates.
const SHARDS = 10;


const random = seeded(42);
const randomVector = (): number[] => {
  const vector = Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
  const norm = Math.hypot(...vector);
  return vector.map((x) => x / norm);
};
const randomEmbedder: Embedder = async (texts) => texts.map(randomVector);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function measure(store: SqliteVectorStore, filter?: Record<string, number>): Promise<{ meanMs: number; p99Ms: number }> {
  for (let i = 0; i < 5; i++) await store.search("warm-up", randomEmbedder, { topK: TOP_K, filter }); // page cache, statement cache
  const timings: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const started = performance.now();
    const hits = await store.search(`query ${i}`, randomEmbedder, { topK: TOP_K, filter });
    timings.push(performance.now() - started);
    if (hits.length !== TOP_K) throw new Error(`expected ${TOP_K} hits, got ${hits.length}`);
  }
  timings.sort((a, b) => a - b);
  return { meanMs: timings.reduce((sum, t) => sum + t, 0) / timings.length, p99Ms: percentile(timings, 99) };
}

const dir = mkdtempSync(join(tmpdir(), "sluice-vector-bench-"));
const file = join(dir, "vectors.db");
try {
  const store = SqliteVectorStore.open({ file, name: "bench" });
  let filled = 0;
  console.log(`${DIMENSIONS}-dim vectors, top ${TOP_K}, ${QUERIES} queries per row (query embedding is a random vector, ~0.05 ms)`);
  for (const size of SIZES) {
    const started = performance.now();
    while (filled < size) {
      const count = Math.min(ADD_BATCH, size - filled);
      const documents = Array.from({ length: count }, (_, i) => ({
        id: `doc-${filled + i}`,
        text: `document ${filled + i}`,
        metadata: { shard: (filled + i) % SHARDS },
      }));
      await store.add(documents, randomEmbedder);
      filled += count;
    }
    const fillS = (performance.now() - started) / 1000;
    const plain = await measure(store);
    const filtered = await measure(store, { shard: 0 });
    const fileMb = statSync(file).size / 1e6;
    console.log(
      `${size.toLocaleString("en")} chunks (filled in ${fillS.toFixed(1)} s, file ${fileMb.toFixed(0)} MB): ` +
        `search mean ${plain.meanMs.toFixed(2)} ms, p99 ${plain.p99Ms.toFixed(2)} ms; ` +
        `with a filter matching 1/${SHARDS}: mean ${filtered.meanMs.toFixed(2)} ms, p99 ${filtered.p99Ms.toFixed(2)} ms`,
    );
  }
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
