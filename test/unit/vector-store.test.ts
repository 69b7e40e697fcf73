import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chunkText, SqliteVectorStore, type Embedder, type VectorStoreOptions } from "../../src/vector/store.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-vector-"));
const opened: SqliteVectorStore[] = [];
let fileCount = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
});

function freshFile(): string {
  return join(dir, `vectors-${++fileCount}.db`);
}

function open(options: Partial<VectorStoreOptions> = {}): SqliteVectorStore {
  const store = SqliteVectorStore.open({ file: options.file ?? freshFile(), name: "docs", ...options });
  opened.push(store);
  return store;
}

/** FNV-1a: a stable hash, so the fake embeddings are the same on every run. */
function fnv1a(word: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Bag of words hashed into `dimensions` buckets, normalised; texts sharing words are close. */
function bagOfWords(dimensions: number): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  const embed = async (texts: string[]) => {
    calls.push(texts);
    return texts.map((text) => {
      const vector = new Array<number>(dimensions).fill(0);
      for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) vector[fnv1a(word) % dimensions]! += 1;
      const norm = Math.hypot(...vector) || 1;
      return vector.map((x) => x / norm);
    });
  };
  return Object.assign(embed, { calls });
}

const embed = bagOfWords(64);

const ANIMALS = [
  { id: "cats", text: "Cats purr and chase mice around the barn.", metadata: { kind: "animal", legs: 4 } },
  { id: "birds", text: "Birds sing at dawn and build nests in trees.", metadata: { kind: "animal", legs: 2 } },
  { id: "gpus", text: "GPUs run matrix multiplications for neural networks.", metadata: { kind: "hardware", legs: 0 } },
];

