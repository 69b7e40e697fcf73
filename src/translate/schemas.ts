// Request schemas of the translated and passed-through APIs. They check what the gateway itself reads (model,
// the fields it translates) and let everything else through, as the chat schema does; the OpenAPI document
// publishes them (translate/openapi.ts).
import { Type as T, type Static, type TSchema } from "@sinclair/typebox";

const open = { additionalProperties: true } as const;
const Model = T.String({ minLength: 1, maxLength: 256, description: "a backend's serving name, public:<name>, a balancer, or auto" });
const Extensions = {
  firewall: T.Optional(T.String({ description: "sluice extension, as on chat" })),
  inferada: T.Optional(T.Object({}, open)),
  routing: T.Optional(T.Object({}, open)),
};

export const ResponsesRequest = T.Object(
  {
    model: Model,
    input: T.Optional(T.Union([T.String(), T.Array(T.Object({ type: T.Optional(T.String()), role: T.Optional(T.String()) }, open))])),
    instructions: T.Optional(T.Union([T.String(), T.Null()])),
    previous_response_id: T.Optional(T.Union([T.String(), T.Null()])),
    store: T.Optional(T.Boolean({ description: "default true: kept in the gateway's store for GET and previous_response_id" })),
    stream: T.Optional(T.Boolean()),
    max_output_tokens: T.Optional(T.Integer({ minimum: 1 })),
    temperature: T.Optional(T.Number({ minimum: 0, maximum: 2 })),
    top_p: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_logprobs: T.Optional(T.Integer({ minimum: 0, maximum: 20 })),
    seed: T.Optional(T.Integer()),
    user: T.Optional(T.String()),
    parallel_tool_calls: T.Optional(T.Boolean()),
    tools: T.Optional(T.Array(T.Object({ type: T.String() }, open))),
    tool_choice: T.Optional(T.Union([T.String(), T.Object({}, open)])),
    text: T.Optional(
      T.Object(
        {
          format: T.Optional(
            T.Object(
              {
                type: T.Union([T.Literal("text"), T.Literal("json_object"), T.Literal("json_schema")]),
                name: T.Optional(T.String()),
                schema: T.Optional(T.Object({}, open)),
                strict: T.Optional(T.Union([T.Boolean(), T.Null()])),
                description: T.Optional(T.String()),
              },
              open,
            ),
          ),
        },
        open,
      ),
    ),
    reasoning: T.Optional(T.Union([T.Object({ effort: T.Optional(T.Union([T.String(), T.Null()])) }, open), T.Null()])),
    metadata: T.Optional(T.Union([T.Record(T.String(), T.String()), T.Null()])),
    ...Extensions,
  },
  { $id: "ResponsesRequest", ...open, description: "OpenAI Responses API request, translated to chat completions" },
);
export type ResponsesRequest = Static<typeof ResponsesRequest>;

const ContentBlock = T.Object({ type: T.String() }, open);

export const MessagesRequest = T.Object(
  {
    model: Model,
    max_tokens: T.Integer({ minimum: 1 }),
    messages: T.Array(T.Object({ role: T.Union([T.Literal("user"), T.Literal("assistant")]), content: T.Union([T.String(), T.Array(ContentBlock)]) }, open)),
    system: T.Optional(T.Union([T.String(), T.Array(ContentBlock)])),
    stop_sequences: T.Optional(T.Array(T.String(), { maxItems: 4, description: "at most 4: they become chat's stop" })),
    stream: T.Optional(T.Boolean()),
    temperature: T.Optional(T.Number({ minimum: 0, maximum: 2 })),
    top_p: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    top_k: T.Optional(T.Integer({ minimum: 0 })),
    tools: T.Optional(T.Array(T.Object({ name: T.String({ minLength: 1 }), description: T.Optional(T.String()), input_schema: T.Optional(T.Object({}, open)) }, open))),
    tool_choice: T.Optional(T.Object({ type: T.String(), name: T.Optional(T.String()) }, open)),
    metadata: T.Optional(T.Object({}, open)),
    ...Extensions,
  },
  { $id: "MessagesRequest", ...open, description: "Anthropic Messages API request, translated to chat completions" },
);
export type MessagesRequest = Static<typeof MessagesRequest>;

export const CountTokensRequest = T.Object(
  {
    model: Model,
    messages: MessagesRequest.properties.messages,
    system: MessagesRequest.properties.system,
    tools: MessagesRequest.properties.tools,
  },
  { $id: "CountTokensRequest", ...open },
);
export type CountTokensRequest = Static<typeof CountTokensRequest>;

export const CompletionRequest = T.Object(
  {
    model: Model,
    prompt: T.Union([T.String(), T.Array(T.String()), T.Array(T.Integer()), T.Array(T.Array(T.Integer()))]),
    suffix: T.Optional(T.Union([T.String(), T.Null()])),
    max_tokens: T.Optional(T.Union([T.Integer({ minimum: 0 }), T.Null()])),
    stream: T.Optional(T.Union([T.Boolean(), T.Null()])),
    echo: T.Optional(T.Union([T.Boolean(), T.Null()])),
    logprobs: T.Optional(T.Union([T.Integer({ minimum: 0, maximum: 5 }), T.Null()])),
    firewall: Extensions.firewall,
  },
  { $id: "CompletionRequest", ...open, description: "OpenAI legacy completions; passed through to the engine's /v1/completions" },
);
export type CompletionRequest = Static<typeof CompletionRequest>;

/** rerank, score, tokenize, detokenize: the gateway reads `model`; the engine checks the rest. */
export const PassthroughRequest = T.Object({ model: Model }, { $id: "PassthroughRequest", ...open, description: "Passed through to the engine unchanged but for `model`" });

export const translateSchemas: TSchema[] = [ResponsesRequest, MessagesRequest, CountTokensRequest, CompletionRequest, PassthroughRequest];
