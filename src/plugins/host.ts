// The plugin host: starts with the plugins built into sluice (builtin.ts), then imports every plugin file under the plugins folder (processors/, tools/, firewalls/), checks
// what it default-exports, and re-imports a file when it is added, changed or removed. A file that fails to load
// is reported (log, `sluice check`, GET /v1/plugins) while the version that loaded before keeps serving. Requests
// take the current set once, as an immutable map, and finish with the versions they started with; an old
// version is disposed once the last request using it ends. A folder plugin with a built-in one's name overrides it.
import { readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, join, relative } from "node:path";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Kind, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { PluginDefinition, PluginKind } from "./api.ts";
import { registerPluginApi } from "./register.ts";
import { BUILTIN_PLUGINS, type BuiltinPlugin } from "./builtin.ts";
import { log } from "../observability/log.ts";

export const PLUGIN_FOLDERS: Record<string, PluginKind> = { processors: "processor", tools: "tool", firewalls: "firewall" };
const NAME = /^[a-z][a-z0-9_]*$/;
const DEBOUNCE_MS = 100;

export class LoadedPlugin {
  /** Requests using this version right now. */
  users = 0;
  retired = false;
  private readonly checkConfig: ((value: unknown) => string | undefined) | undefined;

  constructor(
    readonly definition: PluginDefinition,
    readonly file: string,
    readonly version: number,
    readonly loadedAt: number,
  ) {
    const schema = definition.config;
    if (schema) {
      const compiled = TypeCompiler.Compile(schema);
      this.checkConfig = (value) => {
        if (compiled.Check(value)) return undefined;
        const error = compiled.Errors(value).First();
        return error ? `${error.path || "(root)"}: ${error.message}` : "invalid";
      };
    }
  }

  get name(): string {
    return this.definition.name;
  }

  /** The request's config for this plugin with defaults applied, or the first problem. */
  config(value: unknown): { config: unknown } | { problem: string } {
    if (!this.definition.config) return { config: value ?? {} };
    const withDefaults = Value.Default(this.definition.config, structuredClone(value ?? {}));
    const problem = this.checkConfig!(withDefaults);
    return problem ? { problem } : { config: withDefaults };
  }

  release(): void {
    this.users--;
    if (this.retired && this.users === 0) void disposeQuietly(this);
  }
}

export interface PluginStatus {
  name: string | null;
  kind: PluginKind;
  file: string;
  state: "active" | "failed";
  /** Increments on each successful load of the file. */
  version: number | null;
  loaded_at: string | null;
  /** The last load's error, when it failed (the previous version, if any, keeps serving). */
  last_error: string | null;
}

interface FileRecord {
  kind: PluginKind;
  plugin: LoadedPlugin | undefined;
  error: string | undefined;
}

const BUILTIN_PREFIX = "(built in) ";