describe("SqliteVectorStore", () => {
  test("add then search returns the relevant chunk first, with a cosine score and its metadata", async () => {
    const store = open();
    const added = await store.add(ANIMALS, embed);
    expect(added).toEqual({ documents: 3, chunks: 3, ids: ["cats", "birds", "gpus"] });

    const hits = await store.search("which cats chase mice", embed, { topK: 3 });
    expect(hits[0]).toMatchObject({ document_id: "cats", chunk: 0, text: ANIMALS[0]!.text, metadata: { kind: "animal", legs: 4 } });
    expect(hits[0]!.score).toBeGreaterThan(0.3);
    expect(hits[0]!.score).toBeLessThanOrEqual(1);
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);
  });

  test("an identical text scores 1", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    const [hit] = await store.search(ANIMALS[2]!.text, embed, { topK: 1 });
    expect(hit!.document_id).toBe("gpus");
    expect(hit!.score).toBeCloseTo(1, 5);
  });

  test("topK bounds the number of hits", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    expect(await store.search("animals", embed, { topK: 2 })).toHaveLength(2);
    expect(await store.search("animals", embed, { topK: 10 })).toHaveLength(3);
    await expect(store.search("animals", embed, { topK: 0 })).rejects.toThrow(/topK must be an integer/);
  });

  test("documents without an id get one", async () => {
    const store = open();
    const { ids } = await store.add([{ text: "no id here" }], embed);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect((await store.search("no id", embed, { topK: 1 }))[0]!.document_id).toBe(ids[0]!);
  });

  test("a filter matches every given key exactly, and keeps strings, numbers and booleans apart", async () => {
    const store = open();
    await store.add(
      [
        { id: "s", text: "alpha beta", metadata: { v: "1", team: "a" } },
        { id: "n", text: "alpha beta", metadata: { v: 1, team: "a" } },
        { id: "b", text: "alpha beta", metadata: { v: true, team: "b" } },
      ],
      embed,
    );
    const ids = async (filter: Record<string, string | number | boolean>) =>
      (await store.search("alpha", embed, { topK: 10, filter })).map((hit) => hit.document_id).sort();
    expect(await ids({ v: "1" })).toEqual(["s"]);
    expect(await ids({ v: 1 })).toEqual(["n"]);
    expect(await ids({ v: true })).toEqual(["b"]);
    expect(await ids({ team: "a" })).toEqual(["n", "s"]);
    expect(await ids({ team: "a", v: 1 })).toEqual(["n"]);
    expect(await ids({ team: "b", v: 1 })).toEqual([]);
    expect(await ids({ missing: "x" })).toEqual([]);
    expect(await ids({})).toEqual(["b", "n", "s"]);
  });

  test("a filter that excludes the nearest chunks still returns the nearest matching ones", async () => {
    const store = open();
    const near = Array.from({ length: 200 }, (_, i) => ({ id: `near-${i}`, text: `solar panel inverter ${i}`, metadata: { lang: "de" } }));
    const far = [
      { id: "far-1", text: "solar cooking recipes", metadata: { lang: "en" } },
      { id: "far-2", text: "garden hose", metadata: { lang: "en" } },
    ];
    await store.add([...near, ...far], embed);

    const unfiltered = await store.search("solar panel inverter", embed, { topK: 5 });
    expect(unfiltered.every((hit) => hit.metadata["lang"] === "de")).toBe(true);

    const filtered = await store.search("solar panel inverter", embed, { topK: 5, filter: { lang: "en" } });
    expect(filtered.map((hit) => hit.document_id)).toEqual(["far-1", "far-2"]);
  });

  test("adding a known id replaces the document, its chunks and its metadata", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    await store.add([{ id: "cats", text: "Kettles boil water for tea.", metadata: { kind: "kitchen" } }], embed);
    expect(store.count()).toEqual({ documents: 3, chunks: 3, dimensions: 64 });

    const [hit] = await store.search("boil water for tea", embed, { topK: 1 });
    expect(hit).toMatchObject({ document_id: "cats", text: "Kettles boil water for tea.", metadata: { kind: "kitchen" } });
    expect((await store.search("purr mice barn", embed, { topK: 3 })).some((h) => h.text.includes("purr"))).toBe(false);
    expect(await store.search("x", embed, { topK: 3, filter: { legs: 4 } })).toEqual([]);
  });

  test("an id given twice in one add is refused", async () => {
    const store = open();
    await expect(store.add([{ id: "a", text: "one" }, { id: "a", text: "two" }], embed)).rejects.toThrow(/appears more than once/);
  });

  test("remove deletes documents and reports how many existed", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    expect(store.remove(["cats", "unknown"])).toEqual({ removed: 1 });
    expect(store.count()).toEqual({ documents: 2, chunks: 2, dimensions: 64 });
    const hits = await store.search("cats chase mice", embed, { topK: 10 });
    expect(hits.map((hit) => hit.document_id).sort()).toEqual(["birds", "gpus"]);
  });

  test("count reports documents, chunks and dimensions", async () => {
    const store = open({ chunkChars: 100, chunkOverlap: 20 });
    expect(store.count()).toEqual({ documents: 0, chunks: 0, dimensions: null });
    expect(await store.search("anything", embed, { topK: 3 })).toEqual([]);
    const long = Array.from({ length: 30 }, (_, i) => `Sentence ${i} mentions keyword${i}.`).join(" ");
    const { chunks } = await store.add([{ id: "long", text: long }, ...ANIMALS], embed);
    expect(chunks).toBeGreaterThan(4);
    expect(store.count()).toEqual({ documents: 4, chunks, dimensions: 64 });
    const hits = await store.search("Sentence 17 mentions keyword17", embed, { topK: 1 });
    expect(hits[0]!.document_id).toBe("long");
    expect(hits[0]!.text).toContain("keyword17");
    expect(hits[0]!.chunk).toBeGreaterThan(0);
  });

  test("embeds in batches of at most 64 texts", async () => {
    const store = open({ chunkChars: 40, chunkOverlap: 0 });
    const counting = bagOfWords(64);
    const text = Array.from({ length: 150 }, (_, i) => `Item ${i} is here and there.`).join("\n\n");
    const { chunks } = await store.add([{ id: "many", text }], counting);
    expect(counting.calls.map((batch) => batch.length)).toEqual([64, 64, chunks - 128]);
  });

  test("an embedding of another size is an error that names both sizes, and nothing is written", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    const other = bagOfWords(32);
    await expect(store.add([{ id: "new", text: "new text" }], other)).rejects.toThrow(
      "vector store 'docs' holds 64-dimensional embeddings, but the embedding model returned 32 dimensions",
    );
    await expect(store.search("cats", other, { topK: 1 })).rejects.toThrow(/holds 64-dimensional/);
    expect(store.count().documents).toBe(3);
  });

  test("an embedder that fails or breaks its contract leaves the store as it was", async () => {
    const store = open();
    await store.add(ANIMALS, embed);
    const failing: Embedder = async () => {
      throw new Error("backend down");
    };
    await expect(store.add([{ id: "cats", text: "replacement" }], failing)).rejects.toThrow("backend down");
    const short: Embedder = async () => [];
    await expect(store.add([{ id: "x", text: "y" }], short)).rejects.toThrow(/returned 0 vectors for 1 texts/);
    const notFinite: Embedder = async (texts) => texts.map(() => [Number.NaN, 1]);
    await expect(store.add([{ id: "x", text: "y" }], notFinite)).rejects.toThrow(/finite numbers/);
    expect(store.count().documents).toBe(3);
    expect((await store.search("cats chase mice", embed, { topK: 1 }))[0]!.text).toContain("purr");
  });

  test("bad input is refused with the field named", async () => {
    const store = open();
    await expect(store.add([{ id: "e", text: "  \n\n " }], embed)).rejects.toThrow(/documents\[0\] \('e'\) has no text/);
    const badMetadata = { id: "m", text: "t", metadata: { nested: { a: 1 } } } as unknown as { id: string; text: string };
    await expect(store.add([badMetadata], embed)).rejects.toThrow(/documents\[0\]\.metadata\.nested must be/);
    expect(() => open({ name: "bad:name" })).toThrow(/vector store name 'bad:name' must be/);
    expect(() => open({ name: "-docs" })).toThrow(/vector store name/);
  });

  test("two store names in one file are independent", async () => {
    const file = freshFile();
    const a = open({ file, name: "a" });
    const b = open({ file, name: "b" });
    await a.add(ANIMALS, embed);
    expect(b.count()).toEqual({ documents: 0, chunks: 0, dimensions: null });
    await b.add([{ id: "cats", text: "completely different" }], bagOfWords(16));
    expect(b.count()).toEqual({ documents: 1, chunks: 1, dimensions: 16 });
    expect(a.count()).toEqual({ documents: 3, chunks: 3, dimensions: 64 });
    expect(b.remove(["cats"])).toEqual({ removed: 1 });
    expect((await a.search("cats chase mice", embed, { topK: 1 }))[0]!.document_id).toBe("cats");
  });

  test("names that differ only in case are refused, since SQLite table names ignore case", async () => {
    const file = freshFile();
    open({ file, name: "Docs" });
    expect(() => open({ file, name: "docs" })).toThrow("vector store name 'docs' differs from the existing 'Docs' only in case");
  });

  test("the store survives reopening its file", async () => {
    const file = freshFile();
    const first = SqliteVectorStore.open({ file, name: "docs" });
    await first.add(ANIMALS, embed);
    first.close();
    const again = open({ file });
    expect(again.count()).toEqual({ documents: 3, chunks: 3, dimensions: 64 });
    expect((await again.search("nests trees", embed, { topK: 1 }))[0]!.document_id).toBe("birds");
  });
});

