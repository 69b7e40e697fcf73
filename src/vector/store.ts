// Vector databases for the `flexible_vector_database_search` tool: documents split into chunks, each chunk's
// embedding in a sqlite-vec vec0 table (cosine distance, exact KNN), all in one SQLite file in the data dir.
// A file holds any number of stores; a store's tables are named `vector:<name>:<table>`, and store names cannot
// contain ':', so no two stores (nor vec0's own shadow tables, `<table>_chunks`, ...) ever share a table.
// The embedder is the caller's (a backend's /v1/embeddings); the store fixes its dimensions at the first embedding.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname } from "node:path";
import { GatewayError } from "../errors.ts";
import { chunkText } from "./chunk.ts";
import { loadSqliteVec } from "./sqlite-vec.ts";

export { chunkText } from "./chunk.ts";

export type MetadataValue = string | number | boolean;

export interface VectorDocumentInput {
  id?: string;
  text: string;
  metadata?: Record<string, MetadataValue>;
}

export interface VectorHit {
  document_id: string;
  chunk: number;
  text: string;
  /** Cosine similarity, higher is better. */
  score: number;
  metadata: Record<string, unknown>;
}

export interface Embedder {
  (texts: string[]): Promise<number[][]>;
}

export interface VectorStoreOptions {
  /** The SQLite file, in the data dir. */
  file: string;
  /** Letters, digits, `_`, `-` and `.`, starting with a letter or digit. */
  name: string;
  chunkChars?: number;
  chunkOverlap?: number;
}

export interface SearchOptions {
  topK: number;
  /** Exact match on every given key. */
  filter?: Record<string, MetadataValue>;
}

const DEFAULT_CHUNK_CHARS = 800;
const DEFAULT_CHUNK_OVERLAP = 100;
const EMBED_BATCH_SIZE = 64;
const MAX_TOP_K = 4096; // vec0's own limit on k
/** A filter is one INTERSECT term per key; SQLite refuses more than 500 terms, and nobody means that many. */
export const MAX_FILTER_KEYS = 64;

/** The same limit for every store, with a message that says what to change (never the database's own text). */
export function checkFilterSize(filter: Record<string, unknown> | undefined): void {
  const keys = Object.keys(filter ?? {}).length;
  if (keys > MAX_FILTER_KEYS) throw new GatewayError("invalid_request", `filter: at most ${MAX_FILTER_KEYS} metadata keys, got ${keys}`, { param: "filter" });
}
const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/; // as vector_databases[].name in the config
const MAX_ID_CHARS = 256;

const REGISTRY_SCHEMA = `
CREATE TABLE IF NOT EXISTS vector_stores (
  name       TEXT PRIMARY KEY,
  dimensions INTEGER,              -- NULL until the first embedding arrives
  created_at INTEGER NOT NULL      -- unix milliseconds
);`;

/** Quoted table names of one store. */
function tablesOf(name: string) {
  const table = (suffix: string) => `"vector:${name}:${suffix}"`;
  return {
    documents: table("documents"),
    chunks: table("chunks"),
    chunksByDocument: table("chunks_by_document"),
    metadata: table("metadata"),
    metadataByValue: table("metadata_by_value"),
    embeddings: table("embeddings"),
  };
}
type Tables = ReturnType<typeof tablesOf>;

function storeSchema(t: Tables): string {
  return `
CREATE TABLE IF NOT EXISTS ${t.documents} (
  id         TEXT PRIMARY KEY,
  metadata   TEXT NOT NULL,         -- JSON object, returned with each hit
  chunks     INTEGER NOT NULL,
  added_at   INTEGER NOT NULL       -- unix milliseconds
);
CREATE TABLE IF NOT EXISTS ${t.chunks} (
  id          INTEGER PRIMARY KEY,  -- the rowid of the chunk's embedding
  document_id TEXT NOT NULL,
  chunk       INTEGER NOT NULL,     -- position in its document, from 0
  text        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ${t.chunksByDocument} ON ${t.chunks} (document_id);
-- One row per metadata key, the value JSON-encoded so that "1", 1 and true stay different; filters read the index.
CREATE TABLE IF NOT EXISTS ${t.metadata} (
  document_id TEXT NOT NULL,
  key         TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (document_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${t.metadataByValue} ON ${t.metadata} (key, value, document_id);`;
}

