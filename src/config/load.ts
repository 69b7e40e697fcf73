// Two-phase config: parse the raw YAML (env expanded, unknown keys rejected, every problem with its YAML path),
// then resolve it into one frozen snapshot (see resolve.ts).
import { Value } from "@sinclair/typebox/value";
import { BackendConfig, SluiceConfig } from "./schema.ts";
import { expandEnv } from "./env.ts";
import { resolveConfig, type Snapshot } from "./resolve.ts";
import { discoverBackends, toBackendConfigs, type DiscoveredBackend } from "./discover.ts";
import { log } from "../observability/log.ts";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n  ${problems.join("\n  ")}`);
  }
}

/** `ownPorts`: where this sluice listens besides server.port (a --port override), never probed by discovery. */
export async function loadConfigFile(file: string, env: Record<string, string | undefined> = process.env, ownPorts: readonly number[] = []): Promise<Snapshot> {
  const handle = Bun.file(file);
  if (!(await handle.exists())) throw new ConfigError(file, [`file not found (pass --config FILE or set SLUICE_CONFIG)`]);
  const { config, discover } = validateConfig(await handle.text(), file, env);
  if (discover) {
    const found = await discoverBackends({ skipPorts: [config.server.port, ...ownPorts] });
    log.info(found.length ? `backends: discover found ${found.map(describeFound).join(", ")}` : "backends: discover found no engine on the usual ports (vLLM 8000, SGLang 30000, llama.cpp 8080/8081, TGI 3000, Ollama 11434)");
    // `auto` and `public:` are serving names of their own; an engine's model with such an id is not served.
    config.backends = toBackendConfigs(found.filter((entry) => entry.name !== "auto" && !entry.name.startsWith("public:"))).map((backend) => Value.Default(BackendConfig, backend) as BackendConfig);
  }
  return resolveOrThrow(config, file);
}

/** Parses and resolves a config text. `backends: discover` resolves to no backends here (discovery needs the network). */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): Snapshot {
  return resolveOrThrow(validateConfig(text, file, env).config, file);
}

function resolveOrThrow(config: SluiceConfig, file: string): Snapshot {
  const problems: string[] = [];
  const resolved = resolveConfig(config, problems);
  if (problems.length) throw new ConfigError(file, problems);
  return resolved;
}

const describeFound = (found: DiscoveredBackend) => `${found.model} (${found.engine} on port ${found.port})`;

/** Parses and validates; `discover` says the backends are to be found by probing (`backends: discover` or none). */
function validateConfig(text: string, file: string, env: Record<string, string | undefined>): { config: SluiceConfig; discover: boolean } {
  let parsed: unknown;
  try {
    parsed = Bun.YAML.parse(text) ?? {};
  } catch (error) {
    throw new ConfigError(file, [`YAML syntax: ${(error as Error).message}`]);
  }
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(file, ["(root): expected a mapping of sections (server, backends, ...)"]);

  const problems: string[] = [];
  const expanded = expandEnv(parsed, env, "", problems) as Record<string, unknown>;
  if (problems.length) throw new ConfigError(file, problems);
  const discover = expanded.backends === undefined || expanded.backends === null || expanded.backends === "discover";
  if (discover) expanded.backends = [];

  // Convert turns an expanded "${PORT}" string into the number the schema wants.
  const typed = Value.Convert(SluiceConfig, Value.Default(SluiceConfig, expanded));
  for (const error of Value.Errors(SluiceConfig, typed)) problems.push(`${yamlPath(error.path)}: ${describe(error)}`);
  if (problems.length) throw new ConfigError(file, dedupe(problems));
  return { config: typed as SluiceConfig, discover };
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
