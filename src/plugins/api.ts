// The plugin API: what a plugin file gets from `import { definePlugin, t } from "sluice/plugin"`. The host
// registers this module under that name at run time (a compiled binary cannot resolve npm packages from a plugin
// file), so plugins need nothing installed; `t` is TypeBox, for the plugin's config schema.
import { Type, type Static, type TSchema } from "@sinclair/typebox";

export { Type as t };
export type { Static, TSchema };

/** The text of a message's content: a string, or its text parts joined with newlines. */
export { textOf } from "../pipeline/template.ts";

// The detectors the shipped processors use, bundled into the binary with the API.
export { findPii, PII_KINDS, type PiiKind, type PiiMatch } from "../detectors/pii.ts";
export { correctSpelling, isSpellLanguage, SPELLCHECK_LANGUAGES, type SpellLanguage } from "../detectors/spellcheck.ts";
export { detectInjection, type InjectionVerdict } from "../detectors/injection.ts";
export { MAX_FILTER_KEYS } from "../vector/store.ts";

export type PluginKind = "processor" | "tool" | "firewall";

/** An OpenAI chat message; `content` is a string or content parts. */
export interface Message {
  role: string;
  content?: unknown;
  [field: string]: unknown;
}

/** What a routing policy sees of a backend. */
export interface TargetInfo {
  readonly id: string;
  readonly public: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

export interface HookContext<Config> {
  readonly requestId: string;
  /** The `model` the client asked for. */
  readonly model: string;
  /** `inferada.<plugin name>`, validated against the plugin's `config` schema (defaults applied). */
  readonly config: Config;
  /** `inferada.language`, when the request names one. */
  readonly language: string | undefined;
  /** The calling key (id and name), or null when auth is off. */
  readonly key: { readonly id: string; readonly name: string } | null;
  /** Reported in the response's `inferada` block under this plugin's name. Never put secrets or PII here. */
  readonly metadata: Record<string, unknown>;
  /** Kept from this plugin's `pre` to its `post` for the same request (e.g. redaction placeholders). */
  readonly state: Map<string, unknown>;
}

export interface PreContext<Config> extends HookContext<Config> {
  /** The conversation; replace a message's content (or whole messages) to change what the model sees. */
  messages: Message[];
  /** Only backends for which `allow` holds may serve this request (balancers and `auto` choose among them). */
  restrictTargets(allow: (target: TargetInfo) => boolean, reason: string): void;
}

/** Stop the request with an OpenAI-shaped error (422 unless said otherwise); `message` says what to change. */
export interface Reject {
  reject: { message: string; status?: 400 | 403 | 422; code?: string; param?: string };
}

/** Answer the request without calling a model. */
export interface Respond {
  respond: { content: string };
}

export type PreResult = void | undefined | Reject | Respond;

/** What the gateway itself can do for a tool plugin (configured in the YAML's `tools:` and `vector_databases:`). */
export interface PlatformServices {
  search(query: string, maxResults?: number): Promise<{ title: string; url: string; snippet: string }[]>;
  browse(url: string, options?: { render?: boolean }): Promise<{ url: string; title: string; text: string; truncated: boolean }>;
  vectorSearch(
    database: string,
    query: string,
    options: { topK: number; filter?: Record<string, string | number | boolean> },
  ): Promise<{ document_id: string; chunk: number; text: string; score: number; metadata: Record<string, unknown> }[]>;
}

/** What a tool's `checkRequest` may look at: the names the config declares. */
export interface PlatformInfo {
  readonly vectorDatabases: readonly string[];
}

export interface ToolContext {
  readonly requestId: string;
  readonly key: { readonly id: string; readonly name: string } | null;
  /** The request's own tool object, e.g. `{type: "flexible_vector_database_search", vector_database: "kb", top_k: 5}`. */
  readonly request: Readonly<Record<string, unknown>>;
  readonly services: PlatformServices;
  /** Aborted when the client goes away or the tool loop's time budget runs out. */
  readonly signal: AbortSignal;
}

/** A tool's answer: the results (counted in `tool_runs`) and the text the model is given as the tool message. */
export interface ToolOutput {
  results: unknown[];
  text: string;
  /** USD this call cost (a paid search API), added to the request's cost. */
  costUsd?: number;
}

export interface PluginDefinition<Config extends TSchema = TSchema> {
  /** How requests name it: `inferada.processors: ["<name>"]`. Lower case letters, digits and `_`. */
  name: string;
  kind: PluginKind;
  description?: string;
  /** TypeBox schema of `inferada.<name>`; a request whose config breaks it gets a 400 naming the field. */
  config?: Config;
  /** When a hook throws: `closed` (default) fails the request with 503 `processor_failed`; `open` skips the plugin. */
  failure?: "open" | "closed";
  /** `post` needs the whole answer: requests using this plugin are answered buffered, and the response says so. */
  wholeAnswer?: boolean;
  /** Runs on the request before a model is chosen, in the order the request lists the plugins. */
  pre?(ctx: PreContext<Static<Config>>): PreResult | Promise<PreResult>;
  /**
   * Runs on the answer, in reverse order, only for plugins whose `pre` ran: on each choice's whole content
   * (buffered), or on each chunk's delta content (streams; must return synchronously). Return the new text, or
   * nothing to keep it.
   */
  post?(ctx: HookContext<Static<Config>>, text: string): string | void | Promise<string | void>;
  /** Called once the host has replaced or removed this version and no request uses it any more. */
  dispose?(): void | Promise<void>;
  /** Tools: the function's arguments (a TypeBox object schema), offered to the model as a function definition. */
  parameters?: TSchema;
  /** Tools: runs one call the model made. A throw is given to the model as the tool's error text. */
  run?(ctx: ToolContext, args: Record<string, unknown>): Promise<ToolOutput>;
  /**
   * Tools: checks the request's own tool object when the request arrives, before any model call; a returned
   * problem is a 400 naming `tools[i]` (e.g. a vector database the config does not declare).
   */
  checkRequest?(request: Readonly<Record<string, unknown>>, platform: PlatformInfo): string | undefined;
  /** Tools: runs before the first model call when it returns something (e.g. a query given in the request); its text becomes context. */
  before?(ctx: ToolContext): Promise<ToolOutput | undefined>;
}

/** Identity, for types: `export default definePlugin({...})`. */
export function definePlugin<Config extends TSchema>(definition: PluginDefinition<Config>): PluginDefinition<Config> {
  return definition;
}

/** Applies `edit` to every piece of text in a message's content (the string, or each text part), keeping images. */
export function mapText(content: unknown, edit: (text: string) => string): unknown {
  if (typeof content === "string") return edit(content);
  if (!Array.isArray(content)) return content;
  return content.map((part) => (part?.type === "text" && typeof part.text === "string" ? { ...part, text: edit(part.text) } : part));
}
