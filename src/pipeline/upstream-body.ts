// Stage: the body the engine sees. Every OpenAI field (and any unknown one) passes unchanged; sluice's own
// extensions are removed, `model` becomes the engine's id, and streams always ask for usage.
import type { Backend } from "../config/resolve.ts";

const PLATFORM_TOOL_TYPES = new Set(["search", "browser", "flexible_vector_database_search"]);

export function prepareUpstreamBody(body: Record<string, unknown>, backend: Backend, stream: boolean): string {
  const { firewall: _firewall, inferada: _inferada, routing: _routing, ...upstream } = body;
  upstream.model = backend.upstreamModel;
  upstream.stream = stream;
  if (Array.isArray(upstream.tools)) {
    const clientTools = (upstream.tools as { type?: string }[]).filter((tool) => !PLATFORM_TOOL_TYPES.has(tool.type ?? ""));
    if (clientTools.length) upstream.tools = clientTools;
    else {
      delete upstream.tools;
      delete upstream.tool_choice;
    }
  }
  if (stream) upstream.stream_options = { ...(upstream.stream_options as object | undefined), include_usage: true };
  else delete upstream.stream_options;
  return JSON.stringify(upstream);
}
