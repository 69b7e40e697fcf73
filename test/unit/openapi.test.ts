import { describe, expect, test } from "bun:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../../src/app.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";

const CONFIG = `
backends:
  - name: qwen35-demo
    url: http://127.0.0.1:9/v1
`;

const app = createApp(new Gateway(parseConfig(CONFIG, "test.yaml")));
const get = (path: string) => app.handle(new Request(`http://sluice.test${path}`));

type Doc = Record<string, unknown> & {
  openapi: string;
  security: unknown;
  paths: Record<string, Record<string, { operationId: string; security?: unknown; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
};

const docResponse = await get("/openapi.json");
const doc = (await docResponse.json()) as Doc;

/** Every value under `node`, depth first, with its key. */
function* walk(node: unknown, key = ""): Generator<[string, unknown]> {
  yield [key, node];
  if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) yield* walk(v, k);
}

function resolvePointer(pointer: string): unknown {
  return pointer
    .slice(2)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), doc);
}

describe("GET /openapi.json", () => {
  test("is a valid OpenAPI 3.1 document", async () => {
    expect(docResponse.status).toBe(200);
    expect(docResponse.headers.get("content-type")).toStartWith("application/json");
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test("has every schema of seed 004 plus sluice's own", () => {
    const seed = ["ChatCompletionRequest", "ChatMessage", "ContentPart", "ChatCompletionResponse", "ChatCompletionChoice", "Usage"];
    const more = ["ModelList", "Model", "EmbeddingRequest", "EmbeddingResponse", "EmbeddingObject", "ErrorResponse"];
    for (const name of [...seed, ...more, "Timings", "ModelHealth"]) expect(doc.components.schemas).toHaveProperty(name);
  });

  test("has seed 004's paths under /v1 with its operationIds", () => {
    expect(doc.paths["/v1/chat/completions"]?.post?.operationId).toBe("createChatCompletion");
    expect(doc.paths["/v1/embeddings"]?.post?.operationId).toBe("createEmbedding");
    expect(doc.paths["/v1/models"]?.get?.operationId).toBe("listModels");
    expect(doc.paths["/v1/models/{model_id}"]?.get?.operationId).toBe("getModel");
    expect(doc.paths["/v1/models/{model_id}/health"]?.get).toBeDefined();
  });

  test("chat answers JSON or SSE and documents the error statuses", () => {
    const chat = doc.paths["/v1/chat/completions"]!.post!;
    expect(Object.keys((chat.responses["200"] as { content: object }).content)).toEqual(["application/json", "text/event-stream"]);
    for (const status of ["400", "401", "403", "404", "413", "422", "429", "502", "503", "504"]) {
      const response = resolvePointer((chat.responses[status] as { $ref: string }).$ref) as { content: Record<string, { schema: { $ref: string } }> };
      expect(response.content["application/json"]!.schema.$ref).toBe("#/components/schemas/ErrorResponse");
    }
  });

  test("uses bearer auth except on the public routes", () => {
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) expect(doc.paths[path]?.get?.security).toEqual([]);
    // The model list needs no key (seed 003), but a key that is sent counts.
    for (const path of ["/v1/models", "/v1/models/{model_id}", "/v1/models/{model_id}/health"]) expect(doc.paths[path]!.get!.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths["/v1/keys"]!.get!.security).toBeUndefined();
  });

  test("closer to seed 004: enums, defaults, uri format, a 500 on every operation, bearerFormat, working examples", () => {
    const schemas = doc.components.schemas as Record<string, { properties: Record<string, Record<string, unknown>> }>;
    expect(schemas.ChatMessage!.properties.role).toMatchObject({ type: "string", enum: ["system", "user", "assistant", "tool", "developer"] });
    expect(JSON.stringify(schemas.ChatCompletionChoice!.properties.finish_reason)).toContain('"enum":["stop","length","content_filter","tool_calls"]');
    expect(schemas.ContentPart!.properties.type).toMatchObject({ enum: ["text", "image_url"] });
    expect(schemas.EmbeddingRequest!.properties.encoding_format).toMatchObject({ enum: ["float", "base64"], default: "float" });
    const chat = schemas.ChatCompletionRequest!.properties;
    expect([chat.temperature!.default, chat.top_p!.default, chat.n!.default, chat.stream!.default, chat.presence_penalty!.default, chat.frequency_penalty!.default]).toEqual([1, 1, 1, false, 0, 0]);
    expect(JSON.stringify(schemas.ContentPart!.properties.image_url)).toContain('"format":"uri"');
    for (const methods of Object.values(doc.paths)) for (const op of Object.values(methods)) expect(op.responses).toHaveProperty("500");
    expect(doc.components.securitySchemes.bearerAuth).toHaveProperty("bearerFormat");
    const example = (doc.paths["/v1/chat/completions"]!.post as unknown as { requestBody: { content: Record<string, { example: Record<string, unknown> }> } }).requestBody.content["application/json"]!.example;
    expect(example).toEqual({ model: "qwen35-demo", messages: [{ role: "user", content: "Hello!" }], max_tokens: 64 });
    expect(doc.paths["/v1/accounts/{account_id}/credits"]!.post!.operationId).toBe("addCredits");
    expect(doc.paths["/v1/credits/transactions"]!.get!.operationId).toBe("listCreditTransactions");
    expect(doc.paths["/v1/chat/completions"]!.post!.responses).toHaveProperty("402");
  });

  test("lists the request extensions on ChatCompletionRequest", () => {
    const properties = doc.components.schemas.ChatCompletionRequest!.properties!;
    for (const field of ["firewall", "inferada", "routing", "tools"]) expect(properties).toHaveProperty(field);
  });

  test("every $ref resolves and no $id is left", () => {
    const refs = [...walk(doc)].filter(([key]) => key === "$ref").map(([, value]) => value as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toStartWith("#/components/");
      expect(resolvePointer(ref), ref).toBeDefined();
    }
    expect([...walk(doc)].filter(([key]) => key === "$id")).toEqual([]);
  });
});

describe("GET /docs", () => {
  test("serves Swagger UI from local assets only", async () => {
    const response = await get("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);

    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    const expected: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };
    for (const asset of assets) {
      expect(asset).toStartWith("/docs/assets/");
      const served = await get(asset);
      expect(served.status, asset).toBe(200);
      expect(served.headers.get("content-type"), asset).toStartWith(expected[asset.slice(asset.lastIndexOf("."))]!);
      expect(served.headers.get("cache-control")).toContain("immutable");
      expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  });

  test("points the UI at /openapi.json", async () => {
    const html = await (await get("/docs")).text();
    const init = html.match(/src="([^"]*init\.js)"/)![1]!;
    expect(await (await get(init)).text()).toContain('url: "/openapi.json"');
  });

  test("an unknown asset is a 404", async () => {
    expect((await get("/docs/assets/nope/swagger-ui.css")).status).toBe(404);
  });
});
