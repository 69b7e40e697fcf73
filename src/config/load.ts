// Two-phase config: parse the raw YAML (env expanded, unknown keys rejected, every problem with its YAML path),
// then resolve it into one frozen snapshot (see resolve.ts).
import { Value, ValuePointer } from "@sinclair/typebox/value";
import { parseDocument } from "yaml";
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

/**
 * Parses and validates, reporting every problem of every stage at once: YAML syntax (with line and column),
 * unset `${VAR}`s, the schema, then the cross references of the resolve step. `discover` says the backends are
 * to be found by probing (`backends: discover` or none).
 */
function validateConfig(text: string, file: string, env: Record<string, string | undefined>): { config: SluiceConfig; discover: boolean } {
  const problems: string[] = [];
  const parsed = parseYaml(text, problems);
  if (parsed === undefined) throw new ConfigError(file, problems);

  const expandedPointers = new Set<string>();
  const expanded = expandEnv(parsed, env, "", problems, expandedPointers) as Record<string, unknown>;
  const discover = expanded.backends === undefined || expanded.backends === null || expanded.backends === "discover";
  if (discover) expanded.backends = [];
  else if (!Array.isArray(expanded.backends)) {
    problems.push("backends: expected a list of backends (each starting with '- name: ...'), or 'discover'");
    expanded.backends = [];
  }

  const typed = Value.Default(SluiceConfig, expanded);
  convertExpanded(typed, expandedPointers);
  for (const error of Value.Errors(SluiceConfig, typed)) problems.push(`${yamlPath(error.path)}: ${describe(error)}`);
  // Cross references are checked even when earlier stages found problems: an unknown balancer target is worth
  // knowing about in the same run. They are checked on a best-effort conversion (`name: 123` as "123"); a part
  // too broken to resolve is already reported by the schema.
  if (problems.length) {
    try {
      resolveConfig(Value.Convert(SluiceConfig, Value.Clone(typed)) as SluiceConfig, problems);
    } catch {
      // reported by the schema
    }
  }
  if (problems.length) throw new ConfigError(file, dedupe(problems));
  return { config: typed as SluiceConfig, discover };
}

/** The document, or undefined (with the problems) when its syntax is broken. Duplicate keys are errors too. */
function parseYaml(text: string, problems: string[]): Record<string, unknown> | undefined {
  const document = parseDocument(text, { uniqueKeys: true, merge: true });
  for (const error of document.errors) {
    const at = error.linePos?.[0];
    const message = error.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "");
    const where = at ? ` at line ${at.line}, column ${at.col}` : "";
    problems.push(error.code === "DUPLICATE_KEY" ? `YAML duplicate key${where}: the same key twice in one mapping` : `YAML syntax${where}: ${message}`);
  }
  // A duplicate key leaves a usable document (the last one wins): the later stages still run on it.
  if (document.errors.some((error) => error.code !== "DUPLICATE_KEY")) return undefined;
  const parsed = document.toJS() ?? {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    problems.push("(root): expected a mapping of sections (server, backends, ...)");
    return undefined;
  }
  return parsed as Record<string, unknown>;
}

/** `port: ${PORT}` expands to a string; the schema wants a number. Only expanded strings are converted. */
function convertExpanded(config: unknown, pointers: ReadonlySet<string>): void {
  if (!pointers.size) return;
  for (const error of Value.Errors(SluiceConfig, config)) {
    if (!pointers.has(error.path) || typeof error.value !== "string") continue;
    // A union (server.workers: an integer or "auto") converts to its numeric member.
    const schema = error.schema as { type?: string; anyOf?: { type?: string }[] };
    const types = [schema.type, ...(schema.anyOf ?? []).map((option) => option.type)];
    const text = error.value.trim();
    if ((types.includes("integer") || types.includes("number")) && text !== "" && Number.isFinite(Number(text))) ValuePointer.Set(config, error.path, Number(text));
    else if (types.includes("boolean") && (text === "true" || text === "false")) ValuePointer.Set(config, error.path, text === "true");
  }
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

function describe(error: { message: string; schema: { description?: string; anyOf?: { const?: unknown; type?: string }[] } }): string {
  if (error.message === "Unexpected property") return "unknown key (check the spelling; see README 'Configuration')";
  const choices = error.schema.anyOf?.map((option) => option.const).filter((value) => value !== undefined);
  const others = error.schema.anyOf?.filter((option) => option.const === undefined && option.type).map((option) => `${option.type === "integer" ? "an" : "a"} ${option.type}`) ?? [];
  if (choices?.length) return `expected ${others.length ? `${others.join(", ")} or ` : ""}one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}
