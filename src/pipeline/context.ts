// The state one request carries through the pipeline stages.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import type { Principal } from "../auth/authenticate.ts";
import type { Admission } from "./admission.ts";
import type { AutoRouting, Balancer } from "../config/resolve-routing.ts";
import type { RoutePlan } from "../routing/plan.ts";
import type { BackendStat } from "../routing/backend-stats.ts";
import type { ProcessorRun } from "./processors.ts";
import type { FirewallOutcome } from "../firewall/screen.ts";
import type { OutputScreen } from "../firewall/output.ts";
import type { AnswerHooks } from "./answer-hooks.ts";
import type { ToolRun } from "./tool-loop.ts";

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What a ledger row's `endpoint` says: the API the client called. */
export type Endpoint = "chat" | "embeddings" | "completions" | "responses" | "messages" | "count_tokens" | "rerank" | "score" | "audio_transcriptions" | "tokenize" | "detokenize";

/** The key scope each endpoint needs: the generating APIs are chat, the scoring ones embeddings. */
export const SCOPE_OF: Readonly<Record<Endpoint, "chat" | "embeddings">> = {
  chat: "chat",
  embeddings: "embeddings",
  completions: "chat",
  responses: "chat",
  messages: "chat",
  count_tokens: "chat",
  rerank: "embeddings",
  score: "embeddings",
  audio_transcriptions: "chat",
  tokenize: "chat",
  detokenize: "chat",
};

/** Endpoints whose requests run the chat pipeline: chat itself and the APIs translated to it. */
export function isChatShaped(endpoint: Endpoint): boolean {
  return endpoint === "chat" || endpoint === "responses" || endpoint === "messages";
}

export interface RequestContext {
  readonly endpoint: Endpoint;
  readonly requestId: string;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** Unix milliseconds when the request arrived (for the ledger). */
  readonly startedAtMs: number;
  readonly snapshot: Snapshot;
  readonly clientSignal: AbortSignal | undefined;
  principal?: Principal;
  /** The parsed request body; stages edit it in place before it is sent upstream. */
  body: Record<string, unknown>;
  /** The model the client asked for. */
  requestedModel: string;
  stream: boolean;
  /** The client set `stream_options.include_usage`: its stream ends with OpenAI's separate usage chunk. */
  clientWantsUsage: boolean;
  promptTokensBound: number;
  /** The backend serving the request (for a balancer or `auto`: the current attempt's). */
  backend?: Backend;
  /** Set instead of `backend` when `model` names a balancer or `auto`. */
  balancer?: Balancer;
  autoRouting?: AutoRouting;
  plan?: RoutePlan;
  /** The live stats of `backend` while a request is in flight there. */
  stat?: BackendStat;
  /** This request is the half-open probe of `stat`'s circuit breaker. */
  probe?: boolean;
  admission?: Admission;
  /**
   * storage.ledger_via: stream — settles once finishRequest's ledger row is durable in the Redis stream; the
   * response's last bytes wait for it (heldForLedger), so a gateway killed after them has lost no row.
   */
  ledgerDurable?: Promise<void>;
  /** The firewall's verdict, when one screened the request. */
  firewall?: FirewallOutcome;
  /**
   * USD micros of the calls the gateway made for this request besides the model's answer — the firewall's judge,
   * auto's classifier model, paid platform tools — added to the request's cost.
   */
  sideCostMicros?: number;
  /** Time spent running platform tools. */
  toolsMs?: number;
  /** The platform tool runs, once the tool loop ended. */
  toolRuns?: ToolRun[];
  /** Screens the answer when the firewall says `output:`. */
  outputScreen?: OutputScreen;
  /** The post halves of the hooks whose pre half ran (answer-hooks.ts); undefined when none touches the answer. */
  answerHooks?: AnswerHooks;
  /** The processors `inferada` named, once their pre hooks ran. */
  processors?: ProcessorRun;
  call?: UpstreamCall;
  upstreamStartedAt?: number;
  upstreamEndedAt?: number;
  firstTokenAt?: number;
}

export function newContext(endpoint: RequestContext["endpoint"], req: Request, snapshot: Snapshot): RequestContext {
  return {
    endpoint,
    requestId: crypto.randomUUID(),
    startedAt: performance.now(),
    startedAtMs: Date.now(),
    snapshot,
    clientSignal: req.signal,
    body: {},
    requestedModel: "",
    stream: false,
    clientWantsUsage: false,
    promptTokensBound: 0,
  };
}

/** Bills a call the gateway made for this request besides the model's answer (see `sideCostMicros`). */
export function addSideCost(ctx: RequestContext, micros: number): void {
  if (micros > 0) ctx.sideCostMicros = (ctx.sideCostMicros ?? 0) + micros;
}
