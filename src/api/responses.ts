// POST /v1/responses, GET and DELETE /v1/responses/{id}: the OpenAI Responses API, translated to chat completions
// and run through the one chat pipeline (translate/chat-bridge.ts), or passed through to a backend that declares
// `responses` in its endpoints. Stored responses (store defaults to true) live in the gateway's store, scoped to
// the key, so previous_response_id continues a conversation without the client resending it.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { log } from "../observability/log.ts";
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import { requireScope, type Principal } from "../auth/authenticate.ts";
import { readJsonObject } from "../translate/read-json.ts";
import { compileValidator } from "./validate.ts";
import { ResponsesRequest } from "../translate/schemas.ts";
import { responsesToChat, type ChatMessage } from "../translate/responses-request.ts";
import { assistantMessage, outputItems, partsOfCompletion, responseObject, type AnswerParts } from "../translate/responses-answer.ts";
import { ResponsesStreamTranslator } from "../translate/responses-stream.ts";
import { callChat, ledgerRefusal, passHeaders, translateBuffered, translatedStream } from "../translate/chat-bridge.ts";
import { forwardNative, servesNatively } from "./passthrough.ts";
import { requireServedBy } from "../translate/backend-endpoints.ts";

const validateResponsesRequest = compileValidator(ResponsesRequest);

async function principalOf(req: Request, gateway: Gateway, clientIp: ClientAddress): Promise<Principal> {
  const principal = await gateway.principal(req, clientIp);
  requireScope(principal, "chat");
  return principal;
}

export async function createResponse(req: Request, gateway: Gateway, clientIp: ClientAddress): Promise<Response> {
  let principal: Principal | undefined;
  let raw: Record<string, unknown> | undefined;
  try {
    const snapshot = gateway.snapshot;
    principal = await principalOf(req, gateway, clientIp);
    raw = await readJsonObject(req, snapshot);
    validateResponsesRequest(raw);
    const body = raw as ResponsesRequest;
    if (servesNatively(snapshot, body.model, "responses")) return forwardNative(req, gateway, clientIp, "responses", raw);
    requireServedBy(snapshot, body.model, "responses", "/v1/responses");
    const store = gateway.store.responses;
    const retentionDays = snapshot.storage.responses_retention_days;
    let history: ChatMessage[] = [];
    if (body.previous_response_id) {
      const previous = await store.get(body.previous_response_id, principal.key?.id ?? null, retentionDays);
      if (!previous) throw new GatewayError("not_found", `previous_response_id: no stored response '${body.previous_response_id}' for this key (stored responses are kept ${retentionDays} days; store: false keeps none)`, { param: "previous_response_id" });
      history = previous.messages as ChatMessage[];
    }
    const { chat, conversation } = responsesToChat(body, history);
    const answer = await callChat(req, gateway, clientIp, "responses", chat);
    if (!answer.ok) return answer; // the chat pipeline's error is already OpenAI-shaped, as Responses errors are
    const requestId = answer.headers.get("x-request-id") ?? crypto.randomUUID();
    const keyId = principal.key?.id ?? null;
    const remember = (response: Record<string, unknown>, parts: AnswerParts) => {
      if (body.store === false) return;
      // A promise on PostgreSQL: a failed save is logged, never the client's error (the answer is already going out).
      void Promise.resolve()
        .then(() => store.save(String(response.id), keyId, { response, messages: [...conversation, assistantMessage(parts)] }, retentionDays))
        .catch((error: unknown) => log.warn(`responses: could not store ${String(response.id)} (${(error as Error).message})`));
    };
    const streamed = answer.headers.get("content-type")?.startsWith("text/event-stream");
    if (!body.stream) {
      const parts = partsOfCompletion((await answer.json()) as Record<string, unknown>);
      const response = responseObject(requestId, body, Math.floor(Date.now() / 1000), "completed", outputItems(requestId, parts), parts);
      remember(response, parts);
      return new Response(JSON.stringify(response), { headers: passHeaders(answer, "application/json") });
    }
    const translator = new ResponsesStreamTranslator(requestId, body, remember);
    const headers = passHeaders(answer, "text/event-stream; charset=utf-8");
    if (streamed) return new Response(translatedStream(answer.body!, translator), { headers });
    // a processor that needs the whole answer made the chat answer buffered: it goes out as one piece
    return new Response(translateBuffered((await answer.json()) as Record<string, unknown>, translator), { headers });
  } catch (thrown) {
    const error = asGatewayError(thrown);
    return ledgerRefusal(gateway, req, "responses", error, principal, raw?.model, toErrorResponse(error));
  }
}

export async function getResponse(req: Request, gateway: Gateway, clientIp: ClientAddress, id: string): Promise<Response> {
  try {
    const principal = await principalOf(req, gateway, clientIp);
    const stored = await gateway.store.responses.get(id, principal.key?.id ?? null, gateway.snapshot.storage.responses_retention_days);
    if (!stored) throw notStored(id);
    return Response.json(stored.response);
  } catch (thrown) {
    return toErrorResponse(thrown);
  }
}

export async function deleteResponse(req: Request, gateway: Gateway, clientIp: ClientAddress, id: string): Promise<Response> {
  try {
    const principal = await principalOf(req, gateway, clientIp);
    if (!(await gateway.store.responses.delete(id, principal.key?.id ?? null))) throw notStored(id);
    return Response.json({ id, object: "response", deleted: true });
  } catch (thrown) {
    return toErrorResponse(thrown);
  }
}

function notStored(id: string): GatewayError {
  return new GatewayError("not_found", `no stored response '${id}' for this key`, { param: "response_id" });
}