interface PreparedDocument {
  id: string;
  metadata: Record<string, MetadataValue>;
  chunks: string[];
}

export class SqliteVectorStore {
  private readonly tables: Tables;

  private constructor(
    private readonly db: Database,
    readonly name: string,
    private readonly chunkChars: number,
    private readonly chunkOverlap: number,
  ) {
    this.tables = tablesOf(name);
  }

  static open(options: VectorStoreOptions): SqliteVectorStore {
    if (!STORE_NAME.test(options.name)) {
      throw new GatewayError("invalid_request", `vector store name '${options.name}' must be letters, digits, '_', '-' or '.', starting with a letter or digit`);
    }
    const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
    const chunkOverlap = options.chunkOverlap ?? DEFAULT_CHUNK_OVERLAP;
    chunkText("", chunkChars, chunkOverlap); // throws on impossible sizes now rather than at the first add
    const inMemory = options.file === ":memory:";
    const dataDir = inMemory ? tmpdir() : dirname(options.file);
    if (!inMemory) mkdirSync(dataDir, { recursive: true });
    const db = new Database(options.file, { create: true, strict: true });
    try {
      db.run("PRAGMA journal_mode = WAL");
      db.run("PRAGMA synchronous = NORMAL");
      db.run("PRAGMA busy_timeout = 5000");
      // A search reads every vector; through mmap rather than a read call per page (100k 384-dim chunks: 77 -> 51 ms).
      db.run("PRAGMA mmap_size = 1073741824");
      loadSqliteVec(db, dataDir);
      db.run(REGISTRY_SCHEMA);
      db.transaction(() => {
        // SQLite table names ignore case, so 'Docs' would silently share the tables of 'docs'.
        const sameTables = db.query("SELECT name FROM vector_stores WHERE name = ? COLLATE NOCASE AND name <> ?").get(options.name, options.name) as { name: string } | null;
        if (sameTables) {
          throw new GatewayError("invalid_request", `vector store name '${options.name}' differs from the existing '${sameTables.name}' only in case; rename one (vector_databases[].name)`);
        }
        db.query("INSERT OR IGNORE INTO vector_stores (name, dimensions, created_at) VALUES (?, NULL, ?)").run(options.name, Date.now());
        db.run(storeSchema(tablesOf(options.name)));
      })();
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteVectorStore(db, options.name, chunkChars, chunkOverlap);
  }

  /** Chunks and embeds every document, then writes them in one transaction; a document with a known id replaces it. */
  async add(documents: VectorDocumentInput[], embed: Embedder): Promise<{ documents: number; chunks: number; ids: string[] }> {
    const prepared = this.prepare(documents);
    const texts = prepared.flatMap((document) => document.chunks);
    const vectors = await embedAll(texts, embed);
    const dimensions = vectors[0]?.length;
    if (dimensions === undefined) return { documents: 0, chunks: 0, ids: [] };
    const t = this.tables;
    this.db.transaction(() => {
      this.ensureDimensions(dimensions);
      const insertDocument = this.db.query(`INSERT INTO ${t.documents} (id, metadata, chunks, added_at) VALUES (?, ?, ?, ?)`);
      const insertMetadata = this.db.query(`INSERT INTO ${t.metadata} (document_id, key, value) VALUES (?, ?, ?)`);
      const insertChunk = this.db.query(`INSERT INTO ${t.chunks} (document_id, chunk, text) VALUES (?, ?, ?)`);
      const insertEmbedding = this.db.query(`INSERT INTO ${t.embeddings} (rowid, embedding) VALUES (?, ?)`);
      const now = Date.now();
      let next = 0;
      for (const document of prepared) {
        this.removeDocument(document.id);
        insertDocument.run(document.id, JSON.stringify(document.metadata), document.chunks.length, now);
        for (const [key, value] of Object.entries(document.metadata)) insertMetadata.run(document.id, key, JSON.stringify(value));
        document.chunks.forEach((text, chunk) => {
          const rowid = insertChunk.run(document.id, chunk, text).lastInsertRowid;
          insertEmbedding.run(rowid, vectors[next++]!);
        });
      }
    })();
    return { documents: prepared.length, chunks: texts.length, ids: prepared.map((document) => document.id) };
  }

  remove(ids: string[]): { removed: number } {
    let removed = 0;
    this.db.transaction(() => {
      for (const id of ids) removed += this.removeDocument(id);
    })();
    return { removed };
  }

  count(): { documents: number; chunks: number; dimensions: number | null } {
    const t = this.tables;
    const row = this.db
      .query(`SELECT (SELECT count(*) FROM ${t.documents}) AS documents, (SELECT coalesce(sum(chunks), 0) FROM ${t.documents}) AS chunks`)
      .get() as { documents: number; chunks: number };
    return { documents: row.documents, chunks: row.chunks, dimensions: this.dimensions() };
  }

  async search(query: string, embed: Embedder, options: SearchOptions): Promise<VectorHit[]> {
    const { topK } = options;
    if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) {
      throw new GatewayError("invalid_request", `topK must be an integer from 1 to ${MAX_TOP_K}, got ${topK}`);
    }
    checkFilterSize(options.filter);
    const filter = Object.entries(options.filter ?? {});
    for (const [key, value] of filter) checkMetadataValue(`filter.${key}`, value);
    const dimensions = this.dimensions();
    if (dimensions === null) return []; // nothing added yet: no need to embed the query
    const [vector] = await embedAll([query], embed);
    if (vector!.length !== dimensions) throw dimensionMismatch(this.name, dimensions, vector!.length);

    const t = this.tables;
    // The filter is a rowid constraint inside the KNN scan, so it returns the k nearest among the matching chunks,
    // however many nearer chunks it excludes.
    const matching = filter.map(() => `SELECT document_id FROM ${t.metadata} WHERE key = ? AND value = ?`).join(" INTERSECT ");
    const rowidFilter = filter.length === 0 ? "" : `AND rowid IN (SELECT id FROM ${t.chunks} WHERE document_id IN (${matching}))`;
    const rows = this.db
      .query(
        `WITH nearest AS (SELECT rowid, distance FROM ${t.embeddings} WHERE embedding MATCH ? AND k = ? ${rowidFilter})
         SELECT c.document_id, c.chunk, c.text, d.metadata, nearest.distance
         FROM nearest JOIN ${t.chunks} c ON c.id = nearest.rowid JOIN ${t.documents} d ON d.id = c.document_id
         ORDER BY nearest.distance`,
      )
      .all(vector!, topK, ...filter.flatMap(([key, value]) => [key, JSON.stringify(value)])) as {
      document_id: string;
      chunk: number;
      text: string;
      metadata: string;
      distance: number;
    }[];
    return rows.map((row) => ({
      document_id: row.document_id,
      chunk: row.chunk,
      text: row.text,
      score: Math.min(1, 1 - row.distance), // float32 rounding can put an exact match a hair above 1
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    }));
  }

