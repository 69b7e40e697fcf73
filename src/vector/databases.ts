// The configured vector databases: each a SqliteVectorStore in the data dir (one file, a table set per database)
// or a PostgresVectorStore (pgvector), opened on first use and kept across config reloads, with the embedding
// backend the config names.
import { join } from "node:path";
import type { Snapshot } from "../config/resolve.ts";
import { SqliteVectorStore, type Embedder, type SearchOptions, type VectorDocumentInput, type VectorHit } from "./store.ts";
import { PostgresVectorStore } from "./postgres-store.ts";

/** What both stores do; the SQLite one answers some of these synchronously. */
export interface VectorStore {
  add(documents: VectorDocumentInput[], embed: Embedder): Promise<{ documents: number; chunks: number; ids: string[] }>;
  remove(ids: string[]): { removed: number } | Promise<{ removed: number }>;
  count(): { documents: number; chunks: number; dimensions: number | null } | Promise<{ documents: number; chunks: number; dimensions: number | null }>;
  search(query: string, embed: Embedder, options: SearchOptions): Promise<VectorHit[]>;
  close(): void;
}
import { UpstreamCall } from "../upstream/call.ts";
import { embed } from "../upstream/client.ts";
import { GatewayError } from "../errors.ts";
import { costOf } from "../billing/cost.ts";

export class VectorDatabases {
  private readonly stores = new Map<string, VectorStore>();

  constructor(private readonly dataDir: string | undefined) {}

  store(snapshot: Snapshot, name: string): VectorStore {
    const config = snapshot.vectorDatabases.get(name);
    if (!config) {
      const known = [...snapshot.vectorDatabases.keys()].sort();
      throw new GatewayError("not_found", `no vector database '${name}'; configured: ${known.join(", ") || "none"} (vector_databases in the config)`, { param: "vector_database" });
    }
    const id = `${config.store}:${config.url ?? ""}:${name}`; // a reload that moves the database opens it anew
    let store = this.stores.get(id);
    if (!store) {
      const chunking = { chunkChars: config.chunkChars, chunkOverlap: config.chunkOverlap };
      store =
        config.store === "postgres"
          ? PostgresVectorStore.open({ url: config.url!, name, ...chunking })
          : SqliteVectorStore.open({ file: this.dataDir ? join(this.dataDir, "vectors.db") : ":memory:", name, ...chunking });
      this.stores.set(id, store);
    }
    return store;
  }

  /**
   * Embeds with the database's embedding backend (its /v1/embeddings). `charge` receives what each call cost at the
   * backend's prices (its reported prompt tokens, else about four characters per token; or its GPU time).
   */
  embedder(snapshot: Snapshot, name: string, signal?: AbortSignal, charge?: (micros: number) => void): Embedder {
    const backend = snapshot.vectorDatabases.get(name)!.embeddingBackend;
    return async (texts) => {
      const call = new UpstreamCall(signal);
      const started = performance.now();
      try {
        const body = await embed(backend, JSON.stringify({ model: backend.upstreamModel, input: texts }), call);
        if (charge) {
          const promptTokens = body.usage?.prompt_tokens ?? Math.ceil(texts.reduce((sum, text) => sum + text.length, 0) / 4);
          charge(costOf(backend.pricing, { promptTokens, completionTokens: 0 }, performance.now() - started).micros);
        }
        const vectors = body.data.slice().sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((item) => item.embedding);
        if (vectors.length !== texts.length || !vectors.every((vector) => Array.isArray(vector))) {
          throw new GatewayError("upstream_error", `embedding backend '${backend.id}' answered ${vectors.length} float vectors for ${texts.length} texts`);
        }
        return vectors as number[][];
      } finally {
        call.clear();
      }
    };
  }

  close(): void {
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }
}
