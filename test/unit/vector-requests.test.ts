// Issue 15 item 19: a vector search request that names an unconfigured database, or a filter too big for
// SQLite, gets a clear 400 (the request's own tool object is checked before any model call), never raw SQL text.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteVectorStore, MAX_FILTER_KEYS } from "../../src/vector/store.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { createApp } from "../../src/app.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-vector-requests-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bigFilter = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`k${i}`, "v"]));

describe("the store", () => {
  test("a filter with more keys than SQLite's compound limit is a clear invalid_request", async () => {
    const store = SqliteVectorStore.open({ file: join(dir, "v.db"), name: "docs" });
    const embed = async (texts: string[]) => texts.map(() => [1, 0, 0]);
    try {
      await store.add([{ id: "a", text: "hello world", metadata: { k0: "v" } }], embed);
      const error = await store.search("hello", embed, { topK: 3, filter: bigFilter }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(`filter: at most ${MAX_FILTER_KEYS} metadata keys, got 501`);
      expect((error as { code?: string }).code).toBe("invalid_request");
    } finally {
      store.close();
    }
  });
});

describe("a chat request's flexible_vector_database_search tool", () => {
  const gateway = new Gateway(
    parseConfig(
      `auth: {mode: none}
backends:
  - {name: chat, url: "http://127.0.0.1:9/v1"}
  - {name: embedder, url: "http://127.0.0.1:9/v1"}
vector_databases:
  - {name: kb, embedding_backend: embedder}
  - {name: manuals, embedding_backend: embedder}
`,
      "t.yaml",
      {},
    ),
  );
  const app = createApp(gateway);
  afterAll(() => gateway.close());

  async function ask(tool: Record<string, unknown>) {
    const response = await app.handle(
      new Request("http://sluice/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }], tools: [{ type: "flexible_vector_database_search", ...tool }] }),
      }),
    );
    return { status: response.status, body: (await response.json()) as { error: { message: string; param: string } } };
  }

  test("an unknown vector_database is a 400 naming the configured ones", async () => {
    const { status, body } = await ask({ vector_database: "nosuch", query: "x" });
    expect(status).toBe(400);
    expect(body.error.message).toBe("tools[0].vector_database: no vector database 'nosuch'; configured: kb, manuals");
    expect(body.error.param).toBe("tools[0]");
  });

  test("a missing vector_database is a 400 too", async () => {
    const { status, body } = await ask({ query: "x" });
    expect(status).toBe(400);
    expect(body.error.message).toContain("configured vector databases: kb, manuals");
  });

  test("a filter over the key limit is a 400 before any model call", async () => {
    const { status, body } = await ask({ vector_database: "kb", query: "x", filter: bigFilter });
    expect(status).toBe(400);
    expect(body.error.message).toBe(`tools[0].filter: at most ${MAX_FILTER_KEYS} metadata keys, got 501`);
  });
});