  close(): void {
    this.db.close();
  }

  private prepare(documents: VectorDocumentInput[]): PreparedDocument[] {
    const seen = new Set<string>();
    return documents.map((document, i) => {
      const id = document.id ?? crypto.randomUUID();
      if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_CHARS) {
        throw new GatewayError("invalid_request", `documents[${i}].id must be a string of 1-${MAX_ID_CHARS} characters`);
      }
      if (seen.has(id)) throw new GatewayError("invalid_request", `documents[${i}].id '${id}' appears more than once in one add`);
      seen.add(id);
      if (typeof document.text !== "string") throw new GatewayError("invalid_request", `documents[${i}].text must be a string`);
      const metadata = document.metadata ?? {};
      for (const [key, value] of Object.entries(metadata)) checkMetadataValue(`documents[${i}].metadata.${key}`, value);
      const chunks = chunkText(document.text, this.chunkChars, this.chunkOverlap);
      if (chunks.length === 0) throw new GatewayError("invalid_request", `documents[${i}] ('${id}') has no text to index`);
      return { id, metadata, chunks };
    });
  }

  private dimensions(): number | null {
    const row = this.db.query("SELECT dimensions FROM vector_stores WHERE name = ?").get(this.name) as { dimensions: number | null } | null;
    return row?.dimensions ?? null;
  }

  /** Creates the vec0 table at the first embedding; later embeddings must have its size. Runs inside add's transaction. */
  private ensureDimensions(dimensions: number): void {
    const current = this.dimensions();
    if (current !== null) {
      if (current !== dimensions) throw dimensionMismatch(this.name, current, dimensions);
      return;
    }
    this.db.run(`CREATE VIRTUAL TABLE IF NOT EXISTS ${this.tables.embeddings} USING vec0(embedding float[${dimensions}] distance_metric=cosine)`);
    this.db.query("UPDATE vector_stores SET dimensions = ? WHERE name = ?").run(dimensions, this.name);
  }

  /** Returns 1 when the document existed. */
  private removeDocument(id: string): number {
    const t = this.tables;
    const chunkIds = this.db.query(`SELECT id FROM ${t.chunks} WHERE document_id = ?`).values(id) as [number][];
    // One rowid at a time: vec0 answers `rowid = ?` from its index but `rowid IN (...)` by scanning every vector.
    const deleteEmbedding = chunkIds.length > 0 ? this.db.query(`DELETE FROM ${t.embeddings} WHERE rowid = ?`) : undefined;
    for (const [chunkId] of chunkIds) deleteEmbedding!.run(chunkId);
    this.db.query(`DELETE FROM ${t.chunks} WHERE document_id = ?`).run(id);
    this.db.query(`DELETE FROM ${t.metadata} WHERE document_id = ?`).run(id);
    return this.db.query(`DELETE FROM ${t.documents} WHERE id = ?`).run(id).changes;
  }
}

