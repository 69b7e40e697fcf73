// Pure pricing: what one request costs, and the most it could cost (for budget reservations).
// Money is integer micro-dollars; every result rounds up so the gateway never under-bills.
import type { Pricing } from "../config/resolve.ts";

export type BillingBasis = "tokens" | "gpu_time" | "none";

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface Cost {
  micros: number;
  basis: BillingBasis;
}

const MS_PER_HOUR = 3_600_000;
const MICROS_PER_USD = 1_000_000;
// Binary floats turn exact prices into values a hair above the integer (0.15 × 1000 = 150.00000000000003);
// forgiving one millionth of a micro-dollar keeps ceil() from billing a whole extra micro-dollar for that noise.
const FLOAT_NOISE_MICROS = 1e-6;

export function billingBasisOf(pricing: Pricing): BillingBasis {
  if (pricing.inputPerMtokUsd !== undefined || pricing.outputPerMtokUsd !== undefined) return "tokens";
  if (pricing.gpuHourUsd !== undefined) return "gpu_time";
  return "none";
}

/** Tokens win over GPU time when both are priced: a per-token price is what the operator promised clients. */
export function costOf(pricing: Pricing, usage: TokenUsage, upstreamMs: number): Cost {
  const basis = billingBasisOf(pricing);
  switch (basis) {
    case "tokens": {
      // USD per million tokens × tokens = micro-dollars, with no conversion factor.
      const micros = (pricing.inputPerMtokUsd ?? 0) * nonNegative(usage.promptTokens) + (pricing.outputPerMtokUsd ?? 0) * nonNegative(usage.completionTokens);
      return { micros: ceilMicros(micros), basis };
    }
    case "gpu_time":
      return { micros: ceilMicros(((pricing.gpuHourUsd ?? 0) * nonNegative(upstreamMs) * MICROS_PER_USD) / MS_PER_HOUR), basis };
    case "none":
      return { micros: 0, basis };
  }
}

/**
 * What one of the gateway's own model calls cost (the firewall's judge, auto's classifier model): the answer's
 * usage at the backend's prices — about four characters per token when the engine reports none — or its time on
 * a GPU-hour backend.
 */
export function sideCallCostMicros(pricing: Pricing, requestBody: string, answer: { usage?: { prompt_tokens?: number; completion_tokens?: number }; choices?: { message?: { content?: unknown } }[] }, ms: number): number {
  const content = answer.choices?.[0]?.message?.content;
  const promptTokens = answer.usage?.prompt_tokens ?? Math.ceil(requestBody.length / 4);
  const completionTokens = answer.usage?.completion_tokens ?? Math.ceil((typeof content === "string" ? content.length : 0) / 4);
  return costOf(pricing, { promptTokens, completionTokens }, ms).micros;
}

/**
 * The most a request can cost, reserved against a budget before it runs: the prompt's upper bound plus every
 * completion token it may ask for, or the GPU for the whole upstream timeout. Same formula as `costOf`, so the
 * reservation is never below the actual cost of the same request when the actual figures stay within these bounds.
 */
export function worstCaseCostMicros(pricing: Pricing, promptTokensUpperBound: number, maxCompletionTokens: number, timeoutMs: number): number {
  return costOf(pricing, { promptTokens: promptTokensUpperBound, completionTokens: maxCompletionTokens }, timeoutMs).micros;
}

const TEMPLATE_TOKENS_PER_MESSAGE = 8;
// BPE vocabularies rarely spend a token on less than two UTF-8 bytes of text, so bytes / 2 over-counts real prompts.
const BYTES_PER_TOKEN_LOWER_BOUND = 2;

/**
 * An upper bound on prompt tokens, cheap enough for every request: the message text's UTF-8 bytes / 2, plus a few
 * tokens per message for the chat template. Counts string content, text parts, names, and tool-call names and
 * arguments; images and audio parts are not counted (they are priced by the engine, not by text length).
 */
export function estimatePromptTokensUpperBound(messages: unknown[]): number {
  let bytes = 0;
  for (const message of messages) bytes += messageTextBytes(message);
  return Math.ceil(bytes / BYTES_PER_TOKEN_LOWER_BOUND) + TEMPLATE_TOKENS_PER_MESSAGE * messages.length;
}

function messageTextBytes(message: unknown): number {
  if (!isRecord(message)) return 0;
  let bytes = stringBytes(message.name) + contentBytes(message.content);
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isRecord(call) || !isRecord(call.function)) continue;
      bytes += stringBytes(call.function.name) + stringBytes(call.function.arguments);
    }
  }
  return bytes;
}

function contentBytes(content: unknown): number {
  if (typeof content === "string") return Buffer.byteLength(content, "utf8");
  if (!Array.isArray(content)) return 0;
  let bytes = 0;
  for (const part of content) if (isRecord(part)) bytes += stringBytes(part.text);
  return bytes;
}

function stringBytes(value: unknown): number {
  return typeof value === "string" ? Buffer.byteLength(value, "utf8") : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** A price in USD as integer micro-dollars, rounded up (forgiving float noise, as everywhere here). */
export function usdToMicros(usd: number): number {
  return ceilMicros(usd * MICROS_PER_USD);
}

function ceilMicros(micros: number): number {
  // Math.max also turns the -0 that ceil() gives for tiny negatives into 0.
  return Math.max(0, Math.ceil(micros - FLOAT_NOISE_MICROS));
}
