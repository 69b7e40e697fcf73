// The shipped plugins (plugins/**), imported statically so `bun build --compile` puts them in the binary: a
// binary copied alone onto a GPU host still has redact, search and the rest. A plugins folder adds to them, and
// a folder plugin with the same name overrides the built-in one (see PluginHost.publish).
// `sluice/plugin` resolves to src/plugins/api.ts through tsconfig.json's `paths`, in the bundler and at run time.
import injectionGuard from "../../plugins/processors/injection_guard.ts";
import piiGuard from "../../plugins/processors/pii_guard.ts";
import redact from "../../plugins/processors/redact.ts";
import routingPolicy from "../../plugins/processors/routing_policy.ts";
import spellcheck from "../../plugins/processors/spellcheck.ts";
import browser from "../../plugins/tools/browser.ts";
import flexibleVectorDatabaseSearch from "../../plugins/tools/flexible_vector_database_search.ts";
import search from "../../plugins/tools/search.ts";

export interface BuiltinPlugin {
  /** Where it lives in the source tree, relative to plugins/. */
  readonly file: string;
  readonly definition: unknown;
}

export const BUILTIN_PLUGINS: readonly BuiltinPlugin[] = [
  { file: "processors/injection_guard.ts", definition: injectionGuard },
  { file: "processors/pii_guard.ts", definition: piiGuard },
  { file: "processors/redact.ts", definition: redact },
  { file: "processors/routing_policy.ts", definition: routingPolicy },
  { file: "processors/spellcheck.ts", definition: spellcheck },
  { file: "tools/browser.ts", definition: browser },
  { file: "tools/flexible_vector_database_search.ts", definition: flexibleVectorDatabaseSearch },
  { file: "tools/search.ts", definition: search },
];
