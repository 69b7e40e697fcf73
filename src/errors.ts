// One error type for the whole gateway. Every failure becomes a GatewayError with a code; the code decides the
// HTTP status and the OpenAI error `type`, and `toErrorResponse` is the only place that turns it into JSON.

export type ErrorCode =
  | "invalid_request"
  | "invalid_json"
  | "unauthorized"
  | "forbidden"
  | "key_revoked"
  | "account_inactive"
  | "insufficient_credits"
  | "model_not_found"
  | "not_found"
  | "method_not_allowed"
  | "body_too_large"
  | "policy_rejected"
  | "rate_limited"
  | "concurrency_limited"
  | "budget_exceeded"
  | "upstream_error"
  | "upstream_client_error"
  | "upstream_rate_limited"
  | "no_healthy_backend"
  | "processor_failed"
  | "limits_unavailable"
  | "store_unavailable"
  | "upstream_timeout"
  | "client_closed"
  | "internal";

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  key_revoked: 403, // seed 003: a revoked key or deactivated account is 403, an unknown key 401
  account_inactive: 403,
  insufficient_credits: 402,
  model_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  body_too_large: 413,
  policy_rejected: 422,
  rate_limited: 429,
  concurrency_limited: 429,
  budget_exceeded: 429,
  upstream_client_error: 400, // replaced by the engine's own 4xx status
  upstream_rate_limited: 429,
  upstream_error: 502,
  no_healthy_backend: 503,
  processor_failed: 503,
  limits_unavailable: 503, // limits.url's Redis not answering, for a budget or credits (limits.on_failure.budget: closed)
  store_unavailable: 503, // a shared store (PostgreSQL) unreachable for something no cache holds
  upstream_timeout: 504,
  client_closed: 499, // nginx's code: nobody reads the answer, the ledger records it
  internal: 500,
};

const TYPE: Record<ErrorCode, string> = {
  invalid_request: "invalid_request_error",
  invalid_json: "invalid_request_error",
  unauthorized: "authentication_error",
  forbidden: "permission_error",
  key_revoked: "permission_error",
  account_inactive: "permission_error",
  insufficient_credits: "insufficient_quota", // OpenAI's type for an exhausted prepaid balance
  model_not_found: "invalid_request_error",
  not_found: "invalid_request_error",
  method_not_allowed: "invalid_request_error",
  body_too_large: "invalid_request_error",
  policy_rejected: "invalid_request_error",
  rate_limited: "rate_limit_error",
  concurrency_limited: "rate_limit_error",
  budget_exceeded: "rate_limit_error",
  upstream_client_error: "invalid_request_error",
  upstream_rate_limited: "rate_limit_error",
  upstream_error: "upstream_error",
  no_healthy_backend: "upstream_error",
  processor_failed: "api_error",
  limits_unavailable: "api_error",
  store_unavailable: "api_error",
  upstream_timeout: "upstream_error",
  client_closed: "invalid_request_error",
  internal: "api_error",
};

export interface GatewayErrorOptions {
  param?: string | null;
  /** Overrides the code's status (engine 4xx pass through with their own status). */
  status?: number;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
  cause?: unknown;
  /** The `code` clients see, when more specific than the error's kind (a processor's own, e.g. `pii_detected`). */
  reportedCode?: string;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;
  readonly reportedCode: string | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.param = options.param ?? null;
    this.headers = options.headers;
    this.reportedCode = options.reportedCode;
  }

  get type(): string {
    return TYPE[this.code];
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, code: this.reportedCode ?? this.code, param: this.param } };
  }
}

/** Normalises anything thrown into a GatewayError; unknown values are real bugs (500). */
export function asGatewayError(thrown: unknown): GatewayError {
  if (thrown instanceof GatewayError) return thrown;
  // Elysia wraps errors thrown in parse hooks; the original is in `cause`.
  if (thrown instanceof Error && thrown.cause instanceof GatewayError) return thrown.cause;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new GatewayError("internal", `internal error: ${message}`, { cause: thrown });
}

export function toErrorResponse(thrown: unknown, requestId?: string): Response {
  const error = asGatewayError(thrown);
  if (error.status >= 500 && error.code === "internal") console.error(`[sluice] ${requestId ?? "-"} internal error`, error.cause ?? error);
  const headers: Record<string, string> = { "content-type": "application/json", ...error.headers };
  if (requestId) headers["x-request-id"] = requestId;
  return new Response(JSON.stringify(error.toJSON()), { status: error.status, headers });
}
