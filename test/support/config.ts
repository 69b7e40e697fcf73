// Builds gateway YAML configs that point at a scripted upstream.
export interface BackendSpec {
  name: string;
  model?: string;
  url?: string;
  public?: boolean;
  extra?: string;
}

export function configFor(upstreamUrl: string, backends: BackendSpec[], serverExtra = ""): string {
  const lines = ["server:", "  host: 127.0.0.1", "  port: 0", serverExtra, "auth:", "  mode: none", "backends:"];
  for (const b of backends) {
    lines.push(`  - name: ${JSON.stringify(b.name)}`, `    url: ${b.url ?? `${upstreamUrl}/v1`}`);
    if (b.model) lines.push(`    model: ${JSON.stringify(b.model)}`);
    if (b.public) lines.push("    public: true");
    if (b.extra) lines.push(...b.extra.split("\n").map((l) => `    ${l}`));
  }
  return lines.filter((l) => l !== "").join("\n") + "\n";
}

/** One backend per scripted behaviour, named like the behaviour. */
export const SCRIPTED_BACKENDS: BackendSpec[] = [
  { name: "echo", extra: "display_name: Echo\ndescription: Repeats the last user message." },
  { name: "Qwen/Qwen3-14B" },
  { name: "deepseek-eu", model: "echo", public: true, extra: "pricing: {input_per_mtok: 0.27, output_per_mtok: 1.1}" },
  { name: "merge-system", model: "echo", extra: "template_render_mode: merge_system_into_first_user" },
  { name: "fail-500" },
  { name: "fail-503" },
  { name: "fail-429" },
  { name: "fail-400" },
  { name: "stall" },
  { name: "slow" },
  { name: "slow-timeout", model: "slow", extra: "timeout_ms: 300" },
  { name: "slow-idle", model: "slow", extra: "stream_idle_timeout_ms: 40" },
  { name: "cut-stream" },
  { name: "bad-sse" },
  { name: "tool-call" },
  { name: "no-usage" },
  { name: "nowhere", url: "http://127.0.0.1:9/v1" },
];
