// The `postgres` store for vector databases: pgvector in a PostgreSQL the operator runs (store: postgres,
// url: postgres://…), through Bun's built-in Postgres client. Same behaviour as the SQLite store: chunked and
// embedded documents, replace by id, cosine KNN with an exact-match metadata filter.
import { SQL } from "bun";
import { createHash } from "node:crypto";
import { GatewayError } from "../errors.ts";
import { checkFilterSize, chunkText, type Embedder, type SearchOptions, type VectorDocumentInput, type VectorHit } from "./store.ts";

const EMBED_BATCH_SIZE = 64;

export interface PostgresStoreOptions {
  url: string;
  name: string;
  chunkChars: number;
  chunkOverlap: number;
}

export class PostgresVectorStore {
  private readonly documents: string;
  private readonly chunks: string;
  private ready: Promise<void> | undefined;

  private constructor(
    private readonly sql: SQL,
    private readonly options: PostgresStoreOptions,
  ) {
    // Table names from the database name: readable, and unique through a short hash (names differ in case and `.`/`-`).
    const slug = `${options.name.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 30)}_${createHash("sha256").update(options.name).digest("hex").slice(0, 8)}`;
    this.documents = `sluice_vec_${slug}_documents`;
    this.chunks = `sluice_vec_${slug}_chunks`;
  }

  static open(options: PostgresStoreOptions): PostgresVectorStore {
    return new PostgresVectorStore(new SQL(options.url), options);
  }

  async add(documents: VectorDocumentInput[], embed: Embedder): Promise<{ documents: number; chunks: number; ids: string[] }> {
    await this.init();
    const prepared = documents.map((document) => ({ id: document.id ?? crypto.randomUUID(), metadata: document.metadata ?? {}, chunks: chunkText(document.text, this.options.chunkChars, this.options.chunkOverlap) }));
    const texts = prepared.flatMap((document) => document.chunks);
    const vectors: number[][] = [];
    for (let i = 0; i < texts.length; i += EMBED_BATCH_SIZE) vectors.push(...(await embed(texts.slice(i, i + EMBED_BATCH_SIZE))));
    const dimensions = await this.dimensions(vectors[0]?.length);
    if (vectors.some((vector) => vector.length !== dimensions)) throw dimensionError(this.options.name, dimensions, vectors.find((v) => v.length !== dimensions)!.length);
    let next = 0;
    await this.sql.begin(async (tx) => {
      for (const document of prepared) {
        await tx.unsafe(`DELETE FROM ${this.documents} WHERE id = $1`, [document.id]);
        await tx.unsafe(`INSERT INTO ${this.documents} (id, metadata) VALUES ($1, $2::text::jsonb)`, [document.id, JSON.stringify(document.metadata)]);
        for (const [chunk, text] of document.chunks.entries()) {
          await tx.unsafe(`INSERT INTO ${this.chunks} (document_id, chunk, text, metadata, embedding) VALUES ($1, $2, $3, $4::text::jsonb, $5::text::vector)`, [
            document.id,
            chunk,
            text,
            JSON.stringify(document.metadata),
            JSON.stringify(vectors[next++]),
          ]);
        }
      }
    });
    return { documents: prepared.length, chunks: texts.length, ids: prepared.map((document) => document.id) };
  }

  async remove(ids: string[]): Promise<{ removed: number }> {
    await this.init();
    const rows = await this.sql.unsafe(`DELETE FROM ${this.documents} WHERE id = ANY($1::text[]) RETURNING id`, [ids]);
    return { removed: rows.length };
  }

  async count(): Promise<{ documents: number; chunks: number; dimensions: number | null }> {
    await this.init();
    const [row] = await this.sql.unsafe(
      `SELECT (SELECT count(*) FROM ${this.documents})::int AS documents, (SELECT count(*) FROM ${this.chunks})::int AS chunks, (SELECT dimensions FROM sluice_vector_stores WHERE name = $1) AS dimensions`,
      [this.options.name],
    );
    return { documents: row.documents, chunks: row.chunks, dimensions: row.dimensions ?? null };
  }

  async search(query: string, embed: Embedder, options: SearchOptions): Promise<VectorHit[]> {
    checkFilterSize(options.filter);
    const counts = await this.count();
    if (!counts.chunks) return [];
    const [vector] = await embed([query]);
    if (vector!.length !== counts.dimensions) throw dimensionError(this.options.name, counts.dimensions!, vector!.length);
    const rows = await this.sql.unsafe(
      `SELECT document_id, chunk, text, metadata, 1 - (embedding <=> $1::text::vector) AS score FROM ${this.chunks}
       WHERE metadata @> $2::text::jsonb ORDER BY embedding <=> $1::text::vector LIMIT $3`,
      [JSON.stringify(vector), JSON.stringify(options.filter ?? {}), options.topK],
    );
    return rows.map((row: { document_id: string; chunk: number; text: string; metadata: unknown; score: number }) => ({
      document_id: row.document_id,
      chunk: row.chunk,
      text: row.text,
      score: Math.min(1, Number(row.score)),
      metadata: (typeof row.metadata === "string" ? JSON.parse(row.metadata) : row.metadata) as Record<string, unknown>,
    }));
  }

  close(): void {
    void this.sql.close();
  }

  /** Creates the extension and the tables once per process (idempotent on the server). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await this.sql.unsafe("CREATE EXTENSION IF NOT EXISTS vector");
      await this.sql.unsafe("CREATE TABLE IF NOT EXISTS sluice_vector_stores (name text PRIMARY KEY, dimensions int)");
      await this.sql.unsafe(`CREATE TABLE IF NOT EXISTS ${this.documents} (id text PRIMARY KEY, metadata jsonb NOT NULL DEFAULT '{}')`);
      const [row] = await this.sql.unsafe("SELECT dimensions FROM sluice_vector_stores WHERE name = $1", [this.options.name]);
      if (row?.dimensions) await this.createChunks(row.dimensions);
    })().catch((error) => {
      this.ready = undefined;
      throw new GatewayError("upstream_error", `vector database '${this.options.name}': PostgreSQL is not usable: ${(error as Error).message}`);
    });
    return this.ready;
  }

  /** The store's dimensions: recorded by the first embedding. */
  private async dimensions(first: number | undefined): Promise<number> {
    const [row] = await this.sql.unsafe("SELECT dimensions FROM sluice_vector_stores WHERE name = $1", [this.options.name]);
    if (row?.dimensions) return row.dimensions as number;
    if (!first) throw new GatewayError("invalid_request", "nothing to embed");
    await this.sql.unsafe("INSERT INTO sluice_vector_stores (name, dimensions) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [this.options.name, first]);
    await this.createChunks(first);
    return first;
  }

  private async createChunks(dimensions: number): Promise<void> {
    await this.sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${this.chunks} (document_id text NOT NULL REFERENCES ${this.documents}(id) ON DELETE CASCADE, chunk int NOT NULL,
       text text NOT NULL, metadata jsonb NOT NULL, embedding vector(${dimensions}) NOT NULL, PRIMARY KEY (document_id, chunk))`,
    );
  }
}

function dimensionError(name: string, stored: number, got: number): GatewayError {
  return new GatewayError("invalid_request", `vector store '${name}' holds ${stored}-dimensional embeddings, but the embedding model returned ${got} dimensions; use the embedding model the store was filled with, or another store name`);
}
