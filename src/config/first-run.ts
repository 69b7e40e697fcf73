// The binary copied alone into an empty folder must start. With no config at the default path (no --config, no
// SLUICE_CONFIG), the built-in default (the repository's config/sluice.yaml, embedded in the binary) is written
// there first: the operator then has the one file to edit, and hot reload has it to watch.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import defaultConfig from "../../config/sluice.yaml" with { type: "text" };

/** Writes the default config to `file` unless something is there already; true when it wrote it. */
export function writeDefaultConfig(file: string): boolean {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, defaultConfig, { flag: "wx" }); // never over a file that appeared meanwhile
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "EEXIST") return false;
    throw error;
  }
}
