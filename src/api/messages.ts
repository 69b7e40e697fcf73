// POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API. The key comes as `x-api-key`
// (Anthropic's SDKs) or a bearer token; `anthropic-version` is accepted and ignored. A request is translated to
// chat completions and runs through the one chat pipeline (or is passed through to a backend that declares
// `messages`); every error leaves in Anthropic's shape.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import { requireModel, requireScope, type Principal } from "../auth/authenticate.ts";
import { readJsonObject } from "../translate/read-json.ts";
import { resolveTarget } from "../pipeline/resolve-target.ts";
import { newContext } from "../pipeline/context.ts";
import { compileValidator } from "./validate.ts";
import { CountTokensRequest, MessagesRequest } from "../translate/schemas.ts";
import { chatMessages, messagesToChat } from "../translate/messages-request.ts";
import { messageOfCompletion, toAnthropicError } from "../translate/messages-answer.ts";
import { MessagesStreamTranslator } from "../translate/messages-stream.ts";
import { callChat, ledgerRefusal, passHeaders, translateBuffered, translatedStream } from "../translate/chat-bridge.ts";
import { declaredEndpoints, requireServedBy, servesNatively } from "../translate/backend-endpoints.ts";
import { handlePassthrough } from "./passthrough.ts";

const validateMessagesRequest = compileValidator(MessagesRequest);
const validateCountTokens = compileValidator(CountTokensRequest);

/**
 * The caller's headers with an `x-api-key` turned into the bearer token the gateway's authentication reads. No
 * body: the body is read from the original request (whose idle timeout the read lifts).
 */
export function withBearer(req: Request): Request {
  const headers = new Headers(req.headers);
  const apiKey = req.headers.get("x-api-key");
  if (apiKey && !headers.has("authorization")) headers.set("authorization", `Bearer ${apiKey}`);
  return new Request(req.url, { method: "POST", headers, signal: req.signal });
}

async function authorized(req: Request, gateway: Gateway, clientIp: ClientAddress) {
  const principal = await gateway.principal(req, clientIp);
  requireScope(principal, "chat");
  return principal;
}

export async function createMessage(original: Request, gateway: Gateway, clientIp: ClientAddress): Promise<Response> {
  let principal: Principal | undefined;
  let raw: Record<string, unknown> | undefined;
  try {
    const req = withBearer(original);
    principal = await authorized(req, gateway, clientIp);
    raw = await readJsonObject(original, gateway.snapshot);
    validateMessagesRequest(raw);
    const body = raw as MessagesRequest;
    requireServedBy(gateway.snapshot, body.model, "messages", "/v1/messages");
    const answer = servesNatively(gateway.snapshot, body.model, "messages")
      ? await handlePassthrough(req, gateway, clientIp, "messages", raw)
      : await callChat(req, gateway, clientIp, "messages", messagesToChat(body));
    if (!answer.ok) return await toAnthropicError(answer);
    if (servesNatively(gateway.snapshot, body.model, "messages")) return answer;
    const requestId = answer.headers.get("x-request-id") ?? crypto.randomUUID();
    const streamed = answer.headers.get("content-type")?.startsWith("text/event-stream");
    if (!body.stream) {
      const message = messageOfCompletion(requestId, body, (await answer.json()) as Record<string, unknown>);
      return new Response(JSON.stringify(message), { headers: passHeaders(answer, "application/json") });
    }
    const translator = new MessagesStreamTranslator(requestId, body);
    const headers = passHeaders(answer, "text/event-stream; charset=utf-8");
    if (streamed) return new Response(translatedStream(answer.body!, translator), { headers });
    // a processor that needs the whole answer made the chat answer buffered: it goes out as one piece
    return new Response(translateBuffered((await answer.json()) as Record<string, unknown>, translator), { headers });
  } catch (thrown) {
    const error = asGatewayError(thrown);
    return ledgerRefusal(gateway, original, "messages", error, principal, raw?.model, await toAnthropicError(toErrorResponse(error)));
  }
}

/**
 * Counts a Messages request's input tokens with the engine's tokenizer when its backend declares `tokenize`
 * (the chat template applied, as the model will see it); otherwise an estimate of about 4 bytes per token.
 */
export async function countTokens(original: Request, gateway: Gateway, clientIp: ClientAddress): Promise<Response> {
  try {
    const req = withBearer(original);
    const principal = await authorized(req, gateway, clientIp);
    const raw = await readJsonObject(original, gateway.snapshot);
    validateCountTokens(raw);
    const body = raw as CountTokensRequest;
    const ctx = newContext("count_tokens", req, gateway.snapshot);
    resolveTarget(ctx, body.model);
    requireModel(principal, body.model);
    const messages = chatMessages(body);
    const tools = body.tools?.map((tool) => ({ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.input_schema } }));
    if (ctx.backend && declaredEndpoints(ctx.snapshot, ctx.backend).includes("tokenize")) {
      const answer = await handlePassthrough(req, gateway, clientIp, "tokenize", { model: body.model, messages, ...(tools ? { tools } : {}) });
      if (!answer.ok) return await toAnthropicError(answer);
      const counted = (await answer.json()) as { count?: unknown; tokens?: unknown[] };
      const count = typeof counted.count === "number" ? counted.count : Array.isArray(counted.tokens) ? counted.tokens.length : undefined;
      if (count === undefined) throw new GatewayError("upstream_error", `backend '${ctx.backend.id}' answered /tokenize without a count`);
      return Response.json({ input_tokens: count });
    }
    const bytes = Buffer.byteLength(JSON.stringify(messages)) + (tools ? Buffer.byteLength(JSON.stringify(tools)) : 0);
    return Response.json({ input_tokens: Math.ceil(bytes / 4) }, { headers: { "x-sluice-token-count": "estimated" } });
  } catch (thrown) {
    return toAnthropicError(toErrorResponse(asGatewayError(thrown)));
  }
}