describe("chunkText", () => {
  const words = (text: string) => text.match(/\S+/g) ?? [];
  const sentence = (i: number) => `This is sentence ${i} of the long text, with some filler words w${i}a w${i}b.`;

  test("bounds chunk sizes, overlaps neighbours and loses no word", () => {
    const paragraphs = Array.from({ length: 12 }, (_, p) => Array.from({ length: 7 }, (_, s) => sentence(p * 7 + s)).join(" "));
    const text = paragraphs.join("\n\n");
    const chunks = chunkText(text, 300, 60);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(300);
      expect(chunk.trim()).toBe(chunk);
      expect(chunk.length).toBeGreaterThan(0);
    }
    for (let i = 1; i < chunks.length; i++) {
      const head = words(chunks[i]!).slice(0, 2).join(" ");
      expect(chunks[i - 1]!.replace(/\s+/g, " ")).toContain(head);
    }
    const covered = new Set(chunks.flatMap(words));
    for (const word of words(text)) expect(covered.has(word)).toBe(true);
  });

  test("keeps paragraphs and sentences whole when they fit", () => {
    const text = "First paragraph is short.\n\nSecond one too.\n\n\n   Third.";
    expect(chunkText(text, 800, 100)).toEqual(["First paragraph is short.\n\nSecond one too.\n\nThird."]);
    const chunks = chunkText(Array.from({ length: 20 }, (_, i) => sentence(i)).join(" "), 200, 0);
    for (const chunk of chunks) expect(chunk).toMatch(/^This is sentence \d+.*w\d+b\.$/);
  });

  test("cuts words longer than a chunk, and returns nothing for blank text", () => {
    const chunks = chunkText(`start ${"x".repeat(250)} end`, 100, 20);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(100);
      expect(chunk.length).toBeGreaterThan(0);
    }
    expect(chunks.join("").replace(/\s/g, "")).toContain("x".repeat(80));
    expect(chunkText("", 100, 20)).toEqual([]);
    expect(chunkText(" \n\n \t ", 100, 20)).toEqual([]);
  });

  test("refuses sizes that cannot work", () => {
    expect(() => chunkText("x", 10, 0)).toThrow(/chunkChars/);
    expect(() => chunkText("x", 100, 60)).toThrow(/overlap/);
  });
});
