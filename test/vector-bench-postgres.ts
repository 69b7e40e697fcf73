// `bun test/vector-bench-postgres.ts`: search latency of the postgres (pgvector) store at 10,000 and 100,000
// chunks of random 384-dim vectors, top 5 — exact search (no index, as sluice creates the table) — through
// PostgresVectorStore.search. Needs the PostgreSQL that test/setup-system.sh sets up (or SLUICE_TEST_POSTGRES_URL).
import { SQL } from "bun";
import { PostgresVectorStore } from "../src/vector/postgres-store.ts";

const URL = process.env.SLUICE_TEST_POSTGRES_URL ?? "postgres://sluice:sluice@127.0.0.1:5432/sluice_test";
const DIMENSIONS = 384;
const QUERIES = 50;
const sql = new SQL(URL);
const random = () => {
  const v = Array.from({ length: DIMENSIONS }, () => Math.random() - 0.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};
const embed = async (texts: string[]) => texts.map(() => random());

for (const size of [10_000, 100_000]) {
  const name = `bench-${size}`;
  const store = PostgresVectorStore.open({ url: URL, name, chunkChars: 800, chunkOverlap: 100 });
  await store.add([{ id: "seed", text: "seed" }], embed); // creates the tables with 384 dimensions
  const chunks = (await sql.unsafe("SELECT tablename FROM pg_tables WHERE tablename LIKE $1", [`sluice_vec_bench_${size}_%_chunks`]))[0].tablename as string;
  const documents = chunks.replace(/_chunks$/, "_documents");
  const started = performance.now();
  await sql.unsafe(`TRUNCATE ${documents} CASCADE`);
  for (let i = 0; i < size; i += 2_000) {
    const ids = Array.from({ length: Math.min(2_000, size - i) }, (_, j) => `d${i + j}`);
    await sql.unsafe(`INSERT INTO ${documents} (id, metadata) SELECT id, '{}'::jsonb FROM unnest($1::text[]) AS id`, [ids]);
    await sql.unsafe(
      `INSERT INTO ${chunks} (document_id, chunk, text, metadata, embedding) SELECT id, 0, 'chunk', '{}'::jsonb, v::vector FROM unnest($1::text[], $2::text[]) AS t(id, v)`,
      [ids, ids.map(() => JSON.stringify(random()))],
    );
  }
  const filled = (performance.now() - started) / 1000;
  const times: number[] = [];
  for (let q = 0; q < QUERIES; q++) {
    const t = performance.now();
    await store.search("query", embed, { topK: 5 });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`${size.toLocaleString("en")} chunks (filled in ${filled.toFixed(1)} s): search mean ${mean.toFixed(2)} ms, p99 ${times[Math.floor(times.length * 0.99)]!.toFixed(2)} ms`);
  await sql.unsafe(`DROP TABLE ${chunks}, ${documents}`);
  await sql.unsafe("DELETE FROM sluice_vector_stores WHERE name = $1", [name]);
  store.close();
}
await sql.close();