/** Embeds in batches, checking that the embedder kept its side of the contract: one vector per text, one size. */
async function embedAll(texts: string[], embed: Embedder): Promise<Float32Array[]> {
  const vectors: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += EMBED_BATCH_SIZE) {
    const batch = texts.slice(start, start + EMBED_BATCH_SIZE);
    const embedded = await embed(batch);
    if (!Array.isArray(embedded) || embedded.length !== batch.length) {
      throw new GatewayError("upstream_error", `the embedding model returned ${Array.isArray(embedded) ? embedded.length : "no"} vectors for ${batch.length} texts`);
    }
    for (const vector of embedded) {
      if (!Array.isArray(vector) || vector.length === 0 || !vector.every(Number.isFinite)) {
        throw new GatewayError("upstream_error", "the embedding model returned a vector that is not a non-empty array of finite numbers");
      }
      const first = vectors[0]?.length ?? vector.length;
      if (vector.length !== first) {
        throw new GatewayError("upstream_error", `the embedding model returned vectors of different sizes (${first} and ${vector.length}) in one call`);
      }
      vectors.push(new Float32Array(vector));
    }
  }
  return vectors;
}

function dimensionMismatch(name: string, stored: number, got: number): GatewayError {
  return new GatewayError(
    "invalid_request",
    `vector store '${name}' holds ${stored}-dimensional embeddings, but the embedding model returned ${got} dimensions; ` +
      "use the embedding model the store was filled with, or another store name",
  );
}

function checkMetadataValue(path: string, value: unknown): void {
  const ok = typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
  if (!ok) throw new GatewayError("invalid_request", `${path} must be a string, a finite number or a boolean`);
}
