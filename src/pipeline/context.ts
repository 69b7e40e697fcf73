// The state one chat request carries through the pipeline stages.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { UpstreamCall } from "../upstream/call.ts";

export interface ChatContext {
  readonly requestId: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  readonly snapshot: Snapshot;
  readonly clientSignal: AbortSignal | undefined;
  /** The parsed request body; stages edit it in place before it is sent upstream. */
  body: Record<string, unknown>;
  /** The model the client asked for. */
  requestedModel: string;
  stream: boolean;
  backend?: Backend;
  call?: UpstreamCall;
  upstreamStartedAt?: number;
  upstreamEndedAt?: number;
  firstTokenAt?: number;
}

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