export class PluginHost {
  private files = new Map<string, FileRecord>();
  /** By name; never reloaded or retired (they are part of the binary). */
  private readonly builtin = new Map<string, LoadedPlugin>();
  /** Built-in plugins whose definition is broken (a bug in sluice, reported like a broken file). */
  private readonly builtinProblems: string[] = [];
  private current: ReadonlyMap<string, LoadedPlugin> = new Map();
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    readonly dir: string,
    builtins: readonly BuiltinPlugin[] = BUILTIN_PLUGINS,
  ) {
    registerPluginApi();
    const loadedAt = Date.now();
    for (const { file, definition } of builtins) {
      try {
        const checked = checkDefinition(definition, PLUGIN_FOLDERS[file.split("/")[0]!]!);
        this.builtin.set(checked.name, new LoadedPlugin(checked, BUILTIN_PREFIX + file, 1, loadedAt));
      } catch (error) {
        this.builtinProblems.push(`${BUILTIN_PREFIX}${file}: ${(error as Error).message}`);
      }
    }
    this.publish();
  }

  /** The active plugins by name: take it once per request. */
  get active(): ReadonlyMap<string, LoadedPlugin> {
    return this.current;
  }

  /** Imports every plugin file. Resolves when all have been tried; failures are recorded, not thrown. */
  async loadAll(): Promise<void> {
    const files = pluginFiles(this.dir);
    await Promise.all(files.map((file) => this.load(file)));
    const overridden = [...this.builtin.keys()].filter((name) => [...this.files.values()].some((record) => record.plugin?.name === name));
    const served = [...this.builtin.keys()].filter((name) => !overridden.includes(name));
    const hint = isFolder(this.dir) ? "" : ` (no folder ${this.dir}: create it with processors/ or tools/ and restart to add your own)`;
    if (served.length) log.info(`plugins: built in ${served.join(", ")}${hint}`);
  }

  /** Re-imports plugin files when they change (fs events, debounced per file). */
  watch(): void {
    if (this.watcher || !isFolder(this.dir)) return; // no folder: the built-in plugins serve, nothing to watch
    try {
      this.watcher = watch(this.dir, { recursive: true }, (_event, name) => {
        if (!name || !name.endsWith(".ts")) return;
        const file = join(this.dir, name.toString());
        if (!kindOf(this.dir, file)) return;
        clearTimeout(this.timers.get(file));
        this.timers.set(file, setTimeout(() => void this.sync(file), DEBOUNCE_MS));
      });
    } catch (error) {
      log.warn(`plugins: cannot watch ${this.dir} (${(error as Error).message}); plugin edits need a restart`);
    }
  }

  close(): void {
    this.watcher?.close();
    for (const timer of this.timers.values()) clearTimeout(timer);
  }

  status(): PluginStatus[] {
    const fromFolder = new Set([...this.files.values()].map((record) => record.plugin?.name));
    const builtin = [...this.builtin.values()]
      .filter((plugin) => !fromFolder.has(plugin.name))
      .map((plugin) => ({
        name: plugin.name,
        kind: plugin.definition.kind,
        file: plugin.file,
        state: "active" as const,
        version: plugin.version,
        loaded_at: new Date(plugin.loadedAt).toISOString(),
        last_error: null,
      }));
    const files = [...this.files.entries()]
      .map(([file, record]) => ({
        name: record.plugin?.name ?? null,
        kind: record.kind,
        file: relative(this.dir, file),
        state: record.error ? ("failed" as const) : ("active" as const),
        version: record.plugin?.version ?? null,
        loaded_at: record.plugin ? new Date(record.plugin.loadedAt).toISOString() : null,
        last_error: record.error ?? null,
      }));
    return [...builtin, ...files].sort((a, b) => a.file.localeCompare(b.file));
  }

  /** Problems to report (sluice check): each failed file with its error. */
  problems(): string[] {
    const failed = this.status()
      .filter((status) => status.state === "failed")
      .map((status) => `plugins/${status.file}: ${status.last_error}`);
    return [...this.builtinProblems, ...failed];
  }

  /** A file was added, changed or removed. */
  async sync(file: string): Promise<void> {
    if (exists(file)) return this.load(file);
    const record = this.files.get(file);
    if (!record) return;
    this.files.delete(file);
    if (record.plugin) {
      this.publish();
      retire(record.plugin);
      log.info(`plugins: ${record.plugin.name} removed (${relative(this.dir, file)})`);
    }
  }

  private async load(file: string): Promise<void> {
    const kind = kindOf(this.dir, file)!;
    const record = this.files.get(file) ?? { kind, plugin: undefined, error: undefined };
    this.files.set(file, record);
    const label = relative(this.dir, file);
    let definition: PluginDefinition;
    try {
      // Bun caches modules by path. A `?v=` query stops busting that cache once a Bun.plugin is registered (as
      // ours is), so the cache entry is dropped instead; requests still hold the old module's definition.
      delete require.cache[file];
      const module = (await import(file)) as { default?: unknown };
      definition = checkDefinition(module.default, kind);
      const owner = [...this.files.entries()].find(([other, r]) => other !== file && r.plugin?.name === definition.name);
      if (owner) throw new Error(`plugin name '${definition.name}' is already used by ${relative(this.dir, owner[0])}`);
    } catch (error) {
      record.error = (error as Error).message ?? String(error);
      log.error(`plugins: ${label} failed to load: ${record.error}${record.plugin ? ` (version ${record.plugin.version} keeps serving)` : ""}`);
      return;
    }
    const previous = record.plugin;
    record.plugin = new LoadedPlugin(definition, file, (previous?.version ?? 0) + 1, Date.now());
    record.error = undefined;
    this.publish();
    if (previous) retire(previous);
    log.info(`plugins: ${definition.name} ${previous ? `reloaded (version ${record.plugin.version})` : "loaded"} from ${label}`);
  }

  private publish(): void {
    // Built-in first, so a folder plugin of the same name replaces it (and removing that file brings it back).
    const next = new Map<string, LoadedPlugin>(this.builtin);
    for (const record of this.files.values()) if (record.plugin) next.set(record.plugin.name, record.plugin);
    this.current = next;
  }
}

