// Two-phase config: parse the raw YAML (env expanded, unknown keys rejected, every problem with its YAML path),
// then resolve it into one frozen snapshot (see resolve.ts).
import { Value } from "@sinclair/typebox/value";
import { SluiceConfig } from "./schema.ts";
import { expandEnv } from "./env.ts";
import { resolveConfig, type Snapshot } from "./resolve.ts";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  ${problems.join("\n  ")}`);
  }
}

export async function loadConfigFile(file: string, env: Record<string, string | undefined> = process.env): Promise<Snapshot> {
  const handle = Bun.file(file);
  if (!(await handle.exists())) throw new ConfigError(file, [`file not found (pass --config FILE or set SLUICE_CONFIG)`]);
  return parseConfig(await handle.text(), file, env);
}

export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): Snapshot {
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(text) ?? {};
  } catch (error) {
    throw new ConfigError(file, [`YAML syntax: ${(error as Error).message}`]);
  }
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(file, ["(root): expected a mapping of sections (server, backends, ...)"]);

  const problems: string[] = [];
  const expanded = expandEnv(parsed, env, "", problems);
  if (problems.length) throw new ConfigError(file, problems);

  // Convert turns an expanded "${PORT}" string into the number the schema wants.
  const typed = Value.Convert(SluiceConfig, Value.Default(SluiceConfig, expanded));
  for (const error of Value.Errors(SluiceConfig, typed)) problems.push(`${yamlPath(error.path)}: ${describe(error)}`);
  if (problems.length) throw new ConfigError(file, dedupe(problems));

  const resolved = resolveConfig(typed as SluiceConfig, problems);
  if (problems.length) throw new ConfigError(file, problems);
  return resolved;
}

/** `/backends/2/url` → `backends[2].url` */
export function yamlPath(pointer: string): string {
  if (!pointer) return "(root)";
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), "");
}

function describe(error: { message: string; schema: { description?: string; anyOf?: { const?: unknown }[] } }): string {
  if (error.message === "Unexpected property") return "unknown key (check the spelling; see README 'Configuration')";
  const choices = error.schema.anyOf?.map((option) => option.const).filter((value) => value !== undefined);
  if (choices?.length) return `expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}
