// Loads the sqlite-vec extension (the vec0 virtual table, vec_distance_cosine) into a bun:sqlite connection.
//
// The import below embeds vec0.so in the binary built by `bun build --compile`, where node_modules does not exist.
// dlopen cannot read the binary's /$bunfs, so a compiled sluice first copies the bytes to a real file in the data dir,
// named by their hash so that an upgraded binary never loads the previous build's copy. Bun on Linux links its own
// SQLite, built with extension loading, so no Database.setCustomSQLite is needed there (macOS would need one).
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import vec0Path from "../../node_modules/sqlite-vec-linux-x64/vec0.so" with { type: "file" };

// SQLite would derive the entry point from the file name, which the copy does not keep.
const ENTRY_POINT = "sqlite3_vec_init";
const extractedPaths = new Map<string, string>();

export function loadSqliteVec(db: Database, dataDir: string): void {
  db.loadExtension(Bun.isStandaloneExecutable ? extractedExtension(resolve(dataDir)) : vec0Path, ENTRY_POINT);
}

function extractedExtension(dataDir: string): string {
  const known = extractedPaths.get(dataDir);
  if (known) return known;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`this sluice binary embeds sqlite-vec for linux-x64 only, and runs on ${process.platform}-${process.arch}`);
  }
  const bytes = readFileSync(vec0Path);
  const target = join(dataDir, `.sluice-vec0-${Bun.hash(bytes).toString(36)}.so`);
  if (!existsSync(target)) {
    mkdirSync(dataDir, { recursive: true });
    // Written under a temporary name and renamed, so a second process never loads a half-written file.
    const partial = `${target}.${process.pid}.tmp`;
    writeFileSync(partial, bytes, { mode: 0o644 });
    renameSync(partial, target);
  }
  extractedPaths.set(dataDir, target);
  return target;
}