function retire(plugin: LoadedPlugin): void {
  plugin.retired = true;
  if (plugin.users === 0) void disposeQuietly(plugin);
}

async function disposeQuietly(plugin: LoadedPlugin): Promise<void> {
  try {
    await plugin.definition.dispose?.();
  } catch (error) {
    log.warn(`plugins: ${plugin.name} version ${plugin.version} threw in dispose(): ${(error as Error).message}`);
  }
}

/** What a plugin file must default-export; every problem is named. */
export function checkDefinition(value: unknown, kind: PluginKind): PluginDefinition {
  if (value === null || typeof value !== "object") throw new Error("the file must `export default definePlugin({...})` (it exports no default object)");
  const definition = value as Record<string, unknown>;
  if (typeof definition.name !== "string" || !NAME.test(definition.name)) throw new Error("name: expected lower-case letters, digits and _ (e.g. my_processor)");
  if (definition.kind !== kind) throw new Error(`kind: a file in ${Object.keys(PLUGIN_FOLDERS).find((folder) => PLUGIN_FOLDERS[folder] === kind)}/ must say kind: "${kind}"`);
  for (const hook of ["pre", "post", "dispose"]) {
    if (definition[hook] !== undefined && typeof definition[hook] !== "function") throw new Error(`${hook}: expected a function`);
  }
  if (definition.pre === undefined && definition.post === undefined && kind === "processor") throw new Error("a processor needs a pre or a post hook");
  if (kind === "tool") {
    if (typeof definition.run !== "function") throw new Error("run: a tool needs run(ctx, args)");
    if (!isSchema(definition.parameters)) throw new Error("parameters: a tool needs a TypeBox schema of its arguments (t.Object({...}))");
    if (definition.before !== undefined && typeof definition.before !== "function") throw new Error("before: expected a function");
    if (definition.checkRequest !== undefined && typeof definition.checkRequest !== "function") throw new Error("checkRequest: expected a function");
  }
  if (definition.config !== undefined && !isSchema(definition.config)) throw new Error("config: expected a TypeBox schema (t.Object({...}))");
  if (definition.failure !== undefined && definition.failure !== "open" && definition.failure !== "closed") throw new Error('failure: expected "open" or "closed"');
  return value as PluginDefinition;
}

function isSchema(value: unknown): value is TSchema {
  return value !== null && typeof value === "object" && Kind in (value as object);
}

function kindOf(dir: string, file: string): PluginKind | undefined {
  const folder = relative(dir, file).split(/[\\/]/)[0] ?? "";
  return basename(file).endsWith(".ts") && !basename(file).endsWith(".d.ts") ? PLUGIN_FOLDERS[folder] : undefined;
}

function pluginFiles(dir: string): string[] {
  const files: string[] = [];
  for (const folder of Object.keys(PLUGIN_FOLDERS)) {
    let names: string[];
    try {
      names = readdirSync(join(dir, folder));
    } catch {
      continue; // a missing folder is fine
    }
    for (const name of names) if (name.endsWith(".ts") && !name.endsWith(".d.ts")) files.push(join(dir, folder, name));
  }
  return files;
}

function isFolder(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
