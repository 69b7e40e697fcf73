// Stage: the body the engine sees. Every OpenAI field (and any unknown one) passes unchanged; sluice's own
// extensions are removed, `model` becomes the engine's id, and streams always ask for usage.
import type { Backend } from "../config/resolve.ts";
import type { Message } from "../plugins/api.ts";
import type { ChatRequest } from "./chat-request.ts";
import { renderMessages } from "./template.ts";

const PLATFORM_TOOL_TYPES = new Set(["search", "browser", "flexible_vector_database_search"]);

export function prepareUpstreamBody(body: Record<string, unknown>, backend: Backend, stream: boolean): string {
  // Edits the parsed body in place (it is this request's own copy); undefined fields are left out by stringify.
  const upstream = body;
  if (upstream.firewall !== undefined) upstream.firewall = undefined;
  if (upstream.inferada !== undefined) upstream.inferada = undefined;
  if (upstream.routing !== undefined) upstream.routing = undefined;
  upstream.model = backend.upstreamModel;
  upstream.stream = stream;
  if (Array.isArray(upstream.tools)) {
    const clientTools = (upstream.tools as { type?: string }[]).filter((tool) => !PLATFORM_TOOL_TYPES.has(tool.type ?? ""));
    if (clientTools.length) upstream.tools = clientTools;
    else {
      upstream.tools = undefined;
      upstream.tool_choice = undefined;
    }
  }
  if (stream) upstream.stream_options = { ...(upstream.stream_options as object | undefined), include_usage: true };
  else if (upstream.stream_options !== undefined) upstream.stream_options = undefined;
  return JSON.stringify(upstream);
}

/**
 * One request's bodies for the engines: each attempt renders the conversation for its backend's template; the
 * tool loop appends to the conversation between rounds. The rest of the body is edited in place.
 */
export class UpstreamRequest {
  readonly messages: Message[];

  constructor(
    readonly body: ChatRequest,
    readonly stream: boolean,
  ) {
    this.messages = body.messages; // the request's own parsed array: the tool loop appends to it in place
  }

  for(backend: Backend): string {
    this.body.messages = renderMessages(this.messages, backend.templateRenderMode);
    return prepareUpstreamBody(this.body, backend, this.stream);
  }
}
