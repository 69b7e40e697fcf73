// The configured vector databases: each a SqliteVectorStore in the data dir (one file, a table set per database),
// opened on first use and kept across config reloads, with the embedding backend the config names.
import { join } from "node:path";
import type { Snapshot } from "../config/resolve.ts";
import { SqliteVectorStore, type Embedder } from "./store.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { GatewayError } from "../errors.ts";

export class VectorDatabases {
  private readonly stores = new Map<string, SqliteVectorStore>();

  constructor(private readonly dataDir: string | undefined) {}

  store(snapshot: Snapshot, name: string): SqliteVectorStore {
    const config = snapshot.vectorDatabases.get(name);
    if (!config) {
      const known = [...snapshot.vectorDatabases.keys()].sort();
      throw new GatewayError("not_found", `no vector database '${name}'; configured: ${known.join(", ") || "none"} (vector_databases in the config)`, { param: "vector_database" });
    }
    let store = this.stores.get(name);
    if (!store) {
      const file = this.dataDir ? join(this.dataDir, "vectors.db") : ":memory:";
      this.stores.set(name, (store = SqliteVectorStore.open({ file, name, chunkChars: config.chunkChars, chunkOverlap: config.chunkOverlap })));
    }
    return store;
  }

  /** Embeds with the database's embedding backend (its /v1/embeddings). */
  embedder(snapshot: Snapshot, name: string, signal?: AbortSignal): Embedder {
    const backend = snapshot.vectorDatabases.get(name)!.embeddingBackend;
    return async (texts) => {
      const call = new UpstreamCall(signal);
      try {
        const response = await postToBackend(backend, backend.embeddingsUrl, JSON.stringify({ model: backend.upstreamModel, input: texts }), call);
        const body = (await response.json()) as { data?: { embedding?: unknown; index?: number }[] };
        const vectors = (body.data ?? []).slice().sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((item) => item.embedding);
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
